"""`classify --engine ray`: the same scoring as a Ray Data job, for comment sets that outgrow one machine.

Input is read by Ray Data (Parquet or JSON Lines shards, one file or a folder of them, or a commentary
dataset folder, whose articles are joined by id), scored by ``map_batches`` over a pool of actors that
each load the model once, and written as Parquet shards into a temporary folder beside the output; the
manifest (rows, shards and their sha256, model, source) is written last and the folder renamed into
place, so an output folder with a manifest is complete and nothing partial is ever presented as done.

The predictions are those of ``commentary classify``: each actor calls the same ``score``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from .dataset import atomic_dir, file_sha256
from .errors import CommentaryError

__all__ = ["classify_on_ray", "connect", "MANIFEST"]

MANIFEST = "manifest.json"
CONNECT_TIMEOUT_S = 10.0


def connect(address: str | None, *, workers: int | None = None):
    """Join the cluster at *address* (or RAY_ADDRESS), or start a local one; one line when it cannot."""
    try:
        import ray
    except ImportError:
        raise CommentaryError("--engine ray needs Ray Data", fix="pip install 'commentary-nlp[ray]'") from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return ray
    if address and address not in ("local", "auto") and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        try:  # Ray's own connect retries for minutes; a cluster that is not there is said at once
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as exc:
            raise CommentaryError(f"no Ray cluster answers at {address} ({exc})",
                                  fix="check --ray-address (host:port of the head node), or leave it out to "
                                      "start a local cluster") from None
    kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False, "include_dashboard": False}
    if not address or address == "local":
        # a CPU for each scoring actor and one more for reading and writing, which would otherwise wait
        # for the actors (which wait for them)
        kwargs["num_cpus"] = max(os.cpu_count() or 1, (workers or 1) + 1)
        address = None
    try:
        ray.init(address=address, **kwargs)
    except Exception as exc:  # noqa: BLE001  (Ray raises many kinds; each is one line here)
        raise CommentaryError(f"could not start or join a Ray cluster ({str(exc).splitlines()[0][:160]})",
                              fix="check --ray-address, or RAY_ADDRESS") from None
    return ray


def _input_files(source: Path) -> tuple[str, list[str], list[dict] | None]:
    """(format, files, article records) for a shard, a folder of shards, or a commentary dataset folder
    (articles None: not a dataset; a dataset's articles are small, and go to every actor)."""
    import pyarrow.parquet as pq

    from .dataset import is_dataset_folder

    if is_dataset_folder(source):
        return "parquet", [str(source / "comments.parquet")], pq.read_table(source / "articles.parquet").to_pylist()
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file()
                                                      and not p.name.startswith((".", "_")))
    kinds = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json", ".json": "json"}
    found = {kinds.get(p.suffix.lower()) for p in files}
    if not files or None in found or len(found) != 1:
        raise CommentaryError(f"{source} is not Parquet or JSON Lines shards (nor a commentary dataset)",
                              fix="pass a .parquet or .jsonl file, a folder of them (one kind), or a dataset folder")
    return found.pop(), [str(p) for p in files], None


