"""Apple Health export.xml (and export.zip) read as a stream: per-day sums, sources, sleep, refusals."""

from __future__ import annotations

import random
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from telecbt_cli.core.care.diary_import import ImportFileError, read_export

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
FIELDS = ("sleep_hours", "activity_min", "steps")
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData ANY>\n]>\n' \
       '<HealthData locale="en_US">\n <ExportDate value="2024-04-01 09:00:00 -0500"/>\n'


def values(result) -> dict[str, dict]:
    return {row["day"]: {k: row[k] for k in FIELDS if row[k] is not None} for row in result.rows}


def record(kind: str, source: str, start: str, end: str, value: str, unit: str | None = None) -> str:
    unit_attr = f' unit="{unit}"' if unit else ""
    return (f' <Record type="{kind}" sourceName="{source}" sourceVersion="1"{unit_attr} creationDate="{end}" '
            f'startDate="{start}" endDate="{end}" value="{value}"/>\n')


def steps(source: str, start: str, value: int) -> str:
    return record("HKQuantityTypeIdentifierStepCount", source, start, start, str(value), "count")


def sleep(source: str, start: str, end: str, value: str = "AsleepCore") -> str:
    return record("HKCategoryTypeIdentifierSleepAnalysis", source, start, end, f"HKCategoryValueSleepAnalysis{value}")


def export(tmp_path: Path, body: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + "</HealthData>\n", encoding="utf-8")
    return path


def test_apple_sample_export():
    """Issue 15: steps summed per day and source, the larger source kept; sleep asleep time on the day it ends."""
    result = read_export(SAMPLES / "apple_health_export.xml", now=NOW, zone=timezone.utc)
    assert result.format == "Apple Health export (export.xml)" and result.format_key == "apple-health-xml"
    # Written: Mar 1 phone 312 + 1200 + 2500 = 4012, watch 1500 + 3000 + 100 (23:58 -0500) = 4600;
    # Mar 2 (+0100, on a trip) phone 800 and one record "abc"; exercise minutes 12 + 8 on Mar 1;
    # the night of Mar 1-2, watch asleep 2 h core + 1 h deep + 1.5 h REM + 2 h 50 min core, plus a
    # 30-minute nap on Mar 2 (the phone's 8 h 10 min "in bed" is not sleep).
    assert values(result) == {
        "2024-03-01": {"steps": 4600, "activity_min": 20},
        "2024-03-02": {"steps": 800, "sleep_hours": round(2 + 1 + 1.5 + 2 + 50 / 60 + 0.5, 2)},
    }
    assert [(s.line, s.reason) for s in result.skipped] == [(42, "steps 'abc' is not a number")]
    assert result.rows_read == 22
    assert result.ignored_columns == ["HKQuantityTypeIdentifierHeartRate (2 records)",
                                      "HKQuantityTypeIdentifierBloodPressureDiastolic (1 record)",
                                      "HKQuantityTypeIdentifierBloodPressureSystolic (1 record)"]
    assert any("steps came from 2 sources" in note for note in result.notes)


def test_days_do_not_depend_on_the_reading_zone():
    for zone in (ZoneInfo("Pacific/Auckland"), ZoneInfo("America/Los_Angeles"), None):
        result = read_export(SAMPLES / "apple_health_export.xml", now=NOW, zone=zone)
        assert [row["day"] for row in result.rows] == ["2024-03-01", "2024-03-02"]


