"""Reading generic diary CSVs: encodings, separators, junk rows, days, file-level refusals.

Known tracker formats (Fitbit, Google Fit, Samsung Health, Apple Health) are in
test_diary_import_formats.py; date order in test_diary_import_dates.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from telecbt_cli.core.care.diary_import import (
    ImportFileError,
    ParsedImport,
    Skipped,
    parse_diary_csv,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
KEYS = {"day", "line", "pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps", "note"}


def parse(raw: bytes, **kwargs) -> ParsedImport:
    return parse_diary_csv(raw, now=NOW, **({"zone": timezone.utc} | kwargs))


def day_row(day: str, line: int, **values) -> dict:
    return dict.fromkeys(KEYS) | {"day": day, "line": line} | values


def reasons(result: ParsedImport) -> dict[int, str]:
    return {s.line: s.reason for s in result.skipped}


def test_generic_csv_sleep_minutes_become_hours():
    raw = b"Date,Steps,Sleep Minutes\r\n2026-03-01,8432,450\r\n2026-03-02,10021,397\r\n"
    result = parse(raw)
    assert result.encoding == "utf-8"
    assert result.format == "Diary CSV" and result.format_key == "generic-csv"
    assert result.columns == {"date": "Date", "sleep_hours": "Sleep Minutes", "steps": "Steps"}
    assert result.ignored_columns == []
    assert result.skipped == [] and result.duplicates == []
    assert result.rows_read == 2
    assert result.rows == [
        day_row("2026-03-01", 2, sleep_hours=7.5, steps=8432),
        day_row("2026-03-02", 3, sleep_hours=6.62, steps=10021),
    ]
    assert all(set(row) == KEYS for row in result.rows)


def test_spanish_export_semicolons_decimal_comma_ambiguous_dates_refused():
    """Issue 15: 02/03/2026 may be 2 March or February 3rd; no date above 12 decides, so it is refused."""
    raw = ("Fecha;Pasos;Horas sueño;Dolor;Ánimo;Nota\n"
           "02/03/2026;7.512;7,5;6;4;mañana dura\n"
           "03/03/2026 21:30;9,120;6,25;5;;\n").encode("utf-8")
    with pytest.raises(ImportFileError) as caught:
        parse(raw)
    message = str(caught.value)
    assert "could be day/month/year or month/day/year" in message
    assert "'02/03/2026' on line 2" in message and "--date-format DD/MM/YYYY" in message
    result = parse(raw, date_format="DMY")
    assert result.dates == "day/month/year, as --date-format says"
    assert result.skipped == [Skipped(2, "steps '7.512' is not a whole number (column 'Pasos')")]
    assert result.columns == {"date": "Fecha", "pain": "Dolor", "mood": "Ánimo",
                              "sleep_hours": "Horas sueño", "steps": "Pasos", "note": "Nota"}
    assert result.rows == [day_row("2026-03-03", 3, pain=5, sleep_hours=6.25, steps=9120)]


def test_utf16_with_bom():
    text = "Date\tSteps\tNotes\n2026-03-01\t5000\tcaminé\n"
    for raw in (b"\xff\xfe" + text.encode("utf-16-le"), b"\xfe\xff" + text.encode("utf-16-be")):
        result = parse(raw)
        assert result.encoding == "utf-16"
        assert result.rows[0]["steps"] == 5000
        assert result.rows[0]["note"] == "caminé"


def test_utf8_with_bom_header_still_matches():
    result = parse("Date,Steps\n2026-03-01,1\n".encode("utf-8-sig"))
    assert result.encoding == "utf-8-sig"
    assert result.columns["date"] == "Date"


def test_cp1252_with_accented_note():
    raw = "Date,Pain,Note\n2026-03-01,4,dolor después del paseo – ok\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    result = parse(raw)
    assert result.encoding == "cp1252"
    assert result.rows[0]["note"] == "dolor después del paseo – ok"
    assert result.rows[0]["pain"] == 4


def test_binary_file_refused():
    xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml\x00\x00"
    with pytest.raises(ImportFileError, match="not a text CSV file"):
        parse(xlsx)
    with pytest.raises(ImportFileError, match="not a text CSV file"):
        parse(b"Date,Steps\n2026-03-01,1\x00\n")


def test_undecodable_bytes_refused():
    # 0x81 is undefined in cp1252 and not valid UTF-8.
    with pytest.raises(ImportFileError, match="not a text CSV file"):
        parse(b"Date,Steps\n2026-03-01,1\x81\n")


def test_no_date_column_lists_expected_headers():
    with pytest.raises(ImportFileError) as caught:
        parse(b"When,Steps\n2026-03-01,1\n")
    message = str(caught.value)
    for expected in ("date", "day", "datetime", "timestamp", "start", "start_date", "fecha"):
        assert expected in message
    assert "'When'" in message and "'Steps'" in message


def test_no_data_column_lists_data_headers():
    with pytest.raises(ImportFileError) as caught:
        parse(b"Date,Heart Rate\n2026-03-01,61\n")
    message = str(caught.value)
    for expected in ("steps", "sleep_minutes", "active_minutes", "pain", "mood", "pasos"):
        assert expected in message
    assert "'Heart Rate'" in message


def test_unknown_columns_are_listed_as_ignored():
    result = parse(b"Date,Steps,Heart Rate,Distance (km)\n2026-03-01,100,60,1.2\n")
    assert result.ignored_columns == ["Heart Rate", "Distance (km)"]
    assert result.rows[0]["steps"] == 100


def test_junk_rows_skipped_with_line_and_reason():
    raw = (
        b"Date,Steps,Pain,Note\n"            # 1
        b"2026-03-01,1000,3,ok\n"            # 2 good
        b"yesterday,1000,3,\n"               # 3 bad date
        b"31/02/2026,1000,3,\n"              # 4 no such day
        b"\n"                                # 5 blank: ignored silently
        b"2027-01-05,1000,3,\n"              # 6 future
        b"2026-03-07,abc,3,\n"               # 7 steps not a number
        b"2026-03-08,1000,11,\n"             # 8 pain out of range
        b"2026-03-09,1000,3,x,extra\n"       # 9 too many cells
        b"2026-03-10,1000\n"                 # 10 too few cells
        b"2026-03-11,,,just a note\n"        # 11 nothing to record
        b"2026-03-12,2000,,\n"               # 12 good
    )
    result = parse(raw)
    assert [row["day"] for row in result.rows] == ["2026-03-01", "2026-03-12"]
    got = reasons(result)
    assert sorted(got) == [3, 4, 6, 7, 8, 9, 10, 11]
    assert "'yesterday' is not a date" in got[3]
    assert "February 2026 has no day 31" in got[4]
    assert got[6] == "date 2027-01-05 is in the future"
    assert got[7] == "steps 'abc' is not a number"
    assert got[8] == "pain '11' is out of range (allowed 0 to 10)"
    assert got[9].startswith("row has 5 cells but the header has 4")
    assert got[10] == "row has 2 cells but the header has 4"
    assert got[11] == "no diary values"


def test_out_of_range_is_never_clamped():
    raw = b"Date,Sleep,Steps,Active Minutes,Mood\n2026-03-01,25,100001,1441,-1\n2026-03-02,24,100000,1440,0\n"
    result = parse(raw)
    reason = reasons(result)[2]
    for part in ("sleep hours '25' is out of range", "steps '100001' is out of range",
                 "active minutes '1441' is out of range", "mood '-1' is out of range"):
        assert part in reason
    assert result.rows == [day_row("2026-03-02", 3, mood=0, sleep_hours=24.0, activity_min=1440, steps=100000)]


def test_invalid_day_and_time():
    raw = b"date,steps\n31/02/2026,1\n2026-03-01 25:00,1\n2026-02-30,1\n"
    got = reasons(parse(raw))
    assert "February 2026 has no day 31" in got[2]
    assert "not a time of day" in got[3]
    assert "February 2026 has no day 30" in got[4]


def test_times_give_the_day_as_written_and_utc_times_the_day_in_the_zone():
    """Issue 15: a row's day is the date written in it; only a UTC time ('Z') depends on the zone."""
    raw = (b"timestamp,steps\n"
           b"2026-03-01T23:30:00-05:00,1\n"     # 04:30 UTC on the 2nd, but the 1st where it was written
           b"2026-03-03T10:15Z,2\n"
           b"2026-03-04 06:45:10,3\n"
           b"15/03/2026 22:00,4\n"
           b"2026-03-05T23:30Z,5\n")           # already the 6th in UTC+2
    result = parse(raw, zone=timezone(timedelta(hours=2)))
    assert [(r["day"], r["steps"]) for r in result.rows] == [
        ("2026-03-01", 1), ("2026-03-03", 2), ("2026-03-04", 3), ("2026-03-06", 5), ("2026-03-15", 4)]
    assert result.dates == "day/month/year: '15/03/2026 22:00' on line 5 has the day first"


