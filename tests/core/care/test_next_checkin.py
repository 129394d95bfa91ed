"""Issue 17 review: what the next check-in offers by default is decided in core (plans, appointments),
not in the staff TUI: the plan's next module, and tomorrow at 10:00 in the device's zone."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import appointments, plans
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent


def _patient(access) -> str:
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    return patient["code"]


def test_the_next_module_is_the_plans_first_session_not_attended(admin):
    catalog = load()
    code = _patient(admin)
    assert plans.next_module(plans.show_plan(admin, catalog, code)) is None  # no plan: nothing to offer
    assert plans.upcoming_module(admin, catalog, code) is None
    plans.set_plan(admin, catalog, code, sessions=["cbt-03", "cbt-01", "cbt-02"])
    assert plans.upcoming_module(admin, catalog, code) == "cbt-03"  # the plan's order, not the modules' own
    session = appointments.schedule(admin, catalog, code, "2099-01-05 10:00", "video", "cbt-03")
    assert plans.upcoming_module(admin, catalog, code) == "cbt-03"  # booked is not yet attended
    appointments.record(admin, catalog, session["id"], "attended")
    plan = plans.show_plan(admin, catalog, code)
    assert plans.next_module(plan) == "cbt-01" == plans.upcoming_module(admin, catalog, code)


def test_the_next_module_is_none_once_every_planned_session_is_attended(admin):
    catalog = load()
    code = _patient(admin)
    plans.set_plan(admin, catalog, code, sessions=["cbt-01"])
    session = appointments.schedule(admin, catalog, code, "2099-01-05 10:00", "phone", "cbt-01")
    appointments.record(admin, catalog, session["id"], "attended")
    assert plans.upcoming_module(admin, catalog, code) is None


def test_the_default_session_time_is_tomorrow_at_ten_in_the_zone_given():
    now = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    assert appointments.default_session_time(ZoneInfo("UTC"), now) == "2026-12-03 10:00"
    assert appointments.default_session_time(ZoneInfo("Africa/Nairobi"), now) == "2026-12-03 10:00"


def test_the_default_session_time_follows_the_zones_day_not_utcs():
    """22:30 UTC on 2 December is already 3 December in Nairobi (tomorrow: the 4th) and still
    2 December in Lima; at 02:00 UTC on the 3rd it is the evening of the 2nd in Lima (tomorrow: the 3rd)."""
    late = datetime(2026, 12, 2, 22, 30, tzinfo=timezone.utc)
    assert appointments.default_session_time(ZoneInfo("Africa/Nairobi"), late) == "2026-12-04 10:00"
    assert appointments.default_session_time(ZoneInfo("UTC"), late) == "2026-12-03 10:00"
    early = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)
    assert appointments.default_session_time(ZoneInfo("America/Lima"), early) == "2026-12-03 10:00"
    assert appointments.default_session_time(ZoneInfo("UTC"), early) == "2026-12-04 10:00"


def test_the_default_session_time_is_accepted_by_schedule(admin):
    """What the dialog offers is a time `schedule` books as typed, in the device's zone."""
    from telecbt_cli.core.store.zones import device_zone

    catalog = load()
    code = _patient(admin)
    when = appointments.default_session_time(device_zone(admin.store))
    row = appointments.schedule(admin, catalog, code, when, "video")
    assert row["status"] == "scheduled"
