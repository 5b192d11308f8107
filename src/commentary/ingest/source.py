"""Read a source file's bytes safely: empty, binary, badly encoded and oversized input fail clearly."""

from __future__ import annotations

import codecs
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

__all__ = ["Source", "open_source", "decode", "strip_controls", "MAX_LINE_CHARS", "check_line_lengths", "check_binary",
           "wide_encoding", "is_utf8", "AUTO"]

# No comment page or record line is anywhere near this long; a longer line means the
# wrong file (a minified bundle, a dump, a binary blob) rather than comments.
MAX_LINE_CHARS = 1_000_000
_BINARY_BYTES = (*range(0, 9), *range(14, 27), *range(28, 32))
# C0 and C1 control characters but tab and line ends (C1's U+009B starts an escape sequence in some
# terminals, and in UTF-8 text C1 comes only from mis-decoding), zero-width spaces and stray BOMs
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")


@dataclass
class Source:
    """A source file's name, raw bytes and hash; ``text`` is filled by ``decode``."""

    name: str
    data: bytes
    sha256: str
    path: Path | None = None
    text: str = ""
    control_chars: int = 0
    warnings: list[str] = field(default_factory=list)
    wide: str | None = None  # the UTF-16 or UTF-32 codec the file was in; ``data`` then holds it as UTF-8


# UTF-32's marks first: UTF-32LE's starts with UTF-16LE's
_WIDE_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
               (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


# The default --encoding: UTF-8, or, for a file that is not, the encoding it most likely has (with a
# warning). An explicit --encoding utf-8 is taken at its word: a file that is not UTF-8 is refused.
AUTO = "auto"


def is_utf8(encoding: str) -> bool:
    """Whether *encoding* reads a file as UTF-8: ``auto`` (the default) or a name of UTF-8."""
    return encoding.lower().replace("_", "-") in (AUTO, "utf-8", "utf8", "utf-8-sig")


def _codec(encoding: str) -> str:
    """The codec name of *encoding* (``auto`` is UTF-8's); LookupError for an unknown one."""
    return "utf-8" if encoding.lower() == AUTO else codecs.lookup(encoding).name


def wide_encoding(head: bytes, encoding: str = AUTO) -> str | None:
    """The UTF-16 or UTF-32 codec a file whose first bytes are *head* is in, or None.

    Told by an explicit *encoding* (``--encoding utf-16``), by a byte-order mark (what Windows
    Notepad and Excel write as "Unicode text"), or, when no encoding was given, by a NUL byte in
    every other place and none between them (UTF-16 of Latin text without a mark). Such files are
    mostly NUL bytes as bytes, so this is asked before a file is refused as binary.
    """
    for mark, codec in _WIDE_MARKS:  # a mark is the file's own word, over any --encoding
        if head.startswith(mark):
            return codec
    try:
        name = _codec(encoding)
    except LookupError:
        return None  # ``decode`` names the unknown encoding
    if name.startswith(("utf-16", "utf-32")):
        return name
    return utf16_by_nuls(head) if is_utf8(encoding) else None


def utf16_by_nuls(head: bytes) -> str | None:
    """UTF-16 without a byte-order mark, told by a NUL byte in every other place and none between
    (Latin text), or None."""
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    for nuls, text, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls.count(0) >= 0.9 * len(nuls) and text.count(0) <= 0.01 * len(text):
            return codec
    return None


def _from_wide(name: str, data: bytes, codec: str) -> bytes:
    try:
        return data.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid {codec} (byte {exc.start})",
                         fix="re-save the file as UTF-8, or pass the --encoding it was saved in") from exc


