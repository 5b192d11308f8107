"""Training, versions and their safety: tfidf end to end, reproducibility, faults."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import time

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.errors import CodebookError, CommentaryError
from commentary.fitting import TrainConfig, load_training_data
from commentary.records import Labels
from commentary.registry import list_versions, resolve, write_version
from commentary.training import load_model, train_version

from conftest import REPO

STARTER = REPO / "data" / "starter"


def config(**kw):
    return TrainConfig(**{"cv_folds": 3, **kw})


def test_tfidf_trains_a_verified_promoted_version_with_card(small, tmp_path):
    book = load_codebook()
    out = train_version(small, book, config(), tmp_path / "models", heldout=STARTER / "dev")
    v = out.version
    assert out.promoted and v.ref == "commentary@v1"
    assert (tmp_path / "models" / "commentary" / "production").read_text().strip() == "v1"
    files = set(v.manifest["files"])
    assert {"tfidf.skops", "decisions.json", "metrics.json", "README.md", "config.json"} <= files
    m = v.manifest
    assert m["codebook"]["version"] == book.version and m["backend"] == "tfidf" and m["seed"] == 13
    assert m["training_data"]["sha256"] and m["packages"]["scikit-learn"]
    card = (v.path / "README.md").read_text()
    assert "commentary@v1" in card and "Stance macro-F1" in card
    cv = json.loads((v.path / "metrics.json").read_text())["cv"]
    # hubs read the front matter: huggingface_hub parses it back, scores in the model-index form
    from huggingface_hub import ModelCard

    hub = ModelCard.load(v.path / "README.md")
    assert hub.data.library_name == "commentary" and hub.data.model_name == "commentary@v1"
    [stance] = [r for r in hub.data.eval_results
                if r.metric_name == "stance macro-F1" and r.dataset_split == "cross-validation"]
    assert stance.metric_value == round(cv["stance"]["macro_f1"], 4) and "/" not in stance.dataset_name
    assert 0.3 < cv["stance"]["macro_f1"] <= 1 and 0.3 < cv["themes"]["macro_f1"] <= 1
    assert set(json.loads((v.path / "decisions.json").read_text())["thresholds"]) == set(book.theme_ids)
    model, _ = load_model(tmp_path / "models")
    from commentary.backends.base import Inputs

    preds = model.predict(Inputs(["Nobody on the board ever asks the nurses anything. Same old story."],
                                 ["Boards should listen to staff"]))
    assert preds[0]["stance"] in book.stance_ids and set(preds[0]["theme_probs"]) == set(book.theme_ids)
    assert abs(sum(preds[0]["stance_probs"].values()) - 1) < 1e-3


def test_same_data_settings_and_seed_give_identical_predictions(small, tmp_path):
    book = load_codebook()
    a = train_version(small, book, config(), tmp_path / "m").version
    b = train_version(small, book, config(), tmp_path / "m").version
    assert a.version != b.version
    ma, _ = load_model(tmp_path / "m", a.ref)
    mb, _ = load_model(tmp_path / "m", b.ref)
    data = load_training_data(STARTER / "dev", book, min_examples=0)
    assert ma.predict(data.inputs) == mb.predict(data.inputs)


def test_changed_byte_fails_loading_naming_the_file(small, tmp_path):
    v = train_version(small, load_codebook(), config(), tmp_path / "m").version
    path = v.path / "decisions.json"
    path.write_text(path.read_text().replace("0.", "1.", 1))
    with pytest.raises(CommentaryError, match="decisions.json does not match its sha256"):
        load_model(tmp_path / "m", v.ref)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_untrusted_type_in_a_skops_file_is_refused_by_name(tmp_path):
    import skops.io as sio

    from commentary.backends.safety import TRUSTED_TYPES, load_skops

    path = tmp_path / "evil.skops"
    sio.dump({"x": Evil()}, path)
    with pytest.raises(CommentaryError, match="types commentary does not trust: .*Evil"):
        load_skops(path, TRUSTED_TYPES)


def test_unknown_label_and_too_few_examples_say_which_and_how_many(small):
    book = load_codebook()
    ds = read_dataset(small)
    bad = [Labels(ds.labels[0].comment_id, "supportive", [])] + ds.labels[1:]
    with pytest.raises(CodebookError, match="unknown stance 'supportive'"):
        load_training_data(ds, book, labels=bad)
    few = [lab for lab in ds.labels if lab.stance != "mixed"][:-1]
    few += [lab for lab in ds.labels if lab.stance == "mixed"][:2]
    with pytest.raises(CommentaryError, match="'mixed' has 2 .*need at least 5"):
        load_training_data(ds, book, labels=few)


def test_failed_build_leaves_models_as_it_was(tmp_path):
    root = tmp_path / "models"

    def build(folder):
        (folder / "half.bin").write_bytes(b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CommentaryError, match="No space left on device.*nothing was changed"):
        write_version(root, "commentary", build, {})
    assert list_versions(root) == []
    assert [p.name for p in (root / "commentary").iterdir() if p.name != ".lock"] == []


def test_missing_base_model_is_one_clear_error(small, tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(CommentaryError, match="base model .*not a model folder|could not load base model"):
        train_version(small, load_codebook(), config(backend="embeddings", base_model=str(tmp_path / "none")),
                      tmp_path / "m")
    assert not (tmp_path / "m").exists() or list_versions(tmp_path / "m") == []


def test_config_file_is_overridden_by_options(tmp_path):
    toml = tmp_path / "train.toml"
    toml.write_text('backend = "tfidf"\nseed = 7\ncv_folds = 4\n')
    cfg = TrainConfig.resolve(toml, {"seed": 99, "name": None})
    assert (cfg.seed, cfg.cv_folds, cfg.name) == (99, 4, "commentary")
    toml.write_text("sede = 7\n")
    with pytest.raises(CommentaryError, match="unknown setting sede"):
        TrainConfig.resolve(toml, {})
    for seed in (-5, 2**32):  # numpy's range: was "unexpected ValueError ... report it" deep in training
        toml.write_text(f"seed = {seed}\n")
        with pytest.raises(CommentaryError, match="a whole number from 0 to 4294967295"):
            TrainConfig.resolve(toml, {})


def _train_cmd(home, dataset):
    return [sys.executable, "-m", "commentary", "-q", "train", str(dataset), "--cv-folds", "2"]


def test_two_trainings_at_once_make_two_versions(small, tmp_path):
    env = {"COMMENTARY_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COMMENTARY_DEFAULT_BACKEND": "tfidf"}
    procs = [subprocess.Popen(_train_cmd(tmp_path, small), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(o[0].strip() for o in outs) == ["commentary@v1", "commentary@v2"]
    assert [v.version for v in list_versions(tmp_path / "models")] == ["v1", "v2"]


def test_a_deleted_versions_number_is_never_given_again(tmp_path):
    """A user deletes models/m/v2 by hand: the next training is v3, not a second, different v2 that
    reports, scripts and the promotion pointer naming m@v2 would silently reach."""
    import shutil

    from commentary.registry import write_version

    root = tmp_path / "models"
    made = [write_version(root, "m", lambda f, k=k: (f / "weights.json").write_text(str(k)), {}).version
            for k in range(2)]
    shutil.rmtree(root / "m" / "v2")
    made.append(write_version(root, "m", lambda f: (f / "weights.json").write_text("new"), {}).version)
    assert made == ["v1", "v2", "v3"]
    assert sorted(json.loads((root / "m" / "index.json").read_text())) == ["v1", "v2", "v3"]


def test_killed_training_leaves_nothing_listable(small, tmp_path):
    env = {"COMMENTARY_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COMMENTARY_DEFAULT_BACKEND": "tfidf"}
    proc = subprocess.Popen(_train_cmd(tmp_path, small), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(4)
    proc.kill()
    proc.wait()
    assert list_versions(tmp_path / "models") == []
    with pytest.raises(CommentaryError):
        resolve(tmp_path / "models", None)


def test_models_commands(small, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path))
    for seed in ("1", "2"):
        res = cli("train", small, "--cv-folds", "2", "--seed", seed)
        assert res.exit_code == 0, res.stderr
    res = cli("models", "list")
    assert res.stdout.splitlines()[0].startswith("* commentary@v1")
    assert res.stdout.splitlines()[1].startswith("  commentary@v2")
    assert "commands without --model use commentary@v1" in res.stderr
    assert cli("models", "promote", "commentary@v2").exit_code == 0
    res = cli("models", "list")
    assert res.stdout.splitlines()[1].startswith("* commentary@v2")
    assert "commands without --model use commentary@v2" in res.stderr
    # a model name that is not there is named as such, with the ones that are
    res = cli("models", "show", "comentary")
    assert res.exit_code == 1 and "no model named 'comentary'" in res.stderr and "(models: commentary)" in res.stderr
    assert "see `commentary models list`" in res.stderr
    # a fix's command names the folder of models the user named
    res = cli("models", "show", "commentary", "--models-dir", tmp_path / "nothing-here")
    assert f"train one with `commentary train --models-dir {tmp_path / 'nothing-here'}`" in res.stderr
    for ref in ("commentary@", "@v1", ""):  # read before as the promoted commentary
        res = cli("models", "show", ref)
        assert res.exit_code == 1 and f"bad model reference {ref!r}" in res.stderr
    res = cli("models", "list", "--models-dir", tmp_path / "nothing-here")
    assert res.exit_code == 0 and res.stdout == "" and "no models in" in res.stderr
    assert json.loads(cli("models", "show", "commentary@v1").stdout)["config"]["seed"] == 1
    res = cli("models", "diff", "commentary@v1", "commentary@v2")
    assert res.exit_code == 0 and "config.seed" in res.stdout and "stance macro-F1" in res.stdout
    assert "on different data" not in res.stderr  # the same comments, another seed: like for like
    assert cli("train", STARTER / "test", "--backend", "tfidf", "--cv-folds", "2", "--name", "other").exit_code == 0
    res = cli("models", "diff", "commentary@v1", "other@v1")
    assert res.exit_code == 0 and "were trained, and cross-validated, on different data" in res.stderr
    assert cli("models", "verify").exit_code == 0
    (tmp_path / "models" / "commentary" / "v2" / "metrics.json").write_text(
        '{"cv": {"stance": {"macro_f1": 0.99}, "themes": {"macro_f1": 0.99}}}')
    res = cli("models", "verify", "commentary@v2")
    assert res.exit_code == 1 and "metrics.json does not match" in res.stderr
    # list, show and diff print figures: edited ones are marked, not shown as training's
    res = cli("models", "list")
    assert "! commentary@v2" in res.stdout and "commentary@v2: its metrics.json was changed since training" in res.stderr
    manifest = tmp_path / "models" / "commentary" / "v1" / "manifest.json"
    edited = json.loads(manifest.read_text())
    edited["training_data"]["n"] = 5000
    manifest.write_text(json.dumps(edited, indent=2) + "\n")
    res = cli("models", "show", "commentary@v1")
    assert "its manifest was changed since training" in res.stderr, res.stderr
    res = cli("models", "diff", "commentary@v1", "commentary@v2")
    assert "commentary@v1: its manifest was changed" in res.stderr and "commentary@v2: its metrics.json" in res.stderr
    res = cli("models", "show", "commentary@v9")
    assert res.exit_code == 1 and "commentary@v9 does not exist" in res.stderr


@pytest.fixture(scope="module")
def tfidf_version(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("plain") / "models"
    return root, train_version(small, load_codebook(), TrainConfig(cv_folds=2), root).version


@pytest.mark.parametrize("scipy_product", [False, True], ids=["numpy", "scipy"])
def test_plain_scorer_gives_scikit_learns_probabilities(tfidf_version, scipy_product, monkeypatch):
    """A loaded tfidf version scores from plain arrays (small inputs with NumPy alone, large ones
    with SciPy's sparse product); the fitted sklearn objects must agree with it either way."""
    import numpy as np

    from commentary.backends import _tfidf_scorer
    from commentary.backends.base import Inputs
    from commentary.classify import read_items

    monkeypatch.setattr(_tfidf_scorer, "_scipy_product", lambda nonzeros: scipy_product)
    root, version = tfidf_version
    model, _ = load_model(root, version.ref)
    assert model.backend.scorer is not None
    items = list(read_items(str(STARTER / "test")))
    inputs = Inputs([i.text for i in items] + ["", "Ünïcode  café\tnaïve\n\nwords", "ok",
                                                   "It’s “fine” – the ward’s view"],
                    [i.article for i in items] + [None, None, "An article", None])
    plain = model.backend.predict_proba(inputs)
    model.backend.audit(version.path)  # the skops archive, through the type audit
    model.backend.scorer = None
    fitted = model.backend.predict_proba(inputs)
    assert np.abs(plain[0] - fitted[0]).max() < 1e-9 and np.abs(plain[1] - fitted[1]).max() < 1e-9


def test_large_batches_count_character_ngrams_word_by_word_to_the_same_numbers(tfidf_version):
    """A large batch counts character n-grams as (text x word) times (word x n-gram) with SciPy;
    the tf-idf triplets must be exactly those of counting every n-gram of every text."""
    import numpy as np

    root, version = tfidf_version
    model, _ = load_model(root, version.ref)
    chars = model.backend.scorer.chars
    texts = [c.text for c in read_dataset(STARTER / "test").comments]
    texts += ["", "   ", "Ünïcode  café\tnaïve", "a  b\u00a0c\x1cd", "x" * 300, "ward ward ward"]
    counted = chars.transformer.rows(*chars.ids(texts))
    by_word = chars.transformer.weigh(*chars.counts(texts), len(texts))
    for part in ("row", "col", "val", "indptr"):
        assert np.array_equal(getattr(counted, part), getattr(by_word, part))
    assert len(counted.val) > 10 * len(texts)


def test_a_scorer_saved_in_the_first_format_still_scores_the_same(tfidf_version, tmp_path):
    """Format 2 lists each vocabulary's terms in column order; versions saved with format 1 hold
    {term: column} maps and must load and score exactly as before."""
    import numpy as np

    from commentary.backends._tfidf_scorer import SCORER_ARRAYS, SCORER_JSON, TfidfScorer
    from commentary.backends.base import Inputs

    root, version = tfidf_version
    meta = json.loads((version.path / SCORER_JSON).read_text())
    assert meta["format"] == 2 and "vocabulary" not in meta["word"]
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(version.path / SCORER_ARRAYS, old / SCORER_ARRAYS)
    for vec in ("word", "char"):
        meta[vec]["vocabulary"] = {t: k for k, t in enumerate(meta[vec].pop("terms"))}
    (old / SCORER_JSON).write_text(json.dumps({**meta, "format": 1}))
    texts = [c.text for c in read_dataset(STARTER / "test").comments][:40] + ["Ünïcode café", ""]
    inputs = Inputs(texts, ["Listen to the nurses"] * len(texts))
    now, before = TfidfScorer.load(version.path), TfidfScorer.load(old)
    assert now.words.vocabulary == before.words.vocabulary and len(now.words.vocabulary) > 100
    for a, b in zip(now.predict_proba(inputs), before.predict_proba(inputs)):
        assert np.array_equal(a, b)
    (old / SCORER_JSON).write_text(json.dumps({**meta, "format": 9}))
    with pytest.raises(CommentaryError, match="scorer format 9 is not one this version reads"):
        TfidfScorer.load(old)


def test_loading_a_tfidf_version_and_scoring_import_neither_sklearn_nor_scipy(tfidf_version):
    root, version = tfidf_version
    code = ("import sys; from pathlib import Path; from commentary.training import load_model; "
            "from commentary.backends.base import Inputs; "
            f"m, _ = load_model(Path({str(root)!r}), {version.ref!r}); "
            "p = m.predict(Inputs(['Nurses were never asked, as usual.', 'Agreed.'], ['Listen to nurses', None])); "
            "assert len(p) == 2, p; "
            "print(sorted(x for x in ('sklearn', 'skops', 'torch', 'scipy') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fast_char_ngrams_match_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from commentary.backends._charwb import CharWbTransform

    texts = [c.text for c in read_dataset(STARTER / "dev").comments]
    texts += ["", "a", "  spaced   out\ttext\n\nhere ", "Ünïcode café naïve", "x" * 7, "ab cd"]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True).fit(texts[:80])
    fast = CharWbTransform(vec)
    for _ in range(2):  # the second pass reads the per-word cache
        assert abs(fast(texts) - vec.transform(texts)).max() < 1e-12


def test_adapt_self_trains_on_the_users_comments_or_fits_the_vocabulary_on_them(small, tmp_path):
    """--adapt: self-training (the default) adds confident pseudo-labels; vocabulary learns the user's words."""
    from commentary.backends.base import Inputs
    from commentary.dataset import write_dataset
    from commentary.records import Comment

    dev = read_dataset(STARTER / "dev")
    own = [Comment(id=f"u{i}", article_id=None, text=c.text) for i, c in enumerate(dev.comments)]
    own += [Comment(id=f"w{i}", article_id=None, text=f"The ICB's flibbertigibbet board ignores us again, take {i}.")
            for i in range(3)]
    unlabelled = tmp_path / "own"
    write_dataset(unlabelled, [], own)
    book = load_codebook()
    plain = train_version(small, book, config(), tmp_path / "m").version
    selft = train_version(small, book, config(), tmp_path / "m", adapt=unlabelled).version
    vocab = train_version(small, book, config(adapt_method="vocabulary"), tmp_path / "m", adapt=unlabelled).version

    assert selft.manifest["config"]["adapt_method"] == "self-training"
    assert selft.manifest["training_data"]["adapt"] == str(unlabelled)
    added = json.loads((selft.path / "metrics.json").read_text())["self_training"]["pseudo_labelled"]
    assert 0 < added <= len(own)
    inputs = Inputs([c.text for c in dev.comments])
    p_plain = load_model(tmp_path / "m", plain.ref)[0].probabilities(inputs)[0]
    p_self = load_model(tmp_path / "m", selft.ref)[0].probabilities(inputs)[0]
    assert abs(p_plain - p_self).max() > 0.01

    words = lambda v: load_model(tmp_path / "m", v.ref)[0].backend.scorer.words.vocabulary  # noqa: E731
    assert "flibbertigibbet" in words(vocab) and "flibbertigibbet" not in words(plain)
    assert "self_training" not in json.loads((vocab.path / "metrics.json").read_text())


def test_cross_validation_in_forked_processes_gives_the_fold_by_fold_probabilities(small):
    import numpy as np

    from commentary.fitting import cross_val_proba

    data = load_training_data(small, load_codebook())
    finals = []
    one = cross_val_proba(data, config(), jobs=1, meanwhile=lambda: finals.append("one"))
    two = cross_val_proba(data, config(), jobs=2, meanwhile=lambda: finals.append("two"))
    assert finals == ["one", "two"]  # the final fit runs either way
    assert [te.tolist() for _, te in one[2]] == [te.tolist() for _, te in two[2]]
    assert np.abs(one[0] - two[0]).max() < 1e-9
    # theme heads (liblinear) stop at the solver's tolerance, and with BLAS on one thread the last
    # iteration can land a hair apart: equal to well within what any threshold could notice
    assert np.abs(one[1] - two[1]).max() < 1e-3
    assert one[0].sum(axis=1) == pytest.approx(1.0) and (one[0].argmax(1) == data.stance).mean() > 0.5


def test_theme_rules_are_features_kept_with_the_version(tfidf_version):
    """The shipped theme rules become feature columns; the version keeps the rules themselves."""
    from commentary.label.rules import RuleFeatures

    root, version = tfidf_version
    saved = json.loads((version.path / "backend.json").read_text())["settings"]
    spec = saved["theme_rules"]
    assert {r["label"] for r in spec} >= {"politics", "hierarchy", "listening", "evidence"}
    model, _ = load_model(root, version.ref)
    assert model.backend.scorer.rules.spec == spec  # scored with the rules it was trained with
    hits = RuleFeatures(spec)(["The senators in Congress keep ignoring the voters.",
                               "Management imposed rules from the top without asking the teachers.",
                               "Lovely day."])
    names = [r["name"] for r in spec]
    fired = [{names[j] for j in range(len(names)) if row[j]} for row in hits]
    assert {"politics-words", "listening-to-people"} <= fired[0]
    assert {"hierarchy-words", "listening-to-people"} <= fired[1] and not fired[2]


def test_embeddings_shipped_with_a_dataset_warm_the_cache(tmp_path, monkeypatch):
    """Shards inside <dataset>/embeddings/<encoder>-<length>/ are copied into the cache once."""
    import numpy as np
    from safetensors.numpy import save_file

    from commentary.backends.encoder import EmbeddingCache, warm_cache

    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "cache"))
    shipped = tmp_path / "ds" / "embeddings" / "abcdef0123456789-256"
    shipped.mkdir(parents=True)
    save_file({EmbeddingCache.key("a comment"): np.ones(4, dtype="float32")}, str(shipped / "s1.safetensors"))
    assert warm_cache([tmp_path / "ds", tmp_path / "no-embeddings-here"]) == 1
    cached = tmp_path / "cache" / "embeddings" / "abcdef0123456789-256"
    assert EmbeddingCache(cached).vectors[EmbeddingCache.key("a comment")].tolist() == [1, 1, 1, 1]
    assert warm_cache([tmp_path / "ds"]) == 0  # already there: nothing copied twice
    # the bundled data ships shards for the default encoder
    assert list((STARTER / "train" / "embeddings").glob("*-256/*.safetensors"))


