"""Dates in imported files: read each cell, and decide day/month order from the whole column.

A date such as 04/03/2026 is 4 March or April 3rd depending on who wrote it. The order
is never guessed: a value above 12 in the first place (13/04/2026) shows the day comes
first, one in the second place (04/13/2026) that the month does. A format whose maker
documents its order (Fitbit writes month first) uses it unless the file contradicts it;
`--date-format` decides for everything else. When nothing decides, the file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from telecbt_cli.core.care.diary_import_values import ImportFileError, echo
from telecbt_cli.core.store.errors import Said, Term

ORDER_WORDS = {"YMD": "year-month-day", "DMY": "day/month/year", "MDY": "month/day/year"}
FORMAT_HINT = Term("diary_import.format_hint", "--date-format DD/MM/YYYY or --date-format MM/DD/YYYY")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")

_ISO = re.compile(
    r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})"
    r"(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?)?"
    r"\s*(Z|[+-][0-9]{2}:?[0-9]{2})?", re.IGNORECASE)
_NUMERIC = re.compile(
    r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})"
    r"(?:,?\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?")


class DateProblem(Exception):
    """One cell's date cannot be used (the message is the reason, a `Said`: `problem.args[0]`)."""


def order_word(order: str) -> Term:
    """`day/month/year` and the like, translated by a UI (`diary_import.order_dmy`)."""
    return Term(f"diary_import.order_{order.lower()}", ORDER_WORDS[order])


@dataclass(frozen=True)
class DateCell:
    """A date cell split into numbers, before the day/month order is known."""

    first: int          # year for ISO cells; otherwise the first number
    second: int
    third: int          # day for ISO cells; otherwise the year
    iso: bool
    clock: time | None
    utc: bool           # the cell is a UTC time ('Z'): its day depends on the time zone
    shown: str


def _clock(hour: str | None, minute: str | None, second: str | None, half: str | None, shown: str) -> time | None:
    if hour is None:
        return None
    h, m, s = int(hour), int(minute or 0), int(second or 0)
    if half:
        if not 1 <= h <= 12:
            raise DateProblem(Said("date '{value}' is not valid: {hour}:{minute} {half}M is not a time of day",
                                   "diary_import.bad_clock_half", value=shown, hour=hour, minute=minute,
                                   half=half.upper()))
        h = h % 12 + (12 if half.lower() == "p" else 0)
    if h > 23 or m > 59 or s > 59:
        raise DateProblem(Said("date '{value}' is not valid: {hour}:{minute} is not a time of day",
                               "diary_import.bad_clock", value=shown, hour=hour, minute=minute))
    return time(h, m, s)


def split_cell(text: str) -> DateCell:
    """The numbers of a date cell; DateProblem when it is not a date form we read."""
    text = text.strip()
    shown = echo(text)
    if not text:
        raise DateProblem(Said("date is empty", "diary_import.date_empty"))
    if match := _ISO.fullmatch(text):
        year, month, day, hour, minute, second, zone = match.groups()
        if zone and zone.upper() != "Z":
            digits = zone[1:].replace(":", "")
            if int(digits[:2]) > 23 or int(digits[2:]) > 59:
                raise DateProblem(Said("date '{value}' is not valid: {zone} is not a time-zone offset",
                                       "diary_import.bad_offset", value=shown, zone=zone))
        return DateCell(int(year), int(month), int(day), True, _clock(hour, minute, second, None, shown),
                        bool(zone) and zone.upper() == "Z", shown)
    if match := _NUMERIC.fullmatch(text):
        first, second, year, hour, minute, sec, half = match.groups()
        return DateCell(int(first), int(second), int(year), False, _clock(hour, minute, sec, half, shown), False, shown)
    raise DateProblem(Said("date '{value}' is not a date: use YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY",
                           "diary_import.not_a_date", value=shown))


def parse_date_format(text: str) -> str:
    """'DD/MM/YYYY', 'MM-DD-YYYY', 'YYYY-MM-DD', 'dmy', 'mdy', … -> 'DMY', 'MDY' or 'YMD'."""
    letters = "".join(dict.fromkeys(ch for ch in text.upper() if ch in "DMY"))
    if len(letters) == 3 and letters in ORDER_WORDS and not re.search(r"[^DMY/.\-\s]", text.upper()):
        return letters
    raise ValueError(f"--date-format {text!r} is not a date format: use DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD")


def _evidence(cells: Iterable[tuple[int, DateCell]]) -> tuple[tuple[int, str] | None, tuple[int, str] | None,
                                                             tuple[int, str] | None]:
    """(first day-first cell, first month-first cell, first cell that could be either), as (line, text)."""
    day_first = month_first = either = None
    for line, cell in cells:
        if cell.iso or cell.first > 31 or cell.second > 31 or cell.first == 0 or cell.second == 0:
            continue
        if cell.first > 12 >= cell.second:
            day_first = day_first or (line, cell.shown)
        elif cell.second > 12 >= cell.first:
            month_first = month_first or (line, cell.shown)
        elif cell.first != cell.second and cell.first <= 12 and cell.second <= 12:
            either = either or (line, cell.shown)
    return day_first, month_first, either


