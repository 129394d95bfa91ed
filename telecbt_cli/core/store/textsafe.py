"""User text: made safe to show (control, bidi and invisible characters become visible escapes),
and folded for searching as people type (case and accents ignored)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Characters that never reach a terminal as they are: those that could steer it (C0 except
#: tab and line feed, DEL, C1), the Unicode bidi controls that make text read differently
#: from what is stored, and the invisible ones that hide or split words (zero-width space,
#: joiners, word joiner and invisible operators, soft hyphen, BOM, line and paragraph
#: separators, interlinear annotations, tag characters).
UNSAFE_CLASS = ("\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                "\u2066-\u2069\ufeff\ufff9-\ufffb\U000e0000-\U000e007f")
_UNSAFE = re.compile(f"[\n{UNSAFE_CLASS}]")
_UNSAFE_KEEP_LINES = re.compile(f"[{UNSAFE_CLASS}]")


def visible_escape(char: str) -> str:
    """`\\x1b`, `\\u202e` or `\\U000e0041`: how a character that must not reach a screen is shown."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: Any, keep_newlines: bool = False) -> str:
    """User text made safe to show: control, bidi and invisible characters become visible escapes.

    `keep_newlines` leaves line breaks as they are, for text shown as paragraphs."""
    if text is None:
        return ""
    return (_UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE).sub(lambda m: visible_escape(m.group()), str(text))


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


#: A negative number written as text ("-3", "-2,5"): no formula can hide in it.
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(?:[.,][0-9]+)?")


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will show as text, never run as a formula (OWASP's advice).

    Text starting with `= + - @`, a tab or a CR gets a leading `'`; numbers and other values
    pass unchanged, so `-3` stays a number, stored as one or written as text. Use only in CSV
    meant for spreadsheets: programs reading the file would see the added quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NEGATIVE_NUMBER.fullmatch(value):
        return "'" + value
    return value