def test_several_datasets_train_as_one_and_a_manifest_can_keep_stance_out():
    """The default data: the starter split plus real comments whose derived stance trains no stance head."""
    from commentary.fitting import load_training_sets

    book = load_codebook()
    real = REPO / "data" / "real" / "rfd_train"
    data = load_training_sets([STARTER / "dev", real], book, min_examples=0)
    n_dev = len(read_dataset(STARTER / "dev").labels)
    assert len(data.ids) == n_dev + 2481 and [p["n"] for p in data.parts] == [n_dev, 2481]
    assert (data.stance[:n_dev] >= 0).all() and (data.stance[n_dev:] == -1).all()  # themes only
    assert data.themes[n_dev:].sum() > 2500  # the real comments' themes are kept
    assert len(set(data.groups[n_dev:]) & set(data.groups[:n_dev])) == 0
    # their stance labels are still there for scoring
    assert {lab.stance for lab in read_dataset(real).labels} == {"agree", "disagree"}


def test_a_version_saved_before_rule_features_scores_without_them(tfidf_version, tmp_path):
    """Older versions' settings name no theme rules: loading must not add rule columns to their features."""
    import shutil

    import numpy as np

    from commentary.backends.base import Inputs
    from commentary.backends.tfidf import TfidfBackend

    root, version = tfidf_version
    old = tmp_path / "old"
    shutil.copytree(version.path, old)
    settings = json.loads((old / "backend.json").read_text())["settings"]
    fitted = TfidfBackend.load(old, {k: v for k, v in settings.items() if k not in ("theme_rules", "rules_weight")})
    assert fitted.rule_features is None
    fitted.audit(old)  # the scikit-learn path, as versions before the plain scorer score
    fitted.scorer = None
    xs, xt = fitted._features(Inputs(["The senators ignored the voters."]))
    assert xt.shape[1] == fitted.parts["themes"][0].coef_.shape[1] - len(settings["theme_rules"])
    assert np.isfinite(xs.toarray()).all()


