"""The kiosk service on a real store: one signed-in patient's diary, questionnaires, progress, messages, exercises."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import diary, kiosk, messages, pins, plans
from telecbt_cli.core.clinical import engine, patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.errors import NotFoundError, UsageError

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
PIN = "2468"
PEG3 = {"peg3_pain": 6, "peg3_enjoyment": 5, "peg3_activity": 4}
PHQ9_MILD = {f"phq9_{n}": 1 for n in range(1, 9)} | {"phq9_9": 0}  # 8: mild


def _enrol(access, name: str, language: str = "es") -> str:
    code = patients.add_patient(access, PatientFields(display_name=name, language=language))["code"]
    patients.record_consent(access, code, "kiosk", "v1")
    pins.set_pin(access, code, PIN)
    return code


@pytest.fixture
def kp(admin) -> kiosk.KioskPatient:
    code = _enrol(admin, "Ana Mwangi")
    return kiosk.sign_in(admin, code.lower().replace("-", ""), PIN)


def _today():
    return datetime.now(timezone.utc).date()


def test_sign_in_loads_the_patient(kp, admin):
    assert kp.name == "Ana Mwangi" and kp.language == "es"
    assert kp.patient_id == patients.patient_id_for(admin, kp.code)
    assert "-" in kp.code and kp.code == kp.code.upper()
    with pytest.raises(pins.PinRefused):
        kiosk.sign_in(admin, kp.code, "1357")


def test_save_pain_writes_one_kiosk_entry_and_requires_a_rating(kp, admin):
    saved = kiosk.save_pain(kp, 6, "after the walk")
    assert saved["pain"] == 6 and saved["source"] == "kiosk" and saved["note"] == "after the walk"
    for bad in (11, -1, None, True, 5.5, "7"):
        with pytest.raises(UsageError, match="0 to 10"):
            kiosk.save_pain(kp, bad)
    entries = diary.list_entries(admin, kp.code)
    assert [(e["pain"], e["source"], e["patient_id"]) for e in entries] == [(6, "kiosk", kp.patient_id)]
    kiosk.save_pain(kp, 0)
    assert [e["pain"] for e in diary.list_entries(admin, kp.code)] == [6, 0]


def test_due_questionnaires_follow_the_schedule_and_drop_what_was_just_done(kp, admin):
    due = kiosk.due_questionnaires(kp, CATALOG, "es")
    # The standard course's schedule; PSEQ-2 is licensed and ships no text, so it is left out.
    assert [(d["id"], d["every_days"], d["last"]) for d in due] == [("peg3", 7, None), ("phq9", 14, None),
                                                                    ("gad7", 14, None)]
    assert due[0]["title"] == "Dolor, disfrute de la vida y actividad general (PEG)"
    engine.run_all(admin, kp.code, CATALOG.get("instrument", "peg3"), "es", PEG3)
    today = _today()
    assert [d["id"] for d in kiosk.due_questionnaires(kp, CATALOG, "en")] == ["phq9", "gad7"]
    assert [d["id"] for d in kiosk.due_questionnaires(kp, CATALOG, "en", today=today + timedelta(days=6))] == \
        ["phq9", "gad7"]
    again = kiosk.due_questionnaires(kp, CATALOG, "en", today=today + timedelta(days=7))
    assert again[0] == {"id": "peg3", "title": "Pain, Enjoyment of life and General activity (PEG)",
                        "last": today.isoformat(), "every_days": 7}


def test_a_brief_course_plan_uses_its_own_schedule(kp, admin):
    plans.set_plan(admin, CATALOG, kp.code, course="brief")
    assert [d["id"] for d in kiosk.due_questionnaires(kp, CATALOG, "en")] == ["peg3", "phq4"]
    plans.set_plan(admin, CATALOG, kp.code, sessions=["cbt-01", "cbt-05"])  # a custom plan: standard schedule
    assert [d["id"] for d in kiosk.due_questionnaires(kp, CATALOG, "en")] == ["peg3", "phq9", "gad7"]


def test_progress_gives_daily_means_of_current_entries_and_scores(kp, admin):
    today = _today()
    three_ago, one_ago = today - timedelta(days=3), today - timedelta(days=1)
    diary.add_entry(admin, kp.code, {"pain": 4, "entry_at": f"{three_ago}T08:00Z"})
    diary.add_entry(admin, kp.code, {"pain": 7, "entry_at": f"{three_ago}T20:00Z"})
    first = diary.add_entry(admin, kp.code, {"pain": 3, "entry_at": f"{one_ago}T09:00Z"})
    diary.correct_entry(admin, first["id"], {"pain": 5})  # counts once, as corrected
    diary.add_entry(admin, kp.code, {"pain": 9, "entry_at": f"{today - timedelta(days=10)}T09:00Z"})  # outside
    other = _enrol(admin, "Luis")
    diary.add_entry(admin, other, {"pain": 10, "entry_at": f"{one_ago}T10:00Z"})  # another patient
    engine.run_all(admin, kp.code, CATALOG.get("instrument", "phq9"), "es", PHQ9_MILD)
    engine.run_all(admin, kp.code, CATALOG.get("instrument", "peg3"), "es", PEG3)
    engine.run_all(admin, other, CATALOG.get("instrument", "gad7"), "es", {f"gad7_{n}": 3 for n in range(1, 8)})

    data = kiosk.progress(kp, CATALOG, "es", days=7, today=today)
    assert [p["date"] for p in data["pain"]] == [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    by_date = {p["date"]: p["value"] for p in data["pain"]}
    assert by_date[three_ago.isoformat()] == 5.5  # (4 + 7) / 2
    assert by_date[one_ago.isoformat()] == 5.0    # the correction, not the original 3
    assert [v for d, v in by_date.items() if d not in (three_ago.isoformat(), one_ago.isoformat())] == [None] * 5
    assert data["weeks"] == [{"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat(),
                              "value": 5.3}]  # mean of the daily means 5.5 and 5.0, half up
    fortnight = kiosk.progress(kp, CATALOG, "es", days=14, today=today)["weeks"]
    assert [w["value"] for w in fortnight] == [9.0, 5.3]  # the entry 10 days ago falls in the first week
    scores = data["scores"]
    assert [s["instrument"] for s in scores] == ["peg3", "phq9"]  # schedule order; not the other patient's GAD-7
    assert scores[0]["points"] == [{"date": today.isoformat(), "total": 5.0}] and scores[0]["latest_band"] is None
    assert scores[1]["points"] == [{"date": today.isoformat(), "total": 8}]
    assert scores[1]["latest_band"] == "Leve" and scores[1]["title"].startswith("Cuestionario")
    assert kiosk.progress(kp, CATALOG, "en", today=today)["scores"][1]["latest_band"] == "Mild"
    assert len(kiosk.progress(kp, CATALOG, "en")["pain"]) == 28


def test_messages_round_trip_and_read_marks(kp, admin):
    messages.send(admin, kp.code, "Hola Ana, ¿cómo va la caminata?")
    other = _enrol(admin, "Luis")
    messages.send(admin, other, "not for Ana")
    shown = kiosk.messages(kp)
    assert [(m["from_patient"], m["text"]) for m in shown] == [(False, "Hola Ana, ¿cómo va la caminata?")]
    sent = kiosk.send_message(kp, "Bien, gracias")
    assert sent["from_patient"] is True and sent["text"] == "Bien, gracias" and sent["at"]
    assert [m["text"] for m in kiosk.messages(kp)] == ["Hola Ana, ¿cómo va la caminata?", "Bien, gracias"]
    staff_view = messages.list_messages(admin, kp.code, mark_read=False)
    assert [(m["direction"], m["read_at"] is not None) for m in staff_view] == [("to_patient", True),
                                                                              ("from_patient", False)]
    assert messages.unread_count(admin, kp.patient_id) == 1  # the team has not read the reply yet
    with pytest.raises(UsageError):
        kiosk.send_message(kp, "   ")


def test_practice_modules_are_offered_run_and_stay_out_of_courses(kp, admin):
    assert kiosk.exercises(CATALOG) == ["practice-breathing", "practice-thought-record"]
    for course in CATALOG.all("course"):
        assert not set(kiosk.exercises(CATALOG)) & set(course["sessions"])
    answers = {
        "practice-breathing": {"breathing": {"rounds_done": 4}},
        "practice-thought-record": {"record": {"situation": "stairs at work", "thought": "I will fall",
                                               "emotion": "fear", "intensity": 70}},
    }
    for ident in kiosk.exercises(CATALOG):
        module = CATALOG.get("module", ident)
        assert module["phase"] == "practice"
        run, outcome = engine.run_all(admin, kp.code, module, kp.language, answers[ident])
        assert run.status == "completed" and outcome.score is None
    content, run, resumed = kiosk.start_run(kp, CATALOG, "module", "practice-breathing", "es")
    assert not resumed and run.patient_id == kp.patient_id and content["id"] == "practice-breathing"
    engine.answer(run, content, None)
    engine.save(admin, run)
    _, again, resumed = kiosk.start_run(kp, CATALOG, "module", "practice-breathing", "es")
    assert resumed and again.id == run.id


def test_start_run_offers_only_exercises_and_shipped_questionnaires(kp):
    content, run, _ = kiosk.start_run(kp, CATALOG, "instrument", "peg3", "es")
    assert content["id"] == "peg3" and run.patient_id == kp.patient_id
    for kind, ident in (("module", "cbt-01"), ("instrument", "pseq2"), ("instrument", "nope")):
        with pytest.raises(NotFoundError):
            kiosk.start_run(kp, CATALOG, kind, ident, "es")
