"""FHIR resources for the care around the scores: Patient, diary Observations, CarePlan, Goal,
Appointment and Encounter, Flag and Consent.

Each builder is a pure function of one store row (a dict) and returns plain JSON-ready dicts,
so any reader of rows (batches from SQLite today, a streaming reader later) can feed them.
Contact details, caregiver names, call links and free-text notes are not exported.
"""

from __future__ import annotations

import json
from typing import Any

from telecbt_cli.core.sync.fhir_codes import (
    ACT_CODE,
    ACTIVITY,
    CONSENT_CATEGORY,
    CONSENT_SCOPE,
    CONSENT_VERSION_SYSTEM,
    COURSE_SYSTEM,
    DIARY_CODES,
    FLAG_CATEGORY,
    GOAL_ACHIEVEMENT,
    GOAL_PROGRESS,
    INTAKE_FLAG_SYSTEM,
    MODULE_SYSTEM,
    PATIENT_CODE_SYSTEM,
    ROLE_CODE,
    SAFETY_RULE_SYSTEM,
    SURVEY,
    coding,
    concept,
    end_of,
    fhir_text,
    quantity,
    ref,
    stable_id,
)


def patient_resource(row: dict) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": row["id"],
        "identifier": [{"system": PATIENT_CODE_SYSTEM, "value": row["code"]}],
        "active": row["status"] == "active",
        "name": [{"text": fhir_text(row["display_name"])}],
    }
    if row.get("sex") in ("female", "male", "other", "unknown"):
        resource["gender"] = row["sex"]
    if row.get("birth_year"):
        resource["birthDate"] = f"{int(row['birth_year']):04d}"  # a partial date: the year only
    if row.get("language"):
        resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": row["language"]}],
                                                   "text": row["language"]}, "preferred": True}]
    return resource


def diary_id(entry_id: str, column: str) -> str:
    """The pain rating keeps the entry's own id (as exported before); other values get derived ids."""
    return entry_id if column == "pain" else stable_id("Observation", entry_id, column)


def diary_observations(row: dict, patient_ref: dict) -> list[dict]:
    """One Observation per recorded diary value; an entry replaced by a correction is entered-in-error."""
    found = []
    for column, (system, code, display, unit, unit_text) in DIARY_CODES.items():
        value = row.get(column)
        if value is None:
            continue
        found.append({
            "resourceType": "Observation", "id": diary_id(row["id"], column),
            "status": "entered-in-error" if row["superseded"] else "final",
            "category": SURVEY if unit == "{score}" else ACTIVITY,
            "code": concept(system, code, display),
            "subject": patient_ref, "effectiveDateTime": row["entry_at"],
            "valueQuantity": quantity(value, unit_text, unit),
        })
    return found


def care_team_id(plan_id: str) -> str:
    return stable_id("CareTeam", plan_id)


def caregiver_resources(plan: dict, patient_ref: dict) -> list[dict]:
    """When a caregiver takes part: a RelatedPerson (relationship only) in the plan's CareTeam."""
    if not plan.get("caregiver_involved"):
        return []
    person_id = stable_id("RelatedPerson", plan["id"])
    person = {"resourceType": "RelatedPerson", "id": person_id, "active": True, "patient": patient_ref,
              "relationship": [concept(ROLE_CODE, "CAREGIVER", "caregiver")]}
    team = {"resourceType": "CareTeam", "id": care_team_id(plan["id"]), "status": "active",
            "name": "CBT for chronic pain", "subject": patient_ref,
            "participant": [{"role": [concept(ROLE_CODE, "CAREGIVER", "caregiver")],
                             "member": ref("RelatedPerson", person_id)}]}
    return [person, team]


def care_plan_resource(plan: dict, patient_ref: dict, module_titles: dict[str, str], attended: set[str],
                       goal_ids: list[str]) -> dict:
    """The course as a CarePlan: one activity per planned session, done or not yet."""
    sessions = json.loads(plan["sessions"]) if isinstance(plan["sessions"], str) else list(plan["sessions"] or [])
    activities = []
    for module in sessions:
        title = module_titles.get(module) or module
        activities.append({"detail": {
            "kind": "Appointment", "code": concept(MODULE_SYSTEM, module, title),
            "status": "completed" if module in attended else "not-started", "description": fhir_text(title)}})
    resource: dict[str, Any] = {
        "resourceType": "CarePlan", "id": plan["id"],
        "status": "completed" if sessions and all(m in attended for m in sessions) else "active",
        "intent": "plan", "title": fhir_text(f"CBT for chronic pain: {plan['course']} course"),
        "category": [concept(COURSE_SYSTEM, plan["course"], f"{plan['course']} course")],
        "subject": patient_ref, "created": plan["created_at"],
    }
    if plan.get("caregiver_involved"):
        resource["careTeam"] = [ref("CareTeam", care_team_id(plan["id"]))]
    if goal_ids:
        resource["goal"] = [ref("Goal", g) for g in goal_ids]
    if activities:
        resource["activity"] = activities
    return resource


_GOAL_STATUS = {"active": ("active", "in-progress"), "achieved": ("completed", "achieved"),
                "revised": ("cancelled", None), "dropped": ("cancelled", "not-achieved")}


