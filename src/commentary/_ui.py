"""Messages and progress on stderr; data never goes through here."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["ui", "UI"]


class UI:
    """Where messages go: stderr, quieter or louder as the user asked."""

    PLAIN_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal

    def __init__(self) -> None:
        self.verbosity = 0
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    def reset(self) -> None:
        """Forget the console (tests swap stderr between runs)."""
        self._console = None

    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            self.console.print(message, markup=False)

    def good(self, message: str) -> None:
        if self.verbosity >= 0:
            self.console.print(f"✔ {message}", markup=False)

    def warn(self, message: str) -> None:
        if self.verbosity >= 0:
            self.console.print(f"⚠ {message}", markup=False)

    def debug(self, message: str) -> None:
        if self.verbosity > 0:
            self.console.print(message, markup=False)

    def error(self, message: str) -> None:
        self.console.print(f"✘ {message}", markup=False)

    def table(self, table) -> None:
        if self.verbosity >= 0:
            self.console.print(table)

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator:
        """Yield ``advance(n, note=None)``: a bar on a terminal; elsewhere (a pipe, a CI log) a line every
        ``PLAIN_EVERY`` seconds with the count and rate, and one at the end when it took that long. A
        *note* (counts of another kind, say) is shown beside the bar or the line."""
        if self.verbosity < 0:
            yield lambda n=1, note=None: None
            return
        if not sys.stderr.isatty():
            import time

            start = last = time.monotonic()
            done = [0]

            def advance(n=1, note: str | None = None) -> None:
                nonlocal last
                done[0] += n
                now = time.monotonic()
                if now - last >= self.PLAIN_EVERY:
                    last = now
                    of = f" of {total:,.0f}" if total else ""
                    extra = f"; {note}" if note else ""
                    self.info(f"{description}: {done[0]:,}{of} done ({done[0] / (now - start):,.1f}/s){extra}")

            yield advance
            if time.monotonic() - start >= self.PLAIN_EVERY and done[0]:
                self.info(f"{description}: {done[0]:,} done in {time.monotonic() - start:,.0f} s")
            return
        from rich.progress import Progress

        with Progress(console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total)

            def advance(n=1, note: str | None = None) -> None:
                bar.update(task, advance=n, description=f"{description} ({note})" if note else description)

            yield advance


ui = UI()
