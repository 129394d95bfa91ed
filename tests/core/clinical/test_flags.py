"""Issue 11.3: red flags and "not suitable" from the intake are kept on the patient, not lost after the run.

A red flag opens a medical-review alert that a clinician acknowledges with a note; a later intake
replaces the findings of the earlier one; the findings travel between devices in bundles.
"""

from __future__ import annotations

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.clinical import alerts, engine, flags
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, get_patient, patient_id_for, record_consent
from tests.core.sync.sites import Site, link

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
INTAKE = CATALOG.get("module", "intake")
CALM = {"pain-type": "mixed", "locations": ["lower_back"], "duration": "y1_5", "intensity": 6,
        "functional-goals": "play with grandchildren", "tech-access": ["phone_basic"], "readiness": 7,
        "suitable": "yes", "red-flags": [], "stressors": [], "coping": [], "self-harm": "no"}
FLAGGED = {**CALM, "red-flags": ["new_weakness", "night_pain"], "suitable": "no",
           "not-suitable-reason": "needs the review first; will call in two weeks"}


def _enrol(access) -> str:
    patient = add_patient(access, PatientFields(display_name="Ana", language="es"))
    record_consent(access, patient["code"], "verbal", "v1")
    return patient["code"]


def test_flags_are_kept_on_the_patient_with_what_was_found(admin):
    code = _enrol(admin)
    engine.run_all(admin, code, INTAKE, "en", FLAGGED)
    kept = flags.active_flags(admin, patient_id_for(admin, code))
    assert {f["flag_id"]: f["detail"] for f in kept} == {
        "medical-review": {"red-flags": ["night_pain", "new_weakness"]},
        "not-suitable": {"not-suitable-reason": "needs the review first; will call in two weeks"}}
    shown = {d["id"]: d for d in (flags.describe(CATALOG, f, "es") for f in kept)}
    assert shown["medical-review"]["label"] == "Revisión médica"
    assert shown["medical-review"]["details"] == ["Dolor fuerte en la noche que no se alivia con el descanso",
                                                  "Debilidad nueva, adormecimiento o dificultad para caminar"]
    assert shown["not-suitable"]["details"] == ["needs the review first; will call in two weeks"]
    assert [f["flag_id"] for f in get_patient(admin, code)["flags"]] == ["medical-review", "not-suitable"]


def test_a_red_flag_opens_a_medical_review_alert_acknowledged_with_a_note(admin):
    code = _enrol(admin)
    run, _ = engine.run_all(admin, code, INTAKE, "en", FLAGGED)
    opened = alerts.list_alerts(admin, patient_id_for(admin, code))
    assert [(a["rule_id"], a["content_id"]) for a in opened] == [("medical-review", "intake")]
    assert get_patient(admin, code)["open_safety_alerts"] == 1
    alerts.acknowledge(admin, opened[0]["id"], "review booked with Dr Ochieng for Tuesday")
    assert alerts.list_alerts(admin, patient_id_for(admin, code)) == []
    assert [f["flag_id"] for f in flags.active_flags(admin, patient_id_for(admin, code))] == [
        "medical-review", "not-suitable"]  # the finding stays until a new intake says otherwise


def test_a_new_intake_replaces_the_findings_of_the_last(admin):
    code = _enrol(admin)
    engine.run_all(admin, code, INTAKE, "en", FLAGGED)
    engine.run_all(admin, code, INTAKE, "en", {**CALM, "suitable": "no", "not-suitable-reason": "no phone yet"})
    pid = patient_id_for(admin, code)
    assert [(f["flag_id"], f["detail"]) for f in flags.active_flags(admin, pid)] == [
        ("not-suitable", {"not-suitable-reason": "no phone yet"})]
    cleared = admin.store.conn.execute("SELECT flag_id, status FROM patient_flags WHERE status = 'cleared' "
                                       "ORDER BY flag_id").fetchall()
    assert cleared == [("medical-review", "cleared"), ("not-suitable", "cleared")]  # kept, not deleted
    engine.run_all(admin, code, INTAKE, "en", CALM)
    assert flags.active_flags(admin, pid) == []


def test_flags_travel_in_bundles(tmp_path):
    field, hub = Site(tmp_path, "field"), Site(tmp_path, "hub")
    link(field, hub)
    try:
        code = _enrol(field.access)
        engine.run_all(field.access, code, INTAKE, "en", FLAGGED)
        hub.import_(field.bundle_for(hub))
        pid = patient_id_for(hub.access, code)
        assert [f["flag_id"] for f in flags.active_flags(hub.access, pid)] == ["medical-review", "not-suitable"]
        assert [a["rule_id"] for a in alerts.list_alerts(hub.access, pid)] == ["medical-review"]
    finally:
        field.access.close()
        hub.access.close()