def decide_order(cells: list[tuple[int, DateCell]], *, column: str, given: str | None = None,
                 documented: str | None = None, maker: str = "") -> tuple[str | None, str]:
    """(order for numeric dates or None when none is needed, how it was decided) or ImportFileError."""
    if given:
        return given, Said("{order}, as --date-format says", "diary_import.order_given", order=order_word(given))
    day_first, month_first, either = _evidence(cells)
    where = Said("column '{column}'", "diary_import.column", column=echo(column))
    if documented:
        wrong = day_first if documented == "MDY" else month_first if documented == "DMY" else None
        if wrong:
            raise ImportFileError(
                "{maker} writes dates {order}, but '{value}' on line {line} of {where} cannot be read that way. "
                "If this file's dates are in another order, say which with {hint}. Nothing was imported.",
                key="errors.import_file.maker_order", maker=maker, order=order_word(documented), value=wrong[1],
                line=wrong[0], where=where, hint=FORMAT_HINT)
        numeric = any(not cell.iso for _, cell in cells)
        return (documented, Said("{order}, as {maker} writes them", "diary_import.order_maker",
                                 order=order_word(documented), maker=maker)) if numeric \
            else (None, order_word("YMD"))
    if day_first and month_first:
        raise ImportFileError(
            "The dates in {where} are in two orders: '{day}' on line {day_line} has the day first "
            "and '{month}' on line {month_line} has the month first. Correct the file, or say "
            "which order to use with {hint} (dates in the other order are then skipped). "
            "Nothing was imported.", key="errors.import_file.two_orders", where=where, day=day_first[1],
            day_line=day_first[0], month=month_first[1], month_line=month_first[0], hint=FORMAT_HINT)
    if day_first:
        return "DMY", Said("{order}: '{value}' on line {line} has the day first", "diary_import.order_day_first",
                           order=order_word("DMY"), value=day_first[1], line=day_first[0])
    if month_first:
        return "MDY", Said("{order}: '{value}' on line {line} has the month first", "diary_import.order_month_first",
                           order=order_word("MDY"), value=month_first[1], line=month_first[0])
    if either:
        raise ImportFileError(
            "The dates in {where} could be day/month/year or month/day/year: no number in them is above 12 "
            "(for example '{value}' on line {line}), so the order cannot be told. "
            "Say which with {hint}. Nothing was imported.", key="errors.import_file.either_order", where=where,
            value=either[1], line=either[0], hint=FORMAT_HINT)
    return None, order_word("YMD") if any(cell.iso for _, cell in cells) else \
        Said("day and month are equal in every date", "diary_import.order_equal")


def _calendar(year: int, month: int, day: int, shown: str, order: str | None) -> date:
    if not 1 <= month <= 12:
        hint = Said(" (dates are read as {order})", "diary_import.read_as", order=order_word(order)) \
            if order and order != "YMD" else ""
        raise DateProblem(Said("date '{value}' is not valid: {month} is not a month{hint}", "diary_import.not_a_month",
                               value=shown, month=month, hint=hint))
    try:
        return date(year, month, day)
    except ValueError:
        raise DateProblem(Said("date '{value}' is not valid: {month} {year} has no day {day}", "diary_import.no_such_day",
                               value=shown, month=Term(f"diary_import.month_{month}", _MONTHS[month - 1]),
                               year=year, day=day)) from None


def cell_day(cell: DateCell, order: str | None, zone: tzinfo | None) -> date:
    """The calendar day a cell names: the date as written, except UTC times, seen in `zone`."""
    if cell.iso:
        day = _calendar(cell.first, cell.second, cell.third, cell.shown, None)
    elif order == "MDY" or (order is None and cell.first == cell.second):
        day = _calendar(cell.third, cell.first, cell.second, cell.shown, order)
    else:
        day = _calendar(cell.third, cell.second, cell.first, cell.shown, order or "DMY")
    if cell.utc:
        moment = datetime.combine(day, cell.clock or time(0), tzinfo=timezone.utc)
        day = (moment.astimezone() if zone is None else moment.astimezone(zone)).date()
    return day


def epoch_ms_day(text: str) -> date:
    """A day stamp in epoch milliseconds at midnight UTC (Samsung Health's `day_time`) as its date."""
    text = text.strip()
    shown = echo(text)
    if not re.fullmatch(r"[0-9]{10,14}", text):
        raise DateProblem(Said("day '{value}' is not a day stamp (milliseconds since 1970)", "diary_import.not_day_stamp",
                               value=shown))
    day_ms = 86_400_000
    # Samsung writes midnight UTC of the day; a stamp off midnight (a local midnight) is taken
    # as the nearest midnight UTC, which is the same date for every zone within 12 h of UTC.
    day = date(1970, 1, 1) + timedelta(days=(int(text) + day_ms // 2) // day_ms)
    if not 2000 <= day.year <= 2100:
        raise DateProblem(Said("day '{value}' is not a day stamp (it would be in {year})", "diary_import.day_stamp_year",
                               value=shown, year=day.year))
    return day
