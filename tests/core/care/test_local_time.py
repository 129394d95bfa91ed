"""Issue 13 in care: reminders in the patient's zone, weekly series across daylight saving,
iCalendar with TZID, and local calendar days for imports, reports and "today".

Expected times are worked out by hand: 2030-12-03 is a Tuesday; Nairobi is +03:00 all year,
Kathmandu +05:45; New York springs forward on 2030-03-10 (02:00 -> 03:00)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import appointments, diary, reports
from telecbt_cli.core.care.diary_days import day_to_entry_at, entry_day
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    edit_patient,
    get_patient,
    record_consent,
)
from telecbt_cli.core.store import zones
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.localtime import local_day

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
NAIROBI, KATHMANDU, NY = ZoneInfo("Africa/Nairobi"), ZoneInfo("Asia/Kathmandu"), ZoneInfo("America/New_York")


def enrol(access, zone: str | None = None, lang: str = "en", email: str | None = "p@example.org") -> str:
    p = add_patient(access, PatientFields(display_name="Ana", language=lang, email=email, timezone=zone))
    record_consent(access, p["code"], "verbal", "v1")
    return p["code"]


def outbox_bodies(access) -> list[str]:
    return [r[0] for r in access.store.conn.execute("SELECT body FROM outbox ORDER BY created_at, rowid")]


def test_a_patient_zone_defaults_to_the_enrolling_device_and_is_checked(admin):
    zones.set_device_zone(admin, "Asia/Kathmandu")
    code = enrol(admin)
    assert get_patient(admin, code)["timezone"] == "Asia/Kathmandu"
    with pytest.raises(UsageError, match="Did you mean Africa/Nairobi"):
        edit_patient(admin, code, PatientFields(timezone="nairobi"))
    assert edit_patient(admin, code, PatientFields(timezone="Africa/Nairobi"))["timezone"] == "Africa/Nairobi"
    with pytest.raises(UsageError, match="cannot be cleared"):
        edit_patient(admin, code, PatientFields(), clear=["timezone"])
    changed = admin.store.conn.execute("SELECT count(*) FROM change_log WHERE table_name = 'patients'").fetchone()[0]
    assert changed >= 2  # the zone is a patient field: it travels in bundles


def test_a_reminder_for_a_10_00_nairobi_session_says_10_00_nairobi_time(admin):
    """The issue's 'done when': typed on a device in Nairobi, read by the patient in Nairobi."""
    zones.set_device_zone(admin, "Africa/Nairobi")
    code = enrol(admin, "Africa/Nairobi")
    row = appointments.schedule(admin, CATALOG, code, "2030-12-03 10:00", "phone")
    assert row["scheduled_at"] == "2030-12-03T07:00:00.000Z"
    body = outbox_bodies(admin)[0]
    assert "Tue 3 Dec, 10:00 (Nairobi time)" in body and "07:00" not in body
    message = admin.store.conn.execute("SELECT body FROM messages").fetchone()[0]
    assert "Tue 3 Dec, 10:00 (Nairobi time)" in message


def test_a_reminder_is_in_the_patients_zone_not_the_devices(admin):
    """Booked at 10:00 by a worker in Nairobi (07:00 UTC) for a patient in Kathmandu: 12:45 there."""
    zones.set_device_zone(admin, "Africa/Nairobi")
    code = enrol(admin, "Asia/Kathmandu", lang="es")
    appointments.schedule(admin, CATALOG, code, "2030-12-03 10:00", "video")
    assert "mar 3 dic, 12:45 (hora de Kathmandu)" in outbox_bodies(admin)[0]


def test_a_time_typed_in_the_patients_zone(admin):
    zones.set_device_zone(admin, "Africa/Nairobi")
    code = enrol(admin, "Asia/Kathmandu")
    row = appointments.schedule(admin, CATALOG, code, "2030-12-03 10:00", "phone", tz="patient")
    assert row["scheduled_at"] == "2030-12-03T04:15:00.000Z"
    other = appointments.schedule(admin, CATALOG, code, "2030-12-04 10:00", "phone", tz="America/Mexico_City")
    assert other["scheduled_at"] == "2030-12-04T16:00:00.000Z"  # -06:00, no summer time since 2022
    with pytest.raises(UsageError, match="America/New_York"):
        appointments.schedule(admin, CATALOG, code, "2030-12-05 10:00", "phone", tz="new york")