def test_future_is_judged_by_day():
    result = parse(b"Date,Steps\n2026-03-20T23:59,1\n2026-03-21T00:01,2\n")
    assert [r["steps"] for r in result.rows] == [1]
    assert reasons(result) == {3: "date 2026-03-21T00:01 is in the future"}


def test_today_date_only_is_not_future():
    result = parse(b"Date,Steps\n2026-03-20,1\n2026-03-21,2\n")
    assert [r["steps"] for r in result.rows] == [1]
    assert reasons(result) == {3: "date 2026-03-21 is in the future"}


def test_same_day_keeps_larger_total_and_first_rating():
    """Issue 15: two rows for one day are one diary day, never added together."""
    raw = b"Date,Steps,Pain\n2026-03-02,100,4\n2026-03-03,50,\n2026-03-02 21:00,200,6\n2026-03-02,150,\n"
    result = parse(raw)
    assert [(r["day"], r["steps"], r["pain"]) for r in result.rows] == [("2026-03-02", 200, 4), ("2026-03-03", 50, None)]
    assert {d.line: d.reason for d in result.duplicates} == {
        4: "same day as line 2 (2026-03-02): pain 6 is not used, the first value 4 is kept; "
           "steps 200 is used, the larger value",
        5: "same day as line 2 (2026-03-02): steps 150 is not used, the larger 200 is kept",
    }
    assert result.skipped == []


