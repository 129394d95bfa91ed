"""The paged caseload: status columns checked by hand, paging, search, permissions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from telecbt_cli.core.care import caseload, diary, messages
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    archive_patient,
    patient_id_for,
    record_consent,
)
from telecbt_cli.core.store import records


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _appointment(access, code: str, when: datetime, status: str = "scheduled") -> None:
    with access.store.write():
        records.insert(access.store, "appointments", {
            "patient_id": patient_id_for(access, code), "scheduled_at": _iso(when), "minutes": 50, "mode": "phone",
            "module_id": None, "module_version": None, "clinician": None, "link": None, "status": status,
            "recorded_at": None, "recorded_by": None, "notes": None, "feedback": None, "fidelity": None})


def test_status_columns(admin):
    now = datetime.now(timezone.utc)
    ana = add_patient(admin, PatientFields(display_name="Ana", language="es"))["code"]
    record_consent(admin, ana, "verbal", "v1")
    add_patient(admin, PatientFields(display_name="ben", language="en"))
    _appointment(admin, ana, now + timedelta(days=3))
    _appointment(admin, ana, now + timedelta(days=10))
    _appointment(admin, ana, now - timedelta(days=2))  # scheduled, time passed, never recorded: overdue
    _appointment(admin, ana, now - timedelta(days=9), status="attended")
    diary.add_entry(admin, ana, {"pain": 4, "entry_at": "2026-01-05T09:00"})
    diary.add_entry(admin, ana, {"pain": 5, "entry_at": "2026-01-07T09:00"})
    messages.send(admin, ana, "hello", from_patient=True)
    rows = caseload.page(admin)
    assert [r["display_name"] for r in rows] == ["Ana", "ben"]  # by name, case-insensitive
    first = rows[0]
    assert first["next_checkin"][:10] == (now + timedelta(days=3)).date().isoformat()
    assert (first["overdue"], first["open_alerts"], first["unread"]) == (1, 0, 1)
    assert first["last_diary"][:10] == "2026-01-07"
    assert (rows[1]["next_checkin"], rows[1]["overdue"], rows[1]["last_diary"]) == (None, 0, None)


def test_pages_search_and_archived(admin):
    codes = [add_patient(admin, PatientFields(display_name=f"P{n:03d}", language="en"))["code"] for n in range(250)]
    archive_patient(admin, codes[0])
    assert caseload.count(admin) == 249
    pages = [caseload.page(admin, offset=o, limit=100) for o in (0, 100, 200)]
    assert [len(p) for p in pages] == [100, 100, 49]
    names = [r["display_name"] for p in pages for r in p]
    assert names == [f"P{n:03d}" for n in range(1, 250)]
    # a name or a code may hold "p24": codes are random, so one of them sometimes does (about 1 run in 20)
    wanted = [f"P{n:03d}" for n in range(1, 250) if f"P{n:03d}".startswith("P24") or "p24" in codes[n].lower()]
    assert [r["display_name"] for r in caseload.page(admin, search="p24")] == wanted
    assert [f"P24{n}" for n in range(10)] == [name for name in wanted if name.startswith("P24")]
    assert [r["code"] for r in caseload.page(admin, search=codes[7].lower().replace("-", ""))] == [codes[7]]


def test_checkins_lists_today_and_overdue_once_in_time_order(admin):
    from telecbt_cli.core.care.appointments import checkins

    now = datetime.now(timezone.utc)
    code = add_patient(admin, PatientFields(display_name="Ana", language="es"))["code"]
    _appointment(admin, code, now - timedelta(days=3))                      # overdue
    _appointment(admin, code, now - timedelta(days=2), status="attended")   # recorded: not listed
    _appointment(admin, code, now + timedelta(days=5))                      # later: not today
    data = checkins(admin)
    assert (data["today"], data["overdue"]) == (0, 1)
    assert [(r["overdue"], r["status"]) for r in data["sessions"]] == [(True, "scheduled")]
    local_noon = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    _appointment(admin, code, local_noon)  # today: overdue too if noon has passed, listed once either way
    data = checkins(admin)
    assert data["today"] == 1 and len(data["sessions"]) == 2
    assert data["sessions"][0]["scheduled_at"] < data["sessions"][1]["scheduled_at"]
    assert data["sessions"][1]["overdue"] == (local_noon < now)


def test_the_caseload_shows_what_the_intake_found(admin):
    """Issue 11.3: red flags and "not suitable" stay visible in the caseload after the intake."""
    from telecbt_cli.content.catalog import load
    from telecbt_cli.core.clinical import engine
    from tests.core.clinical.test_flags import FLAGGED

    ana = add_patient(admin, PatientFields(display_name="Ana", language="es"))["code"]
    record_consent(admin, ana, "verbal", "v1")
    add_patient(admin, PatientFields(display_name="Ben", language="en"))
    engine.run_all(admin, ana, load().get("module", "intake"), "en", FLAGGED)
    rows = {row["display_name"]: row for row in caseload.page(admin)}
    assert rows["Ana"]["flags"] == [{"content_id": "intake", "flag_id": "medical-review"},
                                    {"content_id": "intake", "flag_id": "not-suitable"}]
    assert rows["Ana"]["open_alerts"] == 1 and rows["Ben"]["flags"] == []
