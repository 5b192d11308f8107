"""Transformer backends: frozen sentence embeddings with linear heads, and full fine-tuning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CommentaryError
from .base import Inputs
from .encoder import (
    MINILM,
    EmbeddingCache,
    Encoder,
    cache_dir,
    device_for,
    keep_static_encoder,
    kept_static_encoder,
    load_pretrained,
    quiet_transformers,
    resolve_base_model,
    shared_encoder,
    weights_sha256,
)

__all__ = ["EmbeddingsBackend", "FinetuneBackend"]

HEADS_FILE = "heads.skops"
FINETUNED_DIR = "finetuned"
_SAVED = "<saved>"  # a fine-tuned model loads from its own folder, not from the base model

class EmbeddingsBackend:
    """Frozen sentence embeddings; stance sees comment and article, themes the comment."""

    name = "embeddings"

    def __init__(self, *, seed: int = 0, use_article: bool = True, base_model: str | None = None,
                 max_length: int = 256, batch_size: int = 32, c_stance: float = 4.0, c_themes: float = 4.0,
                 base_model_sha256: str | None = None, base_model_location: str | None = None,
                 **_: Any) -> None:
        self.seed, self.use_article, self.max_length, self.batch_size = seed, use_article, max_length, batch_size
        self.c_stance, self.c_themes = c_stance, c_themes
        # base_model_location: where a loaded version's own copy of its encoder is (see with_kept_encoder)
        self.base_model_id, self.location = ((base_model, base_model_location) if base_model_location
                                             else resolve_base_model(base_model))
        self.expected_sha = base_model_sha256
        self._encoder: Encoder | None = None
        self.parts: dict[str, Any] = {}
        # Training keeps embeddings on disk by text hash; a loaded model scoring new comments does
        # not (the cache would grow with every comment ever classified, in memory and on disk).
        self.cache_embeddings = True
        self._cache: EmbeddingCache | None = None
        self._articles: dict[str, Any] = {}  # the last few articles' embeddings, while scoring

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = shared_encoder(self.location, self.max_length, self.batch_size)
            folder = self._encoder.folder
            self.base_model_sha256 = weights_sha256(folder) if folder.is_dir() else self.base_model_id
            if self.expected_sha and self.expected_sha != self.base_model_sha256:
                raise CommentaryError(
                    f"base model {self.base_model_id} at {self.location} is not the one this model was "
                    "trained with (its files' sha256 differs)",
                    fix="install the same encoder version, or retrain the model")
            if self.cache_embeddings:
                self._cache = EmbeddingCache(cache_dir(self.base_model_sha256, self.max_length,
                                                       getattr(self._encoder, "runtime", "torch")))
        return self._encoder

    def _embed_articles(self, articles: list[str]):
        """Each distinct article once; a stream of comments under one article encodes it once."""
        import numpy as np

        todo = sorted({a for a in articles if a not in self._articles})
        if todo:
            if len(self._articles) + len(todo) > 256:
                self._articles.clear()
            self._articles.update(zip(todo, self.encoder.encode(todo)))
        return np.stack([self._articles[a] for a in articles])

    def _features(self, inputs: Inputs):
        import numpy as np

        enc = self.encoder
        if self._cache is not None:
            c = self._cache.embed(enc, inputs.texts)
            if not self.use_article:
                return c, c
            a = self._cache.embed(enc, [x or "" for x in inputs.articles])
        else:
            c = enc.encode(inputs.texts)
            if not self.use_article:
                return c, c
            a = self._embed_articles([x or "" for x in inputs.articles])
        return np.hstack([c, a, c * a, np.abs(c - a)]), c

    @property
    def stance_classes(self):
        return self.parts["stance"].classes_

    def fit(self, inputs: Inputs, stance, themes, unlabelled: Inputs | None = None) -> None:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        xs, xt = self._features(inputs)
        has = np.asarray(stance) >= 0  # comments labelled for themes only train the theme heads alone
        self.parts["stance"] = LogisticRegression(C=self.c_stance, class_weight="balanced", max_iter=5000,
                                                  random_state=self.seed).fit(xs[has], np.asarray(stance)[has])
        self.parts["themes"] = [
            LogisticRegression(C=self.c_themes, class_weight="balanced", max_iter=5000,
                               random_state=self.seed).fit(xt, themes[:, j]) for j in range(themes.shape[1])]

    def predict_proba(self, inputs: Inputs):
        import numpy as np

        xs, xt = self._features(inputs)
        heads = self.parts["themes"]
        return (self.parts["stance"].predict_proba(xs),
                np.column_stack([h.predict_proba(xt)[:, 1] for h in heads]) if heads
                else np.zeros((len(inputs), 0)))

    def save(self, folder: Path) -> dict[str, Any]:
        from .safety import dump_skops

        dump_skops(self.parts, folder / HEADS_FILE)
        _ = self.encoder  # make sure the sha256 of the base model is known
        keep_static_encoder(self.location, folder)
        return {"seed": self.seed, "use_article": self.use_article, "base_model": self.base_model_id,
                "max_length": self.max_length, "batch_size": self.batch_size, "c_stance": self.c_stance,
                "c_themes": self.c_themes, "base_model_sha256": self.base_model_sha256}

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> EmbeddingsBackend:
        from .safety import load_skops

        backend = cls(**with_kept_encoder(folder, settings))
        backend.cache_embeddings = False
        backend.parts = load_skops(folder / HEADS_FILE)
        return backend


def with_kept_encoder(folder: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """A version's settings, with the base model loaded from the static encoder the version carries
    (versions saved before they carried one find theirs through the cache, as before)."""
    kept = kept_static_encoder(folder)
    return {**settings, "base_model_location": kept} if kept else settings


class FinetuneBackend:
    """Fine-tune a sequence classifier: softmax stance logits and sigmoid theme logits on one encoder.

    The default base model is all-MiniLM-L6-v2: small enough to fine-tune on a CPU.

    With articles, each comment is paired with its article (cross-encoder style) and
    truncation cuts the longer of the two first (in practice the article).
    """

    name = "finetune"

    def __init__(self, *, seed: int = 0, use_article: bool = True, base_model: str | None = None,
                 max_length: int = 256, batch_size: int = 16, epochs: int = 4, learning_rate: float = 5e-5,
                 n_stance: int | None = None, n_themes: int | None = None, **_: Any) -> None:
        self.seed, self.use_article, self.max_length = seed, use_article, max_length
        self.batch_size, self.epochs, self.learning_rate = batch_size, epochs, learning_rate
        self.base_model_id, self.location = (resolve_base_model(base_model or MINILM) if base_model != _SAVED
                                             else (None, None))
        self.n_stance, self.n_themes = n_stance, n_themes
        self.model = self.tokenizer = None
        self.epoch_seconds: list[float] = []

    def _batch(self, inputs: Inputs, index):
        texts = [inputs.texts[i] for i in index]
        if self.use_article and any(inputs.articles[i] for i in index):
            pairs = [inputs.articles[i] or "" for i in index]
            return self.tokenizer(texts, pairs, padding=True, truncation="longest_first",
                                  max_length=self.max_length, return_tensors="pt")
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")

    @property
    def stance_classes(self):
        return list(range(self.n_stance))

    def fit(self, inputs: Inputs, stance, themes, unlabelled: Inputs | None = None) -> None:
        import time

        import numpy as np
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_transformers()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_stance = max(self.n_stance or 0, int(stance.max()) + 1)
        self.n_themes = themes.shape[1]
        self.tokenizer = load_pretrained(AutoTokenizer, self.location)
        self.model = load_pretrained(AutoModelForSequenceClassification, self.location, use_safetensors=True,
                           num_labels=self.n_stance + self.n_themes, ignore_mismatched_sizes=True)
        device = device_for(torch)
        self.model.to(device).train()
        optim = torch.optim.AdamW(self.model.parameters(), lr=self.learning_rate, weight_decay=0.01)
        steps = self.epochs * max(1, -(-len(inputs) // self.batch_size))
        sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: max(0.0, 1 - s / steps) * min(1.0, (s + 1) / (0.1 * steps + 1)))
        counts = np.bincount(stance[stance >= 0], minlength=self.n_stance).astype(float)
        weight = torch.tensor(len(stance) / (self.n_stance * np.maximum(counts, 1)), dtype=torch.float32, device=device)
        pos = themes.sum(0).astype(float)
        pos_weight = torch.tensor(np.clip((len(themes) - pos) / np.maximum(pos, 1), 1, 10), dtype=torch.float32, device=device)
        ys = torch.tensor(stance, dtype=torch.long)
        yt = torch.tensor(themes, dtype=torch.float32)
        for _epoch in range(self.epochs):
            start = time.perf_counter()
            for b in np.array_split(rng.permutation(len(inputs)), max(1, -(-len(inputs) // self.batch_size))):
                batch = self._batch(inputs, b).to(device)
                logits = self.model(**batch).logits
                # comments labelled for themes only (stance -1) add nothing to the stance loss
                loss = torch.nn.functional.cross_entropy(logits[:, :self.n_stance], ys[b].to(device), weight=weight,
                                                         ignore_index=-1)
                loss = torch.nan_to_num(loss)  # a batch with no stance label at all
                if self.n_themes:
                    loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(
                        logits[:, self.n_stance:], yt[b].to(device), pos_weight=pos_weight)
                optim.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                optim.step()
                sched.step()
            self.epoch_seconds.append(time.perf_counter() - start)
        self.model.eval()

    def predict_proba(self, inputs: Inputs):
        import numpy as np
        import torch

        device = next(self.model.parameters()).device
        ps, pt = [], []
        with torch.inference_mode():
            for start in range(0, len(inputs), 64):
                logits = self.model(**self._batch(inputs, range(start, min(start + 64, len(inputs)))).to(device)).logits
                ps.append(torch.softmax(logits[:, :self.n_stance], -1).float().cpu().numpy())
                pt.append(torch.sigmoid(logits[:, self.n_stance:]).float().cpu().numpy())
        return np.concatenate(ps), np.concatenate(pt)

    def save(self, folder: Path) -> dict[str, Any]:
        self.model.save_pretrained(folder / FINETUNED_DIR, safe_serialization=True)
        self.tokenizer.save_pretrained(folder / FINETUNED_DIR)
        return {"seed": self.seed, "use_article": self.use_article, "base_model": self.base_model_id,
                "max_length": self.max_length, "batch_size": self.batch_size, "epochs": self.epochs,
                "learning_rate": self.learning_rate, "n_stance": self.n_stance, "n_themes": self.n_themes,
                "epoch_seconds": [round(s, 2) for s in self.epoch_seconds]}

    @property
    def base_model_sha256(self) -> str | None:
        if self.location and Path(self.location).is_dir():
            return weights_sha256(Path(self.location))
        return None

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> FinetuneBackend:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_transformers()
        settings = {k: v for k, v in settings.items() if k != "epoch_seconds"}
        backend = cls(**{**settings, "base_model": _SAVED})
        backend.base_model_id = settings.get("base_model")
        path = str(folder / FINETUNED_DIR)
        backend.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
        backend.model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, trust_remote_code=False, use_safetensors=True).eval()
        backend.model.to(device_for(torch))
        return backend
