"""Code systems, codes, units and small helpers shared by the FHIR resource builders.

Every code used in the export is named here, with the page it was checked on listed in
docs/instruments.md (questionnaires) and docs/exports.md (everything else). Where LOINC has
no code, a telecbt code system under `LOCAL` is used, never text alone.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
PATIENT_CODE_SYSTEM = "urn:telecbt:patient-code"

#: telecbt's own code systems and canonical URLs (documented in docs/exports.md).
BASE = "https://telecbt.org/fhir"
LOCAL = f"{BASE}/CodeSystem"
SCORE_SYSTEM = f"{LOCAL}/score"
ITEM_SYSTEM = f"{LOCAL}/instrument-item"
OBSERVATION_SYSTEM = f"{LOCAL}/observation"
SAFETY_RULE_SYSTEM = f"{LOCAL}/safety-rule"
INTAKE_FLAG_SYSTEM = f"{LOCAL}/intake-flag"
COURSE_SYSTEM = f"{LOCAL}/course"
MODULE_SYSTEM = f"{LOCAL}/module"
CONSENT_VERSION_SYSTEM = f"{LOCAL}/consent-version"
QUESTIONNAIRE_BASE = f"{BASE}/Questionnaire"

#: Diary values as Observations: column -> (system, code, display, UCUM unit, unit text).
DIARY_CODES: dict[str, tuple[str, str, str, str, str]] = {
    "pain": (LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}", "{score}"),
    "steps": (LOINC, "41950-7", "Number of steps in 24 hour Measured", "/d", "steps/day"),
    "sleep_hours": (LOINC, "93832-4", "Sleep duration", "h", "h"),
    "activity_min": (LOINC, "55411-3", "Exercise duration", "min", "min"),
    "mood": (OBSERVATION_SYSTEM, "mood", "Mood rating 0-10 (higher is better)", "{score}", "{score}"),
    "sleep_quality": (OBSERVATION_SYSTEM, "sleep-quality", "Sleep quality rating 0-10 (higher is better)",
                      "{score}", "{score}"),
}
GOAL_PROGRESS = (OBSERVATION_SYSTEM, "goal-progress", "Progress towards a goal")
CONSENT_CATEGORY = (LOINC, "59284-0", "Patient Consent")

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:telecbt:fhir")
_FHIR_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def id_namespace() -> uuid.UUID:
    """The namespace of every derived id (`stable_id`)."""
    return _ID_NAMESPACE


#: The UUID variant digit (RFC 4122: binary 10xx) for each hex digit of a SHA-1 (`stable_id`).
UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_ID_SEED = hashlib.sha1(_ID_NAMESPACE.bytes)


def stable_id(*parts: str) -> str:
    """A UUIDv5 for a resource derived from a record (the same on every export): `uuid.uuid5`'s value,
    computed without building UUID objects (a quarter of the time; a test compares the two)."""
    hasher = _ID_SEED.copy()
    hasher.update("/".join(parts).encode("utf-8"))
    h = hasher.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def fhir_text(value: Any) -> str:
    """Text as FHIR allows it: no control characters other than tab, CR and LF, no outer spaces."""
    return _FHIR_BAD.sub("\ufffd", str(value)).strip() or "\ufffd"


def number(value: float | int) -> float | int:
    return int(value) if float(value).is_integer() else value


def coding(system: str, code: str, display: str | None = None) -> dict:
    found = {"system": system, "code": code}
    if display:
        found["display"] = fhir_text(display)
    return found


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    found: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text or display:
        found["text"] = fhir_text(text or display)
    return found


def quantity(value: float | int, unit: str, code: str | None = None) -> dict:
    return {"value": number(value), "unit": unit, "system": UCUM, "code": code or unit}


def ref(kind: str, ident: str) -> dict:
    return {"reference": f"{kind}/{ident}"}


def end_of(start: str, minutes: int) -> str:
    """An ISO UTC instant `minutes` after `start`, in the store's format."""
    from datetime import datetime, timedelta

    if len(start) == 24 and start.endswith("Z"):  # the store's own form (2026-11-27T08:30:00.000Z): no zone to convert
        return (datetime.fromisoformat(start[:-1]) + timedelta(minutes=minutes)).isoformat(timespec="milliseconds") + "Z"

    from telecbt_cli.core.store.timeparse import iso_utc

    return iso_utc(datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(minutes=minutes))


SURVEY = [concept(OBSERVATION_CATEGORY, "survey", "Survey")]
ACTIVITY = [concept(OBSERVATION_CATEGORY, "activity", "Activity")]
