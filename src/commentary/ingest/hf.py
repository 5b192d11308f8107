"""Read Hugging Face datasets: a ``save_to_disk`` folder, local data files, or a hub name."""

from __future__ import annotations

from pathlib import Path

from ..errors import FormatError, InputError
from .base import ReadOptions, ReadResult
from .source import Source
from .tabular import read_rows

__all__ = ["read_hf", "is_saved_dataset"]

_BUILDERS = {".csv": "csv", ".tsv": "csv", ".jsonl": "json", ".json": "json", ".ndjson": "json",
             ".parquet": "parquet", ".arrow": "arrow", ".txt": "text"}


def is_saved_dataset(path: Path) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return path.is_dir() and any(
        (path / name).is_file() for name in ("state.json", "dataset_dict.json", "dataset_info.json")
    )


def _pick_split(ds, split: str | None, name: str):
    from datasets import DatasetDict

    if not isinstance(ds, DatasetDict):
        return ds, None
    if split:
        if split not in ds:
            raise FormatError(f"{name} has no split {split!r} (found {', '.join(ds)})",
                              fix="pass --split with one of those")
        return ds[split], split
    chosen = "train" if "train" in ds else next(iter(ds))
    return ds[chosen], chosen


def read_hf(spec: str, opts: ReadOptions, progress=None) -> ReadResult:
    """Load with ``datasets`` and map the columns like any table."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise InputError("reading Hugging Face datasets needs the datasets package",
                         fix="pip install datasets") from exc
    path = Path(spec)
    if path.is_dir() and not is_saved_dataset(path):
        from ..dataset import is_dataset_folder

        if is_dataset_folder(path):
            raise InputError(f"{spec} is already a commentary dataset",
                             fix="pass it straight to classify, annotate, train or evaluate; nothing to ingest")
        inner = sorted(p.name for p in path.iterdir() if p.is_dir() and is_dataset_folder(p))
        if inner:  # a data/ folder of them: the datasets library would try to read them as one table
            raise InputError(f"{spec} holds commentary datasets ({', '.join(inner[:3])}"
                             f"{', ...' if len(inner) > 3 else ''}), not one table",
                             fix=f"pass one of them to the command that needs it, e.g. {path / inner[0]}")
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        if is_saved_dataset(path):
            ds = datasets.load_from_disk(str(path))
        elif path.is_file():
            builder = _BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise FormatError(f"{spec}: datasets cannot read {path.suffix!r} files",
                                  fix="pass a .csv, .jsonl, .json, .parquet or .arrow file")
            kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
            ds = datasets.load_dataset(builder, data_files=str(path), **kwargs)
        else:
            # A hub name such as "owner/name" (needs the network the first time), or a local
            # copy of a hub dataset repository: the same call reads both.
            ds = datasets.load_dataset(spec, split=opts.split)
    except Exception as exc:  # datasets raises its own kinds too (DatasetGenerationError, DataFilesNotFoundError)
        if isinstance(exc, FormatError):
            raise
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if path.is_dir():  # a plain folder of files, read as one table, with nothing to fetch
            raise FormatError(f"{spec} is a folder that could not be read as one table (could not load the "
                              f"dataset {spec!r}: {why})", fix=f"pass the files in it (e.g. {spec}/*.csv), or a "
                              "folder saved with save_to_disk") from exc
        raise InputError(f"could not load the dataset {spec!r} ({why})",
                         fix="check the name and that you are online, or pass a local file or saved folder") from exc
    ds, split = _pick_split(ds, opts.split, spec)
    label = f"{spec}[{split}]" if split else spec
    src = Source(name=label, data=b"", sha256=ds._fingerprint if hasattr(ds, "_fingerprint") else "")
    return read_rows(iter(ds), list(ds.column_names), src, opts, "row", progress)
