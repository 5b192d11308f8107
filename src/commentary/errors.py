"""One family of errors; each message says what was expected, what was found, and the fix."""

from __future__ import annotations

__all__ = [
    "CommentaryError",
    "InputError",
    "FormatError",
    "OutputExistsError",
    "CodebookError",
    "describe",
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


class UsageError(CommentaryError):
    """An option's value or a combination of options the command cannot take: exit code 2, as a usage
    error the command-line parser finds itself."""

    exit_code = 2


class InputError(CommentaryError):
    """An input file is missing, empty, binary, badly encoded or too large."""


class FormatError(CommentaryError):
    """An input file is readable but not in the format it claims to be."""


class OutputExistsError(CommentaryError):
    """The output already exists and --force was not given."""


class CodebookError(CommentaryError):
    """The codebook file is invalid, or a label is not in it."""


_OS_FIXES = {
    "EACCES": "check the permissions of that path, or choose another",
    "EPERM": "check the permissions of that path, or choose another",
    "ENOSPC": "free some disk space and run it again",
    "EDQUOT": "free some of your disk quota and run it again",
    "EFBIG": "the file grew past the size this system allows; write to another disk",
    "EISDIR": "a folder is where a file was expected: name a file",
    "ENOTDIR": "a file is where a folder was expected: check the path",
    "ENAMETOOLONG": "use a shorter file name",
    "ENOENT": "check the path",
    "EROFS": "that file system is read-only: choose a writable place",
    "EMFILE": "too many open files: raise the limit (ulimit -n) or pass fewer inputs",
    "ENOTEMPTY": "the folder is not empty: choose another path",
    "EEXIST": "it already exists: choose another path",
}


def describe(exc: BaseException) -> str:
    """One line for an error raised by the operating system or a library: what failed, on what, the fix.

    The CLI's boundary prints this for anything that is not a CommentaryError, so no
    failure reaches the user as a traceback (COMMENTARY_DEBUG=1 shows it instead).
    """
    import errno

    if isinstance(exc, CommentaryError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        code = errno.errorcode.get(exc.errno, "")
        where = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
        what = exc.strerror or str(exc)
        return f"{where + ': ' if where else ''}{what}; {_OS_FIXES.get(code, 'check the path and try again')}"
    if isinstance(exc, MemoryError):
        return ("ran out of memory; pass fewer comments at once (a smaller --batch-size, or split the input), "
                "or use a machine with more memory")
    if isinstance(exc, RecursionError):
        return "the input nests too deeply to read (thousands of levels); flatten it, or check it is what you meant"
    if isinstance(exc, UnicodeError):
        return f"text that cannot be encoded or decoded ({exc}); remove the broken characters, or pass --encoding"
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if module in ("pyarrow", "safetensors", "skops", "tomllib", "json", "zipfile"):
        return f"a damaged or unreadable file ({module}: {detail[:300]}); check the file, or make it again"
    return (f"unexpected {name}: {detail[:300]}; run again with COMMENTARY_DEBUG=1 for the details, "
            "and report it if the input looks fine")
