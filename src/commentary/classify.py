"""The classify stage: read comments (streamed where the format allows), score them in batches.

Inputs: a page copied from the browser (its article then gives stance its
context), any format ``ingest`` reads, or plain text with one comment per
paragraph (``per_line`` for one per line). Predictions stream out batch by batch,
so memory stays flat however long the input is.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .backends.base import Inputs
from .errors import InputError
from .ingest.source import MAX_LINE_CHARS

__all__ = ["Item", "read_items", "items_from_records", "score", "evidence", "Summary", "write_csv_row", "neutralise",
           "is_predictions_file"]

_PAGE_LABEL = re.compile(r"^\s*(?:comment(?:ed)?\s+(?:date|on)|posted\s+on)\b", re.IGNORECASE | re.MULTILINE)
_STREAMED = {".jsonl", ".ndjson", ".csv", ".tsv"}


@dataclass
class Item:
    """One comment to score, with the article it sits under when known."""

    id: str
    text: str
    article: str | None = None
    article_id: str | None = None
    author: str | None = None
    source_id: str | None = None  # the id the source itself gave (a CSV's id column), to join back to it


def _article_text(art) -> str | None:
    return "\n\n".join(x for x in (art.title, art.text) if x) or None if art else None


def items_from_records(articles, comments) -> Iterator[Item]:
    arts = {a.id: a for a in articles}
    for c in comments:
        art = arts.get(c.article_id)
        yield Item(c.id, c.text, _article_text(art), c.article_id, c.author, c.source_id)


def _text_lines(stream: IO[bytes], name: str, say: Callable[[str], None] | None = None) -> Iterator[tuple[int, str]]:
    """The numbered lines of a UTF-8 stream, read one at a time, with control characters stripped
    and counted (to *say*, at the end) as ingest's ``decode`` does for a whole file."""
    from .ingest.source import check_binary, strip_controls

    if hasattr(stream, "peek"):
        check_binary(name, stream.peek(8192)[:8192])
    elif hasattr(stream, "getvalue"):
        check_binary(name, stream.getvalue()[:8192])
    stripped = 0
    for n, raw in enumerate(stream, 1):
        if len(raw) > MAX_LINE_CHARS:
            raise InputError(f"{name}: line {n} is {len(raw):,} bytes long (limit {MAX_LINE_CHARS:,})",
                             fix="this does not look like comments; check the file")
        try:
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: line {n} is not valid UTF-8",
                             fix="re-save the file as UTF-8, or pass the --encoding it was saved in "
                                 "(for example cp1252)") from exc
        line, count = strip_controls(line)
        stripped += count
        yield n, line
    if stripped and say is not None:
        say(f"{name}: stripped {stripped} control character(s)")


def _plain(lines: Iterable[tuple[int, str]], name: str, per_line: bool,
           say: Callable[[str], None] | None = None) -> Iterator[Item]:
    """One comment per paragraph (or per line); ids from the source name and line number. A file
    that is one paragraph of many lines is most likely one comment a line: *say* suggests --per-line."""
    buf: list[str] = []
    start = 0
    paragraphs = 0
    from .records import stable_id

    for n, line in lines:
        if per_line:
            if line.strip():
                yield Item(stable_id("c", name, n), line.strip())
            continue
        if line.strip():
            if not buf:
                start = n
            buf.append(line.strip())
        elif buf:
            paragraphs += 1
            yield Item(stable_id("c", name, start), " ".join(buf))
            buf = []
    if buf:
        if not paragraphs and len(buf) >= 5 and say is not None:
            say(f"{name}: read its {len(buf):,} lines as one comment (comments are told apart by blank lines); "
                "pass --per-line if each line is a comment")
        yield Item(stable_id("c", name, start), " ".join(buf))


