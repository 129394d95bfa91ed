"""The step engine on a real store: show_if, back and skip, resume, fidelity, safety, all-or-nothing answers."""

from __future__ import annotations

import pytest

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.clinical import alerts, engine
from telecbt_cli.core.clinical.answers import AnswerError
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store import audit, users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    ConsentRequired,
    NotFoundError,
    PermissionDenied,
    UsageError,
)
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
SMART = {"specific": "Walk to the market", "measurable": "3 times a week", "achievable": "short walk",
         "relevant": "see friends", "time_bound": "in 4 weeks"}


@pytest.fixture
def patient(admin):
    p = add_patient(admin, PatientFields(display_name="Ana", language="es"))
    record_consent(admin, p["code"], "verbal", "v1")
    return p["code"]


def _runs(access, status=None):
    sql = "SELECT status, content_id, content_version FROM runs"
    return access.store.conn.execute(sql + (" WHERE status = ?" if status else ""), (status,) if status else ()).fetchall()


def test_show_if_follows_earlier_answers():
    module = CATALOG.get("module", "cbt-03")
    low = {"confidence": 5}
    high = {"confidence": 9}
    assert "make-smaller" in [s["id"] for s in engine.visible(module, low)]
    assert "make-smaller" not in [s["id"] for s in engine.visible(module, high)]
    assert "make-smaller" not in [s["id"] for s in engine.visible(module, {})]


def test_walk_back_skip_and_complete_records_the_content_version(admin, patient):
    module = CATALOG.get("module", "cbt-03")
    run, resumed = engine.start(admin, patient, module, "es")
    assert not resumed and run.position == "review"
    for _ in range(3):
        engine.answer(run, module, None)  # three information pages
    assert run.position == "goal"
    with pytest.raises(AnswerError):
        engine.skip(run, module)  # the goal is required
    with pytest.raises(AnswerError) as bad:
        engine.answer(run, module, {**SMART, "specific": ""})
    assert bad.value.key == "run.required"
    engine.answer(run, module, SMART)
    engine.answer(run, module, 9)  # confident: the "make it smaller" steps are hidden
    assert run.position == "barriers"
    assert engine.back(run) and run.position == "confidence"
    engine.answer(run, module, 4)
    assert run.position == "make-smaller"
    engine.answer(run, module, None)
    engine.skip(run, module)  # smaller-goal is optional
    engine.skip(run, module)  # barriers is optional
    engine.answer(run, module, None)
    assert run.position is None
    engine.save(admin, run)
    engine.complete(admin, run, module)
    assert _runs(admin, "completed") == [("completed", "cbt-03", module["version"])]


def test_an_interrupted_run_resumes_and_is_not_counted_as_complete(admin, patient, store_dir):
    module = CATALOG.get("module", "cbt-01")
    run, _ = engine.start(admin, patient, module, "en")
    for _ in range(3):
        engine.answer(run, module, None)
    engine.answer(run, module, 8)
    engine.save(admin, run)
    admin.close()
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        resumed, was_resumed = engine.start(again, patient, module, "en")
        assert was_resumed and resumed.position == "go-gently" and resumed.answers["pain-now"] == 8
        assert _runs(again, "completed") == []
        restarted, was_resumed = engine.start(again, patient, module, "en", restart=True)
        assert not was_resumed and restarted.answers == {}
        assert [r[0] for r in _runs(again)] == ["abandoned"]
    finally:
        again.close()


def test_no_run_without_consent(admin):
    p = add_patient(admin, PatientFields(display_name="No consent"))
    with pytest.raises(ConsentRequired):
        engine.start(admin, p["code"], CATALOG.get("module", "cbt-01"), "en")


def test_answers_that_do_not_match_change_nothing(admin, patient):
    phq9 = CATALOG.get("instrument", "phq9")
    good = {f"phq9_{n}": 1 for n in range(1, 10)}
    for bad, message in [({**good, "phq9_10": 1}, "unknown step"), ({**good, "phq9_3": 4}, "from 0 to 3"),
                         ({**good, "phq9_3": "often"}, "number"), ({k: v for k, v in good.items() if k != "phq9_5"},
                                                                   "required step 'phq9_5'")]:
        with pytest.raises(UsageError, match=message):
            engine.run_all(admin, patient, phq9, "en", bad)
    assert _runs(admin) == []
    assert admin.store.conn.execute("SELECT count(*) FROM measure_responses").fetchone()[0] == 0


def test_module_answers_file_with_show_if(admin, patient):
    module = CATALOG.get("module", "cbt-03")
    run, _ = engine.run_all(admin, patient, module, "en", {"goal": SMART, "confidence": 9})
    assert run.status == "completed" and "make-smaller" not in run.answers
    with pytest.raises(UsageError, match="not shown"):
        engine.run_all(admin, patient, module, "en", {"goal": SMART, "confidence": 9, "smaller-goal": "less"})