class _Scorer:
    """One per actor: the model loaded once, then each batch scored as ``commentary classify`` does.

    Rows of a dataset folder keep their ids and take their article by id; rows of table shards are read
    by ingest's own table reader, per shard file, so their ids, columns and articles are those the local
    path gives (rows without an id column are numbered within their batch, not their file: give them ids).
    """

    def __init__(self, models_dir: str, ref: str | None, articles: list[dict] | None, text_column: str | None,
                 runtime: str | None) -> None:
        if runtime:
            os.environ["COMMENTARY_RUNTIME"] = runtime
        from .records import Article
        from .training import load_model

        self.model, self.version = load_model(Path(models_dir), ref)
        self.articles = None if articles is None else [Article.from_dict(a) for a in articles]
        self.text_column = text_column

    def _items(self, rows: list[dict]):
        from .classify import Item, _article_text, items_from_records
        from .ingest.base import ReadOptions, ReadResult
        from .ingest.source import Source
        from .ingest.tabular import table_records
        from .records import Comment

        if self.articles is not None:  # a dataset's rows: as classify reads a dataset folder
            return list(items_from_records(self.articles, [Comment.from_dict(r) for r in rows]))
        items, by_path = [], {}
        for r in rows:
            by_path.setdefault(r.pop("path", "") or "", []).append(r)
        for path, group in by_path.items():
            columns = list(dict.fromkeys(k for r in group for k in r))
            src = Source(path, b"", "", Path(path) if path else None)
            for com, art, _parent, _scope in table_records(group, columns, src, ReadOptions(text_column=self.text_column),
                                                           ReadResult()):
                items.append(Item(com.id, com.text, _article_text(art), com.article_id, com.author, com.source_id))
        return items

    def __call__(self, batch):
        import pandas as pd

        from .classify import score

        rows = [{k: (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in r.items()}
                for r in batch.to_dict("records")]
        out = []
        for pred in score(self.model, self._items(rows), model_ref=self.version.ref, batch_size=len(rows) or 1):
            out.append({"id": pred["id"], "source_id": pred["source_id"], "article_id": pred["article_id"],
                        "stance": pred["stance"], "abstain": bool(pred["abstain"]), "themes": list(pred["themes"]),
                        "stance_probs": json.dumps(pred["stance_probs"]),
                        "theme_probs": json.dumps(pred["theme_probs"]), "model": pred["model"]})
        return pd.DataFrame(out)


def _is_predictions(folder: Path) -> bool:
    """Whether *folder* is a predictions folder this command wrote (by its manifest), which --force may replace."""
    try:
        return json.loads((folder / MANIFEST).read_text()).get("format") == "commentary-predictions"
    except (OSError, ValueError, AttributeError):
        return False


def _relayed(exc: Exception, output: Path) -> CommentaryError:
    """One line for a failed job: an actor's own CommentaryError, which Ray relays only as text in its
    message, else the first line of what Ray says."""
    import re

    said = re.findall(r"commentary\.errors\.\w+: (.+)", str(exc))
    if said:
        return CommentaryError(said[-1].strip())
    first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return CommentaryError(f"the Ray job failed ({first.strip()[:200]}); nothing was written to {output}",
                           fix="see the Ray logs (/tmp/ray/session_latest/logs) for the details")


def classify_on_ray(source: Path, output: Path, *, models_dir: Path, ref: str | None, address: str | None = None,
                    workers: int = 2, batch_size: int = 256, text_column: str | None = None, force: bool = False,
                    runtime: str | None = None, gpus_per_worker: float = 0.0) -> dict[str, Any]:
    """Score *source* on Ray into the folder *output*: Parquet shards and a manifest written last.

    *gpus_per_worker* > 0 asks Ray for GPU actors; the encoder then runs on the GPU it is given (torch's
    CUDA device, or ONNX Runtime's CUDA provider where onnxruntime-gpu is installed)."""
    import logging
    import warnings

    import pyarrow.parquet as pq

    from .training import load_model

    # the output is claimed (refused when it exists, unless --force and ours) before any work
    with atomic_dir(output, force=force, what="a predictions folder", ours=_is_predictions) as tmp:
        _, version = load_model(models_dir, ref)  # fail here, not in every actor, when the model is wrong
        fmt, files, articles = _input_files(source)
        connect(address, workers=workers)
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False  # one line at the end says what it did
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="ray.data")
        read = ray.data.read_parquet if fmt == "parquet" else ray.data.read_json
        started = time.monotonic()
        blocks = max(2 * workers, len(files))
        ds = read(files, override_num_blocks=blocks, **({} if articles is not None else {"include_paths": True}))
        if len(files) < blocks:  # a big file may be read as one block: split it so that every actor has work
            ds = ds.repartition(blocks)
        scored = ds.map_batches(_Scorer, fn_constructor_kwargs={"models_dir": str(models_dir), "ref": version.ref,
                                                                "articles": articles, "text_column": text_column,
                                                                "runtime": runtime},
                                batch_size=batch_size, batch_format="pandas",
                                compute=ray.data.ActorPoolStrategy(size=workers),
                                **({"num_gpus": gpus_per_worker} if gpus_per_worker else {}))
        try:
            scored.write_parquet(str(tmp / "shards"))
        except Exception as exc:  # noqa: BLE001  (an actor's error reaches here wrapped by Ray, as text)
            raise _relayed(exc, output) from None
        shards = sorted((tmp / "shards").glob("*.parquet"))
        manifest = {"format": "commentary-predictions", "model": version.ref, "source": str(source),
                    "engine": "ray", "workers": workers, "gpus_per_worker": gpus_per_worker,
                    "rows": sum(pq.ParquetFile(p).metadata.num_rows for p in shards),
                    "seconds": round(time.monotonic() - started, 1),
                    "shards": [{"file": f"shards/{p.name}", "sha256": file_sha256(p)} for p in shards]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")  # last: the mark of a whole output
    return manifest
