"""FHIR Questionnaires from content, and QuestionnaireResponses with their score Observations.

Pure functions of an instrument (content dict) and a `measure_responses` row (dict), so any
reader of rows can feed them. A Questionnaire is exported only when its item text may be
shipped: always for the freely licensed instruments, and for a licensed one only when a
clinic's text pack supplies the text (`items_included` is then true).
"""

from __future__ import annotations

from typing import Any

from telecbt_cli.core.clinical.scoring import band_label
from telecbt_cli.core.sync.bulk import parse_json
from telecbt_cli.core.sync.fhir_codes import (
    ITEM_SYSTEM,
    LOCAL,
    LOINC,
    MAX_VALUE,
    MIN_VALUE,
    ORDINAL_VALUE,
    QUESTIONNAIRE_BASE,
    SCORE_SYSTEM,
    SURVEY,
    coding,
    concept,
    fhir_text,
    number,
    quantity,
    stable_id,
)

#: Subscale scores that have a LOINC code of their own (instrument, subscale) -> code.
SUBSCALE_LOINC = {("phq4", "phq2"): ("55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]")}


def exportable(instrument: dict) -> bool:
    """Whether the Questionnaire may be exported: its item text is present and may be shared."""
    return bool(instrument.get("items_included")) and all(item.get("text") for item in instrument.get("items", []))


def questionnaire_url(instrument_id: str) -> str:
    return f"{QUESTIONNAIRE_BASE}/{instrument_id}"


def canonical(instrument_id: str, version: str) -> str:
    """What a QuestionnaireResponse names: the Questionnaire's url and the version answered."""
    return f"{questionnaire_url(instrument_id)}|{version}"


def questionnaire_id(instrument_id: str, version: str) -> str:
    """One resource per version, so answers to an older version keep pointing at its text."""
    return stable_id("Questionnaire", instrument_id, version)


def _en(text: Any) -> str:
    if isinstance(text, dict):
        text = text.get("en") or next(iter(text.values()), "")
    return fhir_text(text or "")


def answer_coding(instrument: dict, set_name: str, option: dict) -> dict:
    """An answer as a Coding: LOINC's answer code where LOINC has one, else telecbt's; score as ordinal."""
    if option.get("loinc"):
        found = coding(LOINC, option["loinc"], _en(option.get("label")) if option.get("label") else None)
    else:
        found = coding(f"{LOCAL}/answer/{instrument['id']}/{set_name}", str(option["value"]),
                       _en(option.get("label")) if option.get("label") else None)
    return {"extension": [{"url": ORDINAL_VALUE, "valueDecimal": option["value"]}], **found}


def _item_code(item: dict) -> dict:
    if item.get("loinc"):
        return coding(LOINC, item["loinc"])
    return coding(ITEM_SYSTEM, item["id"])


def questionnaire_resource(instrument: dict) -> dict:
    """The instrument as an R4 Questionnaire (English text, LOINC codes, answer scores)."""
    ident, version = instrument["id"], instrument["version"]
    loinc = instrument.get("loinc") or {}
    items = []
    for item in instrument["items"]:
        entry: dict[str, Any] = {"linkId": item["id"], "code": [_item_code(item)], "text": _en(item["text"]),
                                 "required": True}
        set_name = item.get("options")
        if set_name:
            entry["type"] = "choice"
            entry["answerOption"] = [{"valueCoding": answer_coding(instrument, set_name, option)}
                                     for option in instrument["option_sets"][set_name]]
        else:
            entry["type"] = "integer"
            entry["extension"] = [{"url": MIN_VALUE, "valueInteger": item["min"]},
                                  {"url": MAX_VALUE, "valueInteger": item["max"]}]
        items.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire", "id": questionnaire_id(ident, version), "url": questionnaire_url(ident),
        "version": version, "name": "".join(ch for ch in ident.title() if ch.isalnum()),
        "title": _en(instrument["title"]), "status": "active", "subjectType": ["Patient"],
    }
    if loinc.get("panel"):
        resource["code"] = [coding(LOINC, loinc["panel"])]
        resource["derivedFrom"] = [f"{LOINC}/q/{loinc['panel']}"]
    licence = instrument.get("licence", "")
    if instrument.get("licence_holder"):
        licence = f"{licence} Text used under licence by: {instrument['licence_holder']}"
    if licence:
        resource["copyright"] = fhir_text(licence)
    resource["item"] = items
    return resource


#: Per instrument and version, an option set's answers by value (`_answer` with `chosen`): one export
#: codes the same few options hundreds of thousands of times.
Chosen = dict[tuple[str, Any], list[dict]]


