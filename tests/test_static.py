"""The fast tier: a Model2Vec static encoder behind the hybrid backend, scoring without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from commentary.codebook import load_codebook
from commentary.fitting import TrainConfig
from commentary.training import load_model, train_version

pytest.importorskip("model2vec")


@pytest.fixture(scope="module")
def static_encoder(small, tmp_path_factory):
    """A small static model over the training comments' words (real ones are distilled from mpnet)."""
    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    from commentary.dataset import read_dataset

    words = sorted({w.lower().strip(".,!?;:\"'()") for c in read_dataset(small).comments for w in c.text.split()} - {""})
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    vectors = np.random.default_rng(0).normal(size=(len(vocab), 32)).astype("float32")
    folder = tmp_path_factory.mktemp("static") / "m2v"
    StaticModel(vectors, tok, config={"model_type": "model2vec"}, normalize=True).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def static_models(small, static_encoder, tmp_path_factory):
    """A hybrid trained on the small static encoder: (models folder, the training outcome)."""
    root = tmp_path_factory.mktemp("static-models") / "models"
    outcome = train_version(small, load_codebook(), TrainConfig(backend="hybrid", base_model=str(static_encoder),
                                                                cv_folds=2), root)
    return root, outcome


def test_hybrid_on_a_static_encoder_trains_scores_and_loads_without_torch(static_encoder, static_models):
    root, outcome = static_models
    assert outcome.version.manifest["base_model"] == str(static_encoder)
    model, _ = load_model(root)
    from commentary.backends.base import Inputs

    preds = model.predict(Inputs(["Nobody ever asks the nurses anything."], ["Leaders should listen"]))
    assert preds[0]["stance"] in ("agree", "disagree", "mixed", "neutral")
    code = ("import sys; from pathlib import Path; from commentary.training import load_model; "
            "from commentary.backends.base import Inputs; "
            f"m, _ = load_model(Path({str(root)!r})); m.predict(Inputs(['A comment.'], [None])); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # the fast tier scores with neither loaded
    from commentary.backends import get_backend

    assert not get_backend("hybrid").parallel_scoring  # the class (training's folds): a transformer uses every core


def test_a_static_hybrid_scores_in_worker_processes_with_the_same_answers(small, static_models, tmp_path, cli):
    import json

    from commentary._procs import cores
    from commentary.backends.base import fork_jobs
    from commentary.dataset import read_dataset

    root, _ = static_models
    model, _ = load_model(root)
    assert model.backend.parallel_scoring  # a table lookup, cheap to fork; a transformer hybrid is not
    assert fork_jobs(model.backend) == min(4, cores())
    comments = read_dataset(small).comments
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps({"id": c.id, "text": c.text}) + "\n" for c in comments), encoding="utf-8")
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"p{jobs}.jsonl"
        res = cli("classify", src, "-o", out, "--batch-size", "50", "--jobs", jobs, "--models-dir", root)
        assert res.exit_code == 0, res.stderr
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == len(comments)


def test_the_static_encoder_loads_its_folder_as_model2vec_does(static_encoder):
    import numpy as np
    from model2vec import StaticModel

    from commentary.backends.encoder import load_static_model

    texts = ["Nobody ever asks the nurses anything.", "", "Leaders should listen to staff " * 80]
    ours, theirs = load_static_model(static_encoder), StaticModel.from_pretrained(str(static_encoder))
    assert np.array_equal(ours.encode(texts), theirs.encode(texts)) and ours.config == theirs.config


def test_base_model_static_names_the_distilled_encoder_in_the_cache(static_encoder, home):
    import shutil

    from commentary.backends.encoder import STATIC, resolve_base_model
    from commentary.paths import cache_root

    target = cache_root() / "encoders" / "static-all-mpnet-base-v2-256"
    shutil.copytree(static_encoder, target)  # as the first use leaves it (distilling mpnet takes minutes)
    assert resolve_base_model("static") == (STATIC, str(target))


def test_a_distilled_encoder_hashes_the_same_wherever_it_was_made(tmp_path):
    import json

    from commentary.backends.encoder import MPNET, _portable_config, weights_sha256

    hashes = []
    for cache in ("one", "two"):
        folder = tmp_path / cache / "static"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"same weights")
        (folder / "config.json").write_text(json.dumps({"model_type": "model2vec",
                                                        "tokenizer_name": str(tmp_path / cache / "mpnet")}))
        _portable_config(folder)
        hashes.append(weights_sha256(folder))
    assert hashes[0] == hashes[1] and json.loads((folder / "config.json").read_text())["tokenizer_name"] == MPNET


