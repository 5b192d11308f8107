"""One family of errors; each message says what was expected, what was found, and the fix."""

from __future__ import annotations

__all__ = [
    "CommentaryError",
    "InputError",
    "FormatError",
    "OutputExistsError",
    "CodebookError",
]


class CommentaryError(Exception):
    """An error the user can act on: the CLI prints it as one line and exits 1."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message


class InputError(CommentaryError):
    """An input file is missing, empty, binary, badly encoded or too large."""


class FormatError(CommentaryError):
    """An input file is readable but not in the format it claims to be."""


class OutputExistsError(CommentaryError):
    """The output already exists and --force was not given."""


class CodebookError(CommentaryError):
    """The codebook file is invalid, or a label is not in it."""