def _nothing_new_case():
    """Four comments the backend reads as mixed; the codebook says how each should come out."""
    import numpy as np

    from commentary.model import Decisions

    book = load_codebook()
    dec = Decisions(list(book.stance_ids), list(book.theme_ids), thresholds={t: 0.5 for t in book.theme_ids},
                    nothing_new_is_agree=True)
    s = {k: i for i, k in enumerate(book.stance_ids)}
    cs = np.zeros((4, len(s)))
    cs[:, s["mixed"]] = 0.46
    cs[[0, 1], s["agree"]], cs[[0, 1], s["disagree"]] = 0.41, 0.11  # "nothing new, but backed by the research"
    cs[2, s["agree"]], cs[2, s["disagree"]] = 0.11, 0.41  # leans to disagree: the rule must not touch it
    # "right about managers but wrong about nurses, and none of this is new": a confident mixed stays
    cs[3, s["mixed"]], cs[3, s["agree"]], cs[3, s["disagree"]] = 0.84, 0.10, 0.04
    cs[:, s["neutral"]] = 1 - cs.sum(axis=1)
    ct = np.full((4, len(book.theme_ids)), 0.1)
    ct[[0, 2, 3], book.theme_ids.index("nothing_new")] = 0.9  # the second comment does not say it is old news
    return book, dec, cs, ct


