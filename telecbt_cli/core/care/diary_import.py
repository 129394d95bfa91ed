"""Reading a wearable or phone export (CSV) into pain-diary rows: parse and check only.

`parse_diary_csv` takes the file's bytes and returns the good rows, the rows it
skipped (with line numbers and plain-English reasons), which file column fed which
diary field, and the encoding it found. It stores nothing: the caller does that.
See docs/diary-import.md for the headers and value formats it understands.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from telecbt_cli.core.store.timeparse import iso_utc

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
NOTE_LIMIT = 2000
ECHO_LIMIT = 30
#: Longest text we try to read as a number; also keeps int() far from its digit limit.
NUMBER_LIMIT = 20


@dataclass
class Skipped:
    line: int          # 1-based line number in the file (header = line 1)
    reason: str        # plain English


@dataclass
class ParsedImport:
    rows: list[dict]            # good rows, in file order
    skipped: list[Skipped]
    columns: dict[str, str]     # our field -> the file's column header used
    encoding: str               # "utf-8", "utf-8-sig", "utf-16" or "cp1252"
    ignored_columns: list[str] = field(default_factory=list)  # headers not used, in file order


class ImportFileError(ValueError):
    """The file as a whole cannot be used (message says why and what to do)."""


# --- headers -----------------------------------------------------------------

def _norm_header(name: str) -> str:
    """Case-insensitive, surrounding spaces ignored, runs of space/'-'/'_' alike."""
    text = unicodedata.normalize("NFC", name).replace("\ufeff", "").strip().casefold()
    return re.sub(r"[\s_\-]+", "_", text).strip("_")


DATE_HEADERS = ("date", "day", "datetime", "timestamp", "start", "start_date", "fecha")
#: field -> recognised headers, best first. Sleep in minutes is a separate source.
DATA_HEADERS: dict[str, tuple[str, ...]] = {
    "pain": ("pain", "dolor"),
    "mood": ("mood", "animo", "ánimo"),
    "sleep_hours": ("sleep_hours", "sleep", "hours_slept", "horas_sueno", "horas_sueño"),
    "sleep_quality": ("sleep_quality", "calidad_sueno", "calidad_sueño"),
    "activity_min": ("activity_min", "active_minutes", "exercise_minutes", "minutos_actividad"),
    "steps": ("steps", "step_count", "stepcount", "pasos"),
}
SLEEP_MINUTES_HEADERS = ("sleep_minutes", "asleep_min", "minutes_asleep", "sleep_min")
NOTE_HEADERS = ("note", "notes", "nota")

VALUE_FIELDS = ("pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps")
ROW_KEYS = ("entry_at",) + VALUE_FIELDS + ("note",)

#: field -> (low, high, whole number?, words used in reasons)
_RULES: dict[str, tuple[float, float, bool, str]] = {
    "pain": (0, 10, True, "pain"),
    "mood": (0, 10, True, "mood"),
    "sleep_hours": (0, 24, False, "sleep hours"),
    "sleep_minutes": (0, 1440, False, "sleep minutes"),
    "sleep_quality": (0, 10, True, "sleep quality"),
    "activity_min": (0, 1440, True, "active minutes"),
    "steps": (0, 100_000, True, "steps"),
}


def _recognised_data_headers() -> list[str]:
    names: list[str] = []
    for fld, aliases in DATA_HEADERS.items():
        names.extend(aliases)
        if fld == "sleep_hours":
            names.extend(SLEEP_MINUTES_HEADERS)
    return names


# --- text helpers ------------------------------------------------------------

def _strip_controls(text: str, keep: str = "") -> str:
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) != "Cc")


def _echo(value: str) -> str:
    """A value safe to show in a message: no control characters, at most 30 characters."""
    text = _strip_controls(value).strip()
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT - 1] + "…"


def _header_list(headers: list[str], limit: int = 20) -> str:
    shown = [f"'{_echo(h)}'" for h in headers if h.strip()][:limit]
    more = len([h for h in headers if h.strip()]) - len(shown)
    if not shown:
        return "none"
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# --- encoding and delimiter --------------------------------------------------

def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", "utf-8-sig", raw)]
    elif raw.startswith(b"\xff\xfe"):
        candidates = [("utf-16", "utf-16-le", raw[2:])]
    elif raw.startswith(b"\xfe\xff"):
        candidates = [("utf-16", "utf-16-be", raw[2:])]
    elif b"\x00" in raw:
        kind = "a spreadsheet (.xlsx) or another zipped file" if raw.startswith(b"PK\x03\x04") \
            else "binary data, or UTF-16 text without a byte-order mark"
        raise ImportFileError(
            f"This file is not a text CSV file: it contains NUL bytes, so it is probably {kind}. "
            "Export or save it as CSV (UTF-8) and import that file.")
    else:
        candidates = [("utf-8", "utf-8", raw), ("cp1252", "cp1252", raw)]
    for name, codec, data in candidates:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, name
    raise ImportFileError(
        "This file is not a text CSV file: it is not valid UTF-8, UTF-16 or Windows-1252 text. "
        "Export or save it as CSV (UTF-8) and import that file.")


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _sniff_delimiter(text: str) -> str:
    """',' ';' or tab: whichever the header line (first line with content) holds most."""
    for line in io.StringIO(text, newline=""):
        if line.strip(" \t\r\n,;"):
            counts = {d: _count_outside_quotes(line, d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])  # ties: ',' then ';' then tab
            return best if counts[best] else ","
    return ","


# --- values ------------------------------------------------------------------

_INT = re.compile(r"-?[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+")
_DECIMAL_POINT = re.compile(r"-?[0-9]*\.[0-9]+")
_DECIMAL_COMMA = re.compile(r"-?[0-9]+,[0-9]{1,2}")


def _number(text: str) -> float | int | None:
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


def _range_text(low: float, high: float) -> str:
    return f"{low:g} to {high:g}"


def _check_value(rule: str, cell: str) -> tuple[float | int | None, str | None]:
    """(value, None) or (None, reason). An empty cell is (None, None)."""
    low, high, whole, words = _RULES[rule]
    text = cell.strip()
    if not text:
        return None, None
    value = _number(text)
    if value is None:
        return None, f"{words} '{_echo(text)}' is not a number"
    if whole and value != int(value):
        return None, f"{words} '{_echo(text)}' is not a whole number"
    if not low <= value <= high:
        return None, f"{words} '{_echo(text)}' is out of range (allowed {_range_text(low, high)})"
    return (int(value) if whole else float(value)), None


# --- dates -------------------------------------------------------------------

_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?\s*(Z|[+-][0-9]{2}:?[0-9]{2})?)?", re.IGNORECASE)
_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?: ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


class _DateProblem(Exception):
    pass


def _calendar_date(year: int, month: int, day: int, shown: str, slash: bool) -> date:
    if not 1 <= month <= 12:
        hint = " (dates with '/' are day/month/year, day first)" if slash else ""
        raise _DateProblem(f"date '{shown}' is not valid: {month} is not a month{hint}")
    try:
        return date(year, month, day)
    except ValueError:
        raise _DateProblem(
            f"date '{shown}' is not valid: {_MONTHS[month - 1]} {year} has no day {day}") from None


def _clock(hour: str | None, minute: str | None, second: str | None, shown: str) -> time | None:
    if hour is None:
        return None
    h, m, s = int(hour), int(minute or 0), int(second or 0)
    if h > 23 or m > 59 or s > 59:
        raise _DateProblem(f"date '{shown}' is not valid: {hour}:{minute} is not a time of day")
    return time(h, m, s)


def _parse_when(cell: str, default_time: time, tz: tzinfo) -> tuple[datetime, bool]:
    """(aware datetime, date_only) or _DateProblem with a reason."""
    text = cell.strip()
    shown = _echo(text)
    if not text:
        raise _DateProblem("date is empty")
    offset: tzinfo = tz
    if match := _ISO.fullmatch(text):
        year, month, day, hour, minute, second, zone = match.groups()
        day_ = _calendar_date(int(year), int(month), int(day), shown, slash=False)
        clock = _clock(hour, minute, second, shown)
        if zone and zone.upper() == "Z":
            offset = timezone.utc
        elif zone:
            digits = zone[1:].replace(":", "")
            zh, zm = int(digits[:2]), int(digits[2:])
            if zh > 23 or zm > 59:
                raise _DateProblem(f"date '{shown}' is not valid: {zone} is not a time-zone offset")
            delta = timedelta(hours=zh, minutes=zm)
            offset = timezone(-delta if zone[0] == "-" else delta)
    elif match := _DMY.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
        day_ = _calendar_date(int(year), int(month), int(day), shown, slash=True)
        clock = _clock(hour, minute, second, shown)
    else:
        raise _DateProblem(
            f"date '{shown}' is not a date: use YYYY-MM-DD, YYYY-MM-DD HH:MM or DD/MM/YYYY")
    moment = datetime.combine(day_, clock or default_time, tzinfo=offset)
    try:
        moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise _DateProblem(f"date '{shown}' is out of range") from None
    return moment, clock is None


# --- columns -----------------------------------------------------------------

@dataclass
class _Column:
    index: int
    header: str
    rule: str        # key of _RULES, "entry_at" or "note"


def _pick(headers: list[str], aliases: tuple[str, ...], taken: set[int]) -> int | None:
    """Index of the column whose header is the earliest alias; ties go to the leftmost."""
    normed = [_norm_header(h) for h in headers]
    for alias in aliases:
        target = _norm_header(alias)
        for i, name in enumerate(normed):
            if i not in taken and name == target:
                return i
    return None


def _map_columns(headers: list[str]) -> tuple[dict[str, _Column], list[str]]:
    taken: set[int] = set()
    found: dict[str, _Column] = {}

    def take(fld: str, aliases: tuple[str, ...], rule: str) -> bool:
        index = _pick(headers, aliases, taken)
        if index is None:
            return False
        taken.add(index)
        found[fld] = _Column(index, headers[index].strip(), rule)
        return True

    if not take("entry_at", DATE_HEADERS, "entry_at"):
        raise ImportFileError(
            "No date column found. Recognised date headers: " + ", ".join(DATE_HEADERS)
            + f". Headers in the file: {_header_list(headers)}. "
            "Rename the date column to one of these and import again.")
    for fld, aliases in DATA_HEADERS.items():
        if not take(fld, aliases, fld) and fld == "sleep_hours":
            take(fld, SLEEP_MINUTES_HEADERS, "sleep_minutes")
    if not any(fld in found for fld in VALUE_FIELDS):
        raise ImportFileError(
            "No diary data column found. Recognised data headers: "
            + ", ".join(_recognised_data_headers())
            + f". Headers in the file: {_header_list(headers)}. "
            "Rename at least one data column to one of these and import again.")
    take("note", NOTE_HEADERS, "note")
    ignored = [h.strip() for i, h in enumerate(headers) if i not in taken and h.strip()]
    return found, ignored


def _where(column: _Column, words: str) -> str:
    """' (column 'Pasos')' when the file's header differs from the words used."""
    if _norm_header(column.header) == _norm_header(words):
        return ""
    return f" (column '{_echo(column.header)}')"


