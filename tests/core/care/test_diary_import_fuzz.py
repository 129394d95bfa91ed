"""Any bytes given to the importer give a result or a clear ImportFileError, never a crash."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telecbt_cli.core.care.diary_import import ImportFileError, parse_diary_csv, read_export

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
SAMPLES = Path(__file__).parent / "samples"
CELLS = st.sampled_from(["Date", "Fecha", "Steps", "Pasos", "Sleep", "pain", "4/12/2016", "13/04/2016", "04/13/2016",
                         "2026-03-01", "2026-03-01T23:30Z", "1709251200000", "7,5", "1,234", "-3", "", '"', "x",
                         "12:00:00 AM", "Id", "SleepDay", "TotalMinutesAsleep", "com.samsung.shealth.x", "day_time",
                         "count", "source_type", "-2", "\ufeff", "\x00", "é"])
SEPARATORS = st.sampled_from([",", ";", "\t"])
LINES = st.lists(st.lists(CELLS, min_size=1, max_size=6), min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(LINES, SEPARATORS, st.sampled_from(["utf-8", "utf-16", "cp1252"]), st.sampled_from([None, "DMY", "MDY"]))
def test_csv_never_crashes(lines, sep, encoding, order):
    text = "\n".join(sep.join(cells) for cells in lines)
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return
    try:
        result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, date_format=order)
    except ImportFileError as error:
        assert str(error)
        return
    assert len({row["day"] for row in result.rows}) == len(result.rows)
    assert all(skip.line >= 1 and skip.reason for skip in result.skipped)


SAMPLE = (SAMPLES / "apple_health_export.xml").read_bytes()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(SAMPLE) - 1), st.integers(0, len(SAMPLE)), st.binary(min_size=0, max_size=8))
def test_damaged_apple_export_never_crashes(start, length, junk):
    damaged = SAMPLE[:start] + junk + SAMPLE[start + length:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.xml"
        path.write_bytes(damaged)
        try:
            result = read_export(path, now=NOW, zone=timezone.utc)
        except ImportFileError as error:
            assert str(error)
            return
        assert all(row["steps"] is None or 0 <= row["steps"] <= 100_000 for row in result.rows)
