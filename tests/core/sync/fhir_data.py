"""A patient with every kind of record the FHIR export maps, on a real store (for the FHIR tests)."""

from __future__ import annotations

import json

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import appointments, diary, plans
from telecbt_cli.core.clinical import alerts, engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent, withdraw_consent
from telecbt_cli.core.store import records
from telecbt_cli.core.store.clock import now_iso

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
PHQ9 = {f"phq9_{n}": 2 for n in range(1, 9)} | {"phq9_9": 1}  # total 17; item 9 opens a safety alert


def full_patient(access, name: str = "Ana") -> dict:
    """Consent history, a full diary with a correction, five questionnaires, a plan with a caregiver,
    goals with progress, check-ins (attended, missed, booked), safety alerts and intake red flags."""
    patient = add_patient(access, PatientFields(display_name=name, language="en", birth_year=1970, sex="female",
                                                caregiver_name="Rosa"))
    code = patient["code"]
    record_consent(access, code, "verbal", "2026-01")
    withdraw_consent(access, code)
    record_consent(access, code, "written", "2026-02")
    first = diary.add_entry(access, code, {"pain": 7, "mood": 3, "sleep_hours": 5.5, "sleep_quality": 4,
                                           "activity_min": 20, "steps": 3200, "entry_at": "2026-01-05 08:00"})
    fixed = diary.correct_entry(access, first["id"], {"pain": 6})
    steps_only = diary.import_rows(access, code, [{"day": "2026-01-07", "steps": 5400}])
    for ident, answers in (("phq9", PHQ9), ("phq4", {"phq4_1": 2, "phq4_2": 2, "phq4_3": 1, "phq4_4": 0}),
                           ("pgic", {"pgic_1": 2}), ("pain-nrs", {"pain_now": 5}),
                           ("peg3", {"peg3_pain": 6, "peg3_enjoyment": 5, "peg3_activity": 4})):
        engine.run_all(access, code, CATALOG.get("instrument", ident), "en", answers)
    plans.set_plan(access, CATALOG, code, course="brief", caregiver_involved=True)
    goal = plans.add_goal(access, code, "Walk to the market 3 times a week", measure="3 walks a week",
                          target="2026-12-31")
    plans.update_goal(access, goal["id"], progress=50, note="walked twice")
    dropped = plans.add_goal(access, code, "Swim")
    plans.update_goal(access, dropped["id"], status="dropped")
    sessions = json.loads(access.store.one("SELECT sessions FROM plans WHERE patient_id = ?", (patient["id"],))["sessions"])
    booked = [appointments.schedule(access, CATALOG, code, f"2099-0{n}-01 10:00", mode, module_id=module)
              for n, (mode, module) in enumerate([("video", sessions[0]), ("phone", sessions[1]),
                                                  ("in-person", sessions[2])], 1)]
    appointments.record(access, CATALOG, booked[0]["id"], "attended")
    appointments.record(access, CATALOG, booked[1]["id"], "no_show")
    [alert] = alerts.list_alerts(access, patient["id"])
    alerts.acknowledge(access, alert["id"], "called, safe")
    alerts.open_alert(access, patient["id"], "phq9-self-harm", "phq9", "manual-source")
    with access.store.write():
        for red_flags in (["night_pain"], ["night_pain", "chest_pain"]):
            records.insert(access.store, "runs", {
                "patient_id": patient["id"], "kind": "module", "content_id": "intake", "content_version": "1.0.0",
                "lang": "en", "status": "completed", "position": None, "history": "[]",
                "answers": json.dumps({"red-flags": red_flags, "suitable": "yes"}), "started_by": "alice",
                "started_at": now_iso(), "completed_at": now_iso()})
    return {"patient": patient, "first": first, "fixed": fixed, "steps_only": steps_only, "goal": goal,
            "dropped": dropped, "booked": booked}
