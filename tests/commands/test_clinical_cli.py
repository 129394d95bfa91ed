"""Content, modules, questionnaires and alerts from the command line."""

from __future__ import annotations

import json
import os
import pty
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from tests.conftest import ADMIN_PASS, read_until, telecbt_cmd

runner = CliRunner()
PHQ9_SAFE = {f"phq9_{n}": 1 for n in range(1, 9)} | {"phq9_9": 0}


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def enrolled(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--admin", "alice", "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    code = json.loads(invoke("patient", "add", "--name", "Ana", "--language", "es", "--json").stdout)["code"]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
    return code


def _answers(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_content_validate_and_list():
    ok = invoke("content", "validate", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    listed = json.loads(invoke("content", "list", "--json").stdout)
    assert {"phq9", "gad7", "phq4", "peg3", "pgic", "cbt-01", "brief-06", "standard"} <= {r["id"] for r in listed}


def test_content_validate_reports_a_bad_folder(tmp_path):
    bad = tmp_path / "clinic" / "modules"
    bad.mkdir(parents=True)
    (bad / "oops.toml").write_text('id = "oops"\nkind = "module"\n')
    result = invoke("content", "validate", str(tmp_path / "clinic"))
    assert result.exit_code == 1
    assert "oops.toml: version" in result.stderr and "oops.toml: steps: is missing" in result.stderr


def test_module_list_follows_the_course():
    standard = [m["id"] for m in json.loads(invoke("module", "list", "--course", "standard", "--json").stdout)]
    assert standard == [f"cbt-{n:02d}" for n in range(1, 13)]
    brief = json.loads(invoke("module", "list", "--course", "brief", "--json", "--lang", "es").stdout)
    assert [m["minutes"] for m in brief] == [30] * 6


def test_module_show_has_fidelity_checklist_in_spanish():
    data = json.loads(invoke("module", "show", "cbt-04", "--lang", "es", "--json").stdout)
    assert data["fidelity"] and data["homework"] and data["goals"]
    assert any(s["kind"] == "pacing_plan" for s in data["steps"])


def test_take_a_questionnaire_from_a_file(enrolled, tmp_path):
    result = invoke("measure", "take", enrolled, "phq9", "--answers", _answers(tmp_path, PHQ9_SAFE), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["score"]["total"] == 8 and data["score"]["band"] == "mild"
    assert data["lang"] == "es"  # the patient's preferred language
    human = invoke("measure", "take", enrolled, "phq9", "--answers", _answers(tmp_path, PHQ9_SAFE), "--lang", "es")
    assert "Leve" in human.stdout


def test_item_9_shows_crisis_guidance_and_opens_an_alert(enrolled, tmp_path):
    risky = {**PHQ9_SAFE, "phq9_9": 1}
    result = invoke("measure", "take", enrolled, "phq9", "--answers", _answers(tmp_path, risky), "--lang", "en")
    assert result.exit_code == 0
    assert "emergency" in result.stderr and "safety alert" in result.stderr
    listed = json.loads(invoke("alerts", "list", "--json").stdout)
    assert [a["rule_id"] for a in listed] == ["phq9-self-harm"]
    shown = invoke("patient", "show", enrolled)
    assert "Open safety alerts: 1" in shown.stderr
    assert invoke("alerts", "ack", listed[0]["id"], "--note", "called, safe").exit_code == 0
    assert json.loads(invoke("alerts", "list", "--json").stdout) == []
    assert len(json.loads(invoke("alerts", "list", "--all", "--json").stdout)) == 1


def test_history_shows_change_against_the_minimal_important_change(enrolled, tmp_path):
    high = {f"phq9_{n}": 2 for n in range(1, 9)} | {"phq9_9": 0}  # 16
    lower = {**high, "phq9_1": 0, "phq9_2": 0, "phq9_3": 1}      # 11: down 5
    for data in (high, lower):
        assert invoke("measure", "take", enrolled, "phq9", "--answers", _answers(tmp_path, data)).exit_code == 0
    rows = json.loads(invoke("measure", "history", enrolled, "--json").stdout)
    assert [r["total"] for r in rows] == [16, 11]
    assert rows[0]["change"] is None
    assert rows[1]["change"] == {"delta": -5, "meaningful": True, "direction": "better"}
    # Issue 17 point 4: one language in the table: headings, levels and the change word all Spanish.
    spanish = invoke("measure", "history", enrolled, "--lang", "es").stdout
    assert "cuestionario" in spanish and "mejor *" in spanish and "-5" in spanish
    assert not {"questionnaire", "better", "level", "date"} & set(spanish.lower().split())
    english = invoke("measure", "history", enrolled, "--lang", "en").stdout
    assert "questionnaire" in english and "better *" in english


def test_mismatched_answers_file_is_a_usage_error(enrolled, tmp_path):
    result = invoke("measure", "take", enrolled, "gad7", "--answers", _answers(tmp_path, PHQ9_SAFE))
    assert result.exit_code == 2 and "unknown step" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert invoke("measure", "take", enrolled, "gad7", "--answers", str(broken)).exit_code == 2
    assert json.loads(invoke("measure", "history", enrolled, "--json").stdout) == []


def test_licensed_questionnaire_is_refused_with_a_pointer():
    result = invoke("measure", "list", "--json")
    pcs = next(r for r in json.loads(result.stdout) if r["id"] == "pcs")
    assert pcs["available"] is False


def test_module_run_from_answers_on_stdin(enrolled):
    answers = json.dumps({"goal": {"specific": "walk", "measurable": "3x", "achievable": "yes",
                                   "relevant": "family", "time_bound": "May"}, "confidence": 8})
    result = invoke("module", "run", enrolled, "cbt-03", "--answers", "-", "--json", input=answers)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["content_version"] == "1.0.0"


def test_without_a_terminal_or_answers_it_says_what_to_do(enrolled):
    result = invoke("module", "run", enrolled, "cbt-01")
    assert result.exit_code == 2 and "--answers" in result.stderr


@pytest.mark.slow
def test_interactive_run_pauses_and_resumes_in_a_real_terminal(enrolled):
    """Typed answers in a pty: answer, pause with q, come back to the same step."""
    def session(keys: list[tuple[bytes, bytes]]) -> bytes:
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "module", "run", enrolled, "cbt-01", "--lang", "en"],
                       os.environ)
        out = b""
        for wait_for, send in keys:
            out += read_until(fd, wait_for)
            assert wait_for in out, out.decode(errors="replace")[-800:]
            os.write(fd, send)
        out += read_until(fd, b"\x00", timeout=5)
        os.waitpid(pid, 0)
        os.close(fd)
        return out

    first = session([(b"Press Enter", b"\r"), (b"Press Enter", b"\r"), (b"Press Enter", b"\r"),
                     (b"(0-10)", b"11\r"), (b"from 0 to 10", b""), (b"(0-10)", b"8\r"), (b"Press Enter", b"q\r")])
    assert b"Saved" in first
    second = session([(b"Welcome back", b""), (b"Press Enter", b"q\r")])
    assert b"Step 5" in second  # the "go gently" page shown because pain was 8
