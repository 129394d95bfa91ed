"""Reading a CSV export (any known profile, or a generic diary CSV) into one row per day."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, tzinfo

from telecbt_cli.core.care.diary_days import today
from telecbt_cli.core.care.diary_import_dates import (
    DateCell,
    DateProblem,
    cell_day,
    decide_order,
    epoch_ms_day,
    split_cell,
)
from telecbt_cli.core.care.diary_import_days import DayRow, merge_days
from telecbt_cli.core.care.diary_import_profiles import Layout, build_layout, norm_header
from telecbt_cli.core.store.errors import Figures, Joined, Said, Term
from telecbt_cli.core.care.diary_import_values import (
    NOTE_LIMIT,
    UNITS,
    ImportFileError,
    ParsedImport,
    Skipped,
    check_field,
    echo,
    read_cell,
    strip_controls,
)

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000


def decode(raw: bytes) -> tuple[str, str]:
    """(text, encoding name): a BOM decides; else UTF-8, else Windows-1252; ImportFileError otherwise."""
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", "utf-8-sig", raw)]
    elif raw.startswith(b"\xff\xfe"):
        candidates = [("utf-16", "utf-16-le", raw[2:])]
    elif raw.startswith(b"\xfe\xff"):
        candidates = [("utf-16", "utf-16-be", raw[2:])]
    elif b"\x00" in raw:
        kind = Term("errors.import_file.zipped", "a spreadsheet (.xlsx) or another zipped file") \
            if raw.startswith(b"PK\x03\x04") else \
            Term("errors.import_file.binary", "binary data, or UTF-16 text without a byte-order mark")
        raise ImportFileError(
            "This file is not a text CSV file: it contains NUL bytes, so it is probably {kind}. "
            "Export or save it as CSV (UTF-8) and import that file.", key="errors.import_file.nul", kind=kind)
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
        "Export or save it as CSV (UTF-8) and import that file.", key="errors.import_file.not_text")


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _sniff_delimiter(text: str) -> str:
    """',' ';' or tab: whichever the header line holds most (a Samsung metadata line is passed over)."""
    for line in io.StringIO(text, newline=""):
        if line.strip(" \t\r\n,;") and not line.startswith("com.samsung."):
            counts = {d: _count_outside_quotes(line, d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])  # ties: ',' then ';' then tab
            return best if counts[best] else ","
    return ","


def _csv_problem(error: str, start: int, end: int) -> Said:
    if "unexpected end of data" in error:
        return Said("a quote (\") opened in this row is never closed, so lines {start} to {end} could not be read",
                    "diary_import.quote_open", start=start, end=end)
    if "field larger than field limit" in error:
        return Said("a cell is far too long (lines {start} to {end}): check for a quote (\") that is not closed",
                    "diary_import.cell_long", start=start, end=end)
    if "expected after" in error:
        return Said("a quoted cell has text after its closing quote", "diary_import.after_quote")
    return Said("this row cannot be read as CSV ({error})", "diary_import.not_csv", error=echo(error))


def _records(text: str, delimiter: str) -> tuple[list[tuple[int, int, list[str]]], list[Skipped]]:
    """Non-blank rows as (first line, last line, cells), and rows the csv module could not read."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        skipinitialspace=True, strict=True)
    rows: list[tuple[int, int, list[str]]] = []
    broken: list[Skipped] = []
    last = 0
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            last = reader.line_num
            if not rows:
                raise ImportFileError("The header line (line {line}) cannot be read as CSV: {error}.",
                                      key="errors.import_file.header_csv", line=start, error=str(error)) from None
            broken.append(Skipped(start, _csv_problem(str(error), start, last)))
            continue
        last = reader.line_num
        if any(cell.strip() for cell in cells):
            rows.append((start, last, cells))
        if len(rows) + len(broken) > MAX_ROWS + 2:
            raise _too_many_rows()
    return rows, broken


def _trim(cells: list[str], width: int) -> list[str]:
    """Samsung ends every row with a comma: one empty cell past the header is not a cell."""
    return cells[:-1] if len(cells) == width + 1 and not cells[-1].strip() else cells


def _sources(layout: Layout, headers: list[str]) -> list[tuple[str, list[int], str]]:
    """(unit, columns, where) per source; `where` names the column(s) in messages when useful."""
    out = []
    for unit, columns in layout.sources:
        where = _where(headers[columns[0]], UNITS[unit][2]) if len(columns) == 1 else \
            Said(" (columns {columns})", "diary_import.where_columns",
                 columns=" + ".join(repr(echo(headers[i])) for i in columns))
        out.append((unit, columns, where))
    return out


