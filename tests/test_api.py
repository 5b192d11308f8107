"""The Python API: load a version, predict typed labels (also as a DataFrame), run the stages."""

from __future__ import annotations

import pytest

import commentary
from commentary.api import Prediction, evaluate, ingest, train

from conftest import FIXTURES, REPO


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("api") / "models"
    ref = train([small], models_dir=root, backend="tfidf", cv_folds=2, promote=True)
    assert ref == "commentary@v1"
    return root


def test_load_and_predict_typed_labels(models):
    m = commentary.load(models_dir=models)
    assert m.ref == "commentary@v1" and "agree" in m.labels["stance"]
    texts = ["Spot on: the managers never listen to the ward staff.", "Nonsense, the data say otherwise."]
    preds = m.predict(texts, articles="Ward leaders should listen to their staff.", ids=["a", "b"])
    assert [type(p) for p in preds] == [Prediction, Prediction] and [p.id for p in preds] == ["a", "b"]
    p = preds[0]
    assert p.stance in m.labels["stance"] and abs(sum(p.stance_probs.values()) - 1) < 1e-3
    assert set(p.themes) <= set(m.labels["themes"]) and p.model == "commentary@v1"
    # the same comment scores the same alone, in a batch, and through the command line's model
    assert m.predict(texts[0], articles="Ward leaders should listen to their staff.")[0].stance_probs == p.stance_probs
    frame = m.predict_frame(texts)
    assert list(frame["text"]) == texts and "p_agree" in frame.columns and len(frame) == 2
    with pytest.raises(commentary.CommentaryError, match="articles has 3 items for 2 texts"):
        m.predict(texts, articles=["x", "y", "z"])


def test_stages_with_plain_arguments(models, tmp_path):
    manifest = ingest([FIXTURES / "disqus.xml"], output=tmp_path / "ds")
    assert manifest["format"] == "commentary-dataset" and (tmp_path / "ds" / "manifest.json").is_file()
    with pytest.raises(commentary.CommentaryError, match="pass force=True") as err:  # a Python caller's fix, not a flag
        ingest([FIXTURES / "disqus.xml"], output=tmp_path / "ds")
    assert "--force" not in str(err.value)
    assert ingest([FIXTURES / "disqus.xml"], output=tmp_path / "ds", force=True)["format"] == "commentary-dataset"
    records = ingest([FIXTURES / "disqus.xml"])
    assert records["comments"] and records["comments"][0].text
    metrics = evaluate(None, REPO / "data" / "starter" / "test", models_dir=models)
    assert metrics["model"] == "commentary@v1" and 0 <= metrics["stance"]["macro_f1"] <= 1
    with pytest.raises(commentary.CommentaryError, match="no model named 'commentary' in .*no models yet"):
        commentary.load(models_dir=tmp_path / "empty")


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, commentary; print('sklearn' in sys.modules, 'torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_wrong_arguments_are_commentary_errors_and_frames_keep_their_index(models, tmp_path):
    import pandas as pd

    m = commentary.load(models_dir=models)
    for call, said in ((lambda: m.predict(None), "texts must be a string or a list of strings, not NoneType"),
                       (lambda: m.predict(["a"], articles=5), "articles must be a string or one per text"),
                       (lambda: commentary.load(3), "a model is named by a string"),
                       (lambda: ingest(7), "sources must be a path or a list of paths")):
        with pytest.raises(commentary.CommentaryError, match=said):
            call()
    # one path is one source, not a list of letters
    assert len(ingest(str(FIXTURES / "disqus.xml"))["comments"]) == len(ingest([FIXTURES / "disqus.xml"])["comments"])
    # a blank comment is flagged unsure, whatever the model reads into it
    assert [p.abstain for p in m.predict(["", "   ", "\u200b", "\u200b\ufeff\u2060 "])] == [True] * 4
    frame = m.predict_frame(pd.Series(["Spot on.", "Nobody asked the nurses."], index=[5, 7]))
    assert frame.index.tolist() == [5, 7]
    assert m.predict_frame([]).columns.tolist()[:5] == ["id", "text", "stance", "themes", "abstain"]
    # evaluate takes a loaded model as well as its name
    assert evaluate(m)["stance"]["macro_f1"] == evaluate("commentary@v1", models_dir=models)["stance"]["macro_f1"]
