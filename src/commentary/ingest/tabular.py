"""Read tables of comments (CSV, TSV, JSON Lines, JSON, Parquet) with column detection and mapping."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import FormatError
from ..records import Article, Comment
from .base import STATUS_WORDS, ReadOptions, ReadResult, article_id, comment_id, drop_dangling, provenance
from .dates import parse_date
from .source import _CONTROL, Source, check_line_lengths

__all__ = ["excel_separator", "joined_rows", "overflow_warning", "jsonl_objects", "read_csv", "read_jsonl", "read_json", "read_parquet",
           "read_rows", "ROLES"]

# Column names each role is detected from, after lower-casing and dropping non-letters.
# The names that say "comment" come first: beside an article's "Body", "Comment" is the comment.
# WordPress's own export names (comment_content, comment_post_ID, comment_approved, ...) are here too.
ROLES: dict[str, tuple[str, ...]] = {
    "text": ("comment", "commenttext", "commentbody", "commentcontent", "text", "body", "comments", "message",
             "content", "reply", "replytext", "response", "post", "posttext", "selftext", "sentence", "tweet"),
    "id": ("id", "commentid", "cid", "messageid", "replyid", "uid", "guid"),
    "parent": ("parentid", "parent", "inreplyto", "replyto", "parentcommentid", "replytoid", "commentparent"),
    "author": ("author", "authorname", "user", "username", "name", "commenter", "screenname",
               "displayname", "commentauthor", "commentauthorname"),
    "date": ("date", "createdat", "created", "createdutc", "timestamp", "time", "datetime",
             "posted", "postedat", "publishedat", "commentdate", "commentdategmt"),
    "article": ("articleid", "article", "threadid", "thread", "articleurl", "url", "link",
                "postid", "pageurl", "topicid", "commentpostid"),
    "title": ("title", "articletitle", "headline", "threadtitle", "posttitle"),
    "article_text": ("articletext", "articlebody", "articlecontent", "threadtext"),
    "status": ("status", "commentapproved", "approved", "commentstatus", "moderation", "moderationstatus"),
}
_OPTION = {"text": "text_column", "id": "id_column", "parent": "parent_column",
           "author": "author_column", "date": "date_column", "article": "article_column",
           "title": "title_column", "article_text": "article_text_column"}
# A prefixed "...url" column names the article (page_url, rfd_article_url) unless it belongs to a person.
_PERSON_URL = re.compile(r"author|user|commenter|avatar|profile|photo|image|picture|icon|home|website|member")


_OWN_ID = re.compile(r"^[ac]_[0-9a-f]{16}$")


def _cid(scope: str, own: str) -> str:
    """Keep ids that commentary made itself (a round trip), otherwise derive one."""
    return own if _OWN_ID.match(own) else comment_id(scope, own)


def column_key(name: str) -> str:
    """A column name as the roles are matched against it: lower case, letters only."""
    return re.sub(r"[^a-z]", "", name.lower())


def resolve_columns(columns: list[str], sample: list[dict], src: Source, opts: ReadOptions,
                    result: ReadResult) -> dict[str, str]:
    """Map each role to a column: the user's choice first, then by name, then by content."""
    mapping: dict[str, str] = {}
    normed = {column_key(c): c for c in reversed(columns)}
    for role, names in ROLES.items():
        chosen = getattr(opts, _OPTION[role]) if role in _OPTION else None
        flag = "--" + _OPTION.get(role, "").replace("_", "-")
        if chosen:
            if chosen not in columns:
                raise FormatError(
                    f"{src.name} has no column {chosen!r} (found {', '.join(map(repr, columns))})",
                    fix=f"pass {flag} with one of those names",
                )
            mapping[role] = chosen
            continue
        for name in names:
            if name in normed and normed[name] not in mapping.values():
                mapping[role] = normed[name]
                break
        else:
            # Prefixed names are common in exports: rfd_article_title, page_url, thread_id.
            suffix = {"title": "title", "article": "url"}.get(role)
            found = [c for n, c in normed.items() if suffix and n.endswith(suffix) and n != suffix
                     and c not in mapping.values() and not (role == "article" and _PERSON_URL.search(n))]
            if found:
                mapping[role] = sorted(found)[0]
    if "text" not in mapping:
        lengths = {
            c: sum(len(str(r.get(c) or "")) for r in sample) / max(len(sample), 1)
            for c in columns if c not in mapping.values()
            and all(isinstance(r.get(c), (str, type(None))) for r in sample)
        }
        best = max(lengths, key=lengths.get, default=None)
        if not best or lengths[best] < 15:
            raise FormatError(
                f"{src.name} has no column of comment text (found {', '.join(map(repr, columns))})",
                fix="pass --text-column NAME",
            )
        mapping["text"] = best
        result.warnings.append(
            f"{src.name}: no column is named like comment text; using {best!r} "
            f"(the longest text); pass --text-column to choose"
        )
    return mapping


