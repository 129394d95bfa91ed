"""Reading an Apple Health export (export.xml, or the export.zip around it) as a stream.

Real exports are hundreds of MB to several GB, so the file is never held in memory: the
expat parser calls back for each element and nothing is kept but running totals per
day and source. Records are summed per local day, the day being the date written in the
record itself (each record carries its own UTC offset, so travel does not move a day):

- steps (HKQuantityTypeIdentifierStepCount) and exercise minutes
  (HKQuantityTypeIdentifierAppleExerciseTime): summed per day by start time;
- sleep (HKCategoryTypeIdentifierSleepAnalysis): the time asleep (core, deep, REM or
  unspecified; "in bed" only when no source recorded asleep time that day), overlaps
  merged, counted for the day the sleep ends.

An iPhone and an Apple Watch both count the same steps, so sources are never added
together: each day keeps the larger source's total.

Most of a real export is records of types not read here (heart rate, energy, distance).
A record of such a type written as one complete element, `<Record type="…" …/>`, is cut
out of each chunk with one regular expression (and counted) before the XML parser sees it,
which halves the time: the parser then builds no attributes for it. Anything else, including
such a record split across two chunks, goes through the parser as it is.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat

from telecbt_cli.core.care.diary_days import today
from telecbt_cli.core.care.diary_import_days import DayRow, merge_days
from telecbt_cli.core.store.errors import Said, Term
from telecbt_cli.core.care.diary_import_values import (
    RULES,
    ImportFileError,
    ParsedImport,
    Skipped,
    check_field,
    echo,
    unit_word,
)

STEPS = "HKQuantityTypeIdentifierStepCount"
EXERCISE = "HKQuantityTypeIdentifierAppleExerciseTime"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
IN_BED = "HKCategoryValueSleepAnalysisInBed"
ASLEEP = frozenset({"HKCategoryValueSleepAnalysisAsleep", "HKCategoryValueSleepAnalysisAsleepUnspecified",
                    "HKCategoryValueSleepAnalysisAsleepCore", "HKCategoryValueSleepAnalysisAsleepDeep",
                    "HKCategoryValueSleepAnalysisAsleepREM"})
#: record type -> (diary field, unit the export must use)
QUANTITIES = {STEPS: ("steps", "count"), EXERCISE: ("activity_min", "min")}
SKIPPED_KEPT = 1000
CHUNK = 1 << 20
#: Bounds that keep memory flat even for a hostile file: names of record types counted as
#: ignored (the rest are "other types"), and sources (phones, watches, apps) per file.
KINDS_KEPT = 200
SOURCES_KEPT = 500
OTHER_KINDS = "other record types"

#: A whole one-element record of a type not read: no '<', '>' or line break inside, so cutting
#: it out can never touch another element, and line numbers stay right.
_OTHER_RECORD = re.compile(
    rb'<Record type="(?!(?:' + b"|".join(re.escape(k.encode()) for k in (*QUANTITIES, SLEEP)) + rb')")'
    rb'([^"<>\n]*)"[^<>\n]*/>')
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} ?[+-][0-9]{4}\Z")


def looks_like_apple_xml(head: bytes) -> bool:
    """True for the start of an XML file whose root is HealthData (or any XML, to be checked later)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<?xml") or text.startswith(b"<HealthData") or text.startswith(b"<!DOCTYPE HealthData")


def _moment(stamp: str) -> int:
    """'2024-03-01 23:10:00 -0500' -> seconds since 1970 (an int keeps a night's intervals small)."""
    return int(datetime.fromisoformat(stamp[:19] + stamp[19:].strip()).timestamp())


