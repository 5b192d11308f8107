"""Load saved heads without blanket trust: audit the types in a skops file first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CommentaryError

__all__ = ["load_skops"]


def load_skops(path: Path, trusted: list[str]) -> Any:
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
