"""Storing imported days on a real store: the right day in every zone, re-imports and overlaps change nothing."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.care.diary_days import day_to_entry_at, entry_day
from telecbt_cli.core.care.diary_import import parse_diary_csv, read_export
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store.errors import ConsentRequired

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)


def enrol(access, consent: bool = True) -> str:
    code = add_patient(access, PatientFields(display_name="Ana", language="es"))["code"]
    if consent:
        record_consent(access, code, "verbal", "v1")
    return code


def current(access, code: str) -> dict[str, dict]:
    """The current imported entries by UTC date (the day reports and the kiosk use)."""
    rows = diary.list_entries(access, code)
    return {row["entry_at"][:10]: row for row in rows if row["source"] == "import"}


def counts(access) -> tuple[int, int]:
    conn = access.store.conn
    return (conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0],
            conn.execute("SELECT count(*) FROM change_log").fetchone()[0])


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch):
    """Set this process's time zone (TZ + tzset), restored afterwards."""
    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX only")
@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/Los_Angeles", "Pacific/Kiritimati",
                                  "Pacific/Pago_Pago", "UTC"])
def test_a_day_lands_on_that_day_whatever_the_devices_zone(admin, local_zone, zone):
    """Issue 15: a day-level value is stored on its own calendar day, in UTC and in local time."""
    local_zone(zone)
    code = enrol(admin)
    # Days around daylight-saving changes in both hemispheres, and a leap day.
    wanted = [date(2024, 2, 29), date(2024, 3, 10), date(2024, 4, 7), date(2024, 9, 29), date(2024, 11, 3)]
    rows = [{"day": d.isoformat(), "steps": 1000 + i} for i, d in enumerate(wanted)]
    assert diary.import_rows(admin, code, rows)["added"] == len(wanted)
    stored = diary.list_entries(admin, code)
    for day, entry in zip(wanted, stored):
        moment = datetime.fromisoformat(entry["entry_at"].replace("Z", "+00:00"))
        assert entry["entry_at"][:10] == day.isoformat()            # reports, kiosk, suggestions
        assert moment.astimezone().date() == day                     # the staff UI shows local time
        assert entry_day(entry["entry_at"]) == day
        assert entry["entry_at"] == day_to_entry_at(day)


def test_reimporting_the_same_file_changes_nothing(admin):
    """Issue 15: the same export imported twice adds, changes and logs nothing the second time."""
    code = enrol(admin)
    parsed = read_export(SAMPLES / "fitbit_dailyActivity_merged.csv", now=NOW, zone=timezone.utc)
    first = diary.import_rows(admin, code, parsed.rows, zone=timezone.utc)
    assert first == {"added": 5, "updated": 0, "unchanged": 0, "not_used": []}
    before = counts(admin)
    again = diary.import_rows(admin, code, parsed.rows, zone=timezone.utc)
    assert again == {"added": 0, "updated": 0, "unchanged": 5, "not_used": []}
    assert counts(admin) == before
    assert {day: (e["steps"], e["activity_min"]) for day, e in current(admin, code).items()} == {
        "2016-04-12": (8123, 21), "2016-04-13": (10250, 45), "2016-04-15": (4420, 5),
        "2016-05-01": (6001, 7), "2016-05-02": (7350, 10)}


def test_two_devices_for_the_same_days_never_double_count(admin):
    """Issue 15: overlapping files keep one value per day and field (the larger total), never the sum."""
    code = enrol(admin)
    phone = parse_diary_csv(b"Date,Steps\n2016-04-12,9000\n2016-04-13,100\n2016-04-14,777\n",
                            now=NOW, zone=timezone.utc)
    watch = read_export(SAMPLES / "fitbit_dailyActivity_merged.csv", now=NOW, zone=timezone.utc)
    sleep = read_export(SAMPLES / "fitbit_sleepDay_merged.csv", now=NOW, zone=timezone.utc)
    assert diary.import_rows(admin, code, phone.rows, zone=timezone.utc)["added"] == 3
    saved = diary.import_rows(admin, code, watch.rows, zone=timezone.utc)
    assert (saved["added"], saved["updated"], saved["unchanged"]) == (3, 2, 0)
    assert saved["not_used"] == [{"day": "2016-04-12", "field": "steps", "stored": 9000, "file": 8123,
                                  "kept": "the larger total"}]
    assert diary.import_rows(admin, code, sleep.rows, zone=timezone.utc)["updated"] == 4
    days = {day: (e["steps"], e["activity_min"], e["sleep_hours"]) for day, e in current(admin, code).items()}
    assert days == {
        "2016-04-12": (9000, 21, 6.7), "2016-04-13": (10250, 45, 7.58), "2016-04-14": (777, None, None),
        "2016-04-15": (4420, 5, 6.47), "2016-05-01": (6001, 7, 7.02), "2016-05-02": (7350, 10, None)}
    # Each change is a new version that supersedes the old one: nothing is overwritten.
    history = diary.list_entries(admin, code, include_superseded=True)
    assert len([e for e in history if e["entry_at"][:10] == "2016-04-13"]) == 3
    # Importing all three files again, in another order, changes nothing.
    before = counts(admin)
    for parsed in (sleep, phone, watch):
        assert diary.import_rows(admin, code, parsed.rows, zone=timezone.utc)["added"] == 0
    assert counts(admin) == before


def test_a_partial_day_grows_and_a_hand_correction_stays(admin):
    code = enrol(admin)
    morning = [{"day": "2026-03-02", "steps": 1200, "pain": 5}]
    evening = [{"day": "2026-03-02", "steps": 9500, "pain": 7}]
    diary.import_rows(admin, code, morning)
    saved = diary.import_rows(admin, code, evening)
    assert (saved["updated"], saved["not_used"]) == (1, [
        {"day": "2026-03-02", "field": "pain", "stored": 5, "file": 7, "kept": "the first value"}])
    entry = current(admin, code)["2026-03-02"]
    assert (entry["steps"], entry["pain"]) == (9500, 5)
    diary.correct_entry(admin, entry["id"], {"steps": 950})
    for rows in (evening, morning):
        assert diary.import_rows(admin, code, rows)["updated"] == 0
    assert current(admin, code)["2026-03-02"]["steps"] == 950


def test_import_needs_consent(admin):
    code = enrol(admin, consent=False)
    with pytest.raises(ConsentRequired):
        diary.import_rows(admin, code, [{"day": "2026-03-02", "steps": 1}])


def test_rows_must_be_one_per_day(admin):
    code = enrol(admin)
    with pytest.raises(ValueError, match="one row per day"):
        diary.import_rows(admin, code, [{"day": "2026-03-02", "steps": 1}, {"day": "2026-03-02", "steps": 2}])
    assert counts(admin)[0] == 0