def _stream_table(path: Path, opts, say: Callable[[str], None] | None = None) -> Iterator[Item] | None:
    """Rows of a CSV or JSONL file, read one at a time by ingest's own table reader (the same
    columns, ids and articles as ``commentary ingest`` gives them). None for a JSON Lines file
    that ``ingest -o -`` wrote (articles and comments as records), which is read whole instead."""
    from .ingest.base import ReadResult
    from .ingest.source import Source
    from .ingest.tabular import (
        allow_long_cells,
        excel_separator,
        joined_rows,
        jsonl_objects,
        overflow_warning,
        sniff_delimiter,
        table_records,
    )

    src = Source(str(path), b"", "", path)
    overflow: list[int] = []  # rows with more fields than the header
    fh = open(path, "rb")  # noqa: SIM115 - closed when the generator below ends
    lines = _text_lines(fh, str(path), say)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        objects = jsonl_objects(lines, str(path))
        first = next(objects, None)
        if first is not None and first[1].get("kind") in ("article", "comment"):
            fh.close()
            return None
        rows = (obj for _, obj in itertools.chain([first] if first else [], objects))
        head: list[dict] = []
        for row in rows:
            head.append(row)
            if len(head) >= 200:
                break
        columns = list(dict.fromkeys(k for r in head for k in r if k is not None))
        rows = itertools.chain(head, rows)
        where = "line"
    else:
        head_lines = [line + "\n" for _, line in itertools.islice(lines, 200)]
        named = excel_separator(head_lines[0]) if head_lines else None
        if named is not None:  # Excel's "sep=;" line names the delimiter; the header follows it
            head_lines = head_lines[1:]
        delimiter = named or ("\t" if path.suffix.lower() == ".tsv" else sniff_delimiter("".join(head_lines)[:20000]))
        allow_long_cells()
        reader = csv.DictReader(itertools.chain(head_lines, (line + "\n" for _, line in lines)), delimiter=delimiter)
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        rows = joined_rows(reader, columns[-1], delimiter, overflow) if columns else iter(())
        where = "row"

    def items() -> Iterator[Item]:
        try:
            if not columns:
                return
            read = ReadResult()
            for com, art, _parent, _scope in table_records(rows, columns, src, opts, read, where):
                yield Item(com.id, com.text, _article_text(art), com.article_id, com.author, com.source_id)
            if overflow and say is not None:
                say(overflow_warning(str(path), overflow, columns[-1]))
            if say is not None:
                _say_skipped(read, str(path), say)
        finally:
            fh.close()

    return items()


def _utf8_head(head: bytes) -> bool:
    """Whether a file whose first bytes are *head* can be read a line at a time as UTF-8 (a file in
    another encoding, UTF-16 included, is read whole, through ingest's decoding, which tells the
    encoding and says so)."""
    from .ingest.source import wide_encoding

    if wide_encoding(head[:8192]) is not None:  # NUL bytes are valid UTF-8
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of the head
    return True


def _decoded_lines(src, opts, say: Callable[[str], None]) -> Iterator[tuple[int, str]]:
    """The numbered lines of a whole source, decoded as ingest decodes it (telling a non-UTF-8
    encoding it guessed)."""
    from .ingest.source import decode

    text = decode(src, opts.encoding)
    for message in src.warnings:
        say(message)
    return _text_lines(io.BytesIO(text.encode("utf-8")), src.name)


def _file_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(1 << 20)


def read_items(spec: str, *, fmt: str | None = None, per_line: bool = False, options=None,
               warn: Callable[[str], None] | None = None) -> Iterator[Item]:
    """Yield the comments in *spec* (a path or ``-``), with their article when the source has one,
    each cut to ``options.max_comment_chars`` as ingest cuts it; the reader's warnings (a guessed
    encoding, a guessed column, comments cut) go to *warn*."""
    from .ingest import ReadOptions
    from .ingest.base import cut_long_texts

    opts = options or ReadOptions()
    say = warn or (lambda _message: None)
    return _distinct_ids(cut_long_texts(_read_items(spec, fmt, per_line, opts, say), opts.max_comment_chars, say),
                         say)


