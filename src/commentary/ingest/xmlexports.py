"""Read WordPress WXR and Disqus XML exports, parsed with defusedxml."""

from __future__ import annotations

import re

from ..errors import FormatError
from ..records import Article, Comment
from .base import (
    STATUS_WORDS,
    ReadOptions,
    ReadResult,
    article_id,
    clean_text,
    comment_id,
    drop_dangling,
    provenance,
)
from .dates import parse_date
from .html import _plain
from .source import Source

__all__ = ["parse_xml", "read_wxr", "read_disqus"]

WP = "{http://wordpress.org/export/1.2/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
DSQ = "{http://disqus.com}"
DSQ_INTERNAL = "{http://disqus.com/disqus-internals}id"


_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml\b[^?>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def parse_xml(src: Source, text: str):
    """Parse XML safely: entities, DTDs and external references are refused."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    # *text* is decoded already (a UTF-16 export included) and is parsed as UTF-8: the declaration's
    # encoding, which named the file's bytes, would contradict that and is dropped
    text = _DECLARED_ENCODING.sub(r"\1", text, count=1)
    try:
        return DET.fromstring(text.encode("utf-8"), forbid_dtd=False)
    except DefusedXmlException as exc:
        raise FormatError(
            f"{src.name}: refused unsafe XML ({type(exc).__name__}: entity or external reference)",
            fix="export the file again from the platform; commentary never expands XML entities",
        ) from exc
    except ParseError as exc:
        line, col = exc.position
        raise FormatError(
            f"{src.name}: line {line}, column {col}: not well-formed XML ({exc})",
            fix="the export looks truncated or damaged; export it again",
        ) from exc


def _wp_ns(root) -> str:
    for el in root.iter():
        if el.tag.startswith("{http://wordpress.org/export/"):
            return el.tag.split("}")[0] + "}"
    return WP


def read_wxr(src: Source, text: str, opts: ReadOptions) -> ReadResult:
    """Read posts and their comments from a WordPress export (WXR)."""
    root = parse_xml(src, text)
    wp = _wp_ns(root)
    result = ReadResult()
    channel = root.find("channel")
    if channel is None:
        raise FormatError(f"{src.name}: no <channel> in this WXR file", fix="export it again from WordPress")
    for n, item in enumerate(channel.findall("item"), 1):
        ptype = item.findtext(f"{wp}post_type") or "post"
        if ptype in ("attachment", "nav_menu_item", "revision", "wp_block", "wp_navigation"):
            result.skip(f"{ptype} item")
            continue
        post_id = item.findtext(f"{wp}post_id") or f"item{n}"
        art = Article(
            id=article_id("wxr", item.findtext("link") or post_id),
            title=(item.findtext("title") or "").strip() or None,
            url=(item.findtext("link") or "").strip() or None,
            author=(item.findtext(f"{DC}creator") or "").strip() or None,
            published=parse_date(item.findtext(f"{wp}post_date_gmt") or item.findtext(f"{wp}post_date")),
            text=clean_text(_plain(item.findtext(f"{CONTENT}encoded") or "")) or None,
            **provenance(src),
        )
        result.articles.append(art)
        comments = item.findall(f"{wp}comment")
        for c in comments:
            cid = c.findtext(f"{wp}comment_id") or ""
            ctype = (c.findtext(f"{wp}comment_type") or "").strip()
            if ctype in ("pingback", "trackback") and not opts.include_pingbacks:
                result.skip("pingback or trackback")
                continue
            status = STATUS_WORDS.get((c.findtext(f"{wp}comment_approved") or "1").strip(), "pending")
            if status != "approved" and not opts.include_unapproved:
                result.skip(f"{status} comment")
                continue
            body = clean_text(_plain(c.findtext(f"{wp}comment_content") or ""))
            if not body:
                result.skip("comment with no text")
                continue
            parent = (c.findtext(f"{wp}comment_parent") or "0").strip()
            raw_date = c.findtext(f"{wp}comment_date_gmt") or c.findtext(f"{wp}comment_date")
            result.comments.append(Comment(
                id=comment_id(art.id, cid), article_id=art.id, text=body,
                parent_id=comment_id(art.id, parent) if parent not in ("", "0") else None,
                author=(c.findtext(f"{wp}comment_author") or "").strip() or None,
                date=parse_date(raw_date), date_text=raw_date, status=status,
                source_id=cid or None, place=f"post {post_id}, comment {cid}", **provenance(src),
            ))
    drop_dangling(result, src.name)
    return result


def _flag(el, name: str) -> bool:
    return (el.findtext(f"{DSQ}{name}") or "false").strip().lower() == "true"


def read_disqus(src: Source, text: str, opts: ReadOptions) -> ReadResult:
    """Read threads and posts from a Disqus XML export."""
    root = parse_xml(src, text)
    result = ReadResult()
    threads: dict[str, Article] = {}
    for th in root.findall(f"{DSQ}thread"):
        dsq_id = th.get(DSQ_INTERNAL) or ""
        link = (th.findtext(f"{DSQ}link") or "").strip()
        art = Article(
            id=article_id("disqus", link or dsq_id),
            title=(th.findtext(f"{DSQ}title") or "").strip() or None,
            url=link or None,
            author=(th.findtext(f"{DSQ}author/{DSQ}name") or "").strip() or None,
            published=parse_date(th.findtext(f"{DSQ}createdAt")),
            text=clean_text(_plain(th.findtext(f"{DSQ}message") or "")) or None,
            **provenance(src),
        )
        threads[dsq_id] = art
    used: set[str] = set()
    for n, post in enumerate(root.findall(f"{DSQ}post"), 1):
        pid = post.get(DSQ_INTERNAL) or f"post{n}"
        thread_el = post.find(f"{DSQ}thread")
        art = threads.get(thread_el.get(DSQ_INTERNAL) if thread_el is not None else "")
        if art is None:
            result.skip("post whose thread is not in the export")
            continue
        status = "spam" if _flag(post, "isSpam") else "deleted" if _flag(post, "isDeleted") else "approved"
        if status != "approved" and not opts.include_unapproved:
            result.skip(f"{status} post")
            continue
        body = clean_text(_plain(post.findtext(f"{DSQ}message") or ""))
        if not body:
            result.skip("post with no text")
            continue
        parent_el = post.find(f"{DSQ}parent")
        parent = parent_el.get(DSQ_INTERNAL) if parent_el is not None else None
        author = post.findtext(f"{DSQ}author/{DSQ}name") or post.findtext(f"{DSQ}author/{DSQ}username")
        raw_date = post.findtext(f"{DSQ}createdAt")
        used.add(art.id)
        result.comments.append(Comment(
            id=comment_id(art.id, pid), article_id=art.id, text=body,
            parent_id=comment_id(art.id, parent) if parent else None,
            author=(author or "").strip() or None, date=parse_date(raw_date), date_text=raw_date,
            status=status, source_id=pid, place=f"post {n} (dsq:id {pid})", **provenance(src),
        ))
    result.articles = list(threads.values())
    if not threads and not result.comments:
        raise FormatError(f"{src.name}: no <thread> or <post> in this Disqus export",
                          fix="export it again from the Disqus admin")
    drop_dangling(result, src.name)
    return result
