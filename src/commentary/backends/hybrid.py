"""The hybrid backend: tfidf n-grams and frozen sentence embeddings side by side, one set of linear heads.

tfidf carries the words that mark a theme; sentence embeddings carry what a
comment means when it says it in words the training comments never used, which
is what stance on real comments needs. Each comment gets the tfidf features of
the ``tfidf`` backend (with the article overlap for stance) and its L2-normalised
embedding; stance also gets the element-wise product of the comment's and the
article's embeddings, when trained with ``use_article`` (not the default since the article
features were measured to add noise on real comments). Measured in docs/quality.md: better stance
in the corpus and on real Reddit replies than either part alone, themes close to tfidf's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._tfidf_scorer import Rows
from .base import Inputs
from .encoder import hybrid_default_encoder, is_static_model, keep_static_encoder
from .tfidf import TfidfBackend
from .transformer import EmbeddingsBackend, with_kept_encoder

__all__ = ["HybridBackend"]

PARTS_FILE = "hybrid.skops"


class HybridBackend(TfidfBackend):
    """TfidfBackend's features plus an embeddings block, weighted by ``embedding_weight``."""

    name = "hybrid"
    archive = PARTS_FILE
    parallel_scoring = False  # a transformer encoder already uses every core (a static one: see __init__)

    def __init__(self, *, seed: int = 0, use_article: bool = True, c_stance: float = 4.0, c_themes: float = 4.0,
                 base_model: str | None = None, base_model_sha256: str | None = None,
                 base_model_location: str | None = None, max_length: int = 256,
                 embedding_weight: float = 1.0, theme_rules: str | list | None = "default", rules_weight: float = 1.0,
                 **_: Any) -> None:
        super().__init__(seed=seed, use_article=use_article, c_stance=c_stance, c_themes=c_themes,
                         theme_rules=theme_rules, rules_weight=rules_weight)
        self.embedding_weight = embedding_weight
        if base_model is None and base_model_location is None:
            base_model = hybrid_default_encoder()
        self.embeddings = EmbeddingsBackend(seed=seed, use_article=use_article, base_model=base_model,
                                            base_model_sha256=base_model_sha256,
                                            base_model_location=base_model_location, max_length=max_length)
        # a static encoder is a table lookup on one core, as cheap to fork as tfidf: score in worker processes
        self.parallel_scoring = is_static_model(self.embeddings.location)

    @property
    def base_model_id(self) -> str:
        return self.embeddings.base_model_id

    @property
    def base_model_sha256(self) -> str | None:
        _ = self.embeddings.encoder  # known once the encoder is loaded
        return self.embeddings.base_model_sha256

    def _features(self, inputs: Inputs):
        import numpy as np

        xs, xt = super()._features(inputs)
        es, comment = self.embeddings._features(inputs)
        w = self.embedding_weight
        if self.use_article:
            dims = comment.shape[1]
            article = es[:, dims:2 * dims]
            block = np.hstack([comment, comment * article])
        else:
            block = comment
        if isinstance(xs, Rows):  # a loaded model's plain scorer: NumPy blocks
            return xs.plus(w * block), xt.plus(w * comment)
        from scipy import sparse

        return (sparse.hstack([xs, sparse.csr_matrix(w * block)]).tocsr(),
                sparse.hstack([xt, sparse.csr_matrix(w * comment)]).tocsr())

    def save(self, folder: Path) -> dict[str, Any]:
        # tfidf's save: the archive and its plain arrays, whose head rows here span the tfidf
        # columns and then the embedding block; and a static encoder goes with them.
        keep_static_encoder(self.embeddings.location, folder)
        return {**super().save(folder), "embedding_weight": self.embedding_weight,
                "base_model": self.base_model_id, "base_model_sha256": self.base_model_sha256,
                "max_length": self.embeddings.max_length}

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> HybridBackend:
        backend = super().load(folder, with_kept_encoder(folder, settings))
        backend.embeddings.cache_embeddings = False
        return backend