def _distinct_ids(items: Iterator[Item], say: Callable[[str], None]) -> Iterator[Item]:
    """*items*, each row kept, but one whose id an earlier row had with other text gets an id of its own
    (as ingest gives it): one id, one comment, in every predictions file."""
    from .ingest.base import DistinctIds

    ids = DistinctIds()
    renamed = 0
    for item in items:
        cid, _repeat = ids.see(item.id, item.text)  # a row repeated word for word keeps its row and id
        renamed += cid != item.id
        item.id = cid
        yield item
    if renamed:
        say(f"{renamed:,} comment(s) had the id of an earlier one but other text; each was given an id of its "
            "own (source_id keeps the one the source gave)")


def _read_items(spec: str, fmt: str | None, per_line: bool, opts, say: Callable[[str], None]) -> Iterator[Item]:
    from .ingest import looks_like_csv, looks_like_tsv, read_opened, read_source
    from .ingest.pagetext import read_page_text, section_signs
    from .ingest.source import decode, is_utf8, open_source

    path = Path(spec) if spec != "-" else None
    if path is not None and not path.exists() and not spec.startswith("hf:"):
        raise InputError(f"{spec} does not exist", fix="check the path")
    if fmt is None and path is not None and path.is_dir() and (path / "manifest.json").exists():
        from .dataset import read_dataset

        data = read_dataset(path)  # a dataset written by `commentary ingest`
        yield from items_from_records(data.articles, data.comments)
        return
    if fmt is None and path is not None and path.is_file() and path.suffix.lower() in _STREAMED \
            and is_utf8(opts.encoding) and _utf8_head(_file_head(path)):
        streamed = _stream_table(path, opts, say)
        if streamed is not None:
            yield from streamed
            return
    is_text = fmt in (None, "text") and (path is None or path.suffix.lower() in ("", ".txt", ".text", ".md"))
    if is_text and not per_line:
        src = open_source(spec, opts.encoding)  # refuses empty and binary input; reads stdin once
        head = src.data[:1 << 20].decode("utf-8", "replace")
        if fmt is None and (head.lstrip().startswith(("<", "{", "[")) or looks_like_tsv(head)
                            or (path is None and looks_like_csv(head))):  # a table piped in
            result, _ = read_opened(src, None, opts)  # markup, JSON or a table: let ingest tell which
        elif _PAGE_LABEL.search(head):
            result = read_page_text(src, decode(src, opts.encoding))
            result.warnings[:0] = src.warnings
        else:
            signs = section_signs(head)
            if len(signs) >= 2:
                say(f"{src.name} looks like a page copied with its comment section ({', '.join(signs)}) but has "
                    "no 'Comment date' or 'Posted on' lines to tell one comment from the next, so every paragraph "
                    "is scored as a comment, the article's and the page's own words too; paste the comments "
                    "alone, a paragraph each, or pass a table or an export")
            yield from _plain(_decoded_lines(src, opts, say), src.name, per_line, say)
            return
        for message in result.warnings:
            say(message)
        _say_skipped(result, src.name, say)
        yield from items_from_records(result.articles, result.comments)
        return
    if is_text and per_line:
        # a file's buffer holds its first megabyte to peek at; stdin's what it has buffered (4-8 KB or more)
        stream = sys.stdin.buffer if path is None else open(path, "rb", buffering=1 << 20)  # noqa: SIM115
        try:
            head = stream.peek(1 << 20)[:1 << 20] if hasattr(stream, "peek") else b""
            if is_utf8(opts.encoding) and _utf8_head(head):  # read a line at a time
                yield from _plain(_text_lines(stream, spec, say), spec, per_line=True)
                return
        finally:
            if path is not None:
                stream.close()
        src = open_source(spec, opts.encoding)  # another encoding: decoded whole, as ingest does
        yield from _plain(_decoded_lines(src, opts, say), src.name, per_line=True)
        return
    result, _ = read_source(spec, fmt, opts)
    for message in result.warnings:
        say(message)
    _say_skipped(result, spec, say)
    yield from items_from_records(result.articles, result.comments)


