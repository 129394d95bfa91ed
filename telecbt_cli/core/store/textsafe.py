"""User text: made safe to show (control and bidi characters become visible escapes), and
folded for searching as people type (case and accents ignored)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Control characters that could steer a terminal (C0 except tab, DEL, C1) and the
# Unicode bidi controls that can make text read differently from what is stored.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: Any, keep_newlines: bool = False) -> str:
    """User text made safe to show: control and bidi characters become visible escapes.

    `keep_newlines` leaves line breaks as they are, for text shown as paragraphs."""
    if text is None:
        return ""
    value = str(text)

    def show(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return (_UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE).sub(show, value)


def fold(text: str | None) -> str | None:
    """Text as a search compares it: case folded, accents and other combining marks dropped,
    compatibility forms unified (NFKD), so `jose` finds "José" and "LOPEZ" finds "López".
    Only for comparing: stored text stays exactly as typed."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


#: A cell starting with one of these may run as a formula when a spreadsheet opens a CSV file.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will show as text, never run as a formula (OWASP's advice).

    Text starting with `= + - @`, a tab or a CR gets a leading `'`; numbers and other values
    pass unchanged, so `-3` stored as a number stays a number. Use only in CSV meant for
    spreadsheets: programs reading the file would see the added quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
