"""The care workflow from the command line: diary import, reports, calendar, assessment."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from tests.conftest import ADMIN_PASS

runner = CliRunner()
TODAY = datetime.now(timezone.utc).date()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def code(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--admin", "alice", "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    value = json.loads(invoke("patient", "add", "--name", "Ana <b>&amp;", "--language", "es", "--json").stdout)["code"]
    assert invoke("patient", "consent", value, "--method", "written", "--version", "v1").exit_code == 0
    return value


def test_diary_add_list_and_csv(code):
    assert invoke("diary", "add", code, "--pain", "6", "--mood", "4", "--locations", "neck,knees").exit_code == 0
    assert invoke("diary", "add", code, "--pain", "12").exit_code == 2
    rows = list(csv.DictReader(io.StringIO(invoke("diary", "list", code, "--csv").stdout)))
    assert rows[0]["pain"] == "6" and rows[0]["locations"] == "neck, knees"


def test_diary_import_reports_skips_and_needs_confirmation(code, tmp_path):
    day = lambda n: (TODAY - timedelta(days=n)).isoformat()  # noqa: E731
    path = tmp_path / "export.csv"
    path.write_text(f"Date,Steps,Sleep Minutes\n{day(3)},4200,390\n{day(2)},abc,400\n{day(1)},5100,300\n"
                    f"{(TODAY + timedelta(days=5)).isoformat()},10,10\n")
    dry = invoke("diary", "import", code, str(path), "--dry-run", "--json")
    report = json.loads(dry.stdout)
    assert report["days"] == 2 and report["saved"] is None
    assert [s["line"] for s in report["skipped"]] == [3, 5]
    refused = invoke("diary", "import", code, str(path))
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert json.loads(invoke("diary", "list", code, "--json").stdout) == []
    done = json.loads(invoke("diary", "import", code, str(path), "--yes", "--json").stdout)
    assert done["saved"] == {"added": 2, "updated": 0, "unchanged": 0, "not_used": []}
    again = json.loads(invoke("diary", "import", code, str(path), "--yes", "--json").stdout)
    assert again["saved"] == {"added": 0, "updated": 0, "unchanged": 2, "not_used": []}
    entries = json.loads(invoke("diary", "list", code, "--json").stdout)
    assert [(e["steps"], e["sleep_hours"]) for e in entries] == [(4200, 6.5), (5100, 5.0)]
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"PK\x03\x04\x00\x00junk")
    assert invoke("diary", "import", code, str(binary)).exit_code == 2


def test_patient_report_terminal_json_and_html(code, tmp_path):
    for n in range(20, 0, -1):
        stamp = (TODAY - timedelta(days=n)).isoformat() + " 09:00"
        assert invoke("diary", "add", code, "--pain", str(3 + n % 4), "--mood", "5", "--sleep-hours", "6",
                      "--at", stamp).exit_code == 0
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({f"phq9_{n}": 2 for n in range(1, 9)} | {"phq9_9": 0}))
    invoke("measure", "take", code, "phq9", "--answers", str(answers))
    text = invoke("report", "patient", code)
    assert text.exit_code == 0, text.stderr
    assert "PHQ-9" in text.stdout and "Dolor" in text.stdout  # the patient's language
    data = json.loads(invoke("report", "patient", code, "--json").stdout)
    assert data["diary"]["days_with_entry"] == 20 and data["measures"][0]["latest"] == 16
    page = tmp_path / "report.html"
    assert invoke("report", "patient", code, "--html", str(page), "--lang", "en").exit_code == 0
    html = page.read_text(encoding="utf-8")
    root = ET.fromstring(html.split("\n", 1)[1])
    svgs = [el for el in root.iter() if el.tag.endswith("svg")]
    assert len(svgs) >= 4  # pain, mood, sleep + PHQ-9
    assert "<script" not in html and "Ana &lt;b&gt;&amp;amp;" in html
    assert page.stat().st_mode & 0o077 == 0


def test_program_report_json_and_csv(code):
    data = json.loads(invoke("report", "program", "--json").stdout)
    assert data["patients"]["in_scope"] == 1
    rows = list(csv.DictReader(io.StringIO(invoke("report", "program", "--csv").stdout)))
    assert {"sessions.attendance_rate", "homework.adherence", "safety_alerts.open_now"} <= {r["metric"] for r in rows}
    assert invoke("report", "program", "--from", "2026-13-01").exit_code == 2


def test_sessions_and_calendar(code, tmp_path):
    when = (TODAY + timedelta(days=3)).isoformat() + " 10:00"
    past = (TODAY - timedelta(days=3)).isoformat() + " 10:00"
    assert invoke("session", "schedule", code, "--at", past, "--mode", "video").exit_code == 2
    made = invoke("session", "schedule", code, "--at", when, "--mode", "video", "--module", "cbt-02",
                  "--link", "https://meet.example.org/q", "--json")
    assert made.exit_code == 0, made.stderr
    ident = json.loads(made.stdout)["id"]
    assert [s["id"] for s in json.loads(invoke("session", "list", "--due", "--json").stdout)] == [ident]
    out = tmp_path / "cal.ics"
    assert invoke("session", "ics", "--all", "--out", str(out)).exit_code == 0
    from icalendar import Calendar

    assert len([c for c in Calendar.from_ical(out.read_bytes()).walk() if c.name == "VEVENT"]) == 1
    # Issue 17: `session reschedule` moves it with the same core function as the staff TUI.
    later = (TODAY + timedelta(days=4)).isoformat() + " 15:30"
    assert invoke("session", "reschedule", ident, "--at", past).exit_code == 2
    moved = invoke("session", "reschedule", ident[:8], "--at", later, "--mode", "phone", "--json")
    assert moved.exit_code == 0, moved.stderr
    assert json.loads(moved.stdout)["mode"] == "phone" and json.loads(moved.stdout)["id"] == ident
    assert invoke("session", "reschedule", ident, "--at", later, "--mode", "carrier-pigeon").exit_code == 2
    assert invoke("session", "record", ident, "--attended", "--no-show").exit_code == 2
    assert invoke("session", "record", ident, "--attended", "--fidelity", "all", "--feedback", "5").exit_code == 0
    twice = invoke("session", "record", ident, "--attended")
    assert twice.exit_code == 2 and "recorded once" in twice.stderr
    # Issue 17 point 4: the same refusal in the reader's language (TELECBT_LANG), status word too.
    from telecbt_cli.commands import i18n

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TELECBT_LANG", "es")
        i18n.reset()
        spanish = invoke("session", "record", ident, "--attended")
        assert spanish.exit_code == 2 and "una sola vez" in spanish.stderr and "(asistió)" in spanish.stderr
        assert "recorded" not in spanish.stderr
    i18n.reset()
    assert invoke("session", "reschedule", ident, "--at", later).exit_code == 2  # recorded: not movable
    # Issue 17 point 4: `session list` and `plan homework list` in Spanish: headings and status words.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TELECBT_LANG", "es")
        patch.setenv("COLUMNS", "200")
        i18n.reset()
        listed = invoke("session", "list").stdout
        assert "cuándo" in listed and "asistió" in listed and "teléfono" in listed and "attended" not in listed
        homework = invoke("plan", "homework", "list", code).stdout
        assert "tarea" in homework and "por hacer" in homework and "assigned" not in homework
    i18n.reset()
    listed = invoke("session", "list").stdout
    assert "UTC" in listed and "attended" in listed  # issue 13: each time carries its zone
    assert len(json.loads(invoke("plan", "homework", "list", code, "--json").stdout)) >= 1


def test_assess_reports_red_flags(code, tmp_path):
    answers = tmp_path / "intake.json"
    answers.write_text(json.dumps({
        "pain-type": "neuropathic", "locations": ["feet"], "duration": "y5_plus", "intensity": 7,
        "stressors": ["money"], "coping": ["rest"], "functional-goals": "walk to church",
        "tech-access": ["smartphone"], "readiness": 6, "suitable": "yes", "red-flags": ["bladder_bowel"],
        "self-harm": "no"}))
    result = invoke("assess", code, "--answers", str(answers), "--lang", "en", "--json")
    assert result.exit_code == 0, result.stderr
    assert "medical review" in result.stderr.lower()
    assert json.loads(result.stdout)["flags"] == ["medical-review"]


def test_messages_and_suggest(code):
    assert invoke("message", "send", code, "Hi there").exit_code == 0
    assert invoke("message", "send", code, "ok", "--from-patient").exit_code == 0
    unread = json.loads(invoke("message", "list", code, "--unread", "--json").stdout)
    assert [m["body"] for m in unread] == ["ok"]
    assert "Hi there" in invoke("message", "list", code).stdout
    assert json.loads(invoke("message", "list", code, "--unread", "--json").stdout) == []
    suggested = json.loads(invoke("suggest", code, "--json").stdout)
    assert [s["id"] for s in suggested] == []  # enrolled today: no diary gap yet


def _svg_texts(html: str) -> list[list[str]]:
    """The text labels of each chart in the report, chart by chart."""
    root = ET.fromstring(html.split("\n", 1)[1])
    charts = [el for el in root.iter() if el.tag.endswith("svg")]
    return [[t.text or "" for t in chart.iter() if t.tag.endswith("text")] for chart in charts]


@pytest.mark.parametrize("lang, day", [("en", "{m:02d}-{d:02d}"), ("es", "{d:02d}/{m:02d}")])
def test_report_charts_label_days_and_run_peg_from_0_to_10(code, tmp_path, lang, day):
    """Issue 17 point 5: the x-axis labels were cut to "2026-" in English; the PEG axis stopped at its highest score."""
    for n in (15, 8, 1):
        stamp = (TODAY - timedelta(days=n)).isoformat() + " 09:00"
        assert invoke("diary", "add", code, "--pain", "5", "--at", stamp).exit_code == 0
    answers = tmp_path / "peg.json"
    answers.write_text(json.dumps({"peg3_pain": 6, "peg3_enjoyment": 5, "peg3_activity": 4}))
    assert invoke("measure", "take", code, "peg3", "--answers", str(answers)).exit_code == 0
    page = tmp_path / f"report-{lang}.html"
    assert invoke("report", "patient", code, "--html", str(page), "--lang", lang).exit_code == 0
    pain, peg = _svg_texts(page.read_text(encoding="utf-8"))
    monday = TODAY - timedelta(days=15)
    week = monday - timedelta(days=monday.weekday())
    assert day.format(m=week.month, d=week.day) in pain  # the first week's label: month and day
    assert not any(label.endswith("-") for label in pain)
    today = day.format(m=TODAY.month, d=TODAY.day)
    assert peg[:2] == ["0", "10"] and today in peg  # the axis runs 0-10; the point is labelled with its day