def _say_skipped(result, name: str, say: Callable[[str], None]) -> None:
    """What a reader left out (rows with no text, spam, pingbacks), so the output's rows can be
    matched to the input's."""
    for reason, n in result.skipped.items():
        say(f"{name}: {n:,} left out ({reason}): no prediction for {'it' if n == 1 else 'them'}")


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sentences(text: str) -> list[str]:
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    return parts or [text]


@functools.cache
def _theme_rules():
    """The shipped theme rules, by theme: the wording that carries a theme ("nothing new", "nobody asked")."""
    from .label.rules import load_rules

    by: dict[str, list] = {}
    for rule in load_rules(None, None).rules:
        if rule.kind == "theme":
            by.setdefault(rule.label, []).append(rule)
    return by


def evidence(model, item: Item, pred: dict[str, Any]) -> dict[str, str]:
    """The sentence that most supports each predicted label (scored on its own).

    For a theme, a sentence whose wording a theme rule recognises ("it's not telling us anything
    new" for nothing_new) is preferred over one the model merely scores higher on its own, since
    a sentence taken out of its comment often loses what carried the theme.
    """
    import numpy as np

    from .label.rules import fired

    sents = _sentences(item.text)
    if len(sents) == 1:
        return {pred["stance"]: sents[0], **{t: sents[0] for t in pred["themes"]}}
    cs, ct = model.probabilities(Inputs(sents, [item.article] * len(sents)))
    dec = model.decisions
    out = {pred["stance"]: sents[int(cs[:, dec.stance_labels.index(pred["stance"])].argmax())]}
    rules = _theme_rules()
    for t in pred["themes"]:
        p = ct[:, dec.theme_labels.index(t)]
        if rules.get(t):
            hit = fired(rules[t], sents).any(axis=1)
            if hit.any():
                p = np.where(hit, p + 1.0, p)  # a recognised sentence first, the model's order within each
        out[t] = sents[int(p.argmax())]
    return out


_WORKER_MODEL = None  # the model, inherited by forked scoring workers


def _predict_in_worker(texts: list[str], articles: list[str | None]) -> list[dict[str, Any]]:
    return _WORKER_MODEL.predict(Inputs(texts, articles))


def _predictions(model, batches: Iterator[list[Item]], jobs: int) -> Iterator[tuple[list[Item], list]]:
    """(batch, predictions) in input order; batches after the first go to *jobs* forked workers.

    A short input (one batch) never starts a worker, so one comment costs no more
    than it did; at most two batches per worker are in flight, so memory stays flat.
    """
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from itertools import chain

    def local(batch):
        return batch, model.predict(Inputs([i.text for i in batch], [i.article for i in batch]))

    first = next(batches, None)
    if first is None:
        return
    yield local(first)
    second = next(batches, None)
    if second is None:
        return
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(local, chain([second], batches))
        return
    global _WORKER_MODEL
    _WORKER_MODEL = model
    pending: deque = deque()
    from ._procs import worker_initializer

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                             initializer=worker_initializer()) as pool:
        for batch in chain([second], batches):
            pending.append((batch, pool.submit(_predict_in_worker, [i.text for i in batch],
                                               [i.article for i in batch])))
            if len(pending) >= 2 * jobs:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def default_batch_size(model) -> int:
    """Comments a batch holds unless told: 2,500 for a model cheap to score (tfidf, a static encoder),
    whose batches go to forked workers (measured on 50,000 real comments: a tenth less CPU than
    1,000, for about 100 MB more memory a process); 1,000 for a transformer, whose progress would
    otherwise be reported minutes apart."""
    return 2500 if getattr(model.backend, "parallel_scoring", False) else 1000