def _date(value: Any) -> tuple[str | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, (dt.datetime, dt.date)):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat(), str(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        stamp = float(text) / (1000 if len(text.split(".")[0]) > 11 else 1)
        return dt.datetime.fromtimestamp(stamp, dt.UTC).date().isoformat(), text
    return parse_date(text), text


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def table_records(rows: Iterable[dict], columns: list[str], src: Source, opts: ReadOptions, result: ReadResult,
                  where: str = "row") -> Iterator[tuple[Comment, Article | None, str | None, str]]:
    """Each row of a table as (comment, its article or None, the parent's own id, the id scope),
    one at a time: the one reading of a table, shared by ingest (which collects them) and
    classify (which streams them), so both give every comment the same id and article."""
    rows = iter(rows)
    sample: list[dict] = []
    for row in rows:
        sample.append(row)
        if len(sample) >= 200:
            break
    m = resolve_columns(columns, sample, src, opts, result)
    result.text_column = m["text"]
    extra = [c for c in columns if c not in m.values()]
    articles: dict[str, Article] = {}
    scope_default = f"table:{Path(src.name).name}"
    for n, row in enumerate(_chain(sample, rows), 1):
        value = row.get(m["text"])
        if isinstance(value, (list, dict)):
            raise FormatError(f"{src.name}: {where} {n}: the text column {m['text']!r} holds a JSON "
                              f"{'list' if isinstance(value, list) else 'object'}, not the comment's text",
                              fix="pass --text-column with the column that holds the comment")
        text = _str(value)
        if not text:
            result.skip("row with no text")
            continue
        status = "approved"
        if "status" in m:
            said = (_str(row.get(m["status"])) or "approved").lower()
            status = STATUS_WORDS.get(said, "approved")
            unknown = (f"{src.name}: column {m['status']!r} holds {said!r}, not a status commentary knows "
                       "(approved, pending, spam, trash); read as approved")
            if said not in STATUS_WORDS and unknown not in result.warnings:
                result.warnings.append(unknown)
            if status != "approved" and not opts.include_unapproved:
                result.skip(f"{status} comment")
                continue
        key = _str(row.get(m["article"])) if "article" in m else None
        title = _str(row.get(m["title"])) if "title" in m else None
        akey = key or title
        art_id = None
        art = None
        if akey:
            art_id = akey if _OWN_ID.match(akey) else article_id("table", akey)
            art = articles.get(art_id)
            if art is None:
                art = articles[art_id] = Article(
                    id=art_id, title=title,
                    url=key if key and key.startswith(("http://", "https://")) else None,
                    text=_str(row.get(m["article_text"])) if "article_text" in m else None,
                    **provenance(src),
                )
        own = _str(row.get(m["id"])) if "id" in m else None
        scope = art_id or scope_default
        parent = _str(row.get(m["parent"])) if "parent" in m else None
        date, date_text = _date(row.get(m["date"])) if "date" in m else (None, None)
        meta = {c: row.get(c) for c in extra if row.get(c) not in (None, "")}
        com = Comment(
            id=_cid(scope, own or f"{where}{n}"), article_id=art_id, text=text,
            author=_str(row.get(m["author"])) if "author" in m else None,
            date=date, date_text=date_text, status=status, source_id=own, place=f"{where} {n}",
            meta=json.dumps(meta, ensure_ascii=False, default=str) if meta else None,
            **provenance(src),
        )
        yield com, art, parent, scope


def read_rows(rows: Iterable[dict], columns: list[str], src: Source, opts: ReadOptions,
              where: str = "row", progress=None) -> ReadResult:
    """Turn rows of a table into articles and comments."""
    result = ReadResult()
    articles: dict[str, Article] = {}
    pending: list[tuple[Comment, str | None, str]] = []
    for n, (com, art, parent, scope) in enumerate(table_records(rows, columns, src, opts, result, where), 1):
        if art is not None:
            articles.setdefault(art.id, art)
        pending.append((com, parent, scope))
        if progress and n % 5000 == 0:
            progress(5000)
    for com, parent, scope in pending:
        if parent and parent not in ("0", "-1", "nan", "None"):
            com.parent_id = _cid(scope, parent)
    result.comments = [c for c, _, _ in pending]
    if any(f"{status} comment" in result.skipped for status in ("pending", "spam", "deleted")):
        drop_dangling(result, src.name)  # replies to the pending, spam or trashed rows left out
    result.articles = list(articles.values())
    if not result.comments:
        raise FormatError(f"{src.name} has no rows with comment text in column {result.text_column!r}",
                          fix="check the file, or pass --text-column")
    return result


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def read_csv(src: Source, text: str, opts: ReadOptions, delimiter: str | None = None,
             progress=None) -> ReadResult:
    """Read CSV or TSV with a header row."""
    check_line_lengths(src, text)
    named = excel_separator(text.split("\n", 1)[0])
    if named is not None:  # Excel's "sep=;" line: the delimiter, not the header
        delimiter, text = named, text.split("\n", 1)[1] if "\n" in text else ""
    if delimiter is None:
        delimiter = sniff_delimiter(text[:20000])
    allow_long_cells()
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not columns:
        raise FormatError(f"{src.name} has no header row", fix="add a header row naming the columns")

    overflow: list[int] = []

    def rows() -> Iterator[dict]:
        try:
            yield from joined_rows(reader, columns[-1], delimiter, overflow)
        except csv.Error as exc:
            raise FormatError(f"{src.name}: line {reader.line_num}: {exc}",
                              fix="check the quoting on that line") from exc

    result = read_rows(rows(), columns, src, opts, "row", progress)
    if overflow:
        result.warnings.append(overflow_warning(src.name, overflow, columns[-1]))
    return result


def joined_rows(reader: Iterable[dict], last: str, delimiter: str, overflow: list[int]) -> Iterator[dict]:
    """A csv.DictReader's rows, each one's fields beyond the header (csv keeps them under the key None)
    joined back into its last column, delimiters included: a one-column export of comments with
    unquoted commas ("Nurses need more time, says the matron.") keeps its whole text instead of losing
    what followed the comma. The numbers of such rows are added to *overflow*."""
    for n, row in enumerate(reader, 1):
        extra = row.pop(None, None)
        if extra:
            row[last] = delimiter.join([row.get(last) or "", *extra])
            overflow.append(n)
        yield row


def overflow_warning(name: str, rows: list[int], last: str) -> str:
    return (f"{name}: {len(rows):,} row(s) had more fields than the header (first: row {rows[0]}; an unquoted "
            f"delimiter?); their extra fields were joined to the last column {last!r}")


def allow_long_cells() -> None:
    """Let a CSV cell be as long as a line may be (csv stops at 128 KB); long comments are then cut
    to --max-comment-chars with a warning, instead of failing with a message about quoting."""
    from .source import MAX_LINE_CHARS

    if csv.field_size_limit() < MAX_LINE_CHARS:
        csv.field_size_limit(MAX_LINE_CHARS)


_EXCEL_SEP = re.compile(r"^\ufeff?sep=(.)\r?$")


def excel_separator(first_line: str) -> str | None:
    """The delimiter a first line ``sep=;`` names (Excel writes it, and reads the file by it), or None."""
    m = _EXCEL_SEP.match(first_line.rstrip("\n"))
    return m.group(1) if m else None


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter of a CSV sample (comma, tab, semicolon or bar), *default* when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return default


def flatten(obj: dict, prefix: str = "") -> dict:
    """Nested objects become dotted keys (``{"message": {"body": ...}}`` gives ``message.body``),
    so a comment's text inside an object is found like any column, never read as the object's repr."""
    out: dict = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and len(prefix) < 200:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


_UNSAFE = re.compile(_CONTROL.pattern + r"|[\ud800-\udfff]")  # decode()'s control characters, and surrogates


def _scrub(value: Any) -> Any:
    """Strings as decode() leaves them: JSON escapes of control characters (\\u0000) dropped, and
    lone surrogates (\\ud800), which no file can store, replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSAFE.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


# What in a line of JSON can give an unsafe character once parsed: the character itself, or an escape
# (\b, \f, or \u for a C0 or C1 control character, U+200B, U+FEFF or a surrogate). A line without any
# is parsed without walking every value (a tenth of reading a large JSON Lines file).
_MAY_BE_UNSAFE = re.compile(_UNSAFE.pattern + r"|\\(?:[bf]|u(?:00[0189]|007[fF]|200[bB]|[fF][eE][fF][fF]|[dD][89a-fA-F]))")


def parse_json(text: str, name: str, where: str = ""):
    """json.loads with its failures named: bad JSON, and nesting too deep to read."""
    try:
        obj = json.loads(text)
        return _scrub(obj) if _MAY_BE_UNSAFE.search(text) else obj
    except RecursionError:
        raise FormatError(f"{name}: {where + ' ' if where else ''}nests too deeply to read",
                          fix="flatten the JSON, or check the file is what you meant") from None
    except ValueError as exc:
        raise FormatError(f"{name}: {where + ' is ' if where else ''}not valid JSON ({exc})",
                          fix="fix or remove that line" if where else "check the file") from exc


def jsonl_objects(lines: Iterable[tuple[int, str]], name: str) -> Iterator[tuple[int, dict]]:
    """Parse numbered JSON Lines one at a time, naming the line of any that is not an object;
    nested objects are flattened to dotted keys."""
    for n, line in lines:
        if not line.strip():
            continue
        obj = parse_json(line, name, f"line {n}")
        if not isinstance(obj, dict):
            raise FormatError(f"{name}: line {n} is a JSON {type(obj).__name__}, not an object",
                              fix="write one JSON object per line")
        yield n, obj if obj.get("kind") in ("article", "comment") else flatten(obj)


def read_jsonl(src: Source, text: str, opts: ReadOptions, progress=None) -> ReadResult:
    """Read JSON Lines: one object per line."""
    check_line_lengths(src, text)
    columns: dict[str, None] = {}
    records: list[dict] = []
    for _, obj in jsonl_objects(enumerate(text.split("\n"), 1), src.name):
        records.append(obj)
        for k in obj:
            columns.setdefault(k, None)
    if not records:
        raise FormatError(f"{src.name} holds no JSON objects", fix="write one JSON object per line")
    if all(r.get("kind") in ("article", "comment") for r in records):
        return _from_own_jsonl(records)
    return read_rows(records, list(columns), src, opts, "line", progress)


_REPLY_LISTS = ("replies", "children", "responses", "comments", "answers")
_ARTICLE_KEYS = set(ROLES["article"] + ROLES["title"] + ROLES["article_text"])


def _thread_rows(items: list[dict]) -> list[dict]:
    """Comments with their replies nested inside them (``"replies": [...]``) as one row each, in
    reading order: a reply names its parent (the parent's own id, or the ``item N`` id that a row
    without one gets) and takes its parent's article columns where it has none of its own."""
    rows: list[dict] = []

    def walk(obj: dict, parent: dict | None, parent_ref: str | None) -> None:
        nested = {k: v for k, v in obj.items()
                  if column_key(k) in _REPLY_LISTS and isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
        row = {k: v for k, v in obj.items() if k not in nested}
        if parent is not None:
            for k, v in parent.items():
                if column_key(k) in _ARTICLE_KEYS and k not in row:
                    row[k] = v
            if not any(column_key(k) in ROLES["parent"] for k in row):
                row["parent_id"] = parent_ref
        rows.append(row)
        own = next((row[k] for k in row if column_key(k) in ROLES["id"] and row[k] not in (None, "")), None)
        ref = str(own) if own is not None else f"item{len(rows)}"
        for children in nested.values():
            for child in children:
                walk(child, row, ref)

    for obj in items:
        walk(obj, None, None)
    return rows


def read_json(src: Source, text: str, opts: ReadOptions, progress=None) -> ReadResult:
    """Read a JSON array of objects (or an object with one list of them, and perhaps the article they
    sit under: ``{"article": {...}, "comments": [...]}``); replies nested in a comment are read too."""
    data = parse_json(text, src.name)
    article = None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        objects = [v for k, v in data.items() if isinstance(v, dict) and column_key(k) in ("article", "post", "page",
                                                                                          "thread", "story")]
        article = objects[0] if len(objects) == 1 else None
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise FormatError(f"{src.name} is not a list of JSON objects",
                          fix="pass a JSON array of comment objects, or JSON Lines")
    data = _thread_rows(data)
    if article:  # the article the comments sit under, as article columns of every row
        fields = {"article_title": article.get("title") or article.get("headline"),
                  "article_url": article.get("url") or article.get("link") or article.get("id"),
                  "article_text": article.get("text") or article.get("body") or article.get("content")}
        data = [{**{k: v for k, v in fields.items() if v not in (None, "")}, **row} for row in data]
    columns = list(dict.fromkeys(k for obj in data for k in obj))
    return read_rows(data, columns, src, opts, "item", progress)


def read_parquet(src: Source, opts: ReadOptions, progress=None) -> ReadResult:
    """Read a Parquet file in record batches."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(src.data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"{src.name} is not a readable Parquet file ({exc})",
                          fix="check the file, or pass --format") from exc
    columns = pf.schema_arrow.names

    def rows() -> Iterator[dict]:
        for batch in pf.iter_batches(batch_size=10_000):
            yield from batch.to_pylist()

    return read_rows(rows(), columns, src, opts, "row", progress)


def _from_own_jsonl(records: list[dict]) -> ReadResult:
    """Read back the JSON Lines that `commentary ingest -o -` writes, keeping every field."""
    result = ReadResult()
    for r in records:
        if r["kind"] == "article":
            result.articles.append(Article.from_dict(r))
        else:
            result.comments.append(Comment.from_dict(r))
    return result
