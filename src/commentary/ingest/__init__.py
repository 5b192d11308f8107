"""The ingest stage: read sources in any supported format into one set of records."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FormatError, InputError, UsageError
from ..records import Article, Comment
from .base import DistinctIds, ReadOptions, ReadResult, cut_long_texts
from .source import Source, decode, open_source

__all__ = ["FORMATS", "IngestResult", "ReadOptions", "detect_format", "read_source", "read_opened", "ingest",
           "pseudonymise", "summarise"]

FORMATS = ("text", "html", "wxr", "disqus", "csv", "tsv", "jsonl", "json", "parquet", "hf")
_EXT = {".txt": "text", ".text": "text", ".md": "text", ".html": "html", ".htm": "html",
        ".xhtml": "html", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
        ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
        ".arrow": "hf"}
_HUB = re.compile(r"^hf:(?P<name>[\w.-]+(?:/[\w.-]+)?)$")


@dataclass
class IngestResult:
    """Everything read from all sources, and what happened on the way."""

    articles: list[Article] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    control_chars: int = 0


def _sniff_xml(src: Source, head: str) -> str:
    if re.search(r"<disqus\b", head):
        return "disqus"
    if "wordpress.org/export" in head and re.search(r"<rss\b", head):
        return "wxr"
    if re.search(r"<html\b|<body\b|<!doctype html", head, re.IGNORECASE):
        return "html"
    raise FormatError(
        f"{src.name} is XML but neither a WordPress (WXR) nor a Disqus export",
        fix="pass --format wxr or --format disqus if it is one, or --format html",
    )


def _json_start(data: bytes) -> bool:
    """Whether *data* opens with a whole JSON value on its first line (JSON Lines) or is JSON."""
    import json

    text = data.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    try:
        json.loads(text.split("\n", 1)[0])
        return True
    except ValueError:
        try:
            json.loads(text)
            return True
        except ValueError:
            return False


def looks_like_tsv(head: str) -> bool:
    """Whether the start of a text file is a tab-separated table: a header of short names with one
    or more tabs, and (nearly) every one of the next rows (read as TSV, so a quoted cell may hold
    line breaks) with as many fields or more. Pages copied from a browser and plain comments do not look
    like this."""
    return _looks_like_table(head, "\t")


def looks_like_csv(head: str) -> bool:
    """Whether text with no name to go by (stdin) is a comma-separated table: as ``looks_like_tsv``,
    and a header column named as comment text is (``text``, ``body``, ``comment``, ...), since
    plain comments hold commas too."""
    from .tabular import ROLES, column_key

    if not _looks_like_table(head, ","):
        return False
    import csv
    import io

    header = next(csv.reader(io.StringIO(head.lstrip("\ufeff").split("\n", 1)[0])), [])
    return any(column_key(name) in ROLES["text"] for name in header)


def _looks_like_table(head: str, delimiter: str) -> bool:
    import csv
    import io
    import itertools

    if delimiter not in head.split("\n", 1)[0]:
        return False
    if not head.endswith("\n"):
        head = head[:head.rfind("\n") + 1]  # the sample's end may cut a row
    try:
        reader = csv.reader(io.StringIO(head.lstrip("\ufeff"), newline=""), delimiter=delimiter)
        rows = list(itertools.islice((r for r in reader if r), 21))  # the header and twenty rows
    except csv.Error:
        return False
    if len(rows) < 2 or not all(0 < len(name.strip()) <= 40 for name in rows[0]):
        return False
    # a row with more fields than the header is still a row (a stray tab or comma in its text: the
    # reader joins them into the last column, with a warning); one with fewer is not
    return sum(len(r) >= len(rows[0]) for r in rows[1:]) >= 0.8 * (len(rows) - 1)


def detect_format(src: Source) -> str:
    """Tell a source's format from its extension, and from its first bytes when that fails."""
    ext = src.path.suffix.lower() if src.path else ""
    if src.data[:4] == b"PAR1":
        return "parquet"
    head = src.data[:4096].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    fmt = _EXT.get(ext)
    if ext == ".xml" or (fmt in (None, "text", "html") and head.startswith(("<?xml", "<rss", "<disqus"))):
        return _sniff_xml(src, head)
    if fmt == "json" and head.startswith("{") and "\n{" in src.data[:65536].decode("utf-8", "replace"):
        return "jsonl"
    if fmt == "text" and head.startswith("<") and re.search(r"<html\b|<!doctype", head, re.I):
        return "html"
    if fmt == "text" and head.startswith(("{", "[")) and _json_start(src.data[:65536]):
        return "jsonl" if head.startswith("{") else "json"  # JSON saved under a .txt name
    if fmt in ("text", None) and looks_like_tsv(src.data[:65536].decode("utf-8", "replace")):
        return "tsv"  # a table saved under a .txt name: Excel's "Unicode text" and "Text (Tab delimited)"
    if fmt:
        return fmt
    if head.startswith("<"):
        return "html"
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("["):
        return "json"
    if re.search(r"^\s*comment(?:ed)?\s+(?:date|on)\b", src.data[:1 << 20].decode("utf-8", "replace"),
                 re.IGNORECASE | re.MULTILINE):
        return "text"
    if looks_like_csv(src.data[:65536].decode("utf-8", "replace")):
        return "csv"  # a table piped in, with no name to tell it by
    raise FormatError(
        f"{src.name}: cannot tell the format from the name or the content",
        fix=f"pass --format (one of {', '.join(FORMATS)})",
    )


