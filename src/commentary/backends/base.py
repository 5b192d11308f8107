"""The interface every backend implements, and how a backend is found by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import CommentaryError

__all__ = ["Backend", "BACKENDS", "get_backend", "default_backend", "Inputs"]

BACKENDS = ("tfidf", "hybrid", "embeddings", "finetune")


def default_backend() -> str:
    """What ``--backend auto`` (the default) trains: ``hybrid`` where a sentence encoder can run, else ``tfidf``.

    ``COMMENTARY_DEFAULT_BACKEND`` overrides it (the test suite sets it to tfidf for speed).
    """
    import importlib.util
    import os

    chosen = os.environ.get("COMMENTARY_DEFAULT_BACKEND")
    if chosen:
        if chosen not in BACKENDS:
            raise CommentaryError(f"COMMENTARY_DEFAULT_BACKEND is {chosen!r}", fix=f"use one of {', '.join(BACKENDS)}")
        return chosen
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        return "tfidf"
    from .encoder import packaged_encoder_installed  # metadata only: the weights are unpacked when used

    return "hybrid" if packaged_encoder_installed() else "tfidf"


class Inputs:
    """Comment texts and, where known, the text of the article each was posted under."""

    def __init__(self, texts: Sequence[str], articles: Sequence[str | None] | None = None) -> None:
        self.texts = list(texts)
        self.articles = list(articles) if articles is not None else [None] * len(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> Inputs:
        return Inputs([self.texts[i] for i in index], [self.articles[i] for i in index])


class Backend(Protocol):
    """Fit on comments with a stance (one of S) and themes (T binary columns); score new ones."""

    name: str

    def fit(self, inputs: Inputs, stance, themes, unlabelled: Inputs | None = None) -> None:
        """Train on ``stance`` (n ints) and ``themes`` (n x T 0/1 array).

        ``unlabelled`` comments may shape the features (``--adapt``), never the heads.
        """

    def predict_proba(self, inputs: Inputs):
        """Return (n x S stance probabilities, n x T theme probabilities)."""

    def save(self, folder: Path) -> dict[str, Any]:
        """Write the backend's files into *folder*; return settings needed to load them."""

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> Backend:
        """Rebuild the backend from *folder* (already verified) and its saved settings."""


def get_backend(name: str) -> type:
    """The backend class for *name*, imported only when asked for."""
    if name == "tfidf":
        from .tfidf import TfidfBackend

        return TfidfBackend
    if name in ("embeddings", "finetune", "hybrid"):
        try:
            from . import transformer
        except ImportError as exc:
            raise CommentaryError(
                f"the {name} backend needs torch and transformers ({exc.name} is not installed)",
                fix="pip install torch==2.13.0 && pip install 'commentary[transformers]'",
            ) from exc
        if name == "hybrid":
            from .hybrid import HybridBackend

            return HybridBackend
        return transformer.EmbeddingsBackend if name == "embeddings" else transformer.FinetuneBackend
    raise CommentaryError(f"unknown backend {name!r}", fix=f"use one of {', '.join(BACKENDS)}")


def fork_jobs(backend) -> int:
    """Processes to spread work over: the cores (at most 4) for a backend (class or instance) that is
    cheap to fork, marked ``parallel_scoring``; else 1, since torch already uses every core."""
    from .._procs import cores

    if not getattr(backend, "parallel_scoring", False):
        return 1
    return max(1, min(4, cores()))