def test_a_static_version_carries_its_encoder_and_needs_no_cache_to_score(small, static_encoder, tmp_path,
                                                                          monkeypatch):
    """`--base-model static` resolves to the distilled encoder in the cache; the version keeps its own
    copy, so classifying from another folder, machine or an empty cache neither looks for it nor
    distils mpnet again."""
    import shutil

    from commentary.backends import encoder
    from commentary.backends.base import Inputs
    from commentary.dataset import file_sha256

    made = tmp_path / "cache" / "static"
    shutil.copytree(static_encoder, made)
    monkeypatch.setattr(encoder, "static_model", lambda: str(made))
    root = tmp_path / "models"
    outcome = train_version(small, load_codebook(), TrainConfig(backend="hybrid", base_model="static", cv_folds=2),
                            root)
    version = outcome.version
    assert version.manifest["base_model"] == "static"
    kept = version.path / "encoder"
    assert version.manifest["files"]["encoder/model.safetensors"] == file_sha256(kept / "model.safetensors")
    assert encoder.weights_sha256(kept) == version.manifest["base_model_sha256"]
    texts = Inputs(["Nobody ever asks the nurses anything.", "More beds, fewer managers."], ["Leaders should listen"] * 2)
    before, _ = load_model(root)
    want = before.probabilities(texts)

    def gone():
        raise AssertionError("the static encoder was looked for again")

    shutil.rmtree(made)
    monkeypatch.setattr(encoder, "static_model", gone)
    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "empty-cache"))
    encoder._ENCODERS.clear()
    model, loaded = load_model(root)
    assert model.backend.base_model_id == "static" and loaded.ref == version.ref
    got = model.probabilities(texts)
    import numpy as np

    assert all(np.allclose(g, w) for g, w in zip(got, want))


@pytest.fixture(scope="module")
def bert_style_static(small, tmp_path_factory):
    """A static model laid out as distilling mpnet leaves it: a BERT normaliser and pre-tokenizer,
    WordPiece with an unknown token, a float16 table, normalised means."""
    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from commentary.dataset import read_dataset

    words = sorted({w.lower().strip(".,!?;:\"'()") for c in read_dataset(small).comments for w in c.text.split()})
    words = [w for w in words if w.isalpha()][:1500]  # the rest become [UNK] or word pieces
    vocab = {"[UNK]": 0, "[PAD]": 1, **{t: i + 2 for i, t in enumerate(
        dict.fromkeys(words + ["##s", "##ing", "##ed", "##ly", ".", ",", "!", "?", "'", "-", "“", "”"]))}}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vectors = np.random.default_rng(1).normal(size=(len(vocab), 32)).astype("float16")
    folder = tmp_path_factory.mktemp("bert-static") / "m2v"
    StaticModel(vectors, tok, config={"model_type": "model2vec"}, normalize=True).save_pretrained(str(folder))
    return folder


def test_the_static_encoder_gives_model2vecs_embeddings_faster(small, bert_style_static):
    """The encoder tokenizes each distinct whitespace chunk once and averages over a float32 table;
    the embeddings must be exactly model2vec's own, cut to the same length, on real-looking text and
    on the characters where a split on whitespace and the tokenizer's own could differ."""
    import numpy as np

    from commentary.backends.encoder import StaticEncoder
    from commentary.dataset import read_dataset

    texts = [c.text for c in read_dataset(small).comments] + [
        "", "   ", "Café naïve résumé, ÀÉÎ", "数据 科学 and 中文", "emoji 😀 test!!", "a\x1cb c", "a\x0bb",
        "tab\there\nnew line", "x" * 3000, "ward " * 600, "\u200bzero\u200bwidth", "nbsp\xa0here and\u3000there",
        "[UNK] token", "don't stop—now… “quoted”"]
    encoder = StaticEncoder(str(bert_style_static), max_length=64)
    assert encoder._bert is not None  # the fast path, not model2vec's encode
    # a small batch first (its rows converted as read), then large ones (the float32 table made once)
    for i, batch in enumerate((texts[:2], texts, texts[::-1], texts[:2])):
        ref = np.asarray(encoder.model.encode(batch, max_length=64, show_progress_bar=False), dtype="float32")
        norms = np.linalg.norm(ref, axis=1, keepdims=True)
        assert np.array_equal(encoder.encode(batch), ref / np.where(norms > 0, norms, 1.0))
        assert (encoder._bert._table is None) == (i == 0)
    code = ("import sys; from commentary.backends.encoder import StaticEncoder; "
            f"StaticEncoder({str(bert_style_static)!r}, max_length=64).encode(['A comment.']); "
            "print('model2vec' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["False"]  # scoring needs tokenizers, not model2vec


def test_hybrid_encodes_with_the_static_encoder_unless_told_otherwise(static_encoder, home, monkeypatch):
    """The default hybrid is the static tier where it is made already or can be made; where neither
    (no mpnet packages or no distiller, and nothing in the cache), the transformer default as before;
    a named encoder always wins."""
    import shutil

    from commentary.backends import encoder, transformer
    from commentary.backends.hybrid import HybridBackend

    def resolve(spec):  # no weights are loaded to construct a backend; only the name and place matter
        if spec == encoder.STATIC:
            return encoder.STATIC, str(encoder.static_target())
        return (spec, "/nowhere") if spec else ("mpnet", "/mpnet")

    monkeypatch.setattr(transformer, "resolve_base_model", resolve)
    monkeypatch.setattr(encoder, "_mpnet_parts", lambda: None)  # cannot distil here
    assert encoder.hybrid_default_encoder() is None
    assert HybridBackend().base_model_id == "mpnet"
    monkeypatch.setattr(encoder, "_mpnet_parts", lambda: ["part"] * 5)  # mpnet installed: made on first use
    assert encoder.hybrid_default_encoder() == encoder.STATIC
    monkeypatch.setattr(encoder, "_mpnet_parts", lambda: None)
    shutil.copytree(static_encoder, encoder.static_target())  # made once by an earlier run
    assert encoder.hybrid_default_encoder() == encoder.STATIC
    default = HybridBackend()
    assert default.base_model_id == encoder.STATIC and default.parallel_scoring
    assert HybridBackend(base_model="named").base_model_id == "named"
