"""Care workflow on a real store: diary, plans, check-ins, messages, suggestions, reports.

Report figures are checked against small fixtures worked out by hand in each test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import appointments, diary, messages, plans, reports
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    patient_id_for,
    record_consent,
)
from telecbt_cli.core.clinical.suggest import suggestions
from telecbt_cli.core.store import users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    ConsentRequired,
    NotFoundError,
    PermissionDenied,
    UsageError,
)
from telecbt_cli.core.store.unlock import unlock

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
TODAY = datetime.now(timezone.utc).date()


def day(offset: int, hour: int = 8) -> str:
    """An ISO UTC time `offset` days from today (negative = past)."""
    return f"{(TODAY + timedelta(days=offset)).isoformat()}T{hour:02d}:00:00Z"


def entry_day(offset: int, hour: int = 7) -> str:
    """A diary entry's time `offset` days from today: today's `hour` once it has come, else this hour
    (before 07:00 UTC, "today at 07:00" was an entry in the future and was refused)."""
    moment = datetime.combine(TODAY + timedelta(days=offset), datetime.min.time(), timezone.utc).replace(hour=hour)
    now = datetime.now(timezone.utc)
    return (now.replace(minute=0, second=0, microsecond=0) if moment > now else moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def enrol(access, name="Ana", email=None, consent=True):
    p = add_patient(access, PatientFields(display_name=name, language="en", email=email))
    if consent:
        record_consent(access, p["code"], "verbal", "v1")
    return p["code"]


def test_diary_checks_values(admin):
    code = enrol(admin)
    for values, message in [({"pain": 11}, "from 0 to 10"), ({"mood": 5}, "needs a pain rating"),
                            ({"pain": 3, "entry_at": day(3)}, "in the future"),
                            ({"pain": 3, "entry_at": "yesterday"}, "not a date"),
                            ({"pain": 3, "locations": "elbow"}, "unknown body region"),
                            ({"pain": 3, "sleep_hours": 25}, "from 0 to 24"),
                            ({"pain": 2.5}, "whole number"), ({"pain": True}, "must be a number")]:
        with pytest.raises(UsageError, match=message):
            diary.add_entry(admin, code, values)
    with pytest.raises(UsageError, match="needs a pain rating"):  # a kiosk entry is the patient's own rating
        diary.add_entry(admin, code, {"mood": 5}, source="kiosk")
    assert admin.store.conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0] == 0


def test_diary_needs_consent_and_a_writer(admin, store_dir):
    code = enrol(admin, consent=False)
    with pytest.raises(ConsentRequired):
        diary.add_entry(admin, code, {"pain": 3})
    record_consent(admin, code, "verbal", "v1")
    users.add_user(admin, "vic", "viewer", "viewer passphrase", KdfParams(10))
    viewer = unlock(store_dir, "vic", "viewer passphrase")
    try:
        with pytest.raises(PermissionDenied):
            diary.add_entry(viewer, code, {"pain": 3})
    finally:
        viewer.close()


def test_a_correction_supersedes_and_both_are_kept(admin):
    code = enrol(admin)
    first = diary.add_entry(admin, code, {"pain": 8, "note": "[bold]bad[/bold] \x1b[31m day", "entry_at": day(-1)})
    fixed = diary.correct_entry(admin, first["id"], {"pain": 6})
    assert fixed["supersedes"] == first["id"] and fixed["pain"] == 6 and fixed["note"] == first["note"]
    assert [e["pain"] for e in diary.list_entries(admin, code)] == [6]
    assert sorted(e["pain"] for e in diary.list_entries(admin, code, include_superseded=True)) == [6, 8]
    with pytest.raises(UsageError, match="already corrected"):
        diary.correct_entry(admin, first["id"], {"pain": 5})


def test_plan_goals_and_homework(admin):
    code = enrol(admin)
    with pytest.raises(UsageError, match="needs a course"):
        plans.set_plan(admin, CATALOG, code, notes="x")
    plan = plans.set_plan(admin, CATALOG, code, course="brief")
    assert [s["module"] for s in plan["sessions"]] == [f"brief-0{n}" for n in range(1, 7)]
    with pytest.raises(NotFoundError):
        plans.set_plan(admin, CATALOG, code, sessions=["cbt-01", "cbt-99"])
    plan = plans.set_plan(admin, CATALOG, code, sessions=["cbt-01", "cbt-04"])
    assert plan["course"] == "custom" and len(plan["sessions"]) == 2
    goal = plans.add_goal(admin, code, "Walk to the market", "3 times a week", str(TODAY + timedelta(days=30)))
    plans.update_goal(admin, goal["id"][-8:], progress=40, note="walked twice")
    updated = plans.update_goal(admin, goal["id"], status="achieved", note="did it")
    notes = json.loads(updated["notes"])
    assert [n["note"] for n in notes] == ["walked twice", "did it"] and updated["progress"] == 40
    with pytest.raises(UsageError):
        plans.update_goal(admin, goal["id"], progress=140)


def test_schedule_record_once_homework_and_reminders(admin):
    code = enrol(admin, email="ana@example.org")
    with pytest.raises(UsageError, match="in the past"):
        appointments.schedule(admin, CATALOG, code, day(-1), "video")
    with pytest.raises(UsageError, match="mode"):
        appointments.schedule(admin, CATALOG, code, day(2), "carrier-pigeon")
    with pytest.raises(UsageError, match="link"):
        appointments.schedule(admin, CATALOG, code, day(2), "video", link="javascript:alert(1)")
    appt = appointments.schedule(admin, CATALOG, code, day(2, 10), "video", "cbt-04", link="https://meet.example.org/x")
    later = appointments.schedule(admin, CATALOG, code, day(9, 10), "phone", "cbt-05")
    outbox = admin.store.conn.execute("SELECT status, address, body FROM outbox ORDER BY created_at").fetchall()
    assert [(o[0], o[1]) for o in outbox] == [("queued", "ana@example.org")] * 2
    assert "https://meet.example.org/x" in outbox[0][2]
    with pytest.raises(UsageError, match="unknown checklist"):
        appointments.record(admin, CATALOG, appt["id"], "attended", fidelity=["made-up"])
    fidelity = [f["id"] for f in CATALOG.get("module", "cbt-04")["fidelity"]][:3]
    appointments.record(admin, CATALOG, appt["id"][-10:], "attended", notes="good", feedback=4, fidelity=fidelity)
    with pytest.raises(UsageError, match="recorded once"):
        appointments.record(admin, CATALOG, appt["id"], "no_show")
    homework = plans.list_homework(admin, code)
    assert {h["module_id"] for h in homework} == {"cbt-04"}
    assert {h["due_date"] for h in homework} == {later["scheduled_at"][:10]}  # due at the next session
    plans.homework_done(admin, homework[0]["id"])
    assert [h["status"] for h in plans.list_homework(admin, code)].count("done") == 1
    appointments.record(admin, CATALOG, later["id"], "cancelled")
    statuses = [r[0] for r in admin.store.conn.execute("SELECT status FROM outbox ORDER BY created_at")]
    assert statuses == ["queued", "cancelled"]


def test_reschedule_moves_a_session_and_its_reminder(admin):
    """Issue 17 point 1: a check-in can be moved (the TUI and `session reschedule` share this)."""
    code = enrol(admin, email="ana@example.org")
    appt = appointments.schedule(admin, CATALOG, code, day(2, 10), "video", "cbt-04", link="https://meet.example.org/x")
    moved = appointments.reschedule(admin, CATALOG, appt["id"][:8], day(4, 15), mode="phone", link="")
    assert moved["id"] == appt["id"] and moved["scheduled_at"][:16] == day(4, 15)[:16]
    assert (moved["mode"], moved["link"], moved["module_id"], moved["status"]) == ("phone", None, "cbt-04", "scheduled")
    outbox = admin.store.conn.execute("SELECT status, body FROM outbox ORDER BY created_at").fetchall()
    assert [o[0] for o in outbox] == ["cancelled", "queued"]  # the old reminder never goes
    assert "phone call" in outbox[1][1] and "meet.example.org" not in outbox[1][1]
    kept = appointments.reschedule(admin, CATALOG, appt["id"], day(5, 9))
    assert kept["mode"] == "phone" and kept["scheduled_at"][:16] == day(5, 9)[:16]
    with pytest.raises(UsageError, match="in the past"):
        appointments.reschedule(admin, CATALOG, appt["id"], day(-1))
    appointments.record(admin, CATALOG, appt["id"], "no_show")
    with pytest.raises(UsageError, match="already recorded"):
        appointments.reschedule(admin, CATALOG, appt["id"], day(6))
    actions = [r[0] for r in admin.store.conn.execute("SELECT action FROM audit_log")]
    assert actions.count("session.reschedule") == 2


def test_a_patient_without_email_gets_no_address_in_the_outbox(admin):
    code = enrol(admin)
    appointments.schedule(admin, CATALOG, code, day(3), "phone")
    assert admin.store.conn.execute("SELECT status FROM outbox").fetchone()[0] == "no_address"


def test_ics_parses_back(admin):
    code = enrol(admin)
    appointments.schedule(admin, CATALOG, code, day(2, 9), "video", "cbt-04", link="https://meet.example.org/abc")
    appointments.schedule(admin, CATALOG, code, day(9, 9), "in-person")
    cal = Calendar.from_ical(appointments.ics(admin, CATALOG, code))
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 2
    first = sorted(events, key=lambda e: e.decoded("dtstart"))[0]
    assert first.decoded("dtstart") == datetime.fromisoformat(day(2, 9).replace("Z", "+00:00"))
    assert (first.decoded("dtend") - first.decoded("dtstart")) == timedelta(minutes=50)
    assert str(first.get("url")) == "https://meet.example.org/abc"
    assert "Ana" not in cal.to_ical().decode()  # codes only: calendars leak


def test_messages_unread_state(admin):
    code = enrol(admin)
    messages.send(admin, code, "Hello [link=http://x]click[/link]")
    messages.send(admin, code, "My pain is worse", from_patient=True)
    pid = patient_id_for(admin, code)
    assert messages.unread_count(admin, pid) == 1
    listed = messages.list_messages(admin, code)
    assert [m["body"] for m in listed][0] == "Hello [link=http://x]click[/link]"
    assert messages.unread_count(admin, pid) == 0
    with pytest.raises(UsageError):
        messages.send(admin, code, "   ")


def test_suggestions_explain_themselves(admin):
    code = enrol(admin)
    for offset in range(-6, 1):
        diary.add_entry(admin, code, {"pain": 5, "sleep_hours": 4 if offset < -1 else 7, "entry_at": entry_day(offset)})
    found = {s["id"]: s for s in suggestions(admin, CATALOG, patient_id_for(admin, code))}
    assert "short-sleep" in found and found["short-sleep"]["module"] == "cbt-09"
    assert "5 of the last 7" in found["short-sleep"]["text"]
    assert found["short-sleep"]["evidence"].count(" 4") == 5
    for offset in range(-13, -6):
        diary.add_entry(admin, code, {"pain": 2, "entry_at": entry_day(offset)})
    rising = {s["id"] for s in suggestions(admin, CATALOG, patient_id_for(admin, code))}
    assert "pain-rising" in rising


def _phq9(total: int) -> dict:
    answers, left = {}, total
    for n in range(1, 10):
        answers[f"phq9_{n}"] = min(3, left) if n < 9 else 0
        left -= answers[f"phq9_{n}"]
    return answers


def test_program_report_figures_by_hand(admin, store_dir):
    """Fixture: 3 patients. Worked out by hand:
    sessions: 3 attended, 1 no-show, 1 cancelled -> attendance 3/4 = 0.75, no-show 0.25;
    homework due in the window: cbt-04 has 2 tasks x 3 attended = 6, 3 done -> 0.5;
    PHQ-9: A 16 -> 10 (-6, meaningful), B 12 -> 10 (-2, not), C one score only -> 1 of 2 improved;
    feedback 5, 4, 3 -> mean 4.0.
    """
    codes = [enrol(admin, n) for n in ("A", "B", "C")]
    sessions = []
    for i, code in enumerate(codes):
        sessions.append(appointments.schedule(admin, CATALOG, code, day(1 + i), "video", "cbt-04"))
    extra = appointments.schedule(admin, CATALOG, codes[0], day(5), "phone")
    cancelled = appointments.schedule(admin, CATALOG, codes[1], day(6), "phone")
    for appt, feedback in zip(sessions, (5, 4, 3)):
        appointments.record(admin, CATALOG, appt["id"], "attended", feedback=feedback)
    appointments.record(admin, CATALOG, extra["id"], "no_show")
    appointments.record(admin, CATALOG, cancelled["id"], "cancelled")
    tasks = admin.store.conn.execute("SELECT id FROM homework ORDER BY created_at").fetchall()
    assert len(tasks) == 6
    for (task_id,) in tasks[:3]:
        plans.homework_done(admin, task_id)
    phq9 = CATALOG.get("instrument", "phq9")
    for code, scores in zip(codes, ([16, 10], [12, 10], [14])):
        for total in scores:
            engine.run_all(admin, code, phq9, "en", _phq9(total))
    report = reports.program_report(admin, CATALOG, to=(TODAY + timedelta(days=30)).isoformat())
    assert report["sessions"]["delivered"] == 3 and report["sessions"]["no_show"] == 1
    assert report["sessions"]["attendance_rate"] == 0.75 and report["sessions"]["no_show_rate"] == 0.25
    assert report["sessions"]["cancelled"] == 1
    assert report["homework"] == {"due": 6, "done": 3, "adherence": 0.5}
    phq = next(i for i in report["improvement"] if i["instrument"] == "phq9")
    assert phq == {"instrument": "phq9", "patients_with_followup": 2, "meaningfully_improved": 1, "share": 0.5}
    assert report["feedback"] == {"mean": 4.0, "responses": 3}
    assert report["patients"]["enrolled_in_period"] == 3
    assert report["workload"][0]["clinician"] == "alice" and report["workload"][0]["caseload"] == 3
    users.add_user(admin, "carol", "clinician", "carol passphrase", KdfParams(10))
    mine = reports.program_report(admin, CATALOG, to=(TODAY + timedelta(days=30)).isoformat(), clinician="carol")
    assert mine["patients"]["in_scope"] == 0 and mine["sessions"]["delivered"] == 0


def test_diary_completion_and_weekly_means_by_hand(admin):
    """7 entries on 7 distinct days in the 14 days before today (and one correction): completion 7/14 when
    the first entry is 13 days ago; the correction replaces a value rather than adding a day."""
    code = enrol(admin)
    entries = [diary.add_entry(admin, code, {"pain": p, "entry_at": day(-13 + 2 * i, 9)})
               for i, p in enumerate([2, 4, 6, 8, 6, 4, 2])]
    diary.correct_entry(admin, entries[0]["id"], {"pain": 4})
    report = reports.patient_report(admin, CATALOG, code, "en", weeks=26)
    assert report["diary"]["days"] == 14 and report["diary"]["days_with_entry"] == 7
    assert report["diary"]["completion"] == 0.5
    weekly = report["diary"]["weekly"]["pain"]
    assert sum(1 for _ in weekly) >= 2
    all_values = [p["pain"] for p in diary.list_entries(admin, code)]
    assert sorted(all_values) == [2, 4, 4, 4, 6, 6, 8]


def test_intake_flags_red_flags(admin):
    code = enrol(admin)
    intake = CATALOG.get("module", "intake")
    base = {"pain-type": "mixed", "locations": ["lower_back"], "duration": "y1_5", "intensity": 6,
            "functional-goals": "play with grandchildren", "tech-access": ["phone_basic"], "readiness": 7,
            "suitable": "yes", "red-flags": [], "stressors": [], "coping": [], "self-harm": "no"}
    _, calm = engine.run_all(admin, code, intake, "en", base)
    assert calm.flags == []
    _, flagged = engine.run_all(admin, code, intake, "en", {**base, "red-flags": ["new_weakness"], "suitable": "no",
                                                            "not-suitable-reason": "needs review first"})
    assert {f["id"] for f in flagged.flags} == {"medical-review", "not-suitable"}


def test_suggestions_give_their_reasons_as_locale_keys(admin):
    """Issue 17 point 4: `suggest`'s "because" reads in the reader's language, not English built in core."""
    code = enrol(admin)
    for offset in range(-6, 1):
        diary.add_entry(admin, code, {"pain": 5, "sleep_hours": 4 if offset < -1 else 7.5, "entry_at": entry_day(offset)})
    found = {s["id"]: s for s in suggestions(admin, CATALOG, patient_id_for(admin, code), "es")}
    because = found["short-sleep"]["because"]
    assert because["key"] == "suggest.because.count"
    spanish = CATALOG.phrase(because["key"], "es", because["values"])
    assert spanish.startswith("horas de sueño por día: ") and spanish.count(" 4") == 5
    assert "by day" not in spanish and "sleep" not in spanish
    assert CATALOG.phrase(because["key"], "en", because["values"]) == found["short-sleep"]["evidence"]
    assert found["short-sleep"]["evidence"].startswith("sleep hours by day: ")


def test_suggestion_figures_use_the_readers_decimal_mark(admin):
    """Issue 17 point 6: a mean of 2.4 reads "2,4" in a Spanish suggestion and its reason, "2.4" in English."""
    code = enrol(admin)
    for offset in range(-13, -6):  # 2, 3, 2, 3, 2, 3, 2: a mean of 17/7 = 2.43
        diary.add_entry(admin, code, {"pain": 2 if offset % 2 else 3, "entry_at": entry_day(offset)})
    for offset in range(-6, 1):
        diary.add_entry(admin, code, {"pain": 6, "entry_at": entry_day(offset)})
    pid = patient_id_for(admin, code)
    english = {s["id"]: s for s in suggestions(admin, CATALOG, pid, "en")}["pain-rising"]
    spanish = {s["id"]: s for s in suggestions(admin, CATALOG, pid, "es")}["pain-rising"]
    assert "from 2.4 to 6" in english["text"] and "de 2,4 a 6" in spanish["text"]
    because = CATALOG.phrase(spanish["because"]["key"], "es", spanish["because"]["values"])
    assert "2,4" in because and "2.4" not in because