def test_agreeing_that_the_point_is_old_is_agree_not_mixed():
    """The codebook: "Agreeing while saying the point is old or obvious is still agree"."""
    from commentary.model import Decisions

    book, dec, cs, ct = _nothing_new_case()
    assert [book.stance_ids[k] for k in dec.decide(cs, ct)[0]] == ["agree", "mixed", "mixed", "mixed"]
    # models trained before the rule keep their labels: their decisions.json has no such key
    old = Decisions.from_dict({k: v for k, v in dec.to_dict().items() if k != "nothing_new_is_agree"})
    assert not old.nothing_new_is_agree and [book.stance_ids[k] for k in old.decide(cs, ct)[0]] == ["mixed"] * 4
    assert Decisions.from_dict(json.loads(json.dumps(dec.to_dict()))) == dec


def test_prediction_and_evaluation_apply_the_same_rule():
    """classify's labels and evaluate's scores come from one decision, not two argmaxes."""
    import numpy as np

    from commentary.backends.base import Inputs
    from commentary.evaluate import _scores
    from commentary.fitting import TrainingData
    from commentary.model import TrainedModel

    book, dec, cs, ct = _nothing_new_case()

    class Fixed:
        def predict_proba(self, inputs):
            return cs, ct

    dec.temperature = 1.0
    preds = TrainedModel(Fixed(), dec).predict(Inputs(["a", "b", "c", "d"]))
    assert [p["stance"] for p in preds] == ["agree", "mixed", "mixed", "mixed"]
    assert preds[0]["themes"] == ["nothing_new"] and preds[1]["themes"] == []
    gold = np.array([book.stance_ids.index(s) for s in ("agree", "mixed", "disagree", "mixed")])
    data = TrainingData(ids=list("abcd"), inputs=Inputs(list("abcd")), groups=list("abcd"), stance=gold,
                        themes=np.zeros(ct.shape, dtype=int), stance_labels=list(book.stance_ids),
                        theme_labels=list(book.theme_ids), sha256="", source="test")
    out = _scores(data, *dec.calibrate(cs, ct), dec)
    assert out["stance"]["accuracy"] == pytest.approx(3 / 4)  # all but the third, which is not disagree