def test_a_weekly_series_keeps_its_local_hour_across_daylight_saving(admin):
    zones.set_device_zone(admin, "America/New_York")
    code = enrol(admin, "America/New_York")
    rows = appointments.schedule_series(admin, CATALOG, code, "2030-03-05 10:00", "phone", weeks=3)
    # 10:00 EST is 15:00 UTC; after the clocks go forward on 10 March, 10:00 EDT is 14:00 UTC.
    assert [r["scheduled_at"] for r in rows] == ["2030-03-05T15:00:00.000Z", "2030-03-12T14:00:00.000Z",
                                                 "2030-03-19T14:00:00.000Z"]
    assert all(", 10:00 (New York time)" in body for body in outbox_bodies(admin))
    # A series is booked whole or not at all: a week in the spring-forward gap refuses it.
    with pytest.raises(UsageError, match=r"week 2 of the series: 2030-03-10 02:30 does not exist"):
        appointments.schedule_series(admin, CATALOG, code, "2030-03-03 02:30", "phone", weeks=2)
    assert admin.store.conn.execute("SELECT count(*) FROM appointments").fetchone()[0] == 3


def test_typed_times_the_clocks_skip_or_repeat_are_refused(admin):
    zones.set_device_zone(admin, "America/New_York")
    code = enrol(admin, "America/New_York")
    with pytest.raises(UsageError, match="does not exist in America/New_York"):
        appointments.schedule(admin, CATALOG, code, "2030-03-10 02:30", "phone")
    with pytest.raises(UsageError, match="happens twice in America/New_York"):
        appointments.schedule(admin, CATALOG, code, "2030-11-03 01:30", "phone")
    row = appointments.schedule(admin, CATALOG, code, "2030-11-03 01:30-05:00", "phone")
    assert row["scheduled_at"] == "2030-11-03T06:30:00.000Z"


