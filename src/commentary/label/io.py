"""Read and write label files (JSON Lines or CSV), joined to comments by comment id."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..codebook import Codebook
from ..errors import CommentaryError, InputError
from ..records import Labels

__all__ = ["read_labels_file", "write_labels_jsonl"]


def _themes(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        return _themes(json.loads(text))
    for sep in (";", "|", ","):
        if sep in text:
            return [t.strip() for t in text.split(sep) if t.strip()]
    return [text]


def read_labels_file(path: Path, codebook: Codebook, *, annotator: str | None = None,
                     per_annotator: bool = False) -> list[Labels]:
    """Read labels from JSONL or CSV (columns comment_id or id, stance, themes) and check them.

    One label per comment, unless *per_annotator*: then one per comment and annotator.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist", fix="check the path of the labels file")
    text = path.read_text(encoding="utf-8-sig")
    rows: list[tuple[str, dict]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"line {n}", json.loads(line)))
                except ValueError as exc:
                    raise InputError(f"{path}: line {n} is not valid JSON ({exc})",
                                     fix="fix or remove that line") from exc
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [(f"row {n}", row) for n, row in enumerate(reader, 1)]
    out: list[Labels] = []
    seen: dict[tuple, str] = {}
    for where, row in rows:
        cid = row.get("comment_id") or row.get("id")
        if not cid:
            raise InputError(f"{path}: {where} has no comment_id", fix="add the comment id to every label")
        key = (cid, row.get("annotator") or annotator) if per_annotator else (cid,)
        if key in seen:
            raise CommentaryError(f"{path}: {where} labels comment {cid} again (first at {seen[key]})",
                                  fix="keep one label per comment, or adjudicate the two")
        seen[key] = where
        stance = (row.get("stance") or "").strip() or None
        themes = _themes(row.get("themes"))
        codebook.check(stance, themes, where=f"{path}: {where}")
        out.append(Labels(comment_id=str(cid), stance=stance, themes=themes,
                          annotator=row.get("annotator") or annotator, created=row.get("created"),
                          codebook_version=row.get("codebook_version") or codebook.version,
                          weak=bool(row.get("weak", False))))
    if not out:
        raise InputError(f"{path} holds no labels", fix="write one label per line")
    return out


def write_labels_jsonl(labels: list[Labels], out) -> None:
    for lab in labels:
        out.write(json.dumps(lab.to_dict(), ensure_ascii=False) + "\n")
