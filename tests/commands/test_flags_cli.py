"""Issue 11.3 at the command line: what the intake found stays on the patient and in the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands.helpers import cli_store, enrol, invoke

INTAKE = {"pain-type": "mixed", "locations": ["lower_back"], "duration": "y1_5", "intensity": 6,
          "stressors": [], "coping": [], "self-harm": "no", "functional-goals": "walk to the market",
          "tech-access": ["phone_basic"], "readiness": 7, "suitable": "no",
          "not-suitable-reason": "no phone at home until March", "red-flags": ["chest_pain"]}


@pytest.fixture
def code(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    cli_store(tmp_path, pass_file, monkeypatch)
    made = enrol("es")
    answers = tmp_path / "intake.json"
    answers.write_text(json.dumps(INTAKE))
    assert invoke("assess", made, "--answers", str(answers)).exit_code == 0
    return made


def test_patient_show_keeps_the_red_flag_and_not_suitable(code):
    shown = invoke("patient", "show", code)
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "Medical review" in text and "arrange a medical review" in text
    assert "Chest pain or trouble breathing" in text
    assert "Not suitable now" in text and "no phone at home until March" in text
    assert "Open safety alerts: 1" in shown.stderr  # the red flag's medical-review alert
    data = json.loads(invoke("patient", "show", code, "--json").stdout)
    assert [(f["flag_id"], f["detail"]) for f in data["flags"]] == [
        ("medical-review", {"red-flags": ["chest_pain"]}),
        ("not-suitable", {"not-suitable-reason": "no phone at home until March"})]


def test_the_medical_review_alert_is_acknowledged_with_a_note(code):
    listed = json.loads(invoke("alerts", "list", "--json").stdout)
    assert [(a["rule_id"], a["content_id"]) for a in listed] == [("medical-review", "intake")]
    assert invoke("alerts", "ack", listed[0]["id"]).exit_code == 2  # a note is required
    assert invoke("alerts", "ack", listed[0]["id"], "--note", "seen by nurse today, ECG normal").exit_code == 0
    assert json.loads(invoke("alerts", "list", "--json").stdout) == []


def test_report_patient_shows_the_findings_in_text_json_and_html(code, tmp_path):
    text = invoke("report", "patient", code)  # the patient's language: Spanish
    assert text.exit_code == 0, text.stderr
    assert "Hallazgos de la evaluación inicial" in text.stdout and "Revisión médica" in text.stdout
    assert "Dolor en el pecho o dificultad para respirar" in text.stdout
    assert "no phone at home until March" in text.stdout
    data = json.loads(invoke("report", "patient", code, "--json", "--lang", "en").stdout)
    assert [(f["id"], f["details"]) for f in data["flags"]] == [
        ("medical-review", ["Chest pain or trouble breathing"]),
        ("not-suitable", ["no phone at home until March"])]
    page = tmp_path / "report.html"
    assert invoke("report", "patient", code, "--html", str(page), "--lang", "en").exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert '<section class="flags">' in html and "Intake findings" in html
    assert "Chest pain or trouble breathing" in html and "Not suitable now" in html


def test_report_program_counts_the_findings(code):
    data = json.loads(invoke("report", "program", "--json").stdout)
    assert data["flags"] == {"raised_in_period": {"medical-review": 1, "not-suitable": 1},
                             "active_now": {"medical-review": 1, "not-suitable": 1}}
    rows = {r["metric"]: r["value"] for r in _csv(invoke("report", "program", "--csv").stdout)}
    assert rows["flags.active_now.medical-review"] == "1"


def _csv(text: str) -> list[dict]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))
