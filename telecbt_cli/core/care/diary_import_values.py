"""Imported diary values: what a read file gives, the fields, their ranges and units, numbers, safe quoting."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from telecbt_cli.core.store.errors import Figures, Said, Term

ECHO_LIMIT = 30
#: Longest text we try to read as a number; also keeps int() far from its digit limit.
NUMBER_LIMIT = 20
NOTE_LIMIT = 2000

VALUE_FIELDS = ("pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps")
#: Device totals for a day: two devices each count part of it, and a day's total only grows as
#: the day goes on, so the larger of two values is kept. Ratings: the first value is kept.
TOTALS = frozenset({"sleep_hours", "activity_min", "steps"})

#: field -> (low, high, whole number?, words used in messages)
RULES: dict[str, tuple[float, float, bool, str]] = {
    "pain": (0, 10, True, "pain"),
    "mood": (0, 10, True, "mood"),
    "sleep_hours": (0, 24, False, "sleep hours"),
    "sleep_quality": (0, 10, True, "sleep quality"),
    "activity_min": (0, 1440, True, "active minutes"),
    "steps": (0, 100_000, True, "steps"),
}

#: unit name -> (diary field, factor from the unit to the field's unit, words for a cell)
UNITS: dict[str, tuple[str, float, str]] = {
    "pain": ("pain", 1, "pain"),
    "mood": ("mood", 1, "mood"),
    "sleep_hours": ("sleep_hours", 1, "sleep hours"),
    "sleep_minutes": ("sleep_hours", 1 / 60, "sleep minutes"),
    "sleep_quality": ("sleep_quality", 1, "sleep quality"),
    "activity_min": ("activity_min", 1, "active minutes"),
    "steps": ("steps", 1, "steps"),
}


class ImportFileError(ValueError):
    """The file as a whole cannot be used (message says why and what to do).

    Raised with `key` (`errors.…`) and values like the project's errors, so a UI can say it in the reader's
    language; the message is then the English template filled in."""

    key: str | None = None
    values: dict = {}

    def __init__(self, message: str = "", *, key: str | None = None, **values: object) -> None:
        if key is not None:
            self.key, self.values = key, values
            message = message.format(**values)
        super().__init__(message)


@dataclass
class Skipped:
    """A line of the file that was left out, and why in plain English (a `Said`: a UI says it in the reader's language)."""

    line: int          # 1-based line number in the file (header = line 1)
    reason: str


@dataclass
class ParsedImport:
    """What a file holds for the diary, and what was left out of it and why."""

    rows: list[dict]            # one per day, in day order: day (YYYY-MM-DD), value fields, note, line
    skipped: list[Skipped]      # rows (or records) that could not be used
    columns: dict[str, str]     # "date" and diary fields -> the column(s) or records they came from
    encoding: str               # "utf-8", "utf-8-sig", "utf-16" or "cp1252"
    ignored_columns: list[str] = field(default_factory=list)  # not used, in file order
    format: str = "Diary CSV"   # the recognised format, in words
    format_key: str = "generic-csv"
    dates: str = ""             # how dates were read (order, and what decided it)
    duplicates: list[Skipped] = field(default_factory=list)   # rows for a day already seen
    notes: list[str] = field(default_factory=list)            # anything else worth saying
    rows_read: int = 0          # data rows (CSV) or records (XML) read
    skipped_total: int = 0      # len(skipped) unless a huge file's list was cut short


def strip_controls(text: str, keep: str = "") -> str:
    """`text` without control characters, except those in `keep`."""
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) != "Cc")


def echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """A value safe to show in a message: no control characters, at most `limit` characters."""
    text = value.strip() if value.isprintable() else strip_controls(value).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


_INT = re.compile(r"-?[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+")
_DECIMAL_POINT = re.compile(r"-?[0-9]*\.[0-9]+")
_DECIMAL_COMMA = re.compile(r"-?[0-9]+,[0-9]{1,2}")


def parse_number(text: str) -> float | int | None:
    """'1234', '1,234', '7.5', '7,5' -> number; None when it is not one of these forms."""
    if len(text) > NUMBER_LIMIT:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _THOUSANDS.fullmatch(text):
        return int(text.replace(",", ""))
    if _DECIMAL_POINT.fullmatch(text):
        return float(text)
    if _DECIMAL_COMMA.fullmatch(text):
        return float(text.replace(",", "."))
    return None


def unit_word(unit: str) -> Term:
    """A unit's words in messages (`sleep hours`), translated by a UI (`diary_import.unit_<unit>`)."""
    return Term(f"diary_import.unit_{unit}", UNITS[unit][2])


def figure(value: float | int) -> Figures:
    """One number as `{:g}` writes it, with the reader's decimal mark when a UI shows it."""
    return Figures([f"{value:g}"])


def read_cell(unit: str, cell: str) -> tuple[float | None, str | None]:
    """(value in the field's unit, None), (None, reason) or, for an empty cell, (None, None)."""
    _, factor, _ = UNITS[unit]
    text = cell.strip()
    if not text:
        return None, None
    value = parse_number(text)
    if value is None:
        return None, Said("{what} '{value}' is not a number", "diary_import.not_number", what=unit_word(unit),
                          value=echo(text))
    return value * factor, None


def check_field(unit: str, value: float, shown: str) -> tuple[float | int | None, str | None]:
    """(value fitted to the unit's field, None) or (None, reason); never clamped, never rounded to fit.

    `value` is in the field's unit; ranges in messages are in the unit of the file (`shown`).
    """
    fld, factor, _ = UNITS[unit]
    low, high, whole, _ = RULES[fld]
    if whole and value != int(value):
        return None, Said("{what} '{value}' is not a whole number", "diary_import.not_whole", what=unit_word(unit),
                          value=shown)
    if not low <= round(value, 9) <= high:
        return None, Said("{what} '{value}' is out of range (allowed {low} to {high})", "diary_import.out_of_range",
                          what=unit_word(unit), value=shown, low=figure(low / factor), high=figure(high / factor))
    return (int(value) if whole else round(float(value), 2)), None
