"""Read a blog page copied from the browser as plain text: title, article, then comment blocks.

A comment block is anchored on its date label (``Comment date`` and its usual
variants) followed by a date. The lines before the label give the commenter's
name and affiliation; the lines after the date, up to the next block or the end
marker (``Add your comment``), are the body. Where the name could be read two
ways, the reader takes the likelier reading and warns with the line number.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from ..errors import FormatError
from ..records import Article, Comment
from .base import ReadResult, article_id, clean_text, comment_id, provenance
from .dates import looks_like_date, parse_date
from .source import Source, check_line_lengths

__all__ = ["read_page_text", "section_signs"]

_LABEL = re.compile(
    r"^(comment(?:ed)?\s+(?:date|on)|posted(?:\s+on)?|submitted(?:\s+on)?|date(?:\s+posted)?)"
    r"\s*:?\s*(.*)$",
    re.IGNORECASE,
)
_STRONG_LABEL = re.compile(r"^comment", re.IGNORECASE)
_END = re.compile(
    r"^(?:(?:add|leave|post|write|submit)\s+(?:your\s+|a\s+|new\s+)?(?:comment|reply|response)s?"
    r"|comments?\s+(?:are\s+)?closed|join the (?:discussion|conversation)|(?:load|show|view|see)\s+(?:all\s+|more\s+)?"
    r"(?:\d+\s+)?(?:more\s+)?comments)\b",
    re.IGNORECASE,
)
_HEADING = r"\d*\s*comments?(?:\s*\(\d+\))?"  # "Comments", "4 Comments", "Comments (4)"
_BOILERPLATE = re.compile(
    r"^(?:this (?:content|page|post) relates to the following topics:?|share(?: this(?: \w+)?)?|"
    r"print(?: this page)?|related (?:content|articles|posts|reading)|read more|back to top|"
    r"skip to (?:main )?content|(?:tags?|topics?|filed under|categories)\s*:.*|"
    rf"{_HEADING}|log in to (?:comment|reply)|email|tweet|facebook|"
    r"twitter|linkedin|x|whatsapp|copy link)$",
    re.IGNORECASE,
)
_REPLY = re.compile(r"^(?:in\s+)?reply(?:ing)?\s+to\s+@?(.+?)\s*[.:,]?$", re.IGNORECASE)
_ACTION = re.compile(
    r"^(?:(?:reply|report|like|share|permalink|flag|report (?:this )?comment|reply to this comment|"
    r"\d+\s+likes?|recommend|\d+\s+recommend(?:s|ations)?|(?:like|likes|recommend|reply|replies)\s*\(\d+\)|"
    r"(?:show|view|hide|load)\s+(?:all\s+)?(?:\d+\s+)?(?:more\s+)?repl(?:y|ies))\s*[\u2190-\u21ff\u25b2-\u25bf]?"
    r"|(?:[\U0001F44D\U0001F44E\u2b06\u2b07\u2191\u2193\u25b2\u25bc]\ufe0f?\s*\d*\s*)+)$",
    re.IGNORECASE,
)
_AGO = re.compile(r"^(?:\d+|an?)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago$", re.IGNORECASE)
_SORT = re.compile(r"^sort(?:ed)?\s+by\b", re.IGNORECASE)
_BYLINE = re.compile(r"^(?:by|written by|author:)\s+(.{2,80})$", re.IGNORECASE)
_PUBLISHED = re.compile(r"^(?:published|posted|updated|date)\s*:?\s*(?:on\s+)?(.+)$", re.IGNORECASE)
_AFFIL_WORDS = re.compile(
    r"\b(?:ltd|limited|plc|cic|llp|inc|nhs|trust|foundation|university|college|council|"
    r"hospital|practice|surgery|consultancy|consulting|group|association|society|institute|"
    r"centre|center|services?|support|manager|management|director|officer|lead|leader|head|"
    r"chair|chief|nurse|doctor|gp|consultant|clinician|surgeon|physician|therapist|midwife|"
    r"paramedic|pharmacist|admin|administrator|analyst|adviser|advisor|student|retired|patient|"
    r"carer|volunteer|member|fellow|professor|lecturer|researcher|councillor|governor|trustee|"
    r"practitioner|worker|teacher|engineer|coordinator|co-ordinator|assistant|secretary|"
    r"commissioner|partner|founder|owner|ceo|cfo|pmo|hr|band\s*\d)\b",
    re.IGNORECASE,
)


@dataclass
class _Anchor:
    label: int  # line index of the date label
    date_line: int  # line index of the date (same as label when on one line)
    date_text: str | None


@dataclass
class _Block:
    anchor: _Anchor
    start: int  # first line of the header
    author: str | None = None
    affiliation: str | None = None
    reply_to: str | None = None
    body: list[str] = field(default_factory=list)


_INITIAL_END = re.compile(r"(?:^|\s)[A-Z]\.$")  # "Dave P.": a name may end in an initial's full stop


def _name_like(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 60 or (s[-1] in ".!?;:…\"'" and not _INITIAL_END.search(s)):
        return False
    return len(s.split()) <= 6 and not looks_like_date(s) and not _END.match(s)


def _person_like(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words)


def _affiliation_like(lines: list[str]) -> bool:
    return any(s.rstrip().endswith(",") or _AFFIL_WORDS.search(s) for s in lines)


def _find_anchors(lines: list[str], result: ReadResult, name: str) -> list[_Anchor]:
    anchors: list[_Anchor] = []
    for i, raw in enumerate(lines):
        m = _LABEL.match(raw.strip())
        if not m:
            continue
        rest = m.group(2).strip()
        if rest:
            if looks_like_date(rest):
                anchors.append(_Anchor(i, i, rest))
            continue
        j = next((k for k in range(i + 1, min(i + 3, len(lines))) if lines[k].strip()), None)
        if j is not None and looks_like_date(lines[j]):
            anchors.append(_Anchor(i, j, lines[j].strip()))
        elif _STRONG_LABEL.match(m.group(1)) and j is not None and len(lines[j].split()) <= 4:
            result.warnings.append(
                f"{name}: line {j + 1}: {lines[j].strip()!r} after {m.group(1)!r} is not a date "
                "I can read; kept as the date text with no date"
            )
            anchors.append(_Anchor(i, j, lines[j].strip()))
    return anchors


def _paragraphs(lines: list[str], lo: int, hi: int) -> list[list[int]]:
    paras: list[list[int]] = []
    current: list[int] = []
    for i in range(lo, hi):
        if lines[i].strip():
            current.append(i)
        elif current:
            paras.append(current)
            current = []
    if current:
        paras.append(current)
    return paras


def _read_header(lines, block: _Block, lo: int, split_layout: bool | None, result, name) -> bool | None:
    """Fill author, affiliation and reply_to from the lines before the label; return layout seen."""
    paras = _paragraphs(lines, lo, block.anchor.label)

    def header_only(para: list[int]) -> bool:
        return all(_REPLY.match(lines[i].strip()) or _ACTION.match(lines[i].strip()) for i in para)

    cleaned: list[list[int]] = []
    for n, para in enumerate(paras):
        kept = []
        for i in para:
            s = lines[i].strip()
            m = _REPLY.match(s)
            # "In reply to X" names this block's parent only beside its name: in the name's paragraph, or
            # in a paragraph of its own just before it; one that opens the previous comment's text is that
            # comment's own (its body reads it)
            if m and (n == len(paras) - 1 or (n == len(paras) - 2 and header_only(para))):
                block.reply_to = m.group(1)
            elif not _ACTION.match(s) and not _BOILERPLATE.match(s):  # "Reply", "Share", a "3 comments" heading
                kept.append(i)
        if kept:
            cleaned.append(kept)
    if not cleaned:
        block.start = block.anchor.label
        result.warnings.append(f"{name}: line {block.anchor.label + 1}: no commenter name before the date")
        return None
    p1 = cleaned[-1]
    p0 = cleaned[-2] if len(cleaned) > 1 else None
    p1_text = [lines[i].strip() for i in p1]
    p0_name = p0 is not None and len(p0) == 1 and _name_like(lines[p0[0]])
    p1_short = len(p1) <= 3 and all(len(t.split()) <= 12 for t in p1_text)
    layout: bool | None = None
    p1_name = _name_like(p1_text[0]) and p1_short
    if p0_name and p1_short and _affiliation_like(p1_text):
        use_split, layout = True, True
    elif p0_name and p1_name and _signs_off(lines, p0[0], lo):
        # "Kind regards" / "John Smith" / "Margaret Hill": the text above signed with its writer's name
        use_split, layout = False, None
    elif p0_name and p1_name:
        # Either "name / affiliation" or "end of the text above / name": follow the page's
        # layout where other blocks showed it, else how much the first line looks like a person.
        use_split = split_layout if split_layout is not None else _person_like(lines[p0[0]])
        result.warnings.append(
            f"{name}: line {p0[0] + 1}: {lines[p0[0]].strip()!r} could end the text above or "
            f"name the commenter; read it as {'the name' if use_split else 'text above'}"
        )
    elif p1_name:
        use_split, layout = False, (False if len(p1) >= 2 else None)
    else:
        block.start = p1[-1] + 1
        result.warnings.append(
            f"{name}: line {block.anchor.label + 1}: no commenter name before the date"
        )
        return None
    if use_split:
        block.author, block.affiliation = lines[p0[0]].strip(), " ".join(p1_text) or None
        block.start = p0[0]
    else:
        block.author = p1_text[0]
        block.affiliation = " ".join(p1_text[1:]) or None
        block.start = p1[0]
    if block.affiliation:
        block.affiliation = block.affiliation.rstrip(",").strip() or None
    return layout


_SIGN_OFF = re.compile(r"^(?:(?:kind|best|warm|warmest|many)\s+(?:regards|wishes|thanks)|regards|thanks|thank you|"
                       r"cheers|best|yours(?:\s+(?:sincerely|faithfully|truly))?|sincerely|all the best)[,.!]?$",
                       re.IGNORECASE)


def _signs_off(lines: list[str], at: int, lo: int) -> bool:
    """Whether the last non-blank line before line *at* (and at or after *lo*) is a letter's sign-off,
    so that the name on line *at* signs the text above rather than naming the next commenter."""
    k = next((i for i in range(at - 1, lo - 1, -1) if lines[i].strip()), None)
    return k is not None and bool(_SIGN_OFF.match(lines[k].strip()))


def section_signs(text: str) -> list[str]:
    """What in *text* shows a comment section copied from a browser, by the lines this reader knows
    around comments: a comments heading, buttons, relative times, end markers, sort controls. A file
    with two kinds of them but no comment labels is a page whose comments cannot be told apart."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kinds = {"a comments heading": re.compile(rf"^{_HEADING}$", re.IGNORECASE),
             "Reply, Report or Like buttons": _ACTION, "times like '3 hours ago'": _AGO,
             "'Load more comments' or 'Add your comment'": _END, "'Sort by' controls": _SORT}
    return [what for what, pattern in kinds.items() if any(pattern.match(line) for line in lines)]


