"""Read saved HTML pages: WordPress (classic and block themes), Drupal, and schema.org comments.

Structured data comes first: schema.org ``Comment`` items in JSON-LD, then in
microdata. Otherwise comments are found by the markup the common platforms
emit, and threads come from nesting (WordPress ``ol.children``, Drupal
``div.indented``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from ..errors import FormatError
from ..records import Article, Comment
from .base import ReadResult, article_id, clean_text, comment_id, drop_dangling, provenance
from .dates import parse_date
from .source import Source

__all__ = ["read_html"]

_COMMENT_SEL = (
    "li.comment, li.pingback, li.trackback, article.comment, div.comment, "
    '[itemtype$="schema.org/Comment"]'
)
_AUTHOR_SEL = (
    ".fn",
    ".wp-block-comment-author-name",
    ".comment__author",
    ".comment-author",
    '[itemprop="author"] [itemprop="name"]',
    '[itemprop="author"]',
    ".username",
    ".author",
)
_DATE_SEL = (
    "time[datetime]",
    "[data-comment-timestamp]",
    '[itemprop="dateCreated"]',
    '[itemprop="datePublished"]',
    ".wp-block-comment-date",
    ".comment-metadata",
    ".comment-date",
    ".comment__time",
    ".submitted",
)
_TEXT_SEL = (
    ".comment-content",
    ".wp-block-comment-content",
    ".comment__content",
    ".field--name-comment-body",
    ".field-name-comment-body",
    '[itemprop="text"]',
    ".comment-body",
    ".content",
)
_ARTICLE_TEXT_SEL = (
    '[itemprop="articleBody"]',
    ".entry-content",
    ".wp-block-post-content",
    ".field--name-body",
    ".field-name-body",
    ".node__content",
    ".post-content",
    "article",
    "main",
)
_BLOCKS = "p, div, li, h1, h2, h3, h4, h5, h6, blockquote, tr, pre, ul, ol"
_ARTICLE_TYPES = {"Article", "BlogPosting", "NewsArticle", "WebPage", "DiscussionForumPosting",
                  "SocialMediaPosting", "Report", "OpinionNewsArticle"}


def _text(node) -> str:
    """Visible text of *node* with paragraph breaks kept."""
    clone = node.clone() if hasattr(node, "clone") else node
    for br in clone.css("br"):
        br.replace_with("\n")
    for el in clone.css("script, style, noscript, template, .reply, .comment-reply-link"):
        el.decompose()
    for el in clone.css(_BLOCKS):
        el.insert_before("\n\n")
        el.insert_after("\n\n")
    return clean_text(clone.text(deep=True))


def _meta(tree, *selectors: str) -> str | None:
    for sel in selectors:
        node = tree.css_first(sel)
        if node is not None:
            val = node.attributes.get("content") or node.attributes.get("href") or node.text()
            if val and val.strip():
                return val.strip()
    return None


def _date_of(node) -> tuple[str | None, str | None]:
    if node is None:
        return None, None
    attrs = node.attributes
    if attrs.get("data-comment-timestamp", "").isdigit():
        stamp = dt.datetime.fromtimestamp(int(attrs["data-comment-timestamp"]), dt.UTC)
        return stamp.date().isoformat(), attrs["data-comment-timestamp"]
    raw = attrs.get("datetime") or attrs.get("content") or node.text(deep=True)
    raw = clean_text(raw).replace("\n", " ") if raw else None
    return parse_date(raw), raw


def _name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName")
    return str(value).strip() if value else None


def _types(item: dict) -> set[str]:
    t = item.get("@type", [])
    return {str(x).rsplit("/", 1)[-1] for x in (t if isinstance(t, list) else [t])}


def _jsonld_items(tree, result: ReadResult, name: str) -> list[dict]:
    items: list[dict] = []
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text(deep=True) or "null")
        except ValueError as exc:
            result.warnings.append(f"{name}: skipped a JSON-LD block that is not valid JSON ({exc})")
            continue
        stack = [data]
        while stack:
            cur = stack.pop()
            if isinstance(cur, list):
                stack.extend(reversed(cur))
            elif isinstance(cur, dict):
                if "@graph" in cur:
                    stack.append(cur["@graph"])
                if cur.get("@type"):
                    items.append(cur)
    return items


def _from_jsonld(tree, src: Source, result: ReadResult) -> bool:
    items = _jsonld_items(tree, result, src.name)
    art_item = next((i for i in items if _types(i) & _ARTICLE_TYPES), None)
    comments = [i for i in items if "Comment" in _types(i)]
    nested: list[tuple[dict, dict | None]] = []

    def walk(item: dict, parent: dict | None) -> None:
        nested.append((item, parent))
        kids = item.get("comment") or []
        for kid in kids if isinstance(kids, list) else [kids]:
            if isinstance(kid, dict):
                walk(kid, item)

    if art_item:
        kids = art_item.get("comment") or []
        for kid in kids if isinstance(kids, list) else [kids]:
            if isinstance(kid, dict):
                walk(kid, None)
    listed = {id(i) for i, _ in nested}
    for item in comments:
        if id(item) not in listed:
            walk(item, None)
    if not nested:
        return False
    art = _article(tree, src, art_item)
    result.articles.append(art)
    ids: dict[int, str] = {}
    by_ref: dict[str, str] = {}
    for pos, (item, _parent) in enumerate(nested):
        own = item.get("@id") or item.get("url") or item.get("identifier")
        ids[id(item)] = comment_id(art.id, own or f"jsonld#{pos}")
        if own:
            by_ref[str(own)] = ids[id(item)]
    for pos, (item, parent) in enumerate(nested):
        text = clean_text(_plain(str(item.get("text") or item.get("articleBody") or "")))
        if not text:
            result.skip("comment with no text")
            continue
        raw_date = item.get("dateCreated") or item.get("datePublished")
        parent_id = ids.get(id(parent)) if parent else None
        ref = item.get("parentItem")
        if parent_id is None and ref:
            parent_id = by_ref.get(str(ref.get("@id") if isinstance(ref, dict) else ref))
        result.comments.append(Comment(
            id=ids[id(item)], article_id=art.id, text=text, parent_id=parent_id,
            author=_name(item.get("author") or item.get("creator")),
            date=parse_date(str(raw_date)) if raw_date else None,
            date_text=str(raw_date) if raw_date else None,
            source_id=str(item.get("@id")) if item.get("@id") else None,
            place=f"JSON-LD comment {pos + 1}", **provenance(src),
        ))
    return True


def _plain(html: str) -> str:
    """The text of an HTML fragment (a comment or post body in an export), entities decoded with or
    without tags round it ("Fewer cars &amp; cleaner air." is WordPress's way to keep an ampersand)."""
    if "<" not in html:
        from html import unescape

        return unescape(html) if "&" in html else html
    from selectolax.lexbor import LexborHTMLParser

    return _text(LexborHTMLParser(html).body or LexborHTMLParser(html).root)


def _article(tree, src: Source, item: dict | None = None) -> Article:
    item = item or {}
    url = item.get("url") or _meta(tree, 'link[rel="canonical"]', 'meta[property="og:url"]')
    title = item.get("headline") or item.get("name") or _meta(
        tree, 'meta[property="og:title"]', "h1.entry-title", "h1.wp-block-post-title",
        "h1.page-title", "h1", "title",
    )
    published = item.get("datePublished") or _meta(
        tree, 'meta[property="article:published_time"]', "time.entry-date",
        ".wp-block-post-date time",
    )
    text = item.get("articleBody")
    if not text:
        for sel in _ARTICLE_TEXT_SEL:
            node = tree.css_first(sel)
            if node is not None:
                clone = node.clone()
                for el in clone.css(
                    f"{_COMMENT_SEL}, #comments, .comments-area, .wp-block-comments, "
                    "section.comments, .comment-respond, form, nav, footer, aside"
                ):
                    el.decompose()
                text = _text(clone)
                if text:
                    break
    key = url or title or src.name
    return Article(
        id=article_id("html", key), title=clean_text(title) or None, url=url,
        author=_name(item.get("author")) or _meta(tree, 'meta[name="author"]', '[rel="author"]'),
        published=parse_date(str(published)) if published else None,
        text=clean_text(_plain(str(text))) if text else None, **provenance(src),
    )


def _from_markup(tree, src: Source, result: ReadResult, opts) -> None:
    nodes = tree.css(_COMMENT_SEL)
    members = {n.mem_id: n for n in nodes}

    def owner(node):
        cur = node.parent
        while cur is not None:
            if cur.mem_id in members:
                return cur
            cur = cur.parent
        return None

    def own(node, selectors):
        for sel in selectors:
            for match in node.css(sel):
                if owner(match) is not None and owner(match).mem_id == node.mem_id:
                    return match
        return None

    art = _article(tree, src)
    result.articles.append(art)
    ids: dict[int, str] = {}
    for pos, node in enumerate(nodes):
        own_id = node.attributes.get("id") or ""
        own_id = re.sub(r"^(?:div-)?comment-", "", own_id) or None
        ids[node.mem_id] = comment_id(art.id, own_id or f"html#{pos}")
        classes = (node.attributes.get("class") or "").split()
        if "pingback" in classes or "trackback" in classes:
            if not opts.include_pingbacks:
                result.skip("pingback or trackback")
                continue
        up = owner(node)
        parent_id = ids.get(up.mem_id) if up is not None else _drupal_parent(node, members, ids)
        body = own(node, _TEXT_SEL)
        text = _text(body) if body is not None else ""
        if not text:
            result.skip("comment with no text")
            continue
        date, date_text = _date_of(own(node, _DATE_SEL))
        author = own(node, _AUTHOR_SEL)
        pending = own(node, (".comment-awaiting-moderation",)) is not None or "unpublished" in classes
        if pending and not opts.include_unapproved:  # as the WXR and Disqus readers leave them out
            result.skip("pending comment")
            continue
        result.comments.append(Comment(
            id=ids[node.mem_id], article_id=art.id, text=text, parent_id=parent_id,
            author=clean_text(author.text(deep=True)).replace("\n", " ") or None if author else None,
            date=date, date_text=date_text, status="pending" if pending else "approved",
            source_id=own_id, place=f"HTML comment {pos + 1}", **provenance(src),
        ))


def _drupal_parent(node, members, ids) -> str | None:
    """Drupal puts replies in a div.indented right after the comment they answer."""
    cur = node.parent
    while cur is not None and "indented" not in (cur.attributes.get("class") or "").split():
        cur = cur.parent
    if cur is None:
        return None
    prev = cur.prev
    while prev is not None and prev.mem_id not in members:
        prev = prev.prev
    return ids.get(prev.mem_id) if prev is not None else None


MAX_NESTING = 4_000  # real pages nest a few dozen deep, a few hundred at worst
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")
# Elements that never hold others, or whose end tag may be left out: they do not add depth.
_FLAT = frozenset("area base br col embed hr img input link meta source track wbr p li dt dd tr td th "
                  "option optgroup thead tbody tfoot colgroup caption rb rt rtc rp html head body".split())


def check_nesting(src: Source, text: str, limit: int = MAX_NESTING) -> None:
    """Refuse markup nested deeper than *limit*, in one linear pass: the HTML parser's time grows
    with the square of the depth (200,000 nested divs took three minutes)."""
    depth = 0
    for m in _TAG.finditer(text):
        closing, name, selfclosing = m.group(1), m.group(2).lower(), m.group(3)
        if name in _FLAT or selfclosing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        if depth > limit:
            line = text.count("\n", 0, m.start()) + 1
            raise FormatError(f"{src.name}: the markup nests more than {limit:,} elements deep (line {line}); "
                              "no page a browser saves does that",
                              fix="check the file is the saved page, or flatten its markup")


def read_html(src: Source, text: str, opts) -> ReadResult:
    """Read one saved HTML page into its article and comments."""
    from selectolax.lexbor import LexborHTMLParser

    check_nesting(src, text)
    tree = LexborHTMLParser(text)
    result = ReadResult()
    low = text[-2000:].lower()
    if "<html" in text[:4000].lower() and "</html>" not in low and "</body>" not in low:
        result.warnings.append(f"{src.name}: the page looks cut short (no closing </html>); "
                               "read what was there")
    if not _from_jsonld(tree, src, result):
        _from_markup(tree, src, result, opts)
        drop_dangling(result, src.name)  # replies to a pending comment left out
    art = result.articles[0]
    if not result.comments and not art.text and not art.title:
        raise FormatError(
            f"{src.name}: found no article and no comments in this HTML",
            fix="save the complete page (File > Save Page As), or pass --format text for a copy",
        )
    return result
