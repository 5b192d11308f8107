"""Parse the dates people write, day first, without inventing a missing day or year."""

from __future__ import annotations

import datetime as dt
import functools
import re
import warnings

__all__ = ["parse_date", "looks_like_date"]

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_FORMS = (
    rf"{_DAY}\s+(?:of\s+)?(?:{_MONTHS})\.?,?(?:\s+\d{{2,4}})?",  # 22 May 2014
    rf"(?:{_MONTHS})\.?\s+{_DAY}(?:,?\s+\d{{4}})?",  # May 22, 2014
    rf"(?:{_MONTHS})\.?\s+\d{{4}}",  # May 2014
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}",  # 22/05/2014
    r"\d{4}-\d{2}-\d{2}(?:[T\s][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?",  # ISO 8601
)
_TIME = r"(?:,?\s*(?:at\s+)?\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:am|pm)?)?"
_DATE_SHAPES = re.compile(
    rf"^\W*{_WEEKDAY}(?:{'|'.join(_FORMS)}){_TIME}\W*$", re.IGNORECASE
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_A = dt.datetime(2000, 1, 1)
_B = dt.datetime(2001, 2, 2)


def looks_like_date(text: str) -> bool:
    """Return True when *text* is a date and nothing else (a time may follow)."""
    text = text.strip()
    return 0 < len(text) <= 48 and bool(_DATE_SHAPES.match(text))


@functools.lru_cache(maxsize=65536)
def parse_date(text: str | None) -> str | None:
    """Return an ISO date (``2014-05-22``, or ``2014-05`` without a day), or None.

    Numeric dates are read day first (``03/04/2014`` is 3 April) except ISO
    ``2014-04-03``. A date without a year gives None: a year is never guessed.
    """
    if not text or not text.strip():
        return None
    from dateutil import parser

    text = text.strip()
    iso = _ISO.match(text)
    if iso:
        try:
            return dt.date.fromisoformat(iso.group(0)).isoformat()
        except ValueError:
            return None
    dayfirst = True
    cleaned = re.sub(r"\bat\b|\bof\b", " ", text, flags=re.IGNORECASE)
    try:
        with warnings.catch_warnings():
            # Time zone names (CEST, EST) only shift the time; the date is what we keep.
            warnings.simplefilter("ignore", parser.UnknownTimezoneWarning)
            a = parser.parse(cleaned, dayfirst=dayfirst, fuzzy=True, default=_A)
            b = parser.parse(cleaned, dayfirst=dayfirst, fuzzy=True, default=_B)
    except (ValueError, OverflowError, TypeError):
        return None
    if a.year != b.year:
        return None
    if a.month != b.month:
        return f"{a.year:04d}"
    if a.day != b.day:
        return f"{a.year:04d}-{a.month:02d}"
    return f"{a.year:04d}-{a.month:02d}-{a.day:02d}"