def _article_fields(lines: list[str]) -> tuple[str | None, str | None, list[str]]:
    author = published = None
    kept: list[str] = []
    for k, raw in enumerate(lines):
        s = raw.strip()
        if _BOILERPLATE.match(s):
            continue
        if k < 8 and author is None and (m := _BYLINE.match(s)):
            author = m.group(1).strip()
            continue
        if k < 8 and published is None and s and (
            looks_like_date(s) or ((m := _PUBLISHED.match(s)) and looks_like_date(m.group(1)))
        ):
            published = parse_date(s if looks_like_date(s) else m.group(1))
            continue
        kept.append(raw)
    return author, published, kept


def _author_key(name: str) -> str:
    """A commenter's name as a reply names it ("In reply to Dave P." for "Dave P.")."""
    return name.strip().rstrip(".:,").strip().lower()


def read_page_text(src: Source, text: str) -> ReadResult:
    """Read one copied page into one article and its comments."""
    check_line_lengths(src, text)
    result = ReadResult()
    lines = text.split("\n")
    first = next((i for i, s in enumerate(lines) if s.strip()), None)
    if first is None:
        raise FormatError(f"{src.name} has no text", fix="pass a page with a title and an article")
    anchors = _find_anchors(lines, result, src.name)
    search_from = anchors[-1].date_line + 1 if anchors else first + 1
    end = next((i for i in range(search_from, len(lines)) if _END.match(lines[i].strip())), len(lines))
    blocks = [_Block(a, a.label) for a in anchors if a.label < end]
    layout_votes: list[bool] = []
    for pass_no in (0, 1):
        hint = (sum(layout_votes) > len(layout_votes) / 2) if layout_votes else None
        saved = len(result.warnings)
        for k, block in enumerate(blocks):
            lo = blocks[k - 1].anchor.date_line + 1 if k else first + 1
            seen = _read_header(lines, block, lo, hint, result, src.name)
            if pass_no == 0 and seen is not None:
                layout_votes.append(seen)
        if pass_no == 0:
            del result.warnings[saved:]
    for k, block in enumerate(blocks):
        stop = blocks[k + 1].start if k + 1 < len(blocks) else end
        body = [lines[i] for i in range(block.anchor.date_line + 1, stop)]
        while body and (not body[-1].strip() or _ACTION.match(body[-1].strip())):
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if body and (m := _REPLY.match(body[0].strip())):
            block.reply_to = block.reply_to or m.group(1)
            body.pop(0)
        block.body = body
    title = lines[first].strip()
    art_end = blocks[0].start if blocks else end
    author, published, art_lines = _article_fields(lines[first + 1 : art_end])
    art = Article(
        id=article_id("page", title.lower()),
        title=title,
        author=author,
        published=published,
        text=clean_text("\n".join(art_lines)) or None,
        **provenance(src),
    )
    result.articles.append(art)
    seen_keys: dict[str, int] = {}
    by_author: dict[str, list[str]] = {}
    for block in blocks:
        body = clean_text("\n".join(block.body))
        if not body:
            result.skip("comment block with no text")
            result.warnings.append(f"{src.name}: line {block.start + 1}: comment with no text, skipped")
            continue
        date = parse_date(block.anchor.date_text)
        # a date text that does not even look like one was named where its label was found
        if block.anchor.date_text and date is None and looks_like_date(block.anchor.date_text):
            result.warnings.append(
                f"{src.name}: line {block.anchor.date_line + 1}: could not read a full date from "
                f"{block.anchor.date_text!r}; kept the text, date left empty"
            )
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        key = f"{block.author}|{block.anchor.date_text}|{digest}"
        seen_keys[key] = seen_keys.get(key, 0) + 1
        parent = None
        if block.reply_to:
            target = by_author.get(_author_key(block.reply_to))
            if target:
                parent = target[-1]
            else:
                result.warnings.append(
                    f"{src.name}: line {block.start + 1}: reply to {block.reply_to!r}, who has no "
                    "earlier comment on this page; kept without a parent"
                )
        com = Comment(
            id=comment_id(art.id, f"{key}|{seen_keys[key]}"),
            article_id=art.id,
            text=body,
            parent_id=parent,
            author=block.author,
            affiliation=block.affiliation,
            date=date,
            date_text=block.anchor.date_text,
            place=f"line {block.start + 1}",
            **provenance(src),
        )
        if block.author:
            by_author.setdefault(_author_key(block.author), []).append(com.id)
        result.comments.append(com)
    return result
