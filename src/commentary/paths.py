"""Where data and models live: ``COMMENTARY_HOME`` if set, else the current folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "data_dir", "models_dir", "cache_root", "bundled", "starter_dir", "default_training_sets",
           "find_input", "find_source"]

_REPO = Path(__file__).resolve().parents[2]


def home() -> Path:
    """The folder that holds ``data/`` and ``models/``."""
    env = os.environ.get("COMMENTARY_HOME")
    return Path(env).expanduser() if env else Path.cwd()


def find_input(value: str | Path) -> Path:
    """The one rule for every path a command reads: as given (from the current folder); when nothing
    is there and the path is relative, the same path under ``COMMENTARY_HOME``, where commands write
    when no ``-o`` is given (``data/``, ``labels/``, ``models/``, ``evaluation/``)."""
    path = Path(value).expanduser()
    if path.exists() or path.is_absolute():
        return path
    under_home = home() / path
    return under_home if under_home.exists() else path


def find_source(value: str) -> str:
    """`find_input` for a comment source, which may also be ``-`` (stdin) or ``hf:NAME``."""
    if value == "-" or value.startswith("hf:"):
        return value
    return str(find_input(value))


def data_dir() -> Path:
    return home() / "data"


def models_dir(given: str | Path | None = None) -> Path:
    """The folder of model versions: *given* (``--models-dir``, ``models_dir=``), else ``<home>/models``."""
    return Path(given) if given is not None else home() / "models"


def cache_root() -> Path:
    """Caches (encoder weights and their hashes, the static encoder, embeddings, language-model answers).

    ``COMMENTARY_CACHE`` if set; else ``<COMMENTARY_HOME>/.cache`` when a home is set; else the
    user's cache folder (``$XDG_CACHE_HOME/commentary``, ``~/.cache/commentary``), shared by every
    folder the commands run in: the encoders in it are hundreds of megabytes and minutes to make,
    and are made once per machine, not once per working folder.
    """
    env = os.environ.get("COMMENTARY_CACHE")
    if env:
        return Path(env).expanduser()
    if os.environ.get("COMMENTARY_HOME"):
        return home() / ".cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG rule: a relative value is ignored
        return Path(xdg) / "commentary"
    try:
        return Path.home() / ".cache" / "commentary"
    except RuntimeError:  # no home folder to be found (a bare container user): the working folder
        return home() / ".cache"


def bundled(folder: str, marker: str) -> Path:
    """Bundled data (``data/<folder>``): under the home if it has *marker* there, else under
    ``COMMENTARY_DATA`` (for an installed copy, e.g. the Docker image), else beside the source."""
    extra = os.environ.get("COMMENTARY_DATA")  # where an installed copy keeps the bundled data (the Dockerfile)
    for base in (home(), *([Path(extra).expanduser()] if extra else []), _REPO):
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
