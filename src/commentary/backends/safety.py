"""Saved scikit-learn parts without blanket trust: skops files are written compressed and read
only after an audit of the types they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CommentaryError

__all__ = ["TRUSTED_TYPES", "dump_skops", "load_skops"]

# Every type a saved model's skops file may hold (tfidf's vectorizers and heads, the embedding
# backends' heads), reviewed by hand; skops refuses anything else.
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
]


def dump_skops(obj: Any, path: Path) -> None:
    """Write *obj* as a deflate-compressed skops file: a tfidf model's vocabularies are a JSON
    schema of about 50 MB that compresses to a sixth, which every load then hashes."""
    import zipfile

    import skops.io as sio

    sio.dump(obj, path, compression=zipfile.ZIP_DEFLATED)


def load_skops(path: Path, trusted: list[str] = TRUSTED_TYPES) -> Any:
    """Load a .skops file, refusing any type that is not in the reviewed *trusted* list."""
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several kinds on a damaged archive
        raise CommentaryError(f"{path} is not a readable skops file ({exc})",
                              fix="retrain the model or restore the file") from exc
    refused = sorted(set(found) - set(trusted))
    if refused:
        raise CommentaryError(
            f"{path} holds types commentary does not trust: {', '.join(refused)}",
            fix="only load models trained by commentary; retrain this one",
        )
    return sio.load(path, trusted=[t for t in found])
