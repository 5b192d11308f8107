"""Model versions under models/<name>/<version>/: written atomically, listed, verified, promoted.

A version is built in a hidden temp folder and renamed into place under a lock,
so two trainings started at once get two distinct versions and a killed training
leaves nothing that can be listed or loaded. ``production`` is a small text file
naming the promoted version.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .dataset import _umask, atomic_file, file_sha256
from .errors import CommentaryError
from .paths import models_dir

__all__ = ["Version", "parse_ref", "list_versions", "resolve", "verify", "promote", "write_version",
           "text_hash", "trained_on", "write_training_texts",
           "package_versions", "read_manifest", "read_metrics"]

MANIFEST = "manifest.json"
PRODUCTION = "production"
_VERSION = re.compile(r"^v(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Version:
    """One saved model version and its manifest."""

    name: str
    version: str
    path: Path
    manifest: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "commentary": __version__}
    for pkg in ("numpy", "scipy", "scikit-learn", "skops", "torch", "transformers", "safetensors"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def parse_ref(ref: str | None, default_name: str = "commentary") -> tuple[str, str | None]:
    """Split ``name@version`` (version optional: the promoted one)."""
    if ref is None:
        return default_name, None
    name, at, version = ref.partition("@")
    if not _NAME.match(name) or (at and not version) or (version and not (_VERSION.match(version) or version == PRODUCTION)):
        raise CommentaryError(f"bad model reference {ref!r}", fix="write NAME or NAME@vN, e.g. commentary@v3")
    return name, (None if version in ("", PRODUCTION) else version)


def _versions(root: Path, name: str) -> list[str]:
    folder = root / name
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and _VERSION.match(p.name)
             and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda v: int(v[1:]))


def read_manifest(folder: Path) -> dict[str, Any]:
    """A version's manifest, or one clear error naming the file when it is damaged."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommentaryError(f"{path} is damaged ({str(exc).splitlines()[0][:120]})",
                              fix="restore it from a backup, or retrain this model") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
        raise CommentaryError(f"{path} is damaged (not a manifest object)",
                              fix="restore it from a backup, or retrain this model")
    return data


def list_versions(root: Path, *, damaged: list[tuple[str, str]] | None = None) -> list[Version]:
    """Every complete version of every model under *root*.

    A version whose manifest cannot be read is left out, and named with the reason in
    *damaged* when a list is given, so one broken version never hides the healthy ones.
    """
    out = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for v in _versions(root, folder.name):
            path = folder / v
            try:
                out.append(Version(folder.name, v, path, read_manifest(path)))
            except CommentaryError as exc:
                if damaged is not None:
                    damaged.append((f"{folder.name}@{v}", str(exc)))
    return out


def production(root: Path, name: str) -> str | None:
    """The promoted version of *name*, from its pointer file; a pointer that names anything but
    a version of this model (``../../elsewhere``, a link) is refused, never followed."""
    path = root / name / PRODUCTION
    if path.is_symlink():
        raise CommentaryError(f"{path} is a link", fix=f"promote a version again with `commentary models promote "
                              f"{name}@vN`")
    if not path.is_file():
        return None
    value = path.read_text(encoding="utf-8", errors="replace").strip()
    if not value:
        return None
    if not _VERSION.match(value):
        raise CommentaryError(f"{path} names {value[:40]!r}, not a version", fix=f"promote a version again with "
                              f"`commentary models promote {name}@vN`")
    return value


