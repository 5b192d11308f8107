"""commentary: stance and themes of the comments under articles, learnt from your labels.

The Python API (``commentary.load`` and ``commentary.Model``; the stages as
``commentary.api.ingest``, ``commentary.api.train`` and ``commentary.api.evaluate``) is
imported on first use, so ``import commentary`` and ``--help`` stay instant.
"""

from .errors import CommentaryError
from .records import Article, Comment, Labels

__version__ = "0.1.0"

__all__ = ["Article", "Comment", "CommentaryError", "Labels", "Model", "Prediction", "__version__", "load"]

_API = {"load", "Model", "Prediction"}


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'commentary' has no attribute {name!r}")
