"""Reading exported diary CSVs: formats, encodings, junk rows, file-level refusals."""

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
KEYS = {"entry_at", "pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps", "note"}


def parse(raw: bytes, **kwargs) -> ParsedImport:
    return parse_diary_csv(raw, now=NOW, **kwargs)


def reasons(result: ParsedImport) -> dict[int, str]:
    return {s.line: s.reason for s in result.skipped}


def test_apple_health_like_export_sleep_minutes_become_hours():
    raw = b"Date,Steps,Sleep Minutes\r\n2026-03-01,8432,450\r\n2026-03-02,10021,397\r\n"
    result = parse(raw)
    assert result.encoding == "utf-8"
    assert result.columns == {"entry_at": "Date", "sleep_hours": "Sleep Minutes", "steps": "Steps"}
    assert result.ignored_columns == []
    assert result.skipped == []
    assert result.rows == [
        {"entry_at": "2026-03-01T08:00:00.000Z", "pain": None, "mood": None, "sleep_hours": 7.5,
         "sleep_quality": None, "activity_min": None, "steps": 8432, "note": None},
        {"entry_at": "2026-03-02T08:00:00.000Z", "pain": None, "mood": None, "sleep_hours": 6.62,
         "sleep_quality": None, "activity_min": None, "steps": 10021, "note": None},
    ]
    assert all(set(row) == KEYS for row in result.rows)


def test_spanish_export_semicolons_decimal_comma_day_first():
    raw = ("Fecha;Pasos;Horas sueño;Dolor;Ánimo;Nota\n"
           "02/03/2026;7.512;7,5;6;4;mañana dura\n"
           "03/03/2026 21:30;9,120;6,25;5;;\n").encode("utf-8")
    result = parse(raw, tz=timezone(timedelta(hours=1)))
    assert result.skipped == [Skipped(2, "steps '7.512' is not a whole number (column 'Pasos')")]
    assert result.columns == {"entry_at": "Fecha", "pain": "Dolor", "mood": "Ánimo",
                              "sleep_hours": "Horas sueño", "steps": "Pasos", "note": "Nota"}
    assert result.rows == [
        {"entry_at": "2026-03-03T20:30:00.000Z", "pain": 5, "mood": None, "sleep_hours": 6.25,
         "sleep_quality": None, "activity_min": None, "steps": 9120, "note": None},
    ]


def test_spanish_export_date_only_gets_default_time_in_tz():
    raw = "fecha;pasos;horas_sueno\n02/03/2026;7512;7,5\n".encode("utf-8")
    result = parse(raw, tz=timezone(timedelta(hours=-5)), default_time="07:30")
    assert result.rows[0]["entry_at"] == "2026-03-02T12:30:00.000Z"
    assert result.rows[0]["sleep_hours"] == 7.5
    assert result.rows[0]["steps"] == 7512


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
    assert result.columns["entry_at"] == "Date"


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
        b"03/14/2026,1000,3,\n"              # 4 month-first date
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
    assert [row["entry_at"][:10] for row in result.rows] == ["2026-03-01", "2026-03-12"]
    got = reasons(result)
    assert sorted(got) == [3, 4, 6, 7, 8, 9, 10, 11]
    assert "'yesterday' is not a date" in got[3]
    assert "14 is not a month" in got[4] and "day first" in got[4]
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
    assert result.rows == [
        {"entry_at": "2026-03-02T08:00:00.000Z", "pain": None, "mood": 0, "sleep_hours": 24.0,
         "sleep_quality": None, "activity_min": 1440, "steps": 100000, "note": None},
    ]


def test_invalid_day_and_time():
    raw = b"date,steps\n31/02/2026,1\n2026-03-01 25:00,1\n2026-02-30,1\n"
    got = reasons(parse(raw))
    assert "February 2026 has no day 31" in got[2]
    assert "not a time of day" in got[3]
    assert "February 2026 has no day 30" in got[4]


def test_datetime_forms_convert_to_utc():
    raw = (b"timestamp,steps\n"
           b"2026-03-01T23:30:00-05:00,1\n"
           b"2026-03-03T10:15Z,2\n"
           b"2026-03-04 06:45:10,3\n"
           b"05/03/2026 22:00,4\n")
    result = parse(raw, tz=timezone(timedelta(hours=2)))
    assert [r["entry_at"] for r in result.rows] == [
        "2026-03-02T04:30:00.000Z", "2026-03-03T10:15:00.000Z",
        "2026-03-04T04:45:10.000Z", "2026-03-05T20:00:00.000Z",
    ]


def test_future_datetime_against_now():
    raw = b"Date,Steps\n2026-03-20T11:59,1\n2026-03-20T12:01,2\n"
    result = parse(raw)
    assert [r["steps"] for r in result.rows] == [1]
    assert reasons(result) == {3: "date 2026-03-20T12:01 is in the future"}


def test_today_date_only_is_not_future():
    result = parse(b"Date,Steps\n2026-03-20,1\n2026-03-21,2\n")
    assert [r["steps"] for r in result.rows] == [1]
    assert reasons(result) == {3: "date 2026-03-21 is in the future"}


def test_duplicate_day_keeps_first():
    raw = b"Date,Steps\n2026-03-02,100\n2026-03-03,50\n2026-03-02 21:00,200\n02/03/2026,300\n"
    result = parse(raw)
    assert [r["steps"] for r in result.rows] == [100, 50]
    assert reasons(result) == {
        4: "duplicate date 2026-03-02 (first seen on line 2)",
        5: "duplicate date 2026-03-02 (first seen on line 2)",
    }


def test_duplicate_day_is_judged_in_tz():
    # 23:30 UTC on the 2nd is already the 3rd in UTC+1.
    raw = b"Date,Steps\n2026-03-02T23:30Z,1\n2026-03-03,2\n"
    result = parse(raw, tz=timezone(timedelta(hours=1)))
    assert reasons(result) == {3: "duplicate date 2026-03-03 (first seen on line 2)"}


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
    assert result.columns == {"entry_at": "START-DATE", "sleep_hours": "minutes asleep",
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
    assert len(result.rows) == 1 and len(result.skipped) == 99_999


def test_naive_now_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_diary_csv(b"Date,Steps\n2026-03-01,1\n", now=datetime(2026, 3, 20))
