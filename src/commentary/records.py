"""Typed records that flow between stages, their stable ids, and their on-disk schema."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "Article",
    "Comment",
    "Labels",
    "STATUSES",
    "stable_id",
    "ARTICLE_FIELDS",
    "COMMENT_FIELDS",
    "LABEL_FIELDS",
]

STATUSES = ("approved", "pending", "spam", "deleted")


def stable_id(prefix: str, *parts: object) -> str:
    """Return a short id that depends only on *parts*, so re-ingesting gives the same id."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{prefix}_{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"


@dataclass(slots=True)
class Article:
    """An article, blog post or thread that comments are posted under."""

    id: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    published: str | None = None
    text: str | None = None
    source: str | None = None
    source_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ARTICLE_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(**{k: data.get(k) for k in ARTICLE_FIELDS})


@dataclass(slots=True)
class Comment:
    """One comment, with its place in a thread and where it came from.

    ``date`` is ISO 8601 and only as precise as the source: ``2014-05-22``,
    ``2014-05`` when the day is missing, or ``None``; ``date_text`` keeps the
    original words. ``place`` says where in the source file it was found
    (``line 57``, ``row 12``, ``item 3``). ``meta`` holds extra source columns
    as a JSON object string.
    """

    id: str
    article_id: str | None
    text: str
    parent_id: str | None = None
    author: str | None = None
    affiliation: str | None = None
    date: str | None = None
    date_text: str | None = None
    status: str = "approved"
    source_id: str | None = None
    source: str | None = None
    source_sha256: str | None = None
    place: str | None = None
    meta: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COMMENT_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comment:
        values = {k: data.get(k) for k in COMMENT_FIELDS}
        values["status"] = values["status"] or "approved"
        return cls(**values)


@dataclass(slots=True)
class Labels:
    """The codebook labels for one comment, and who gave them."""

    comment_id: str
    stance: str | None
    themes: list[str] = field(default_factory=list)
    annotator: str | None = None
    created: str | None = None
    codebook_version: str | None = None
    weak: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in LABEL_FIELDS}
        data["themes"] = list(self.themes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Labels:
        values = {k: data.get(k) for k in LABEL_FIELDS}
        values["themes"] = list(values["themes"] or [])
        values["weak"] = bool(values["weak"])
        return cls(**values)


ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
COMMENT_FIELDS = tuple(f.name for f in fields(Comment))
LABEL_FIELDS = tuple(f.name for f in fields(Labels))