def _real_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class _Totals:
    """Running totals while the parser walks the file."""

    def __init__(self, last_day: str) -> None:
        self.last_day = last_day
        self.sums: dict[str, dict[tuple[str, str], float]] = {fld: {} for fld, _ in QUANTITIES.values()}
        self.sleep: dict[tuple[str, str], tuple[list, list]] = {}
        self.first_line: dict[tuple[str, str], int] = {}
        self.ignored: dict[str, int] = {}
        self.sources: set[str] = set()
        self.skipped: list[Skipped] = []
        self.skipped_total = 0
        self.records = 0
        self.root: str | None = None
        self.encoding = "utf-8"

    def ignore(self, kind: str | None, n: int = 1) -> None:
        kind = echo(kind, 80) if kind else "records without a type"
        if kind not in self.ignored and len(self.ignored) >= KINDS_KEPT:
            kind = OTHER_KINDS
        self.ignored[kind] = self.ignored.get(kind, 0) + n

    def placed(self, day: str, attrs: dict, words: Term, line: int) -> str | None:
        """The record's source when it can be counted on `day`; else None, the record skipped."""
        if day > self.last_day:
            self.skip(line, Said("date {value} is in the future", "diary_import.future", value=day))
            return None
        name = attrs.get("sourceName", "")
        if name not in self.sources:
            if len(self.sources) >= SOURCES_KEPT:  # more than any real export names
                self.skip(line, Said("{what} record from one source too many (over {limit})",
                                     "diary_import.too_many_sources", what=words, limit=SOURCES_KEPT))
                return None
            self.sources.add(name)
        return name

    def skip(self, line: int, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < SKIPPED_KEPT:
            self.skipped.append(Skipped(line, reason))

    def quantity(self, kind: str, attrs: dict, line: int) -> None:
        fld, unit = QUANTITIES[kind]
        start, value = attrs.get("startDate", ""), attrs.get("value", "")
        if not _STAMP.match(start):
            return self.skip(line, Said("{what} record: start date '{value}' is not a date", "diary_import.record_start",
                                        what=unit_word(fld), value=echo(start)))
        if attrs.get("unit") != unit:
            return self.skip(line, Said("{what} record in '{unit}', not '{expected}'", "diary_import.record_unit",
                                        what=unit_word(fld), unit=echo(attrs.get("unit", "")), expected=unit))
        try:
            amount = int(value) if value.isdigit() else float(value)
        except ValueError:
            return self.skip(line, Said("{what} '{value}' is not a number", "diary_import.not_number",
                                        what=unit_word(fld), value=echo(value)))
        if not 0 <= amount < 1e9:
            return self.skip(line, Said("{what} '{value}' is out of range", "diary_import.out_of_range_plain",
                                        what=unit_word(fld), value=echo(value)))
        day = start[:10]
        source = self.placed(day, attrs, unit_word(fld), line)
        if source is None:
            return None
        key = (day, source)
        sums = self.sums[fld]
        if key not in sums:
            if not _real_day(day):
                return self.skip(line, Said("{what} record: start date '{value}' is not a date", "diary_import.record_start",
                                        what=unit_word(fld), value=echo(start)))
            sums[key] = 0
            self.first_line.setdefault((day, fld), line)
        sums[key] += amount

    def sleep_record(self, attrs: dict, line: int) -> None:
        start, end, value = attrs.get("startDate", ""), attrs.get("endDate", ""), attrs.get("value", "")
        if value not in ASLEEP and value != IN_BED:
            return  # awake, or a value this version does not know
        try:
            if not (_STAMP.match(start) and _STAMP.match(end)):
                raise ValueError("not a stamp")
            begin, finish = _moment(start), _moment(end)
        except ValueError:
            return self.skip(line, Said("sleep record: '{start}' to '{end}' are not dates", "diary_import.sleep_not_dates",
                                        start=echo(start), end=echo(end)))
        if finish < begin or finish - begin > 86_400:
            return self.skip(line, Said("sleep record from {start} to {end} is not a possible night",
                                        "diary_import.sleep_not_night", start=echo(start), end=echo(end)))
        day = end[:10]
        source = self.placed(day, attrs, Term("diary_import.unit_sleep", "sleep"), line)
        if source is None:
            return None
        asleep, in_bed = self.sleep.setdefault((day, source), ([], []))
        (asleep if value in ASLEEP else in_bed).append((begin, finish))
        self.first_line.setdefault((day, "sleep_hours"), line)


def _hours(intervals: list[tuple[int, int]]) -> float:
    """Hours covered by the intervals (seconds since 1970), overlaps counted once."""
    total = 0
    end: int | None = None
    for begin, finish in sorted(intervals):
        if end is not None and begin < end:
            begin = end
        if finish > begin:
            total += finish - begin
        end = finish if end is None else max(end, finish)
    return total / 3600


def _day_rows(totals: _Totals) -> tuple[list[DayRow], dict[str, int]]:
    """One DayRow per day, each field the largest total among sources; sources per field."""
    best: dict[str, dict[str, float]] = {}
    sources: dict[str, set[str]] = {}
    for fld, sums in totals.sums.items():
        for (day, source), amount in sums.items():
            sources.setdefault(fld, set()).add(source)
            best.setdefault(day, {})[fld] = max(best.get(day, {}).get(fld, 0), amount)
    nights: dict[str, tuple[float, float]] = {}  # day -> (most hours asleep, most hours in bed)
    for (day, source), (asleep, in_bed) in totals.sleep.items():
        sources.setdefault("sleep_hours", set()).add(source)
        most_asleep, most_in_bed = nights.get(day, (0.0, 0.0))
        nights[day] = (max(most_asleep, _hours(asleep)), max(most_in_bed, _hours(in_bed)))
    for day, (most_asleep, most_in_bed) in nights.items():
        best.setdefault(day, {})["sleep_hours"] = most_asleep or most_in_bed
    rows: list[DayRow] = []
    for day, fields in best.items():
        values: dict[str, float | int] = {}
        for fld, amount in fields.items():
            # Device counts can carry fractions; a day's total of a whole-number field is rounded.
            amount = round(amount) if RULES[fld][2] else round(amount, 6)
            value, problem = check_field(fld, amount, f"{amount:g}")
            line = totals.first_line.get((day, fld), 0)
            if problem:
                totals.skip(line, Said("{day}: {problem}, so that day's {what} were not used", "diary_import.day_not_used",
                                       day=day, problem=problem, what=unit_word(fld)))
            elif value is not None:
                values[fld] = value
        if values:
            line = min(totals.first_line.get((day, fld), 0) for fld in values)
            rows.append(DayRow(line, date.fromisoformat(day), values))
    return rows, {fld: len(names) for fld, names in sources.items()}


def _parse(stream: BinaryIO, totals: _Totals, size: int, progress: Callable[[int, int], None] | None) -> None:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_entities(*_args: object) -> None:
        raise ImportFileError("This XML file declares entities, which an Apple Health export never does: "
                              "it was not imported.", key="errors.import_file.entities")

    def declaration(_version: str, encoding: str | None, _standalone: int) -> None:
        totals.encoding = (encoding or "utf-8").lower()

    ignore = totals.ignore
    wanted = {kind: (lambda attrs, line, kind=kind: totals.quantity(kind, attrs, line)) for kind in QUANTITIES}
    wanted[SLEEP] = totals.sleep_record

    def start(name: str, attrs: dict) -> None:
        # Called for every element of a file of millions: the common case (a record of a
        # type we do not read) is kept to two dictionary lookups.
        if name == "Record":
            kind = attrs.get("type")
            handler = wanted.get(kind)
            if handler is None:
                ignore(kind)
            else:
                totals.records += 1
                handler(attrs, parser.CurrentLineNumber)
        elif totals.root is None:
            totals.root = name
            if name != "HealthData":
                raise ImportFileError(
                    "This XML file is not an Apple Health export (its root element is '{name}', not 'HealthData').",
                    key="errors.import_file.not_apple", name=echo(name))

    cut: dict[bytes, int] = {}

    def count(match: re.Match) -> bytes:
        kind = match.group(1)
        if kind in cut or len(cut) < KINDS_KEPT:
            cut[kind] = cut.get(kind, 0) + 1
        else:
            cut[OTHER_KINDS.encode()] = cut.get(OTHER_KINDS.encode(), 0) + 1
        return b""

    parser.EntityDeclHandler = refuse_entities
    parser.XmlDeclHandler = declaration
    parser.StartElementHandler = start
    done = 0
    try:
        while chunk := stream.read(CHUNK):
            parser.Parse(_OTHER_RECORD.sub(count, chunk), False)
            done += len(chunk)
            if progress:
                progress(done, size)
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise ImportFileError(
            "The XML file is damaged or cut short at line {line} ({error}): "
            "nothing was imported. Export the data again from the Health app.", key="errors.import_file.xml_cut",
            line=error.lineno, error=expat.ErrorString(error.code)) from None
    for kind, n in cut.items():
        ignore(kind.decode("utf-8", errors="replace"), n)


def _open_zip(path: Path) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    archive = zipfile.ZipFile(path)
    members = [m for m in archive.infolist() if m.filename.rsplit("/", 1)[-1] == "export.xml"]
    if not members:
        archive.close()
        raise ImportFileError(
            "This zip file holds no export.xml, so it is not an Apple Health export. "
            "Unzip it and import the CSV or XML file inside.", key="errors.import_file.zip_no_xml")
    return archive, min(members, key=lambda m: m.filename.count("/"))


def read_apple_health(path: Path, *, now: datetime, zone: tzinfo | None = None,
                      progress: Callable[[int, int], None] | None = None) -> ParsedImport:
    """Read export.xml (or export.zip) in constant memory; ImportFileError when it cannot be used."""
    totals = _Totals(today(zone, now).isoformat())
    if zipfile.is_zipfile(path):
        archive, member = _open_zip(path)
        with archive, archive.open(member) as stream:
            _parse(stream, totals, member.file_size, progress)
        name = Said("Apple Health export ({file} in a zip file)", "diary_import.apple_zip", file=member.filename)
    else:
        with open(path, "rb") as stream:
            _parse(stream, totals, path.stat().st_size, progress)
        name = Said("Apple Health export ({file})", "diary_import.apple_xml", file="export.xml")
    totals.records += sum(totals.ignored.values())
    rows, sources = _day_rows(totals)
    days, _ = merge_days(rows)
    words = {"steps": STEPS, "activity_min": EXERCISE,
             "sleep_hours": Said("{kind} (asleep; in bed when no source has asleep time that day)",
                                 "diary_import.apple_sleep_column", kind=SLEEP)}
    columns = {"date": Said("each record's own date (sleep: the day it ends)", "diary_import.apple_date_column")}
    columns |= {fld: words[fld] for fld in ("sleep_hours", "activity_min", "steps") if fld in sources}
    notes = [Said("{what} came from {count} sources; on days with more than one, the larger total is used "
                  "(sources are never added together)", "diary_import.sources", what=unit_word(fld), count=n)
             for fld, n in sources.items() if n > 1]
    ignored = [Said("{kind} ({count} record)", "diary_import.apple_ignored_one", kind=kind, count=count) if count == 1 else
               Said("{kind} ({count} records)", "diary_import.apple_ignored", kind=kind, count=count) for kind, count in
               sorted(totals.ignored.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return ParsedImport(rows=days, skipped=sorted(totals.skipped, key=lambda s: s.line), columns=columns,
                        encoding=totals.encoding, ignored_columns=ignored, format=name,
                        format_key="apple-health-xml",
                        dates=Said("year-month-day, with each record's own UTC offset", "diary_import.order_apple"),
                        notes=notes, rows_read=totals.records, skipped_total=totals.skipped_total)
