"""FHIR R4 export: one transaction Bundle per patient (Patient, QuestionnaireResponse, Observation).

Streamed, encrypted and audited through the helpers in `bulk`, as the table exports are.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.core.clinical.scoring import band_label
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.sync import bulk

if TYPE_CHECKING:
    from telecbt_cli.content.catalog import Catalog

PATIENT_CODE_SYSTEM = "urn:telecbt:patient-code"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PAIN_LOINC = "72514-3"
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:telecbt:fhir")
_FHIR_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURVEY = [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}]
_SCORE = {"unit": "{score}", "system": UCUM, "code": "{score}"}


def _fhir_text(value: Any) -> str:
    """Text as FHIR allows it: no control characters other than tab, CR and LF, no outer spaces."""
    return _FHIR_BAD.sub("\ufffd", str(value)).strip() or "\ufffd"


def _number(value: float | int) -> float | int:
    return int(value) if float(value).is_integer() else value


def _entry(resource: dict) -> bytes:
    ident, kind = resource["id"], resource["resourceType"]
    entry = {"fullUrl": f"urn:uuid:{ident}", "resource": resource,
             "request": {"method": "PUT", "url": f"{kind}/{ident}"}}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _patient_resource(row: dict) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": row["id"],
        "identifier": [{"system": PATIENT_CODE_SYSTEM, "value": row["code"]}],
        "active": row["status"] == "active",
        "name": [{"text": _fhir_text(row["display_name"])}],
    }
    if row.get("sex") in ("female", "male", "other", "unknown"):
        resource["gender"] = row["sex"]
    if row.get("birth_year"):
        resource["birthDate"] = f"{int(row['birth_year']):04d}"  # a partial date: the year only
    if row.get("language"):
        resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": row["language"]}],
                                                   "text": row["language"]}, "preferred": True}]
    return resource


def _answer(value: Any) -> list[dict]:
    if isinstance(value, list):
        return [a for v in value for a in _answer(v)]
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float):
        return [{"valueInteger": int(value)}] if value.is_integer() else [{"valueDecimal": value}]
    if isinstance(value, str) and value.strip():
        return [{"valueString": _fhir_text(value)}]
    return []


def _measure_resources(row: dict, instrument: dict, patient_ref: dict) -> list[dict]:
    """A QuestionnaireResponse and, when scored, an Observation of the total derived from it."""
    loinc = instrument.get("loinc") or {}
    ident = row["instrument_id"]
    questionnaire = f"{LOINC}/q/{loinc['panel']}" if loinc.get("panel") else f"urn:telecbt:questionnaire:{ident}"
    answers = bulk.parse_json(row["answers"])
    items = []
    for link_id, value in (answers.items() if isinstance(answers, dict) else []):
        answer = _answer(value)
        if answer:
            items.append({"linkId": str(link_id), "answer": answer})
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "id": row["id"],
                                "questionnaire": questionnaire, "status": "completed", "subject": patient_ref,
                                "authored": row["completed_at"]}
    if items:
        response["item"] = items
    if row["total"] is None:
        return [response]
    title = instrument.get("short_title") or ident
    code: dict[str, Any] = {"text": f"{title} total score"}
    if loinc.get("total"):
        code = {"coding": [{"system": LOINC, "code": loinc["total"]}], **code}
    observation: dict[str, Any] = {
        "resourceType": "Observation", "id": str(uuid.uuid5(_ID_NAMESPACE, f"Observation/{row['id']}")),
        "status": "final", "category": _SURVEY, "code": code, "subject": patient_ref,
        "effectiveDateTime": row["completed_at"], "valueQuantity": {"value": _number(row["total"]), **_SCORE},
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{row['id']}"}],
    }
    label = band_label(instrument, row["band"], "en")
    if label:
        observation["interpretation"] = [{"text": label}]
    return [response, observation]


def _pain_resource(row: dict, patient_ref: dict) -> dict:
    """A diary pain rating; an entry replaced by a correction is sent as entered-in-error."""
    return {
        "resourceType": "Observation", "id": row["id"],
        "status": "entered-in-error" if row["superseded"] else "final", "category": _SURVEY,
        "code": {"coding": [{"system": LOINC, "code": PAIN_LOINC, "display": PAIN_DISPLAY}],
                 "text": "Pain severity (0-10)"},
        "subject": patient_ref, "effectiveDateTime": row["entry_at"],
        "valueQuantity": {"value": _number(row["pain"]), **_SCORE},
    }


def _rows(cursor) -> Iterator[dict]:
    names = [d[0] for d in cursor.description]
    for batch in bulk.batches(cursor):
        for row in batch:
            yield dict(zip(names, row))


_SUPERSEDED = "EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id AND n.deleted = 0{})"


def _responses_query(patient_id: str, since: str | None) -> tuple[str, list]:
    sql = ("SELECT id, instrument_id, instrument_version, lang, answers, total, band, completed_at "
           "FROM measure_responses WHERE patient_id = ? AND deleted = 0")
    params: list = [patient_id]
    if since:
        sql += " AND updated_at >= ?"
        params.append(since)
    return sql + " ORDER BY completed_at, rowid", params


def _pain_query(patient_id: str, since: str | None) -> tuple[str, list]:
    sql = (f"SELECT d.id, d.entry_at, d.pain, {_SUPERSEDED.format('')} AS superseded FROM diary_entries d "
           "WHERE d.patient_id = ? AND d.deleted = 0 AND d.pain IS NOT NULL")
    params: list = [patient_id]
    if since:
        # A correction made since then also re-sends the entry it replaced (now entered-in-error).
        sql += f" AND (d.updated_at >= ? OR {_SUPERSEDED.format(' AND n.updated_at >= ?')})"
        params += [since, since]
    return sql + " ORDER BY d.entry_at, d.rowid", params


def _changed_since(conn, patient: dict, since: str) -> bool:
    if patient["updated_at"] >= since:
        return True
    for sql, params in (_responses_query(patient["id"], since), _pain_query(patient["id"], since)):
        if conn.execute(f"SELECT EXISTS ({sql})", params).fetchone()[0]:
            return True
    return False


def _bundle_chunks(conn, catalog: "Catalog", patient: dict, since: str | None,
                   counts: dict[str, int]) -> Iterator[bytes]:
    head = json.dumps({"resourceType": "Bundle", "type": "transaction", "timestamp": now_iso()})
    yield (head[:-1] + ', "entry": [\n').encode("utf-8")
    yield _entry(_patient_resource(patient))
    counts["Patient"] += 1
    ref = {"reference": f"Patient/{patient['id']}"}
    instruments = catalog.entries.get("instrument", {})
    for row in _rows(conn.execute(*_responses_query(patient["id"], since))):
        for resource in _measure_resources(row, instruments.get(row["instrument_id"]) or {}, ref):
            counts[resource["resourceType"]] += 1
            yield b",\n" + _entry(resource)
    for row in _rows(conn.execute(*_pain_query(patient["id"], since))):
        counts["Observation"] += 1
        yield b",\n" + _entry(_pain_resource(row, ref))
    yield b"\n]}\n"


def export_fhir(access: Access, catalog: "Catalog", out_dir: Path, patient_codes: Sequence[str] | None = None,
                since: str | None = None, *, encrypt_to: str | Sequence[str] | None = None,
                plaintext: bool = False, force: bool = False, progress: Any = None) -> dict:
    """One FHIR R4 transaction bundle per patient (`<code>.json`): Patient, QuestionnaireResponses,
    score Observations and diary pain Observations, each a PUT of its own id (re-sending is idempotent).

    With `since`, a bundle is written only for patients with something changed since then,
    and holds the Patient plus the resources changed since then.
    """
    plan = bulk.begin(access, "fhir", out_dir, patient_codes, since, encrypt_to, plaintext, force)
    recipients, since, patient_ids, out_dir = plan.recipients, plan.since, plan.patient_ids, plan.out_dir
    suffix = ".json" + (".age" if recipients else "")
    counts = {"Patient": 0, "QuestionnaireResponse": 0, "Observation": 0}
    files: dict[str, str] = {}
    conn = access.store.conn
    sql, params = "SELECT * FROM patients WHERE deleted = 0", []
    if patient_ids is not None:
        sql += f" AND id IN ({', '.join('?' for _ in patient_ids)})"
        params = list(patient_ids)
    with bulk.snapshot(conn):
        for patient in _rows(conn.execute(sql + " ORDER BY code", params)):
            if since and not _changed_since(conn, patient, since):
                continue
            path = out_dir / f"{patient['code']}{suffix}"
            bulk.write_stream(path, _bundle_chunks(conn, catalog, patient, since, counts), recipients)
            files[patient["code"]] = str(path)
            if progress:
                progress(patient["code"], len(files), None)
    bulk.finish(out_dir)
    return {"format": "fhir", "out_dir": str(out_dir), "encrypted": recipients is not None, "since": since,
            "patients": len(files), "counts": counts, "files": files}