def goal_resources(row: dict, patient_ref: dict) -> list[dict]:
    """A SMART goal with its target and dated progress notes, then its progress (%) as an Observation."""
    lifecycle, achievement = _GOAL_STATUS.get(row["status"], ("active", None))
    goal: dict[str, Any] = {"resourceType": "Goal", "id": row["id"], "lifecycleStatus": lifecycle,
                            "description": {"text": fhir_text(row["text"])}, "subject": patient_ref,
                            "startDate": row["created_at"][:10]}
    if achievement:
        goal["achievementStatus"] = concept(GOAL_ACHIEVEMENT, achievement, achievement.replace("-", " "))
    if row["status"] in ("revised", "dropped"):
        goal["statusReason"] = row["status"]
    target: dict[str, Any] = {}
    if row.get("measure"):
        target["measure"] = {"text": fhir_text(row["measure"])}  # how progress is judged, as written
    if row.get("target_date"):
        target["dueDate"] = row["target_date"]
    if target:
        goal["target"] = [target]
    notes = json.loads(row["notes"]) if isinstance(row["notes"], str) else list(row["notes"] or [])
    annotations = []
    for note in notes:
        if isinstance(note, dict) and str(note.get("note") or "").strip():
            annotation = {"text": fhir_text(note["note"])}
            if note.get("at"):
                annotation["time"] = note["at"]
            if note.get("by"):
                annotation["authorString"] = fhir_text(note["by"])
            annotations.append(annotation)
    if annotations:
        goal["note"] = annotations
    found = [goal]
    if row.get("progress") is not None:
        found.append({"resourceType": "Observation", "id": stable_id("Observation", row["id"], "progress"),
                      "status": "final", "code": concept(*GOAL_PROGRESS), "subject": patient_ref,
                      "focus": [ref("Goal", row["id"])], "effectiveDateTime": row["updated_at"],
                      "valueQuantity": quantity(row["progress"], "%")})
    return found


_APPOINTMENT_STATUS = {"scheduled": "booked", "attended": "fulfilled", "no_show": "noshow", "cancelled": "cancelled"}
_ENCOUNTER_CLASS = {"video": ("VR", "virtual"), "phone": ("VR", "virtual"), "in-person": ("AMB", "ambulatory"),
                    "kiosk": ("AMB", "ambulatory")}


def appointment_resources(row: dict, patient_ref: dict, module_title: str | None) -> list[dict]:
    """A check-in as an Appointment (attendance in its status) and, once attended, its Encounter."""
    start, end = row["scheduled_at"], end_of(row["scheduled_at"], int(row["minutes"]))
    status = _APPOINTMENT_STATUS.get(row["status"], "booked")
    participants = [{"actor": patient_ref, "status": "accepted" if status != "cancelled" else "declined"}]
    if row.get("clinician"):
        participants.append({"actor": {"display": fhir_text(row["clinician"])}, "status": "accepted"})
    appointment: dict[str, Any] = {
        "resourceType": "Appointment", "id": row["id"], "status": status, "start": start, "end": end,
        "minutesDuration": int(row["minutes"]), "participant": participants,
        "serviceType": [concept(MODULE_SYSTEM, row["module_id"], module_title)] if row.get("module_id") else
        [{"text": "CBT for chronic pain check-in"}],
        "description": fhir_text(module_title or "CBT for chronic pain check-in"),
    }
    found = [appointment]
    if row["status"] == "attended":
        code, display = _ENCOUNTER_CLASS.get(row["mode"], ("AMB", "ambulatory"))
        found.append({"resourceType": "Encounter", "id": stable_id("Encounter", row["id"]), "status": "finished",
                      "class": coding(ACT_CODE, code, display), "subject": patient_ref,
                      "appointment": [ref("Appointment", row["id"])], "period": {"start": start, "end": end},
                      "length": quantity(int(row["minutes"]), "min")})
    return found


def alert_flag(row: dict, patient_ref: dict) -> dict:
    """A safety alert: an active Flag until a clinician acknowledges it, then inactive."""
    period = {"start": row["opened_at"]}
    if row.get("acknowledged_at"):
        period["end"] = row["acknowledged_at"]
    return {"resourceType": "Flag", "id": row["id"], "status": "active" if row["status"] == "open" else "inactive",
            "category": [concept(FLAG_CATEGORY, "safety", "Safety")],
            "code": concept(SAFETY_RULE_SYSTEM, row["rule_id"], f"Safety rule {row['rule_id']} ({row['content_id']})"),
            "subject": patient_ref, "period": period}


def intake_flag(run: dict, flag: dict, patient_ref: dict, current: bool) -> dict:
    """A red flag raised by a completed intake; inactive once a later intake replaces it."""
    message = flag.get("message")
    text = (message.get("en") if isinstance(message, dict) else message) or flag["id"]
    return {"resourceType": "Flag", "id": stable_id("Flag", run["id"], flag["id"]),
            "status": "active" if current else "inactive",
            "category": [concept(FLAG_CATEGORY, "clinical", "Clinical")],
            "code": concept(INTAKE_FLAG_SYSTEM, flag["id"], text), "subject": patient_ref,
            "period": {"start": run["completed_at"]}}


def consent_resource(row: dict, patient_ref: dict, current: bool) -> dict:
    """One consent event: given (permit) or withdrawn (deny); only the latest is active."""
    rule = concept(CONSENT_VERSION_SYSTEM, row["version"], f"telecbt consent, version {row['version']}") \
        if row.get("version") else {"text": "telecbt consent"}
    if row.get("method"):
        rule["text"] = fhir_text(f"{rule.get('text', 'telecbt consent')}, {row['method']}")
    return {"resourceType": "Consent", "id": row["id"], "status": "active" if current else "inactive",
            "scope": concept(CONSENT_SCOPE, "treatment", "Treatment"),
            "category": [concept(*CONSENT_CATEGORY)], "patient": patient_ref, "dateTime": row["recorded_at"],
            "performer": [patient_ref], "policyRule": rule,
            "provision": {"type": "permit" if row["action"] == "given" else "deny"}}