def _answer(instrument: dict, item: dict | None, value: Any, chosen: Chosen | None = None) -> list[dict]:
    if isinstance(value, bool) or value is None:
        return []
    if item is not None and item.get("options"):
        if chosen is not None and isinstance(value, (int, float, str)):
            key = (item["options"], value)
            if key not in chosen:
                chosen[key] = _answer(instrument, item, value)
            return chosen[key]
        for option in instrument["option_sets"][item["options"]]:
            if option["value"] == value:
                return [{"valueCoding": answer_coding(instrument, item["options"], option)}]
    if isinstance(value, (int, float)) and float(value).is_integer():
        return [{"valueInteger": int(value)}]
    if isinstance(value, float):
        return [{"valueDecimal": value}]
    if isinstance(value, str) and value.strip():
        return [{"valueString": fhir_text(value)}]
    return []


def _score_code(instrument: dict, ident: str) -> dict:
    title = instrument.get("short_title") or ident
    total = (instrument.get("loinc") or {}).get("total")
    if total:
        return concept(LOINC, total, text=f"{title} total score")
    return concept(SCORE_SYSTEM, ident, f"{title} score", f"{title} total score")


def _score_observation(ident: str, code: dict, row: dict, patient_ref: dict) -> dict:
    return {"resourceType": "Observation", "id": ident, "status": "final", "category": SURVEY, "code": code,
            "subject": patient_ref, "effectiveDateTime": row["completed_at"],
            "derivedFrom": [{"reference": f"QuestionnaireResponse/{row['id']}"}]}


def response_resources(row: dict, instrument: dict, patient_ref: dict, chosen: Chosen | None = None) -> list[dict]:
    """A QuestionnaireResponse and, when scored, Observations of its total and subscale scores. `chosen`
    (one per instrument version, kept by the caller) reuses the coded answers: the resources then share
    them, so they must be serialised, not changed."""
    ident = row["instrument_id"]
    answers = parse_json(row["answers"])
    answers = answers if isinstance(answers, dict) else {}
    by_id = {item["id"]: item for item in instrument.get("items", [])}
    order = [i for i in by_id if i in answers] if by_id else list(answers)
    items = []
    for link_id in order:
        answer = _answer(instrument, by_id.get(link_id), answers[link_id], chosen)
        if answer:
            items.append({"linkId": str(link_id), "answer": answer})
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "id": row["id"],
                                "questionnaire": canonical(ident, row["instrument_version"]),
                                "status": "completed", "subject": patient_ref, "authored": row["completed_at"]}
    if items:
        response["item"] = items
    found = [response]
    if row["total"] is not None:
        observation = _score_observation(stable_id("Observation", row["id"]), _score_code(instrument, ident), row,
                                         patient_ref)
        scored = (instrument.get("scoring") or {}).get("items") or list(by_id)
        item = by_id.get(scored[0]) if scored else None
        if (instrument.get("scoring") or {}).get("method") == "category" and item and item.get("options"):
            value = _answer(instrument, item, number(row["total"]), chosen)
            coded = value[0].get("valueCoding") if value else None
            observation["valueCodeableConcept"] = ({"coding": [coded], "text": coded.get("display", str(row["total"]))}
                                                   if coded else {"text": str(number(row["total"]))})
            if row.get("responder") is not None:
                observation["interpretation"] = [{"text": "Responder" if row["responder"] else "Not a responder"}]
        else:
            observation["valueQuantity"] = quantity(row["total"], "{score}")
            label = band_label(instrument, row["band"], "en")
            if label:
                observation["interpretation"] = [{"text": fhir_text(label)}]
        found.append(observation)
    found.extend(_subscale_observations(row, instrument, patient_ref))
    return found


def _subscale_observations(row: dict, instrument: dict, patient_ref: dict) -> list[dict]:
    subscales = parse_json(row.get("subscales"))
    if not isinstance(subscales, dict):
        return []
    titles = {s["id"]: s for s in (instrument.get("scoring") or {}).get("subscales") or []}
    ident, found = row["instrument_id"], []
    for sub_id, entry in subscales.items():
        value = entry.get("score") if isinstance(entry, dict) else None
        if value is None or isinstance(value, bool):
            continue
        title = _en(titles.get(sub_id, {}).get("title") or sub_id)
        if (ident, sub_id) in SUBSCALE_LOINC:
            loinc_code, display = SUBSCALE_LOINC[(ident, sub_id)]
            code = concept(LOINC, loinc_code, display, title)
        else:
            code = concept(SCORE_SYSTEM, f"{ident}.{sub_id}", f"{instrument.get('short_title') or ident}: {title}")
        observation = _score_observation(stable_id("Observation", row["id"], sub_id), code, row, patient_ref)
        observation["valueQuantity"] = quantity(value, "{score}")
        if entry.get("positive") is not None:
            observation["interpretation"] = [{"text": "Positive screen" if entry["positive"] else "Negative screen"}]
        found.append(observation)
    return found