def read_source(spec: str, fmt: str | None, opts: ReadOptions, progress=None) -> tuple[ReadResult, dict]:
    """Read one source (a path, ``-``, or ``hf:NAME``) with its reader."""
    from .hf import is_saved_dataset, read_hf

    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    hub = _HUB.match(spec)
    if hub or fmt == "hf" or (spec != "-" and (is_saved_dataset(Path(spec)) or Path(spec).is_dir())):
        name = hub.group("name") if hub else spec
        result = read_hf(name, opts, progress)
        return result, {"path": spec, "format": "hf", "sha256": None}
    return read_opened(open_source(spec, opts.encoding), fmt, opts, progress)


def read_opened(src: Source, fmt: str | None, opts: ReadOptions, progress=None) -> tuple[ReadResult, dict]:
    """Read a source whose bytes are already loaded (so stdin is read only once)."""
    from . import html, pagetext, tabular, xmlexports

    fmt = fmt or detect_format(src)
    if fmt == "parquet":
        result = tabular.read_parquet(src, opts, progress)
    else:
        text = decode(src, opts.encoding)
        if fmt == "text":
            result = pagetext.read_page_text(src, text)
        elif fmt == "html":
            result = html.read_html(src, text, opts)
        elif fmt == "wxr":
            result = xmlexports.read_wxr(src, text, opts)
        elif fmt == "disqus":
            result = xmlexports.read_disqus(src, text, opts)
        elif fmt in ("csv", "tsv"):
            result = tabular.read_csv(src, text, opts, "\t" if fmt == "tsv" else None, progress)
        elif fmt == "jsonl":
            result = tabular.read_jsonl(src, text, opts, progress)
        else:
            result = tabular.read_json(src, text, opts, progress)
    result.warnings[:0] = src.warnings
    info = {"path": src.name if src.path else "-", "format": fmt, "sha256": src.sha256,
            "control_chars": src.control_chars}
    return result, info


def _key(home: Path | None) -> bytes:
    env = os.environ.get("COMMENTARY_PSEUDONYM_KEY")
    if env:
        return env.encode()
    path = (home or Path.cwd()) / ".commentary-pseudonym-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


# A source column that names a person or reaches them: its words (e-mail, IP, URL, user name, phone,
# author, avatar, profile), or a value that is an e-mail address, an IP address or a web address.
_IDENTIFYING_KEY = re.compile(r"(^|[^a-z])(e-?mail|ip|ips|ip[ _-]?address|url|uri|website|homepage|home[ _-]?page|"
                              r"user[ _-]?(name|id)|login|phone|mobile|handle|author|avatar|profile|name)($|[^a-z])")
_IDENTIFYING_VALUE = re.compile(r"^\s*(\S+@\S+\.\w+|\d{1,3}(\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:]+:[0-9a-f]*|"
                                r"(https?://|www\.)\S+)\s*$", re.IGNORECASE)