def test_same_day_rows_fill_each_others_gaps():
    result = parse(b"Date,Steps,Sleep\n2026-03-02,5000,\n2026-03-02,,7.5\n2026-03-02,5000,\n")
    assert result.rows == [day_row("2026-03-02", 2, steps=5000, sleep_hours=7.5)]
    assert {d.line: d.reason for d in result.duplicates} == {
        3: "same day as line 2 (2026-03-02): adds sleep hours 7.5",
        4: "same day as line 2 (2026-03-02) with nothing new",
    }


def test_duplicate_day_is_judged_in_zone():
    # 23:30 UTC on the 2nd is already the 3rd in UTC+1.
    raw = b"Date,Steps\n2026-03-02T23:30Z,1\n2026-03-03,2\n"
    result = parse(raw, zone=timezone(timedelta(hours=1)))
    assert [(r["day"], r["steps"]) for r in result.rows] == [("2026-03-03", 2)]
    assert [d.line for d in result.duplicates] == [3]


def test_skipped_row_does_not_claim_its_day():
    result = parse(b"Date,Pain\n2026-03-02,11\n2026-03-02,5\n")
    assert [r["pain"] for r in result.rows] == [5]
    assert list(reasons(result)) == [2]


def test_thousands_separator_steps():
    result = parse(b'Date,Steps\n2026-03-01,"12,345"\n2026-03-02,"1,234,5"\n')
    assert result.rows[0]["steps"] == 12345
    assert reasons(result) == {3: "steps '1,234,5' is not a number"}


