"""The interface every backend implements (the registry that finds one by name is the package's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Backend", "Inputs", "fork_jobs"]

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


def fork_jobs(backend) -> int:
    """Processes to spread work over: the cores (at most 4) for a backend (class or instance) that is
    cheap to fork, marked ``parallel_scoring``; else 1, since torch already uses every core."""
    from .._procs import cores

    if not getattr(backend, "parallel_scoring", False):
        return 1
    return max(1, min(4, cores()))