def test_export_zip_as_it_comes_from_the_phone(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
        zf.write(SAMPLES / "apple_health_export.xml", "apple_health_export/export.xml")
    seen: list[tuple[int, int]] = []
    result = read_export(archive, now=NOW, zone=timezone.utc, progress=lambda done, total: seen.append((done, total)))
    assert result.format == "Apple Health export (apple_health_export/export.xml in a zip file)"
    assert values(result)["2024-03-01"] == {"steps": 4600, "activity_min": 20}
    size = (SAMPLES / "apple_health_export.xml").stat().st_size
    assert seen[-1] == (size, size)


def test_generated_records_match_what_was_written(tmp_path):
    rng = random.Random(15)
    written: dict[str, dict[str, list[int]]] = {}
    body = []
    for n in range(40):
        day = (datetime(2024, 1, 1) + timedelta(days=n)).date().isoformat()
        for source in ("Phone", "Watch"):
            counts = [rng.randint(0, 900) for _ in range(rng.randint(0, 12))]
            written.setdefault(day, {})[source] = counts
            body += [steps(source, f"{day} {8 + i:02d}:{rng.randint(0, 59):02d}:00 -0300", c)
                     for i, c in enumerate(counts)]
    rng.shuffle(body)  # order in the file does not matter
    result = read_export(export(tmp_path, "".join(body)), now=NOW, zone=timezone.utc)
    expected = {day: max(sum(c) for c in by_source.values()) for day, by_source in written.items()}
    assert {day: v["steps"] for day, v in values(result).items()} == {d: s for d, s in expected.items()
                                                                      if any(written[d].values())}


def test_records_of_other_types_are_counted_however_they_are_written(tmp_path):
    one_line = record("HKQuantityTypeIdentifierHeartRate", "Watch", "2024-03-04 08:00:00 +0000",
                      "2024-03-04 08:00:00 +0000", "71", "count/min")
    with_metadata = one_line.replace('"/>\n', '">\n  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" '
                                             'value="0"/>\n </Record>\n')
    type_not_first = ' <Record sourceName="Watch" type="HKQuantityTypeIdentifierHeartRate" startDate="x" endDate="x"/>\n'
    body = one_line + with_metadata + type_not_first + '<Record value="1"/>' + steps("Phone", "2024-03-04 09:00:00 +0000", 5)
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert values(result) == {"2024-03-04": {"steps": 5}}
    assert result.ignored_columns == ["HKQuantityTypeIdentifierHeartRate (3 records)",
                                      "records without a type (1 record)"]
    assert result.rows_read == 5


def test_a_hostile_file_cannot_grow_memory_with_names(tmp_path):
    body = "".join(record(f"HKQuantityTypeIdentifierMade{n}", "Watch", "2024-03-04 08:00:00 +0000",
                          "2024-03-04 08:00:00 +0000", "1", "x") for n in range(250))
    body += "".join(steps(f"Source {n}", "2024-03-05 08:00:00 +0000", 1) for n in range(502))
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert len(result.ignored_columns) == 201 and "other record types (50 records)" in result.ignored_columns
    assert values(result) == {"2024-03-05": {"steps": 1}}
    assert [s.reason for s in result.skipped] == ["steps record from one source too many (over 500)"] * 2


def test_sleep_in_bed_only_when_no_source_has_asleep_time(tmp_path):
    body = (sleep("Phone", "2024-03-04 23:00:00 +0000", "2024-03-05 07:00:00 +0000", "InBed")
            + sleep("Phone", "2024-03-05 23:30:00 +0000", "2024-03-06 06:00:00 +0000", "InBed")
            + sleep("Watch", "2024-03-05 23:45:00 +0000", "2024-03-06 05:15:00 +0000", "AsleepUnspecified")
            + sleep("Watch", "2024-03-06 02:00:00 +0000", "2024-03-06 03:00:00 +0000", "AsleepDeep")  # overlaps
            + sleep("Watch", "2024-03-06 05:15:00 +0000", "2024-03-06 05:30:00 +0000", "Awake"))
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert values(result) == {"2024-03-05": {"sleep_hours": 8.0}, "2024-03-06": {"sleep_hours": 5.5}}


def test_exercise_minutes_and_wrong_units(tmp_path):
    body = (record("HKQuantityTypeIdentifierAppleExerciseTime", "Watch", "2024-03-07 10:00:00 +0200",
                   "2024-03-07 10:01:00 +0200", "1", "min") * 3
            + record("HKQuantityTypeIdentifierAppleExerciseTime", "Watch", "2024-03-07 11:00:00 +0200",
                     "2024-03-07 11:01:00 +0200", "60", "s"))
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert values(result) == {"2024-03-07": {"activity_min": 3}}
    assert [s.reason for s in result.skipped] == ["active minutes record in 's', not 'min'"]


def test_impossible_dates_are_skipped_not_fatal(tmp_path):
    body = (steps("Phone", "2024-02-30 08:00:00 +0000", 10) + steps("Phone", "2024-02-28 08:00:00 +0000", 20)
            + sleep("Watch", "2024-13-01 01:00:00 +0000", "2024-13-01 02:00:00 +0000"))
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert values(result) == {"2024-02-28": {"steps": 20}}
    assert [s.reason for s in result.skipped] == [
        "steps record: start date '2024-02-30 08:00:00 +0000' is not a date",
        "sleep record: '2024-13-01 01:00:00 +0000' to '2024-13-01 02:00:00 +0000' are not dates"]


def test_future_records_are_skipped(tmp_path):
    body = steps("Phone", "2026-03-20 23:00:00 -0300", 10) + steps("Phone", "2026-03-21 08:00:00 -0300", 20)
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert values(result) == {"2026-03-20": {"steps": 10}}
    assert [s.reason for s in result.skipped] == ["date 2026-03-21 is in the future"]


def test_a_day_over_the_limit_is_reported_not_clamped(tmp_path):
    body = steps("Phone", "2024-03-08 08:00:00 +0000", 60_000) + steps("Phone", "2024-03-08 09:00:00 +0000", 50_000)
    result = read_export(export(tmp_path, body), now=NOW, zone=timezone.utc)
    assert result.rows == []
    assert "2024-03-08: steps '110000' is out of range (allowed 0 to 100000)" in result.skipped[0].reason


def test_entity_declarations_are_refused(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n<!ENTITY a "aaaaaaaaaa">\n'
                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<HealthData>&b;</HealthData>\n')
    with pytest.raises(ImportFileError, match="declares entities"):
        read_export(path, now=NOW)


def test_a_cut_short_file_imports_nothing(tmp_path):
    whole = export(tmp_path, steps("Phone", "2024-03-08 08:00:00 +0000", 10) * 50).read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(ImportFileError, match="damaged or cut short at line .*nothing was imported"):
        read_export(cut, now=NOW)


def test_other_xml_is_not_taken_for_an_apple_export(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?>\n<gpx><trk/></gpx>\n')
    with pytest.raises(ImportFileError, match="not an Apple Health export"):
        read_export(path, now=NOW)
    zipped = tmp_path / "photos.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.txt", "x")
    with pytest.raises(ImportFileError, match="not a text CSV file"):
        read_export(zipped, now=NOW)