def pseudonymise(comments: list[Comment], key: bytes) -> list[str]:
    """Replace comment authors with keyed hashes (the same name gives the same pseudonym), drop
    affiliations, and drop the source columns kept in ``meta`` that identify a person (by their
    name, or a value that is an e-mail, IP or web address). Returns the names of the columns dropped."""
    dropped: dict[str, None] = {}
    for com in comments:
        if com.author:
            norm = " ".join(com.author.lower().split())
            com.author = "author_" + hmac.new(key, norm.encode(), hashlib.sha256).hexdigest()[:12]
        com.affiliation = None
        if com.meta:
            meta = json.loads(com.meta)
            if isinstance(meta, dict):
                keep = {k: v for k, v in meta.items()
                        if not _IDENTIFYING_KEY.search(str(k).lower())
                        and not (isinstance(v, str) and _IDENTIFYING_VALUE.match(v))}
                dropped.update(dict.fromkeys(k for k in meta if k not in keep))
                com.meta = json.dumps(keep, ensure_ascii=False, default=str) if keep else None
    return list(dropped)


def ingest(sources: list[str], *, fmt: str | None = None, options: ReadOptions | None = None,
           pseudonymise_authors: bool = False, home: Path | None = None,
           progress: Callable[[int], None] | None = None) -> IngestResult:
    """Read every source and merge the records, dropping exact repeats of a comment (same id, same
    text); a comment whose id was read before with other text is kept under an id of its own."""
    if not sources:
        raise InputError("no sources given", fix="pass one or more files, folders or hf:NAME")
    opts = options or ReadOptions()
    out = IngestResult()
    seen_a: set[str] = set()
    ids = DistinctIds()
    for spec in sources:
        result, info = read_source(spec, fmt, opts, progress)
        info.update(articles=len(result.articles), comments=len(result.comments))
        out.inputs.append(info)
        out.control_chars += info.get("control_chars") or 0
        for art in result.articles:
            if art.id not in seen_a:
                seen_a.add(art.id)
                out.articles.append(art)
        for com in cut_long_texts(result.comments, opts.max_comment_chars,
                                  lambda message, spec=spec: out.warnings.append(f"{spec}: {message}")):
            cid, repeat = ids.see(com.id, com.text)
            if repeat:
                out.skipped["repeat of a comment already read"] = out.skipped.get(
                    "repeat of a comment already read", 0) + 1
                continue
            if cid != com.id:  # the same id with other words: two comments, not one read twice
                out.warnings.append(f"{spec}: {com.place or 'a comment'} has the id of a comment read before "
                                    f"({com.source_id or com.id}) but other text; kept both, this one as {cid}")
                com.id = cid
            out.comments.append(com)
        for reason, n in result.skipped.items():
            out.skipped[reason] = out.skipped.get(reason, 0) + n
        out.warnings.extend(result.warnings)
        if not result.comments:
            out.warnings.append(f"{spec}: found no comments (read as {info.get('format') or fmt or 'detected'}); "
                                "pass --format if that is the wrong reading")
        if progress:
            progress(0)
    if pseudonymise_authors:
        dropped = pseudonymise(out.comments, _key(home))
        if dropped:
            out.warnings.append(f"--pseudonymise: dropped {len(dropped):,} source column{'s' if len(dropped) != 1 else ''}"
                                f" that identify people ({', '.join(dropped[:5])}"
                                f"{', ...' if len(dropped) > 5 else ''})")
    return out


def summarise(result: IngestResult) -> dict[str, Any]:
    """Counts a person wants after an ingest: articles, comments, replies, authors, dates, skips."""
    dates = sorted(c.date for c in result.comments if c.date)
    return {
        "articles": len(result.articles),
        "comments": len(result.comments),
        "replies": sum(1 for c in result.comments if c.parent_id),
        "authors": len({c.author for c in result.comments if c.author}),
        "first_date": dates[0] if dates else None,
        "last_date": dates[-1] if dates else None,
        "skipped": dict(result.skipped),
        "warnings": len(result.warnings),
        "control_chars_stripped": result.control_chars,
    }