def test_safety_alert_opens_at_the_answer_and_needs_a_clinician(admin, patient, store_dir):
    phq9 = CATALOG.get("instrument", "phq9")
    run, _ = engine.start(admin, patient, phq9, "es")
    for n in range(1, 9):
        assert engine.answer(run, phq9, 0) == []
    fired = engine.answer(run, phq9, 2)
    assert [rule["id"] for rule in fired] == ["phq9-self-harm"]
    engine.save(admin, run, fired)  # the questionnaire is not finished, the alert is already open
    pid = run.patient_id
    assert alerts.open_count(admin, pid) == 1
    assert "emergencia" in (fired[0].get("message", {}).get("es", "") + CATALOG.crisis("es"))
    users.add_user(admin, "cathy", "chw", "cathy passphrase", KdfParams(10))
    chw = unlock(store_dir, "cathy", "cathy passphrase")
    try:
        (alert,) = alerts.list_alerts(chw, pid)
        with pytest.raises(PermissionDenied):
            alerts.acknowledge(chw, alert["id"], "called")
    finally:
        chw.close()
    with pytest.raises(UsageError, match="note"):
        alerts.acknowledge(admin, alert["id"], " ")
    alerts.acknowledge(admin, alert["id"][-12:], "Called Ana, safe, plan agreed")
    assert alerts.open_count(admin, pid) == 0
    acked = [e for e in audit.entries(admin.store) if e.action == "alert.acknowledge"]
    assert acked and acked[0].patient_id == pid and "Called" not in repr(acked)


def test_licensed_questionnaires_need_the_clinic_text(tmp_path):
    with pytest.raises(NotFoundError, match="licensed"):
        engine.content_for(CATALOG, "instrument", "pcs")
    root = tmp_path / "clinic" / "instruments"
    root.mkdir(parents=True)
    items = "\n".join(f'[[items]]\nid = "isi_{n}"\ntext = {{ en = "Test item {n}", es = "Ítem de prueba {n}" }}\n'
                      for n in range(1, 8))
    (root / "isi.text.toml").write_text(
        f'kind = "instrument-text"\ninstrument = "isi"\nlicence_holder = "Test clinic, licence 1"\n{items}',
        encoding="utf-8")
    merged, problems = cat.build([cat.BUILTIN_DIR, tmp_path / "clinic"])
    assert problems == []
    isi = engine.content_for(merged, "instrument", "isi")
    assert isi["items"][0]["text"]["en"] == "Test item 1" and isi["licence_holder"].startswith("Test clinic")
    (root / "isi.text.toml").write_text(
        'kind = "instrument-text"\ninstrument = "isi"\nlicence_holder = "x"\n'
        '[[items]]\nid = "isi_1"\ntext = { en = "only one", es = "solo uno" }\n', encoding="utf-8")
    _, problems = cat.build([cat.BUILTIN_DIR, tmp_path / "clinic"])
    assert any("has no text for item isi_7" in str(p) for p in problems)


def test_exercises_are_checked_field_by_field():
    from telecbt_cli.core.clinical.answers import check_answer

    pacing = {"id": "p", "kind": "pacing_plan"}
    plan = check_answer(pacing, {"activity": "walk", "baseline_minutes": 20, "quota_minutes": 15,
                                 "step_minutes": 2, "every_days": 3})
    assert plan["plan"][:3] == [{"day": 1, "minutes": 15}, {"day": 4, "minutes": 17}, {"day": 7, "minutes": 19}]
    with pytest.raises(AnswerError) as err:
        check_answer(pacing, {"activity": "walk", "baseline_minutes": 20, "quota_minutes": 25,
                              "step_minutes": 2, "every_days": 3})
    assert err.value.key == "exercise.pacing_plan.quota_too_high"
    sleep = {"id": "s", "kind": "sleep_plan"}
    assert check_answer(sleep, {"bedtime": "9:30", "wake_time": "06:00", "wind_down": "tea", "if_awake": "read"})["bedtime"] == "09:30"
    with pytest.raises(AnswerError):
        check_answer(sleep, {"bedtime": "25:00", "wake_time": "06:00", "wind_down": "tea", "if_awake": "read"})
    record = {"id": "t", "kind": "thought_record"}
    first = check_answer(record, {"situation": "stairs", "thought": "I will fall", "emotion": "fear", "intensity": 80})
    assert first["balanced"] is None
    with pytest.raises(AnswerError):
        check_answer(record, {"situation": "stairs", "thought": "x", "emotion": "fear", "intensity": 180})


def test_an_empty_answer_skips_an_optional_step_and_is_refused_for_a_required_one():
    """Guards the rule both UIs rely on: a blank answer is not a value."""
    module = CATALOG.get("module", "cbt-01")
    run = engine.new_run("p", module, "en")
    for _ in range(3):
        engine.answer(run, module, None)
    with pytest.raises(AnswerError) as err:
        engine.answer(run, module, "   ")  # pain now is required
    assert err.value.key == "run.required" and run.position == "pain-now"
    engine.answer(run, module, 3)
    engine.answer(run, module, ["work"])
    assert run.position == "matters-most"  # optional text
    engine.answer(run, module, "")
    assert run.answers["matters-most"] is None and run.position == "do-again"


def test_a_module_safety_rule_fires_at_its_step_and_opens_an_alert(admin, patient, tmp_path):
    """Issue 11.1: a module (a clinic's check-in, the intake) may carry safety rules like a questionnaire."""
    from tests.clinic import write_clinic

    built, problems = cat.build([cat.BUILTIN_DIR, write_clinic(tmp_path / "clinic")])
    assert problems == []
    module = built.get("module", "clinic-checkin")
    run, _ = engine.start(admin, patient, module, "en")
    fired = engine.answer(run, module, "yes")
    assert [rule["id"] for rule in fired] == ["clinic-harm"]
    engine.save(admin, run, fired)
    assert [a["rule_id"] for a in alerts.list_alerts(admin)] == ["clinic-harm"]
    _, calm = engine.run_all(admin, patient, module, "en", {"harm-thoughts": "no"}, restart=True)
    assert calm.fired == []
