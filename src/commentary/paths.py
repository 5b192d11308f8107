"""Where data and models live: ``COMMENTARY_HOME`` if set, else the current folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "data_dir", "models_dir", "cache_root", "bundled", "starter_dir", "default_training_sets"]

_REPO = Path(__file__).resolve().parents[2]


def home() -> Path:
    """The folder that holds ``data/`` and ``models/``."""
    env = os.environ.get("COMMENTARY_HOME")
    return Path(env).expanduser() if env else Path.cwd()


def data_dir() -> Path:
    return home() / "data"


def models_dir() -> Path:
    return home() / "models"


def cache_root() -> Path:
    """Caches (encoder weights, their hashes, embeddings): ``COMMENTARY_CACHE`` if set, else ``<home>/.cache``."""
    env = os.environ.get("COMMENTARY_CACHE")
    return Path(env) if env else home() / ".cache"


def bundled(folder: str, marker: str) -> Path:
    """Bundled data (``data/<folder>``): under the home if it has *marker* there, else beside the source."""
    for base in (home(), _REPO):
        candidate = base / "data" / folder
        if (candidate / marker).is_file():
            return candidate
    return _REPO / "data" / folder


def starter_dir() -> Path:
    """The bundled starter corpus."""
    return bundled("starter", "train/manifest.json")


def default_training_sets() -> list[Path]:
    """What ``commentary train`` learns from by default: the starter corpus' train split and the real
    Room for Debate comments of ``data/real/rfd_train`` (where the installed project has them)."""
    real = bundled("real", "rfd_train/manifest.json") / "rfd_train"
    return [starter_dir() / "train"] + ([real] if (real / "manifest.json").is_file() else [])