def open_source(spec: str, encoding: str = AUTO) -> Source:
    """Read *spec* (a path, or ``-`` for stdin) and refuse empty or binary input.

    A UTF-16 or UTF-32 file (see ``wide_encoding``) is turned into UTF-8 here, so that every
    reader sees UTF-8 bytes; its sha256 stays that of the file as it is.
    """
    if spec == "-":
        data = sys.stdin.buffer.read()
        name, path = "<stdin>", None
    else:
        path = Path(spec)
        if not path.exists():
            raise InputError(f"{spec} does not exist", fix="check the path")
        if path.is_dir():
            raise InputError(
                f"{spec} is a folder", fix="pass a file, or --format hf for a saved dataset folder"
            )
        data = path.read_bytes()
        name = spec
    digest = hashlib.sha256(data).hexdigest()
    wide = wide_encoding(data[:8192], encoding)
    seen = utf16_by_nuls(data[:8192]) if wide in ("utf-16-le", "utf-16-be") else None
    if wide is not None:
        data = _from_wide(name, data, wide)
    if not data.strip():
        raise InputError(f"{name} is empty", fix="pass a file that holds an article or comments")
    check_binary(name, data[:8192])
    src = Source(name, data, digest, path, wide=wide)
    try:
        asked = _codec(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", fix="pass e.g. --encoding cp1252") from None
    if wide in ("utf-16-le", "utf-16-be") and asked != wide:
        src.warnings.append(f"{name} has no byte-order mark but looks like {wide.upper()}; read it so: pass "
                            "--encoding if its text looks wrong")
    elif seen and seen != wide:
        src.warnings.append(f"{name} looks like {seen.upper()}, but --encoding says {encoding}: pass --encoding "
                            f"{seen} if its text looks wrong")
    elif wide in ("utf-16", "utf-32") and not is_utf8(encoding) and not asked.startswith(wide):
        src.warnings.append(f"{name} starts with a {wide.upper()} byte-order mark; read it as {wide.upper()}, "
                            f"not {encoding} as --encoding says")
    return src


def check_binary(name: str, head: bytes) -> None:
    """Refuse input whose first bytes are mostly control bytes (Parquet excepted)."""
    controls = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    if not head.startswith(b"PAR1") and controls > max(3, len(head) // 50):
        wide = utf16_by_nuls(head)
        raise InputError(
            f"{name} looks binary ({controls} control bytes in the first {len(head):,})",
            fix=(f"it looks like {wide.upper()} without a byte-order mark: pass --encoding {wide}" if wide
                 else "pass a text export, HTML page, CSV, JSONL or Parquet file, or the --encoding of a "
                      "UTF-16 or UTF-32 file"),
        )


_WESTERN = {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "mac_roman", "cp850", "cp437"}
# Unicode, East Asian, Cyrillic, Greek, Hebrew, Arabic and Thai codecs, whose guesses stand; any other
# guess (cp775 for a mostly English file with one "Café") is read as cp1252 when the bytes allow it
_GUESS_STANDS = re.compile(r"utf|big5|gb|hz|shift_jis|cp93[26]|cp94[69]|cp950|euc|iso2022|johab|koi8|cp125[15]|"
                           r"cp866|mac_cyrillic|iso8859_5|iso8859_[678]|cp1253|cp1255|cp1256|tis|cp874")


def guess_encoding(data: bytes) -> str | None:
    """The likely encoding of bytes that are not UTF-8 (charset-normalizer), or None when no guess is safe.

    Western legacy guesses are read as cp1252, the encoding spreadsheets save such files in
    (charset-normalizer often names a sibling, cp1250, that would turn "à" into "ŕ"), and so is any
    other single-byte guess when the bytes are valid cp1252 (cp775 for an English file with one
    accented word); Cyrillic, Greek, Hebrew, Arabic, Thai and East Asian guesses stand.
    """
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a core dependency
        return None
    best = from_bytes(data[: 1 << 20]).best()
    if best is None or best.chaos > 0.3:
        return None
    if best.encoding in _WESTERN or not _GUESS_STANDS.match(best.encoding):
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return best.encoding
    return best.encoding


def strip_controls(text: str) -> tuple[str, int]:
    """*text* without control characters (see ``_CONTROL``), and how many there were."""
    return _CONTROL.subn("", text)


def decode(src: Source, encoding: str = AUTO) -> str:
    """Decode to text with LF line ends, strip control characters and count them.

    With the default, ``auto``, a file that is not UTF-8 is read in the encoding it most
    likely has, with a warning that names it; an explicit --encoding (``utf-8`` included) is
    used as given, and a file that is not in it is refused.
    """
    auto = encoding.lower() == AUTO
    if src.wide is not None:  # already turned into UTF-8 by open_source
        encoding = "utf-8"
    elif src.data.startswith(codecs.BOM_UTF8) and not is_utf8(encoding):  # the file's own word, as for UTF-16
        src.warnings.append(f"{src.name} starts with a UTF-8 byte-order mark; read it as UTF-8, not {encoding} "
                            "as --encoding says")
        encoding = "utf-8"
    try:
        text = src.data.decode("utf-8-sig" if is_utf8(encoding) else encoding)
    except UnicodeDecodeError as exc:
        line = src.data[: exc.start].count(b"\n") + 1
        mixed = _utf8_with_cp1252(src.data) if auto else None
        if mixed is not None:  # UTF-8 with a few lines pasted in from a cp1252 file: read each as it is
            text, lines = mixed
            src.warnings.append(f"{src.name} is UTF-8 but for {_lines_said(lines)}, read as cp1252 (a guess): "
                                "check those comments' accents and quotes")
            return _finish(src, text, encoding)
        guess = guess_encoding(src.data) if auto else None
        if guess is None:
            raise InputError(
                f"{src.name}: line {line} is not valid {'UTF-8' if auto else encoding} (byte {exc.start})"
                + (", and its encoding cannot be told safely" if auto else ""),
                fix=("re-save the file as UTF-8, or pass --encoding (for example cp1252)" if auto else
                     "pass the --encoding the file was saved in (for example cp1252), or --encoding auto to "
                     "read it in the one it most likely has"),
            ) from exc
        text = src.data.decode(guess, errors="replace")
        src.warnings.append(f"{src.name} is not UTF-8 (line {line}); read it as {guess}, a guess: pass "
                            f"--encoding if its accents look wrong")
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r}", fix="pass e.g. --encoding cp1252") from exc
    return _finish(src, text, encoding)


def _finish(src: Source, text: str, encoding: str) -> str:
    """LF line ends and no control characters, counted, with a warning that says what they were."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    c1 = sum(1 for ch in text if "\x80" <= ch <= "\x9f")
    text, count = strip_controls(text)
    src.control_chars = count
    if c1 and not is_utf8(encoding) and _valid(src.data, "cp1252"):
        # latin-1 reads cp1252's dashes, quotes and euro sign as invisible control characters
        src.warnings.append(f"{src.name}: stripped {count} control character(s), {c1} of them bytes that cp1252 "
                            f"reads as dashes, quotes or €: pass --encoding cp1252 to keep them")
    elif count:
        src.warnings.append(f"{src.name}: stripped {count} control character(s)")
    src.text = text
    return text


def _valid(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_with_cp1252(data: bytes) -> tuple[str, list[int]] | None:
    """*data* read line by line, UTF-8 where a line is UTF-8 and cp1252 where it is not, and the numbers
    of the cp1252 lines; None unless the file holds UTF-8 beyond ASCII too (a file pasted together from
    a UTF-8 and a cp1252 source: no one encoding reads it) and every other line is cp1252."""
    out: list[str] = []
    legacy: list[int] = []
    wide = False
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            wide = wide or not line.isascii()
        except UnicodeDecodeError:
            try:
                line = raw.decode("cp1252")
            except UnicodeDecodeError:
                return None
            legacy.append(n)
        out.append(line)
    return ("\n".join(out), legacy) if wide and legacy else None


def _lines_said(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5]) + (f" and {len(lines) - 5:,} more" if len(lines) > 5 else "")
    return f"line{'s' if len(lines) > 1 else ''} {shown}"


def check_line_lengths(src: Source, text: str) -> None:
    """Refuse text whose lines are too long to be a page or records of comments."""
    start = 0
    lineno = 1
    while True:
        end = text.find("\n", start)
        stop = len(text) if end == -1 else end
        if stop - start > MAX_LINE_CHARS:
            raise InputError(
                f"{src.name}: line {lineno} is {stop - start:,} characters long "
                f"(limit {MAX_LINE_CHARS:,})",
                fix="this does not look like comments; check the file, or split the record",
            )
        if end == -1:
            return
        start = end + 1
        lineno += 1
