"""Datasets on disk: Parquet tables plus a JSON manifest, written atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import CommentaryError, InputError, OutputExistsError
from .records import ARTICLE_FIELDS, COMMENT_FIELDS, LABEL_FIELDS, Article, Comment, Labels

__all__ = [
    "Dataset",
    "write_dataset",
    "read_dataset",
    "content_sha256",
    "file_sha256",
    "atomic_dir",
    "atomic_file",
    "claim_output",
    "csv_header",
    "first_record",
    "starts_like",
    "is_dataset_folder",
    "replaceable_dataset",
    "write_jsonl",
]

FORMAT = "commentary-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class Dataset:
    """Articles and comments read back from a dataset folder, with its manifest."""

    articles: list[Article]
    comments: list[Comment]
    manifest: dict[str, Any] = field(default_factory=dict)
    labels: list[Labels] = field(default_factory=list)
    path: Path | None = None


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def content_sha256(articles: Iterable[Article], comments: Iterable[Comment]) -> str:
    """Hash the records themselves, so the same input always gives the same hash."""
    digest = hashlib.sha256()
    for art in articles:
        digest.update(b"A" + _canonical(art.to_dict()) + b"\n")
    for com in comments:
        digest.update(b"C" + _canonical(com.to_dict()) + b"\n")
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(target: Path, *, force: bool = False, ours: Callable[[Path], bool] | None = None,
               what: str = "an output folder") -> Iterator[Path]:
    """Yield a temp folder beside *target*; on success it replaces *target* in one rename.

    An existing *target* is replaced only with *force*, and only when it is empty or
    *ours* recognises it as *what* the calling command writes (a dataset by its
    manifest, a report by its files): ``--force`` never deletes a folder of the user's.
    """
    target = Path(target)
    claim_output(target, force=force, ours=ours, what=what)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_temps(target: Path) -> None:
    """Remove the temp files and folders that a killed run (kill -9, power loss) left beside *target*.

    Temp names carry the writing process's id; one whose process is gone is removed.
    """
    import re

    from ._procs import pid_alive

    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(?:tmp|old)-(\d+)(?:-|$)")
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return
    for path in siblings:
        m = pattern.match(path.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def claim_output(target: Path, *, force: bool, ours: Callable[[Path], bool] | None = None,
                 what: str = "an output folder", fix: str = "pass --force to replace it, or choose another path",
                 folder: bool = True, inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse an existing output *target* (a folder, or with ``folder=False`` a file) unless *force*,
    and even then unless it is empty or *ours* recognises it as *what* the command writes; never
    when it is one of the *inputs* (None among them is passed over). Commands call it before their
    work, not after."""
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return
    for source in inputs:
        with contextlib.suppress(OSError, ValueError):
            if source is not None and str(source) != "-" and os.path.samefile(source, target):
                raise OutputExistsError(f"{target} is also the input; writing there would destroy it",
                                        fix="write to another path")
    if not force:
        try:  # say now when --force would not help either
            _check_replaceable(target, ours, what, folder)
        except ForeignFilesError:
            raise
        except OutputExistsError:
            raise OutputExistsError(f"{target} already exists and is not {what} that commentary wrote",
                                    fix="choose another path, or move it away yourself") from None
        raise OutputExistsError(f"{target} already exists", fix=fix)
    _check_replaceable(target, ours, what, folder)


class ForeignFilesError(OutputExistsError):
    """A folder that commentary wrote also holds files it did not: --force would delete them."""


def holds_only(folder: Path, names: Iterable[str], what: str) -> None:
    """Refuse a folder of *what* commentary wrote that also holds entries not among *names* (a user's
    notes or labels saved into it): replacing the folder would delete them."""
    allowed = set(names)
    extra = sorted(p.name for p in Path(folder).iterdir() if p.name not in allowed)
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3:,} more" if len(extra) > 3 else "")
        raise ForeignFilesError(f"{folder} is {what} that commentary wrote, but it also holds {shown}, which "
                                "commentary did not write; replacing the folder would delete them",
                                fix="move them out of the folder, or write to another path")


def _check_replaceable(target: Path, ours: Callable[[Path], bool] | None, what: str, folder: bool) -> None:
    """Refuse to replace *target* unless it is an empty folder (or file) or *ours* says it is *what*."""
    kind = "folder" if folder else "file"
    if target.is_symlink() or not (target.is_dir() if folder else target.is_file()):
        raise OutputExistsError(f"{target} exists and is not a {kind}; --force replaces only {what} "
                                "that commentary wrote", fix="choose another path, or move it away yourself")
    if not (any(target.iterdir()) if folder else target.stat().st_size):
        return
    if ours is None or not ours(target):
        raise OutputExistsError(f"{target} exists and is not {what} that commentary wrote, so --force does "
                                "not replace it", fix="choose another path, or move it away yourself")