def read_metrics(version: Version) -> dict[str, Any]:
    """A version's metrics.json, or {} when it is missing or damaged (its figures are for show;
    ``verify`` is what vouches for the files)."""
    try:
        data = json.loads((version.path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


INDEX = "index.json"  # beside the versions: each version's manifest sha256, written when the version is


TRAINING_TEXTS = "training_texts.json"  # beside the model: a short hash of each comment it was trained on


def text_hash(text: str) -> str:
    """A comment's text as ``training_texts.json`` keeps it: 8 bytes of BLAKE2b of its words."""
    import hashlib

    return hashlib.blake2b(" ".join(text.split()).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def write_training_texts(folder: Path, texts) -> None:
    """``training_texts.json`` for a version being built in *folder* (hashes, not the texts)."""
    (folder / TRAINING_TEXTS).write_text(json.dumps(
        {"hash": "blake2b, 8 bytes, of the text with runs of whitespace as one space",
         "texts": sorted({text_hash(t) for t in texts})}) + "\n")


def trained_on(version: Version) -> set[str] | None:
    """The hashes of the comments *version* was trained on (None for versions made before they were kept)."""
    try:
        return set(json.loads((version.path / TRAINING_TEXTS).read_text(encoding="utf-8"))["texts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _index(root: Path, name: str) -> dict[str, str]:
    try:
        data = json.loads((root / name / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _models_dir_option(root: Path) -> str:
    """`` --models-dir ROOT`` where *root* is not the default folder, so the command a fix names works on the
    models the user's own command did."""
    return "" if Path(root).absolute() == models_dir().absolute() else f" --models-dir {root}"


def resolve(root: Path, ref: str | None) -> Version:
    """Find a version by ``name@vN``, or the promoted version of ``name``."""
    name, version = parse_ref(ref)
    have = _versions(root, name)
    if not have:
        there = _models_dir_option(root)
        names = sorted({v.name for v in list_versions(root)})
        raise CommentaryError(
            f"no model named {name!r} in {root}" + (f" (models: {', '.join(names)})" if names else " (no models yet)"),
            fix=f"see `commentary models list{there}`" if names else f"train one with `commentary train{there}`")
    if version is None:
        version = production(root, name)
        if version is None:
            raise CommentaryError(f"no promoted version of model {name!r} in {root}", fix="promote one with "
                                  f"`commentary models promote {name}@{have[-1]}{_models_dir_option(root)}`")
    path = root / name / version
    if not (path / MANIFEST).is_file():
        raise CommentaryError(f"model {name}@{version} does not exist in {root} (versions: {', '.join(have)})",
                              fix=f"see `commentary models list{_models_dir_option(root)}`")
    return Version(name, version, path, read_manifest(path))


def changed_since_training(versions: list[Version]) -> dict[str, str]:
    """What of each version's record was edited since training, by ref (versions with nothing edited
    are left out), by a quick check of its two small files: the manifest against the index (read once
    a model), metrics.json against the manifest. ``verify`` checks every file; this is for ``models
    list``, ``show`` and ``diff``, which print their figures."""
    indexes: dict[tuple[Path, str], dict[str, str]] = {}
    out = {}
    for v in versions:
        key = (v.path.parent.parent, v.name)
        if key not in indexes:
            indexes[key] = _index(*key)
        why = _record_changed(v, indexes[key])
        if why:
            out[v.ref] = why
    return out


def _record_changed(version: Version, index: dict[str, str]) -> str | None:
    if _manifest_changed(version, index):
        return "its manifest was changed since training"
    expected = (version.manifest.get("files") or {}).get("metrics.json")
    try:
        if expected is not None and file_sha256(version.path / "metrics.json") != expected:
            return "its metrics.json was changed since training"
    except OSError:
        return "its metrics.json is missing"
    return None


def _manifest_changed(version: Version, index: dict[str, str] | None = None) -> bool:
    """Whether the manifest differs from the sha256 the index (read here unless given) recorded for it."""
    if index is None:
        index = _index(version.path.parent.parent, version.name)
    recorded = index.get(version.version)
    return recorded is not None and file_sha256(version.path / MANIFEST) != recorded


def manifest_recorded(version: Version) -> bool:
    """Whether the index beside the version holds its manifest's sha256 (a version folder copied
    on its own into another models folder has none, so its manifest vouches only for itself)."""
    return version.version in _index(version.path.parent.parent, version.name)


def verify(version: Version) -> None:
    """Check the manifest against the sha256 the registry recorded for it, then every file against
    its sha256 in the manifest; name the first that differs.

    Links inside a version and manifest entries that point outside it are refused, so an
    edited manifest cannot vouch for a file elsewhere on the machine.
    """
    if _manifest_changed(version):
        raise CommentaryError(f"{version.path / MANIFEST} does not match the sha256 recorded for {version.ref} "
                              f"in {version.path.parent / INDEX}", fix="the manifest was changed; restore it or retrain")
    files = version.manifest.get("files") or {}
    if not files:
        raise CommentaryError(f"{version.path / MANIFEST} lists no files", fix="retrain this model")
    base = version.path.resolve()
    on_disk = set()
    for p in version.path.rglob("*"):
        if p.is_symlink():
            raise CommentaryError(f"{p} is a link inside {version.ref}", fix="a version holds plain files only; "
                                  "remove the link, or retrain")
        if p.is_file():
            on_disk.add(p.relative_to(version.path).as_posix())
    for rel in files:
        target = (version.path / rel).resolve()
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not target.is_relative_to(base):
            raise CommentaryError(f"the manifest of {version.ref} lists {rel!r}, outside the version",
                                  fix="the manifest was changed; restore it or retrain")
    extra = sorted(on_disk - set(files) - {MANIFEST})
    if extra:
        raise CommentaryError(f"{version.path / extra[0]} is not in the manifest of {version.ref}",
                              fix="remove it, or retrain the model")
    for rel, expected in sorted(files.items()):
        path = version.path / rel
        if not path.is_file():
            raise CommentaryError(f"{path} is missing from {version.ref}", fix="restore it or retrain")
        if file_sha256(path) != expected:
            raise CommentaryError(f"{path} does not match its sha256 in the manifest of {version.ref}",
                                  fix="the file was changed or damaged; restore it or retrain")


def promote(root: Path, ref: str) -> Version:
    """Make a version the one ``classify`` and ``evaluate`` use by default."""
    version = resolve(root, ref)
    verify(version)
    from .dataset import atomic_file

    target = root / version.name / PRODUCTION
    if target.is_symlink():
        target.unlink()  # replaced by a plain file, never written through
    with atomic_file(target) as fh:  # the usual file mode, so a shared models folder works for everyone
        fh.write(version.version + "\n")
    return version


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise CommentaryError(f"bad model name {name!r}", fix="use letters, digits, '.', '_' and '-'")


def check_writable(root: Path) -> None:
    """Refuse a models folder that cannot be written, by writing a temp file in it (or the
    nearest folder above it that exists); nothing is left behind."""
    probe = Path(root)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise CommentaryError(f"{probe} is not a folder, so {root} cannot hold models",
                              fix="pass --models-dir or set COMMENTARY_HOME to a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise CommentaryError(f"cannot write models under {root} ({exc.strerror})",
                              fix="pass --models-dir or set COMMENTARY_HOME to a folder you can write") from exc


def _usual_modes(folder: Path) -> None:
    """The folder and everything in it with the usual modes (0777 and 0666 less the umask)."""
    mask = _umask()
    for p in [folder, *folder.rglob("*")]:
        if not p.is_symlink():
            p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)


def write_version(root: Path, name: str, build, manifest: dict[str, Any], card=None) -> Version:
    """Build a version in a temp folder with ``build(folder)``, then rename it into place.

    The version number is taken under a lock, so concurrent trainings never collide;
    then ``card(folder, manifest)`` writes the model card, every file is hashed into
    the manifest, and the folder is renamed to ``vN`` in one step.
    """
    from filelock import FileLock

    check_name(name)
    folder = root / name
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
        build(tmp)
        with FileLock(str(folder / ".lock")):
            # a number once given is never given again, even when its folder was deleted: the index
            # remembers it, and reports, promotion and scripts naming it must never reach another model
            index = _index(root, name)
            existing = [int(m.group(1)) for n in [*(p.name for p in folder.iterdir()), *index]
                        if (m := _VERSION.match(n))]
            version = f"v{max(existing, default=0) + 1}"
            manifest = {"name": name, "version": version,
                        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        **manifest}
            if card is not None:
                card(tmp, manifest)
            manifest["files"] = {p.relative_to(tmp).as_posix(): file_sha256(p)
                                 for p in sorted(tmp.rglob("*")) if p.is_file()}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _usual_modes(tmp)  # some writers (safetensors) leave files owner-only
            index = {**index, version: file_sha256(tmp / MANIFEST)}
            os.replace(tmp, folder / version)
            with atomic_file(folder / INDEX) as fh:  # still under the lock
                fh.write(json.dumps(index, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise CommentaryError(f"could not write the model under {folder} ({exc.strerror})",
                                  fix="free some space or pass --models-dir / COMMENTARY_HOME elsewhere; "
                                  "nothing was changed") from exc
        raise
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Version(name, version, folder / version, manifest)
