"""Messages and progress on stderr; data never goes through here."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["ui", "UI"]


class UI:
    """Where messages go: stderr, quieter or louder as the user asked."""

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
        """Yield ``advance(n)``; shows a bar only on a terminal and when not quiet."""
        if self.verbosity < 0 or not sys.stderr.isatty():
            yield lambda n=1: None
            return
        from rich.progress import Progress

        with Progress(console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)


ui = UI()