# --- the parser --------------------------------------------------------------

def _parse_default_time(text: str) -> time:
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"default_time must be HH:MM, not {text!r}")
    return time(int(match[1]), int(match[2]))


def _check_row(cells: list[str], columns: dict[str, _Column], *, now: datetime,
               default_time: time, tz: tzinfo) -> tuple[dict | None, date | None, list[str]]:
    """(row, its calendar day in tz, []) or (None, None, reasons)."""
    problems: list[str] = []
    row: dict = dict.fromkeys(ROW_KEYS)
    day: date | None = None

    date_col = columns["entry_at"]
    try:
        moment, date_only = _parse_when(cells[date_col.index], default_time, tz)
    except _DateProblem as problem:
        problems.append(str(problem) + _where(date_col, "date"))
    else:
        day = moment.astimezone(tz).date()
        shown = _echo(cells[date_col.index])
        future = day > now.astimezone(tz).date() if date_only else moment > now
        if future:
            problems.append(f"date {shown} is in the future")
        row["entry_at"] = iso_utc(moment)

    for fld in VALUE_FIELDS:
        column = columns.get(fld)
        if column is None:
            continue
        value, problem = _check_value(column.rule, cells[column.index])
        if problem:
            problems.append(problem + _where(column, _RULES[column.rule][3]))
        elif value is not None:
            row[fld] = round(value / 60, 2) if column.rule == "sleep_minutes" else \
                round(value, 2) if fld == "sleep_hours" else value

    if (column := columns.get("note")) is not None:
        note = _strip_controls(cells[column.index], keep="\n\t").strip()
        if len(note) > NOTE_LIMIT:
            problems.append(f"note is too long ({len(note)} characters; the limit is {NOTE_LIMIT})")
        row["note"] = note or None

    if not problems and all(row[fld] is None for fld in VALUE_FIELDS):
        problems.append("no diary values")
    if problems:
        return None, None, problems
    return row, day, []


