"""What every reader returns, and the helpers that give records their stable ids."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from ..records import Article, Comment, stable_id
from .source import Source

__all__ = ["ReadOptions", "ReadResult", "article_id", "comment_id", "clean_text", "MAX_COMMENT_CHARS", "cut_long",
           "cut_long_texts"]

T = TypeVar("T")

MAX_COMMENT_CHARS = 100_000  # about 15,000 words: far beyond any real comment, and cheap to score

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


@dataclass
class ReadOptions:
    """Options that readers share; tabular readers use the column names."""

    encoding: str = "auto"  # source.AUTO: UTF-8, else the likeliest encoding, with a warning
    include_pingbacks: bool = False
    include_unapproved: bool = False
    text_column: str | None = None
    id_column: str | None = None
    parent_column: str | None = None
    author_column: str | None = None
    date_column: str | None = None
    article_column: str | None = None
    title_column: str | None = None
    article_text_column: str | None = None
    split: str | None = None
    max_comment_chars: int = MAX_COMMENT_CHARS  # longer comments are cut, with a warning


@dataclass
class ReadResult:
    """Records read from one source, with what was skipped (and why) and warnings."""

    articles: list[Article] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    text_column: str | None = None  # tables: the column the comments were read from

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


# A comment's moderation status as exports write it (WordPress's comment_approved, moderation tools'
# status columns), in the words commentary keeps: approved, pending, spam, deleted.
STATUS_WORDS = {"1": "approved", "approved": "approved", "approve": "approved", "true": "approved",
                "yes": "approved", "published": "approved", "publish": "approved", "visible": "approved",
                "0": "pending", "pending": "pending", "hold": "pending", "unapproved": "pending", "false": "pending",
                "no": "pending", "spam": "spam", "trash": "deleted", "trashed": "deleted", "post-trashed": "deleted",
                "deleted": "deleted", "removed": "deleted", "rejected": "deleted", "hidden": "deleted"}


def drop_dangling(result: ReadResult, name: str) -> None:
    """Keep a reply whose parent was skipped (spam, pending, deleted) or is missing, but as a top-level
    comment, and say so: every reader that leaves comments out, alike."""
    ids = {c.id for c in result.comments}
    lost = 0
    for c in result.comments:
        if c.parent_id and c.parent_id not in ids:
            c.parent_id = None
            lost += 1
    if lost:
        result.warnings.append(
            f"{name}: {lost} repl{'y' if lost == 1 else 'ies'} answer a comment that was "
            "skipped or is missing; kept as top-level comments"
        )


def article_id(kind: str, key: object) -> str:
    """Id of an article from the source kind and its own key (url, post id, or title)."""
    return stable_id("a", kind, key)


def comment_id(art_id: str | None, key: object) -> str:
    """Id of a comment from its article and its own id or position in the source."""
    return stable_id("c", art_id, key)


def clean_text(text: str | None) -> str:
    """Collapse runs of spaces, trim each line, and keep at most one blank line in a row."""
    if not text:
        return ""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def provenance(src: Source) -> dict[str, str | None]:
    """Fields every record from *src* carries."""
    return {"source": src.name, "source_sha256": src.sha256}


def cut_long(text: str, limit: int) -> tuple[str, bool]:
    """*text* cut to *limit* characters at a word boundary where one is near; whether it was cut."""
    if limit <= 0 or len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", max(0, limit - 200))
    return (cut[:space] if space > 0 else cut).rstrip(), True


class DistinctIds:
    """One id, one comment: a comment that comes with the id of an earlier one but other text (a table
    whose id column repeats) gets an id of its own, made from both, the same on every run. Ingest and
    classify read ids through this, so they give such a comment the same id."""

    def __init__(self) -> None:
        self._seen: dict[str, bytes] = {}  # id -> a short hash of its text

    def see(self, cid: str, text: str) -> tuple[str, bool]:
        """The id *text* is to have, and whether it repeats an earlier comment word for word."""
        import hashlib

        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        if self._seen.get(cid, digest) != digest:  # the id of an earlier comment, other words
            cid = "c_" + hashlib.sha256(f"{cid}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        repeat = cid in self._seen
        self._seen.setdefault(cid, digest)
        return cid, repeat


def cut_long_texts(records: Iterable[T], limit: int, warn: Callable[[str], None] | None = None) -> Iterator[T]:
    """*records* (comments or anything with a ``text``) with texts over *limit* characters cut by
    ``cut_long``, one at a time; at the end one warning says how many and the longest. Every
    reader's comments pass through here (ingest and classify alike)."""
    cut = longest = 0
    for record in records:
        if len(record.text) > limit:
            longest = max(longest, len(record.text))
            record.text, _ = cut_long(record.text, limit)
            cut += 1
        yield record
    if cut and warn:
        warn(f"cut {cut:,} comment(s) longer than {limit:,} characters (the longest had {longest:,}); "
             "pass --max-comment-chars to raise the limit")