def test_ics_events_carry_the_patients_zone(admin):
    zones.set_device_zone(admin, "Africa/Nairobi")
    ny, ktm = enrol(admin, "America/New_York"), enrol(admin, "Asia/Kathmandu")
    appointments.schedule_series(admin, CATALOG, ny, "2030-03-05 10:00", "phone", tz="patient", weeks=2)
    appointments.schedule(admin, CATALOG, ktm, "2030-12-03 10:00", "phone", tz="patient")
    cal = Calendar.from_ical(appointments.ics(admin, CATALOG))
    events = sorted((c for c in cal.walk() if c.name == "VEVENT"), key=lambda e: e.decoded("dtstart"))
    starts = [e.decoded("dtstart") for e in events]
    assert [(s.tzinfo.key, s.hour, s.minute) for s in starts] == [
        ("America/New_York", 10, 0), ("America/New_York", 10, 0), ("Asia/Kathmandu", 10, 0)]
    assert [s.astimezone(timezone.utc).hour for s in starts] == [15, 14, 4]
    assert str(events[0]["dtstart"].params["TZID"]) == "America/New_York"
    assert {str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")} == {"America/New_York", "Asia/Kathmandu"}
    assert "10:00 Kathmandu time (04:15 UTC)" in str(events[2]["description"])
    assert events[2].decoded("dtend") - starts[2] == timedelta(minutes=30)


def test_imported_days_land_on_the_patients_calendar_day(admin):
    """No zone given: the patient's (Pacific/Kiritimati, +14:00) decides the day, not the device's."""
    zones.set_device_zone(admin, "Pacific/Pago_Pago")  # -11:00: a day away from the patient
    code = enrol(admin, "Pacific/Kiritimati")
    day = date.today() - timedelta(days=3)
    diary.import_rows(admin, code, [{"day": day.isoformat(), "steps": 4000, "line": 2}])
    stored = admin.store.conn.execute("SELECT entry_at FROM diary_entries").fetchone()[0]
    assert stored == day_to_entry_at(day, ZoneInfo("Pacific/Kiritimati"))
    assert entry_day(stored) == day and local_day(stored, ZoneInfo("Pacific/Kiritimati")) == day


def _local(day: date, hour: int, minute: int, zone) -> str:
    moment = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_diary_completion_counts_the_patients_days(admin):
    """00:30 and 20:00 in Nairobi on one day are two UTC dates but one local day."""
    code = enrol(admin, "Africa/Nairobi")
    today = datetime.now(NAIROBI).date()
    yesterday = today - timedelta(days=1)
    for hour, minute in ((0, 30), (20, 0)):
        diary.add_entry(admin, code, {"pain": 4, "entry_at": _local(yesterday, hour, minute, NAIROBI)})
    report = reports.patient_report(admin, CATALOG, code, weeks=4)
    assert report["timezone"] == "Africa/Nairobi"
    assert report["diary"]["days_with_entry"] == 1
    assert report["period"]["to"] == today.isoformat()


def test_the_program_report_period_is_the_devices_days(admin):
    zones.set_device_zone(admin, "Asia/Kathmandu")
    code = enrol(admin, "Asia/Kathmandu")
    day = datetime.now(KATHMANDU).date() - timedelta(days=2)
    diary.add_entry(admin, code, {"pain": 4, "entry_at": _local(day, 1, 0, KATHMANDU)})  # the UTC day before
    report = reports.program_report(admin, CATALOG, frm=day.isoformat(), to=day.isoformat())
    assert report["period"]["timezone"] == "Asia/Kathmandu"
    assert report["period"]["days"] == 1
    outside = reports.program_report(admin, CATALOG, frm=(day - timedelta(days=1)).isoformat(),
                                     to=(day - timedelta(days=1)).isoformat())
    assert report["diary"]["days_with_entry"] == 1 and outside["diary"]["days_with_entry"] == 0


def test_todays_checkins_are_this_devices_day(admin):
    """A session at 23:30 local is today's; one at 00:30 local tomorrow is not, in whatever zone
    is still before 20:00 now."""
    for name in ("Pacific/Kiritimati", "Asia/Kathmandu", "Africa/Nairobi", "America/New_York", "Pacific/Pago_Pago"):
        zone = ZoneInfo(name)
        if datetime.now(zone).hour < 20:
            break
    zones.set_device_zone(admin, name)
    code = enrol(admin, "UTC")
    today = datetime.now(zone).date()
    late = appointments.schedule(admin, CATALOG, code, f"{today} 23:30", "phone")
    appointments.schedule(admin, CATALOG, code, f"{today + timedelta(days=1)} 00:30", "phone")
    assert [r["id"] for r in appointments.list_sessions(admin, "today")] == [late["id"]]
    assert appointments.checkins(admin)["today"] == 1


def test_the_kiosk_counts_the_patients_days(admin):
    """A pain rating at 01:00 in Kathmandu is on that local day (the UTC date is the day before)."""
    from telecbt_cli.core.care import kiosk, pins

    zones.set_device_zone(admin, "America/New_York")
    code = enrol(admin, "Asia/Kathmandu")
    pins.set_pin(admin, code, "482913")
    kp = kiosk.sign_in(admin, code, "482913")
    assert kp.zone == KATHMANDU
    today = datetime.now(KATHMANDU).date()
    yesterday = today - timedelta(days=1)
    diary.add_entry(admin, code, {"pain": 6, "entry_at": _local(yesterday, 1, 0, KATHMANDU)})
    shown = kiosk.progress(kp, CATALOG, "en", days=7)
    assert shown["pain"][-1] == {"date": today.isoformat(), "value": None}
    assert shown["pain"][-2] == {"date": yesterday.isoformat(), "value": 6}