def test_a_trained_model_records_the_codebook_rule(small, tmp_path):
    out = train_version(small, load_codebook(), config(), tmp_path / "models")
    decisions = json.loads((out.version.path / "decisions.json").read_text())
    assert decisions["nothing_new_is_agree"] is True
    assert [r["name"] for r in decisions["stance_rules"]] == ["agree-says-so", "disagree-says-so"]
    out = train_version(small, load_codebook(), config(stance_rules="none"), tmp_path / "models")
    assert "stance_rules" not in json.loads((out.version.path / "decisions.json").read_text())


SAID = ["Rubbish article.", "I completely disagree with this piece. The author has it backwards.",
        "Great article, spot on.", "Not a great article.", "I agree pay matters. I don't agree with the ban.",
        "Great article! For more tips, check out our free guide at the link in our profile.",
        "Budgets are tight everywhere this year."]


def test_a_comment_that_says_where_it_stands_takes_that_stance():
    """Real readers write "I disagree with this piece"; a model trained on written comments read it as
    agree. The shipped deciding rules give such comments their stance; the probabilities stay the
    model's, so one it read otherwise is flagged unsure."""
    import numpy as np

    from commentary.backends.base import Inputs
    from commentary.label.rules import deciding_rules_spec
    from commentary.model import Decisions, TrainedModel

    book = load_codebook()
    dec = Decisions(list(book.stance_ids), list(book.theme_ids), thresholds={t: 0.5 for t in book.theme_ids},
                    abstain_below=0.3, stance_rules=deciding_rules_spec(None))
    cs = np.zeros((len(SAID), len(book.stance_ids)))
    cs[:, book.stance_ids.index("neutral")] = 0.9  # what a model read in all of them
    cs[:, book.stance_ids.index("agree")] = 0.1
    ct = np.zeros((len(SAID), len(book.theme_ids)))
    want = ["disagree", "disagree", "agree", "neutral", "neutral", "neutral", "neutral"]
    assert [book.stance_ids[k] for k in dec.decide(cs, ct, SAID)[0]] == want
    assert [book.stance_ids[k] for k in dec.decide(cs, ct)[0]] == ["neutral"] * len(SAID)  # no texts, no rules

    class Fixed:
        def predict_proba(self, inputs):
            return cs, ct

    preds = TrainedModel(Fixed(), dec).predict(Inputs(SAID))
    assert [p["stance"] for p in preds] == want
    assert [p["abstain"] for p in preds] == [s != "neutral" for s in want]  # the model read neutral at 0.9
    assert preds[0]["stance_probs"]["neutral"] == 0.9
    # kept in decisions.json; a model trained before has none and is unchanged
    assert Decisions.from_dict(json.loads(json.dumps(dec.to_dict()))).stance_rules == dec.stance_rules
    old = Decisions.from_dict({k: v for k, v in dec.to_dict().items() if k != "stance_rules"})
    assert [book.stance_ids[k] for k in old.decide(cs, ct, SAID)[0]] == ["neutral"] * len(SAID)