def parse_diary_csv(raw: bytes, *, now: datetime, default_time: str = "08:00",
                    tz: tzinfo = timezone.utc) -> ParsedImport:
    """Parse an exported diary CSV; see docs/diary-import.md.

    `now` must be timezone-aware: rows after it are skipped as future. Dates without a
    time get `default_time` in `tz`; times without an offset are read in `tz`.
    Raises ImportFileError when the file as a whole cannot be used.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    clock = _parse_default_time(default_time)
    raw = bytes(raw)
    if len(raw) > MAX_BYTES:
        raise ImportFileError(
            f"The file is {len(raw) / (1024 * 1024):.1f} MB; the limit is {MAX_BYTES // (1024 * 1024)} MB. "
            "Export a shorter period or split the file, then import each part.")
    if not raw.strip():
        raise ImportFileError("The file is empty: export the diary data as CSV with a header line.")
    text, encoding = _decode(raw)
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        skipinitialspace=True, strict=True)

    headers: list[str] | None = None
    columns: dict[str, _Column] = {}
    ignored: list[str] = []
    rows: list[dict] = []
    skipped: list[Skipped] = []
    first_seen: dict[date, int] = {}
    data_rows = 0
    last_line = 0

    while True:
        start = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            end, last_line = reader.line_num, reader.line_num
            if headers is None:
                raise ImportFileError(
                    f"The header line (line {start}) cannot be read as CSV: {error}.") from None
            data_rows = _count_row(data_rows)
            skipped.append(Skipped(start, _csv_problem(str(error), start, end)))
            continue
        end, last_line = reader.line_num, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if headers is None:
            headers = cells
            columns, ignored = _map_columns(headers)
            continue
        data_rows = _count_row(data_rows)
        span = "" if end == start else \
            f" (this row runs from line {start} to line {end}: check for a quote (\") that is not closed)"
        if len(cells) != len(headers):
            many = len(cells) > len(headers)
            hint = " (a decimal comma in a comma-separated file? put such numbers in quotes)" \
                if many and delimiter == "," else ""
            skipped.append(Skipped(start, f"row has {len(cells)} cells but the header has "
                                          f"{len(headers)}{hint}{span}"))
            continue
        row, day, problems = _check_row(cells, columns, now=now, default_time=clock, tz=tz)
        if row is None or day is None:
            skipped.append(Skipped(start, "; ".join(problems) + span))
            continue
        if day in first_seen:
            skipped.append(Skipped(
                start, f"duplicate date {day.isoformat()} (first seen on line {first_seen[day]})"))
            continue
        first_seen[day] = start
        rows.append(row)

    if headers is None:
        raise ImportFileError("The file has no header line: export the diary data as CSV with column names.")
    used = {fld: col.header for fld, col in sorted(columns.items(), key=lambda kv: ROW_KEYS.index(kv[0]))}
    return ParsedImport(rows=rows, skipped=skipped, columns=used, encoding=encoding, ignored_columns=ignored)


def _count_row(counted: int) -> int:
    if counted >= MAX_ROWS:
        raise ImportFileError(
            f"The file has more than {MAX_ROWS:,} data rows. "
            "Export a shorter period or split the file, then import each part.")
    return counted + 1


def _csv_problem(error: str, start: int, end: int) -> str:
    if "unexpected end of data" in error:
        return (f"a quote (\") opened in this row is never closed, so lines {start} to {end} "
                "could not be read")
    if "field larger than field limit" in error:
        return f"a cell is far too long (lines {start} to {end}): check for a quote (\") that is not closed"
    if "expected after" in error:
        return "a quoted cell has text after its closing quote"
    return f"this row cannot be read as CSV ({_echo(error)})"
