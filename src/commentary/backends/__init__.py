"""Model backends behind one small interface (``base.Backend``: fit, predict_proba, save, load),
and the registry that finds one by name, importing it only when asked for."""

from __future__ import annotations

from ..errors import CommentaryError, UsageError
from .base import Backend

__all__ = ["BACKENDS", "Backend", "default_backend", "get_backend"]

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
                fix="pip install torch==2.13.0 && pip install 'commentary-nlp[transformers]'",
            ) from exc
        if name == "hybrid":
            from .hybrid import HybridBackend

            return HybridBackend
        return transformer.EmbeddingsBackend if name == "embeddings" else transformer.FinetuneBackend
    raise UsageError(f"unknown backend {name!r}", fix=f"use one of {', '.join(BACKENDS)}")
