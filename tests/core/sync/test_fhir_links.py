"""Issue 18: the FHIR export links up — Questionnaires for the responses, every value coded,
the care plan, goals, check-ins, alerts and consent — and validates with two validators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telecbt_cli.core.sync import fhir
from tests.core.sync.fhir_data import CATALOG, full_patient

LOINC = "http://loinc.org"


@pytest.fixture
def exported(admin, tmp_path):
    """A full patient exported once: (patient bundle, questionnaires bundle, test data)."""
    data = full_patient(admin)
    out = tmp_path / "fhir"
    result = fhir.export_fhir(admin, CATALOG, out, plaintext=True)
    bundle = json.loads((out / f"{data['patient']['code']}.json").read_text(encoding="utf-8"))
    questionnaires = json.loads((out / "questionnaires.json").read_text(encoding="utf-8"))
    return bundle, questionnaires, data, result


def resources(bundle: dict, kind: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if kind is None or e["resource"]["resourceType"] == kind]


def test_every_resource_validates_with_fhir_resources_r4b_and_medplum(exported, medplum):
    from fhir.resources.R4B.bundle import Bundle

    bundle, questionnaires, _, result = exported
    Bundle.model_validate(bundle)
    Bundle.model_validate(questionnaires)
    every = resources(bundle) + resources(questionnaires)
    kinds = {r["resourceType"] for r in every}
    assert set(fhir.TYPES) <= kinds  # the data exercises every type the export can write
    assert medplum.validate(every) == [[] for _ in every]
    assert result["questionnaires"] == len(resources(questionnaires)) == 8


def test_medplum_validator_is_real(medplum):
    """Guards the validation test above: Medplum does refuse a broken resource."""
    [issues] = medplum.validate([{"resourceType": "Observation", "status": "final"}])
    assert any("Observation.code" in where for issue in issues for where in issue.get("expression", []))


def test_each_response_resolves_to_a_questionnaire_whose_items_match(exported):
    bundle, questionnaires, _, _ = exported
    published = {f"{q['url']}|{q['version']}": q for q in resources(questionnaires)}
    in_bundle = {f"{q['url']}|{q['version']}": q for q in resources(bundle, "Questionnaire")}
    responses = resources(bundle, "QuestionnaireResponse")
    assert len(responses) == 5
    for response in responses:
        questionnaire = published[response["questionnaire"]]
        assert in_bundle[response["questionnaire"]] == questionnaire  # the bundle carries what it answers
        items = {item["linkId"]: item for item in questionnaire["item"]}
        for answered in response["item"]:
            item = items[answered["linkId"]]
            [answer] = answered["answer"]
            if item["type"] == "choice":
                options = [o["valueCoding"] for o in item["answerOption"]]
                assert answer["valueCoding"] in options
            else:
                assert item["type"] == "integer" and isinstance(answer["valueInteger"], int)


def test_phq9_items_and_answers_carry_loinc_codes_and_scores(exported):
    _, questionnaires, _, _ = exported
    [phq9] = [q for q in resources(questionnaires) if q["url"].endswith("/phq9")]
    assert phq9["code"] == [{"system": LOINC, "code": "44249-1"}] and phq9["version"] == "1.0.0"
    first = phq9["item"][0]
    assert first["linkId"] == "phq9_1" and first["code"] == [{"system": LOINC, "code": "44250-9"}]
    answers = [(o["valueCoding"]["code"], o["valueCoding"]["extension"][0]["valueDecimal"]) for o in first["answerOption"]]
    assert answers == [("LA6568-5", 0), ("LA6569-3", 1), ("LA6570-1", 2), ("LA6571-9", 3)]
    assert first["answerOption"][0]["valueCoding"]["extension"][0]["url"] == \
        "http://hl7.org/fhir/StructureDefinition/ordinalValue"
    assert first["answerOption"][0]["valueCoding"]["display"] == "Not at all"
    assert [i["code"][0]["code"] for i in phq9["item"]][-1] == "44260-8"


def test_licensed_questionnaires_are_not_exported_without_a_text_pack(exported, tmp_path):
    _, questionnaires, _, _ = exported
    urls = {q["url"].rsplit("/", 1)[1] for q in resources(questionnaires)}
    assert urls == {"phq9", "gad7", "phq4", "peg3", "pain-nrs", "sleep-nrs", "mood-nrs", "pgic"}
    from telecbt_cli.content import catalog as cat

    pack = tmp_path / "clinic" / "instruments"
    pack.mkdir(parents=True)
    items = "\n".join(f'[[items]]\nid = "pcs_{n}"\ntext = {{ en = "Item {n}", es = "Pregunta {n}" }}\n' for n in range(1, 14))
    (pack / "pcs.text.toml").write_text(f'kind = "instrument-text"\ninstrument = "pcs"\n'
                                        f'licence_holder = "Test clinic, licence 1"\n{items}', encoding="utf-8")
    licensed, problems = cat.build([cat.BUILTIN_DIR, tmp_path / "clinic"])
    assert problems == []
    [pcs] = [q for q in fhir.questionnaire_resources(licensed) if q["url"].endswith("/pcs")]
    assert pcs["item"][0]["text"] == "Item 1" and "Test clinic, licence 1" in pcs["copyright"]
    assert pcs["item"][0]["code"][0]["system"] == "https://telecbt.org/fhir/CodeSystem/instrument-item"


def test_every_observation_has_a_coding(exported):
    bundle, _, _, _ = exported
    observations = resources(bundle, "Observation")
    assert len(observations) == 22
    for observation in observations:
        [code] = observation["code"]["coding"]
        assert code["system"] and code["code"], observation["id"]
    codes = {(o["code"]["coding"][0]["system"], o["code"]["coding"][0]["code"]) for o in observations}
    local = "https://telecbt.org/fhir/CodeSystem/"
    assert {(LOINC, "44261-6"), (LOINC, "70272-0"), (LOINC, "55758-7"), (LOINC, "91147-9"), (LOINC, "72514-3"),
            (local + "score", "pgic"), (local + "score", "phq4.gad2")} <= codes


def test_scores_are_coded_with_values(exported):
    bundle, _, _, _ = exported
    observations = resources(bundle, "Observation")
    by_code = {o["code"]["coding"][0]["code"]: o for o in observations if "derivedFrom" in o}
    assert by_code["44261-6"]["valueQuantity"]["value"] == 17
    assert by_code["44261-6"]["interpretation"] == [{"text": "Moderately severe"}]
    pgic = by_code["pgic"]
    assert pgic["valueCodeableConcept"]["coding"][0]["code"] == "2"
    assert pgic["valueCodeableConcept"]["text"] == "Much improved" and pgic["interpretation"] == [{"text": "Responder"}]
    # PHQ-4 subscales: PHQ-2 = items 3 + 4 = 1 + 0; GAD-2 = items 1 + 2 = 2 + 2, positive at 3 or more
    assert by_code["55758-7"]["valueQuantity"]["value"] == 1
    assert by_code["55758-7"]["interpretation"] == [{"text": "Negative screen"}]
    assert by_code["phq4.gad2"]["valueQuantity"]["value"] == 4
    assert by_code["phq4.gad2"]["interpretation"] == [{"text": "Positive screen"}]
    assert by_code["91147-9"]["valueQuantity"]["value"] == 5


def test_diary_values_are_observations_with_loinc_and_ucum(exported):
    bundle, _, data, _ = exported
    diary = [o for o in resources(bundle, "Observation") if o["effectiveDateTime"].startswith("2026-01-0")]
    found = {(o["code"]["coding"][0]["code"], o["valueQuantity"]["code"], o["valueQuantity"]["value"], o["status"])
             for o in diary}
    assert ("72514-3", "{score}", 7, "entered-in-error") in found  # the corrected entry, withdrawn
    assert ("72514-3", "{score}", 6, "final") in found
    assert ("41950-7", "/d", 3200, "final") in found and ("41950-7", "/d", 5400, "final") in found
    assert ("93832-4", "h", 5.5, "final") in found and ("55411-3", "min", 20, "final") in found
    assert ("mood", "{score}", 3, "final") in found and ("sleep-quality", "{score}", 4, "final") in found
    assert all(o["valueQuantity"]["system"] == "http://unitsofmeasure.org" for o in diary)
    pain = [o for o in diary if o["id"] == data["first"]["id"]]
    assert pain and pain[0]["code"]["coding"][0]["code"] == "72514-3"  # pain keeps the entry's id


def test_care_plan_goals_check_ins_flags_and_consent(exported):
    bundle, _, data, _ = exported
    pid = data["patient"]["id"]
    [plan] = resources(bundle, "CarePlan")
    [team] = resources(bundle, "CareTeam")
    [person] = resources(bundle, "RelatedPerson")
    assert plan["careTeam"] == [{"reference": f"CareTeam/{team['id']}"}]
    assert team["participant"][0]["member"] == {"reference": f"RelatedPerson/{person['id']}"}
    assert person["patient"] == {"reference": f"Patient/{pid}"} and "name" not in person
    statuses = [a["detail"]["status"] for a in plan["activity"]]
    assert len(statuses) == 6 and statuses[0] == "completed" and set(statuses[1:]) == {"not-started"}
    goals = {g["id"]: g for g in resources(bundle, "Goal")}
    assert plan["goal"] == [{"reference": f"Goal/{g}"} for g in goals]
    goal = goals[data["goal"]["id"]]
    assert goal["target"] == [{"measure": {"text": "3 walks a week"}, "dueDate": "2026-12-31"}]
    assert goal["note"][0]["text"] == "walked twice" and goal["lifecycleStatus"] == "active"
    assert goals[data["dropped"]["id"]]["lifecycleStatus"] == "cancelled"
    progress = [o for o in resources(bundle, "Observation") if o.get("focus")]
    assert {(o["focus"][0]["reference"], o["valueQuantity"]["value"]) for o in progress} >= {(f"Goal/{goal['id']}", 50)}
    appointments = {a["id"]: a["status"] for a in resources(bundle, "Appointment")}
    assert [appointments[b["id"]] for b in data["booked"]] == ["fulfilled", "noshow", "booked"]
    [encounter] = resources(bundle, "Encounter")
    assert encounter["appointment"] == [{"reference": f"Appointment/{data['booked'][0]['id']}"}]
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "finished"
    flags = resources(bundle, "Flag")
    safety = sorted(f["status"] for f in flags if f["category"][0]["coding"][0]["code"] == "safety")
    red = sorted(f["status"] for f in flags if f["category"][0]["coding"][0]["code"] == "clinical")
    assert safety == ["active", "inactive"] and red == ["active", "inactive"]  # a later intake replaces the earlier
    consents = resources(bundle, "Consent")
    assert [(c["status"], c["provision"]["type"]) for c in consents] == [
        ("inactive", "permit"), ("inactive", "deny"), ("active", "permit")]
    assert consents[0]["category"][0]["coding"][0]["code"] == "59284-0"


def test_references_point_to_earlier_entries(exported):
    """Transactions may be split (servers cap their size): nothing refers to a later entry."""
    bundle, _, _, _ = exported
    seen: set[str] = set()
    for item in bundle["entry"]:
        text = json.dumps(item["resource"])
        for kind in fhir.TYPES:
            for part in text.split(f'"reference": "{kind}/')[1:]:
                target = f"{kind}/{part.split(chr(34))[0]}"
                assert target in seen, (item["request"]["url"], target)
        seen.add(item["request"]["url"])


def test_since_resends_what_changed_and_what_it_changes(admin, tmp_path):
    from telecbt_cli.core.clinical import alerts
    from telecbt_cli.core.store.clock import now_iso

    data = full_patient(admin)
    mark = now_iso()
    [alert] = [a for a in alerts.list_alerts(admin, data["patient"]["id"])]
    alerts.acknowledge(admin, alert["id"], "called back")
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "later", since=mark, plaintext=True)
    bundle = json.loads(Path(result["files"][data["patient"]["code"]]).read_text(encoding="utf-8"))
    kinds = [r["resourceType"] for r in resources(bundle)]
    assert kinds == ["Patient", "Flag"] and resources(bundle, "Flag")[0]["status"] == "inactive"