def _values(cells: list[str], sources: list[tuple[str, list[int], str]]) -> tuple[dict[str, float | int], list[str]]:
    """The row's diary values (columns of one source added up), or the reasons they cannot be used."""
    values: dict[str, float | int] = {}
    problems: list[str] = []
    for unit, columns, where in sources:
        read = [read_cell(unit, cells[i]) for i in columns]
        bad = [Joined([reason, where], "") for _, reason in read if reason]
        if bad:
            problems += bad
            continue
        present = [value for value, _ in read if value is not None]
        if not present:
            continue
        shown = echo(cells[columns[0]]) if len(columns) == 1 else " + ".join(echo(cells[i]) or "0" for i in columns)
        value, problem = check_field(unit, sum(present), shown)
        if problem:
            problems.append(Joined([problem, where], ""))
        elif value is not None:
            values[UNITS[unit][0]] = value
    return values, problems


def _person_rows(rows: list, layout: Layout, person: str | None, width: int) -> tuple[list, list[str]]:
    if layout.person is None:
        if person is not None:
            raise ImportFileError("--person is only for files that hold several people (such as Fitabase files).",
                                  key="errors.import_file.person_only")
        return rows, []
    ids = list(dict.fromkeys(cells[layout.person].strip() for _, _, cells in rows if len(cells) == width))
    if person is None:
        if len(ids) > 1:
            shown = ", ".join(echo(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
            raise ImportFileError(
                "This file holds data for {count} people (column Id: {shown}). Import one person's "
                "rows with --person ID. Nothing was imported.", key="errors.import_file.people", count=len(ids),
                shown=shown)
        return rows, []
    if person not in ids:
        raise ImportFileError("No rows for --person {person}: the file's Ids are {ids}.", key="errors.import_file.no_person",
                              person=echo(person), ids=", ".join(echo(i) for i in ids[:5]))
    kept = [r for r in rows if len(r[2]) != width or r[2][layout.person].strip() == person]
    return kept, [Said("{count} row(s) for other people (other Ids) were left out", "diary_import.other_people",
                       count=len(rows) - len(kept))]


def _too_many_rows() -> ImportFileError:
    return ImportFileError("The file has more than {rows} data rows. "
                           "Export a shorter period or split the file, then import each part.",
                           key="errors.import_file.too_many_rows", rows=f"{MAX_ROWS:,}")


def _span(start: int, end: int) -> str:
    return "" if end == start else \
        Said(" (this row runs from line {start} to line {end}: check for a quote (\") that is not closed)",
             "diary_import.span", start=start, end=end)


def _header_and_rows(raw: bytes) -> tuple[str, list[str], list, list[Skipped], list[str]]:
    """(encoding, header cells, data rows, rows the csv module could not read, notes)."""
    raw = bytes(raw)
    if len(raw) > MAX_BYTES:
        raise ImportFileError(
            "The file is {size} MB; the limit is {limit} MB. Export a shorter period or split the file, then import "
            "each part.", key="errors.import_file.too_big", size=Figures([f"{len(raw) / (1024 * 1024):.1f}"]),
            limit=MAX_BYTES // (1024 * 1024))
    if not raw.strip():
        raise ImportFileError("The file is empty: export the diary data as CSV with a header line.",
                              key="errors.import_file.empty")
    text, encoding = decode(raw)
    rows, broken = _records(text, _sniff_delimiter(text))
    notes: list[str] = []
    if len(rows) > 1 and rows[0][2][0].strip().startswith("com.samsung."):
        notes.append(Said("line {line} names the data type ({kind}); the header is line {header}",
                          "diary_import.data_type", line=rows[0][0], kind=echo(rows[0][2][0], 80), header=rows[1][0]))
        rows = rows[1:]
    if not rows:
        raise ImportFileError("The file has no header line: export the diary data as CSV with column names.",
                              key="errors.import_file.no_header")
    headers = rows[0][2]
    if headers and not headers[-1].strip():
        headers = headers[:-1]
    data = [(start, end, _trim(cells, len(headers))) for start, end, cells in rows[1:]]
    if len(data) + len(broken) > MAX_ROWS:
        raise _too_many_rows()
    return encoding, headers, data, broken, notes


def _read_dates(usable: list, layout: Layout, headers: list[str], date_format: str | None,
                skipped: list[Skipped]) -> tuple[dict[int, DateCell | date], str | None, str]:
    """Each row's date cell (by line), the day/month order for the column, and how it was decided."""
    cells_by_line: dict[int, DateCell | date] = {}
    for start, _, cells in usable:
        try:
            cells_by_line[start] = epoch_ms_day(cells[layout.date]) if layout.date_kind == "epoch_ms" \
                else split_cell(cells[layout.date])
        except DateProblem as problem:
            skipped.append(Skipped(start, Joined([problem.args[0], _where(headers[layout.date], "date")], "")))
    if layout.date_kind == "epoch_ms":
        return cells_by_line, None, Said("day stamps in milliseconds since 1970 (midnight UTC of each day)",
                                         "diary_import.order_stamps")
    profile = layout.profile
    order, how = decide_order([(line, c) for line, c in cells_by_line.items() if isinstance(c, DateCell)],
                              column=headers[layout.date].strip(), given=date_format,
                              documented=profile.date_order if profile else None,
                              maker=profile.maker if profile else "")
    return cells_by_line, order, how


def _columns_used(layout: Layout, headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """(field -> the column(s) it came from, the headers not used)."""
    used = {"date": headers[layout.date].strip()}
    for unit, columns in layout.sources:
        used[UNITS[unit][0]] = " + ".join(headers[i].strip() for i in columns)
    if layout.note is not None:
        used["note"] = headers[layout.note].strip()
    if layout.person is not None:
        used["person"] = headers[layout.person].strip()
    if layout.combined is not None:
        used["all_devices"] = f"{headers[layout.combined[0]].strip()} = {layout.combined[1]}"
    taken = {layout.date, *(i for _, cols in layout.sources for i in cols)}
    taken |= {i for i in (layout.note, layout.person, layout.combined and layout.combined[0]) if i is not None}
    return used, [h.strip() for i, h in enumerate(headers) if i not in taken and h.strip()]


def parse_diary_csv(raw: bytes, *, now: datetime, zone: tzinfo | None = None, date_format: str | None = None,
                    mapping: dict[str, str] | None = None, person: str | None = None) -> ParsedImport:
    """Read a CSV export; see docs/diary-import.md. Raises ImportFileError when the file cannot be used.

    `now` must be timezone-aware: days after today (in `zone`; None = this device's zone) are
    skipped as future. `date_format` is 'DMY', 'MDY' or 'YMD' (see parse_date_format).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    encoding, headers, data, skipped, notes = _header_and_rows(raw)
    layout = build_layout(headers, mapping)
    width = len(headers)
    rows_read = len(data) + len(skipped)
    data, person_notes = _person_rows(data, layout, person, width)
    notes += person_notes
    usable = []
    for start, end, cells in data:
        if len(cells) == width:
            usable.append((start, end, cells))
            continue
        hint = Said(" (a decimal comma in a comma-separated file? put such numbers in quotes)",
                    "diary_import.decimal_comma") if len(cells) > width else ""
        skipped.append(Skipped(start, Said("row has {cells} cells but the header has {width}{hint}{span}",
                                           "diary_import.cells", cells=len(cells), width=width, hint=hint,
                                           span=_span(start, end))))
    cells_by_line, order, dates = _read_dates(usable, layout, headers, date_format, skipped)

    good: list[DayRow] = []
    last_day = today(zone, now)
    sources = _sources(layout, headers)
    date_where = _where(headers[layout.date], "date")
    for start, end, cells in usable:
        if start in cells_by_line:
            row, problems = _check_row(start, cells, cells_by_line[start], layout, sources, date_where, order,
                                       zone, last_day)
            if row is None:
                skipped.append(Skipped(start, Joined([Joined(problems), _span(start, end)], "")))
            else:
                good.append(row)
    days, duplicates = merge_days(good)
    skipped.sort(key=lambda s: s.line)
    used, ignored = _columns_used(layout, headers)
    profile = layout.profile
    return ParsedImport(rows=days, skipped=skipped, columns=used, encoding=encoding, ignored_columns=ignored,
                        format=profile.name if profile else "Diary CSV",
                        format_key=profile.key if profile else "generic-csv", dates=dates,
                        duplicates=duplicates, notes=notes, rows_read=rows_read, skipped_total=len(skipped))


def _where(header: str, words: str) -> str:
    """' (column 'Pasos')' when the file's header differs from the words used."""
    return "" if norm_header(header) == norm_header(words) else \
        Said(" (column '{column}')", "diary_import.where_column", column=echo(header))


def _check_row(line: int, cells: list[str], when: DateCell | date, layout: Layout,
               sources: list[tuple[str, list[int], str]], date_where: str, order: str | None,
               zone: tzinfo | None, last_day: date) -> tuple[DayRow | None, list[str]]:
    problems: list[str] = []
    day: date | None = None
    try:
        day = when if isinstance(when, date) else cell_day(when, order, zone)
    except DateProblem as problem:
        problems.append(Joined([problem.args[0], date_where], ""))
    if day is not None and day > last_day:
        problems.append(Said("date {value} is in the future", "diary_import.future", value=echo(cells[layout.date])))
    values, value_problems = _values(cells, sources)
    problems += value_problems
    note = None
    if layout.note is not None:
        note = strip_controls(cells[layout.note], keep="\n\t").strip() or None
        if note and len(note) > NOTE_LIMIT:
            problems.append(Said("note is too long ({length} characters; the limit is {limit})", "diary_import.note_long",
                                 length=len(note), limit=NOTE_LIMIT))
    if not problems and layout.not_worn and all(cells[i].strip() == v for i, v in layout.not_worn):
        problems.append(Said(layout.profile.not_worn_reason, "diary_import.not_worn_tracker") if layout.profile
                        else Said("not worn", "diary_import.not_worn"))
    if not problems and not values:
        problems.append(Said("no diary values", "diary_import.no_values"))
    if problems or day is None:
        return None, problems
    return DayRow(line, day, values, note,
                  combined=layout.combined is not None and cells[layout.combined[0]].strip() == layout.combined[1]), []