def test_float_formatted_whole_numbers_accepted():
    result = parse(b"Date,Steps,Pain\n2026-03-01,8523.0,4\n2026-03-02,100,6.5\n")
    assert result.rows[0]["steps"] == 8523
    assert reasons(result) == {3: "pain '6.5' is not a whole number"}


def test_note_control_characters_stripped():
    raw = b'Date,Pain,Note\n2026-03-01,4,"\x1b[31mred\x07 day\r\nsecond\tline"\n'
    result = parse(raw)
    assert result.rows[0]["note"] == "[31mred day\nsecond\tline"
    assert "\x1b" not in result.rows[0]["note"]


def test_long_note_skipped():
    raw = b"Date,Pain,Note\n2026-03-01,4," + b"a" * 2001 + b"\n2026-03-02,4," + b"b" * 2000 + b"\n"
    result = parse(raw)
    assert reasons(result) == {2: "note is too long (2001 characters; the limit is 2000)"}
    assert len(result.rows[0]["note"]) == 2000


def test_echoed_values_are_truncated_and_cleaned():
    raw = b"Date,Steps\n2026-03-01,\x1b[2J" + b"9" * 40 + b"x\n"
    reason = reasons(parse(raw))[2]
    assert "\x1b" not in reason
    echoed = reason.split("'")[1]
    assert len(echoed) <= 30 and echoed.endswith("…")


def test_headers_case_spaces_dashes_underscores():
    raw = b"  START-DATE ,step count,Sleep_Quality,minutes asleep,Active-Minutes\n2026-03-01,1,7,480,30\n"
    result = parse(raw)
    assert result.columns == {"date": "START-DATE", "sleep_hours": "minutes asleep",
                              "sleep_quality": "Sleep_Quality", "activity_min": "Active-Minutes",
                              "steps": "step count"}
    assert result.rows[0]["sleep_hours"] == 8.0 and result.rows[0]["sleep_quality"] == 7


def test_tab_delimiter_and_blank_rows_ignored():
    raw = b"\n\ndate\tsteps\n\n2026-03-01\t10\n\t\n   \n2026-03-02\t20\n"
    result = parse(raw)
    assert [r["steps"] for r in result.rows] == [10, 20]
    assert result.skipped == []


def test_unclosed_quote_is_reported():
    raw = b'Date,Pain,Note\n2026-03-01,3,fine\n2026-03-02,4,"oops\n2026-03-03,5,lost\n'
    result = parse(raw)
    assert [r["pain"] for r in result.rows] == [3]
    assert list(reasons(result)) == [3]
    assert "never closed" in reasons(result)[3]


def test_header_only_file_gives_no_rows():
    result = parse(b"Date,Steps\n")
    assert result.rows == [] and result.skipped == []


def test_empty_file_refused():
    with pytest.raises(ImportFileError, match="empty"):
        parse(b"")


def test_file_over_20_mb_refused():
    raw = b"Date,Steps\n" + b" " * (20 * 1024 * 1024)
    with pytest.raises(ImportFileError, match="20 MB"):
        parse(raw)


def test_more_than_100000_rows_refused():
    line = b"2026-03-01,1\n"
    with pytest.raises(ImportFileError, match="100,000"):
        parse(b"Date,Steps\n" + line * 100_001)


def test_exactly_100000_rows_accepted():
    line = b"2026-03-01,1\n"
    result = parse(b"Date,Steps\n" + line * 100_000)
    assert len(result.rows) == 1 and len(result.duplicates) == 99_999 and result.skipped == []


def test_naive_now_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_diary_csv(b"Date,Steps\n2026-03-01,1\n", now=datetime(2026, 3, 20))