def first_record(path: Path) -> dict[str, Any] | None:
    """The first record of a JSON Lines file (its first line, as an object), or None: how a command
    recognises a file it wrote before ``--force`` replaces it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            line = fh.readline(1 << 20)
        record = json.loads(line)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def starts_like(path: Path, text: str) -> bool:
    """Whether the file at *path* begins with *text*'s first line: a copy of a file commentary ships
    (a codebook, rules), maybe edited since, which ``--write --force`` may replace."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline() == text.splitlines(keepends=True)[0]
    except (OSError, IndexError):
        return False


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file ([] when it has none or cannot be read)."""
    import csv

    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, csv.Error):
        return []


def is_dataset_folder(path: Path) -> bool:
    """Whether *path* holds a dataset written by ``write_dataset`` (by its manifest's format)."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def replaceable_dataset(path: Path) -> bool:
    """Whether ``--force`` may replace *path*: a dataset ``write_dataset`` wrote holding nothing else
    (raises ``ForeignFilesError`` naming what else it holds)."""
    if not is_dataset_folder(path):
        return False
    manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    files = manifest.get("files")
    holds_only(path, [MANIFEST, *(files if isinstance(files, dict) else {})], "a dataset")
    return True


@contextlib.contextmanager
def atomic_file(target: Path, *, mode: str = "w", force: bool = True) -> Iterator[IO[Any]]:
    """Yield a temp file beside *target* that replaces it only when the block succeeds."""
    target = Path(target)
    if target.exists() and not force:
        raise OutputExistsError(f"{target} already exists", fix="pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
        os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_jsonl(articles: Iterable[Article], comments: Iterable[Comment], out: IO[str]) -> None:
    """Write records as JSON Lines, each tagged with its kind."""
    for art in articles:
        out.write(json.dumps({"kind": "article", **art.to_dict()}, ensure_ascii=False) + "\n")
    for com in comments:
        out.write(json.dumps({"kind": "comment", **com.to_dict()}, ensure_ascii=False) + "\n")


def _table(rows: list[dict[str, Any]], names: tuple[str, ...], types: dict[str, Any] | None = None):
    import pyarrow as pa

    types = types or {}
    schema = pa.schema([(n, types.get(n, pa.string())) for n in names])
    return pa.Table.from_pylist(rows, schema=schema)


def _label_types() -> dict[str, Any]:
    import pyarrow as pa

    return {"themes": pa.list_(pa.string()), "weak": pa.bool_()}


def write_dataset(
    path: Path,
    articles: list[Article],
    comments: list[Comment],
    *,
    labels: list[Labels] | None = None,
    info: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write a dataset folder atomically and return its manifest."""
    import pyarrow.parquet as pq

    tables = {
        "articles.parquet": _table([a.to_dict() for a in articles], ARTICLE_FIELDS),
        "comments.parquet": _table([c.to_dict() for c in comments], COMMENT_FIELDS),
    }
    if labels:
        tables["labels.parquet"] = _table(
            [lab.to_dict() for lab in labels], LABEL_FIELDS, _label_types()
        )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(info or {}),
        "content_sha256": content_sha256(articles, comments),
        "files": {},
    }
    with atomic_dir(path, force=force, ours=replaceable_dataset, what="a dataset") as tmp:
        for name, table in tables.items():
            pq.write_table(table, tmp / name)
            manifest["files"][name] = file_sha256(tmp / name)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_dataset(path: Path, *, verify: bool = True) -> Dataset:
    """Read a dataset folder written by ``write_dataset``, checking every file's sha256."""
    import pyarrow.parquet as pq

    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise InputError(
            f"{path} is not a commentary dataset (no {MANIFEST})",
            fix="create one with `commentary ingest SOURCE -o DATASET`",
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{mpath} is not valid JSON ({exc})", fix="re-create the dataset") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            f"{path} has format {manifest.get('format')!r} v{manifest.get('format_version')}, "
            f"expected {FORMAT} v{FORMAT_VERSION} or older",
            fix="upgrade commentary or re-ingest the source",
        )
    for name, expected in manifest.get("files", {}).items():
        fpath = path / name
        if not fpath.is_file():
            raise InputError(f"{fpath} is missing", fix="re-create the dataset")
        if verify and file_sha256(fpath) != expected:
            raise CommentaryError(
                f"{fpath} does not match the sha256 in its manifest",
                fix="the file was changed or damaged; re-create the dataset",
            )
    arts = [Article.from_dict(r) for r in pq.read_table(path / "articles.parquet").to_pylist()]
    coms = [Comment.from_dict(r) for r in pq.read_table(path / "comments.parquet").to_pylist()]
    labs: list[Labels] = []
    if (path / "labels.parquet").is_file():
        labs = [Labels.from_dict(r) for r in pq.read_table(path / "labels.parquet").to_pylist()]
    return Dataset(arts, coms, manifest, labs, path)