def score(model, items: Iterable[Item], *, model_ref: str, batch_size: int | None = None, explain: bool = False,
          with_items: bool = False, progress=None, jobs: int = 1) -> Iterator[dict[str, Any]]:
    """Yield one prediction per item, scoring a batch at a time (``with_items`` adds the Item as ``_item``).

    ``jobs`` > 1 scores batches in that many forked processes (see ``backends.base.fork_jobs``).
    """
    batch_size = batch_size or default_batch_size(model)
    thresholds = {t: round(v, 4) for t, v in model.decisions.thresholds.items()}
    for batch, preds in _predictions(model, _batches(items, batch_size), jobs):
        for item, pred in zip(batch, preds):
            row = {"id": item.id, "source_id": item.source_id, "article_id": item.article_id, "author": item.author,
                   "text": item.text,
                   **pred, "thresholds": thresholds, "model": model_ref}
            if explain:
                row["evidence"] = evidence(model, item, pred)
            if with_items:
                row["_item"] = item
            yield row
        if progress:
            progress(len(batch))


def _wilson(k: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a share k/n (scipy's binomtest)."""
    if n == 0:
        return 0.0, 0.0
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


@dataclass
class Summary:
    """Counts and shares per stance and theme, with 95% Wilson intervals."""

    stance_labels: list[str]
    theme_labels: list[str]
    n: int = 0
    abstained: int = 0
    stance: dict[str, int] = field(default_factory=dict)
    themes: dict[str, int] = field(default_factory=dict)

    def add(self, pred: dict[str, Any]) -> None:
        self.n += 1
        self.abstained += int(pred["abstain"])
        self.stance[pred["stance"]] = self.stance.get(pred["stance"], 0) + 1
        for t in pred["themes"]:
            self.themes[t] = self.themes.get(t, 0) + 1

    def rows(self) -> list[tuple[str, int, float, float, float]]:
        out = []
        for kind, labels, counts in (("stance", self.stance_labels, self.stance),
                                     ("theme", self.theme_labels, self.themes)):
            for lab in labels:
                k = counts.get(lab, 0)
                lo, hi = _wilson(k, self.n)
                out.append((f"{kind}:{lab}", k, k / self.n if self.n else 0.0, lo, hi))
        return out


_RISKY = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a cell safe to open in a spreadsheet: formulas become plain text."""
    if isinstance(value, str) and value.startswith(_RISKY):
        return "'" + value
    return value


CSV_FIELDS = ["id", "source_id", "article_id", "author", "stance", "abstain", "themes", "text", "model"]
_PREDICTION_KEYS = {"id", "stance", "stance_probs", "themes", "model"}


def is_predictions_file(path: Path) -> bool:
    """Whether *path* holds predictions that classify wrote (CSV by its header; JSON Lines and JSON by
    their first record), which ``--force`` may replace; anything else is the user's."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    lines = head.splitlines()
    if not lines:
        return False
    if lines[0].split(",")[:len(CSV_FIELDS)] == CSV_FIELDS:
        return True
    first = lines[1] if lines[0].strip() == "[" and len(lines) > 1 else lines[0]
    try:
        record = json.loads(first.rstrip(","))
    except ValueError:
        return False
    return isinstance(record, dict) and _PREDICTION_KEYS <= set(record)


def write_csv_row(writer, pred: dict[str, Any], stance_labels, theme_labels) -> None:
    """One prediction as a CSV row; with ``--explain``, a last column holds each label's sentence
    (``label: sentence``, joined by `` | ``)."""
    row = [pred["id"], pred.get("source_id"), pred["article_id"], pred["author"], pred["stance"], pred["abstain"],
           ";".join(pred["themes"]), pred["text"], pred["model"]]
    row += [pred["stance_probs"][s] for s in stance_labels] + [pred["theme_probs"][t] for t in theme_labels]
    if "evidence" in pred:
        row.append(" | ".join(f"{k}: {v}" for k, v in pred["evidence"].items()))
    writer.writerow([neutralise(v) for v in row])
