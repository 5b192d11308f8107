"""Annotation in the terminal: one comment at a time, a keystroke per decision.

The screen shows the article title, the comment (and the comment it replies to),
and the promoted model's suggestion, which is preselected so Enter accepts it.
Keys: a stance letter, a digit to toggle a theme, Enter to save, ``s`` to skip,
``q`` to quit. Each answer is appended to the labels file and flushed to disk at
once, so Ctrl-C or a crash loses nothing; running the same command again resumes
after the last saved answer. The queue is a seeded shuffle, or, with
``--order uncertainty``, the comments the model is least sure of first (active
learning).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .codebook import Codebook
from .errors import CommentaryError, UsageError
from .records import Article, Comment, Labels

__all__ = ["Item", "Session", "build_items", "order_queue", "read_done", "keys_from", "main_loop", "ORDERS"]

ORDERS = ("shuffle", "uncertainty")
ENTER = {"\r", "\n"}


@dataclass
class Item:
    comment: Comment
    title: str | None
    parent: str | None = None
    suggestion: dict[str, Any] | None = None
    article_text: str | None = None


COMMAND_KEYS = "squr"  # skip, quit, undo, read the article (with ?, space and Enter)


def stance_keys(codebook: Codebook) -> dict[str, str]:
    """A letter per stance: its first letter not yet taken (and never a command key)."""
    keys: dict[str, str] = {}
    for sid in codebook.stance_ids:
        for ch in sid.lower():
            if ch.isalpha() and ch not in keys and ch not in COMMAND_KEYS:
                keys[ch] = sid
                break
        else:
            raise CommentaryError(f"no free key for stance {sid!r}", fix="rename the stance labels")
    return keys


def theme_keys(codebook: Codebook) -> dict[str, str]:
    symbols = "123456789" + "0" + "bcefghijklnoprtuvwxyz"
    free = [c for c in symbols if c not in stance_keys(codebook) and c not in COMMAND_KEYS]
    if len(codebook.theme_ids) > len(free):
        raise CommentaryError("too many themes for one keystroke each", fix="use an annotation tool export")
    return dict(zip(free, codebook.theme_ids))


def uncertainty(pred: dict[str, Any]) -> float:
    """High when the stance margin is thin or a theme sits near its threshold."""
    probs = sorted(pred["stance_probs"].values(), reverse=True)
    margin = probs[0] - (probs[1] if len(probs) > 1 else 0.0)
    near = [1 - abs(p - pred["thresholds"][t]) / max(pred["thresholds"][t], 1 - pred["thresholds"][t])
            for t, p in pred["theme_probs"].items()]
    return (1 - margin) + (max(near) if near else 0.0)


def order_queue(items: list[Item], order: str, seed: int) -> list[Item]:
    if order not in ORDERS:
        raise UsageError(f"unknown order {order!r}", fix=f"use one of {', '.join(ORDERS)}")
    if order == "uncertainty":
        if not all(i.suggestion for i in items):
            raise CommentaryError("--order uncertainty needs a model's suggestions",
                                  fix="train and promote a model first, or use --order shuffle")
        return sorted(items, key=lambda i: (-uncertainty(i.suggestion), i.comment.id))
    out = sorted(items, key=lambda i: i.comment.id)
    random.Random(seed).shuffle(out)
    return out


def build_items(articles: Sequence[Article], comments: Sequence[Comment],
                suggestions: dict[str, dict[str, Any]] | None) -> list[Item]:
    arts = {a.id: a for a in articles}
    texts = {c.id: c.text for c in comments}
    items = []
    for c in comments:
        art = arts.get(c.article_id)
        items.append(Item(c, art.title if art else None, texts.get(c.parent_id) if c.parent_id else None,
                          (suggestions or {}).get(c.id), art.text if art else None))
    return items


def read_done(path: Path, annotator: str, codebook: Codebook) -> set[str]:
    """Comment ids this annotator has already labelled in *path* (to resume)."""
    from .label.io import read_labels_file

    if not path.exists() or path.stat().st_size == 0:
        return set()
    labels = read_labels_file(path, codebook, per_annotator=True)
    for lab in labels:
        if lab.codebook_version and lab.codebook_version != codebook.version:
            raise CommentaryError(f"{path} holds labels made with codebook {lab.codebook_version}, "
                                  f"this is {codebook.version}", fix="annotate into a new file with -o")
    return {lab.comment_id for lab in labels if lab.annotator == annotator}


@dataclass
class Session:
    """The state of one annotation run; ``press`` takes a key and says what happened."""

    items: list[Item]
    codebook: Codebook
    annotator: str
    output: Path
    done: set[str] = field(default_factory=set)
    position: int = 0
    stance: str | None = None
    themes: list[str] = field(default_factory=list)
    saved: int = 0
    skipped: int = 0
    message: str = ""
    writer: Any = None  # a LabelsAppender held for the session (its lock keeps a second session out)
    view: str = "comment"  # or "help" (the codebook) or "article" (the article's text)
    page: int = 0  # which screenful of a long comment
    history: list = field(default_factory=list)  # ("saved" | "skipped", position) for undo

    def __post_init__(self) -> None:
        self.skeys = stance_keys(self.codebook)
        self.tkeys = theme_keys(self.codebook)
        self.queue = [i for i in self.items if i.comment.id not in self.done]
        self._load_current()

    @property
    def current(self) -> Item | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    def _load_current(self) -> None:
        item = self.current
        s = item.suggestion if item else None
        self.stance = s["stance"] if s else None
        self.themes = list(s["themes"]) if s else []

    def _save(self) -> None:
        item = self.current
        lab = Labels(comment_id=item.comment.id, stance=self.stance, themes=[t for t in self.codebook.theme_ids
                                                                           if t in self.themes],
                     annotator=self.annotator, created=datetime.now(UTC).isoformat(timespec="seconds"),
                     codebook_version=self.codebook.version)
        if self.writer is None:
            from .label.io import LabelsAppender

            self.writer = LabelsAppender(self.output)  # held (and locked) until the session ends
        self.writer.append(lab)
        self.done.add(item.comment.id)
        self.saved += 1

    def press(self, key: str) -> str:
        """Apply one key; returns "quit", "saved", "skipped", "changed" or "ignored"."""
        if self.current is None:
            return "quit"
        self.message = ""
        if key in ("q", "\x04"):
            return "quit"
        if key == "?":
            self.view = "comment" if self.view == "help" else "help"
            return "changed"
        if key == "r":
            self.view = "comment" if self.view == "article" else "article"
            return "changed"
        if key == " ":
            self.page += 1  # render wraps round to the first page
            return "changed"
        if key == "u":
            return self._undo()
        self.view = "comment"
        if key in self.skeys:
            self.stance = self.skeys[key]
            return "changed"
        if key in self.tkeys:
            t = self.tkeys[key]
            self.themes = [x for x in self.themes if x != t] if t in self.themes else self.themes + [t]
            return "changed"
        if key in ENTER:
            if self.stance is None:
                self.message = "pick a stance first"
                return "ignored"
            self._save()
            self.history.append(("saved", self.position))
            self.position += 1
            self.page = 0
            self._load_current()
            return "saved"
        if key == "s":
            self.skipped += 1
            self.history.append(("skipped", self.position))
            self.position += 1
            self.page = 0
            self._load_current()
            return "skipped"
        self.message = f"key {key!r} does nothing here; ? shows the keys and the codebook"
        return "ignored"

    def _undo(self) -> str:
        """Back to the previous comment; a label saved for it in this session is taken back from the file."""
        if not self.history:
            self.message = "nothing to undo in this session"
            return "ignored"
        what, position = self.history.pop()
        self.position, self.page, self.view = position, 0, "comment"
        item = self.current
        if what == "saved":
            self.writer.undo()
            self.done.discard(item.comment.id)
            self.saved -= 1
            self.message = f"took back the label of {item.comment.id}"
        else:
            self.skipped -= 1
            self.message = f"back to {item.comment.id}"
        self._load_current()
        return "undone"


def render(session: Session, console) -> None:
    """Draw the current comment and choices (rich)."""
    from rich.panel import Panel
    from rich.text import Text

    item = session.current
    total = len(session.items)
    console.clear()
    head = Text(f"commentary annotate · {len(session.done)} of {total} labelled · annotator {session.annotator}",
                style="bold")
    console.print(head)
    if item is None:
        console.print("Nothing left to label.")
        return
    console.print(Text(f"Article: {item.title or item.comment.article_id or '(unknown)'}", style="cyan"))
    if session.view == "help":
        console.print(Panel(Text(help_text(session)), title="keys and the codebook (? to close)", title_align="left"))
        return
    if session.view == "article":
        text = item.article_text or "(no article text in this dataset)"
        console.print(Panel(Text(_window(text, session, console, reserve=6)), title="article (r to close)",
                            title_align="left"))
        return
    if item.parent:
        excerpt = item.parent if len(item.parent) <= 300 else item.parent[:297] + "..."
        console.print(Panel(Text(excerpt, style="dim"), title="in reply to", title_align="left"))
    who = f" · {item.comment.author}" if item.comment.author else ""
    body = _window(item.comment.text, session, console, reserve=16 + (6 if item.parent else 0))
    console.print(Panel(Text(body), title=f"comment {item.comment.id}{who}", title_align="left"))
    s = item.suggestion
    if s:
        themes = ", ".join(s["themes"]) or "none"
        console.print(Text(f"model suggests: {s['stance']} ({s['stance_probs'][s['stance']]:.2f}); themes: {themes}",
                           style="magenta"))
    line = Text("Stance: ")
    for k, sid in session.skeys.items():
        line.append(f"[{k}] {sid}  ", style="bold reverse" if sid == session.stance else "")
    console.print(line)
    line = Text("Themes: ")
    for k, t in session.tkeys.items():
        line.append(f"[{k}] {t}  ", style="bold reverse" if t in session.themes else "")
    console.print(line)
    console.print(Text(f"Selected: {session.stance or '-'} | {', '.join(session.themes) or 'no themes'}",
                       style="bold green"))
    console.print(Text("Enter save · s skip · u undo · r article · space more · ? help · q quit "
                       "(every saved answer is already on disk)", style="dim"))
    if session.message:
        console.print(Text(session.message, style="yellow"))


def _window(text: str, session: Session, console, *, reserve: int) -> str:
    """The screenful of *text* that fits under the fixed header and above the keys (space pages on)."""
    import textwrap

    width = max(20, console.width - 4)
    lines = [w for para in text.split("\n") for w in (textwrap.wrap(para, width) or [""])]
    room = max(4, console.height - reserve)
    if len(lines) <= room:
        return "\n".join(lines)
    pages = (len(lines) + room - 2) // (room - 1)
    k = session.page % pages
    part = lines[k * (room - 1):(k + 1) * (room - 1)]
    return "\n".join(part) + f"\n[page {k + 1} of {pages}: space for more]"


def help_text(session: Session) -> str:
    book = session.codebook
    out = ["Keys: " + ", ".join(f"{k} {v}" for k, v in session.skeys.items()) + " (stance); "
           + ", ".join(f"{k} {v}" for k, v in session.tkeys.items()) + " (themes, toggle)",
           "Enter save · s skip · u undo (takes back the last label) · r the article's text · "
           "space next page of a long comment · q quit", ""]
    for group, labels in (("Stance (one)", book.stances), ("Themes (any)", book.themes)):
        out.append(group)
        for lab in labels:
            out.append(f"  {lab.id}: {lab.description}")
    return "\n".join(out)


def keys_from(stream) -> Iterator[str]:
    """Single keystrokes: raw from a terminal, else characters from the stream (for scripts)."""
    if stream.isatty():
        import termios
        import tty

        fd = stream.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)  # keys arrive one by one; Ctrl-C still interrupts
            while True:
                ch = os.read(fd, 1).decode("utf-8", "replace")
                if not ch:
                    return
                yield ch
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    else:
        while True:
            ch = stream.read(1)
            if not ch:
                return
            yield ch


def run(session: Session, keys: Iterator[str], draw: Callable[[Session], None]) -> Session:
    draw(session)
    for key in keys:
        if session.press(key) == "quit" or session.current is None:
            break
        draw(session)
    draw(session)
    return session


def main_loop(session: Session, console=None) -> Session:
    from rich.console import Console

    console = console or Console(highlight=False)
    return run(session, keys_from(sys.stdin), lambda s: render(s, console))
