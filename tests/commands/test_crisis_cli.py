"""Issue 11.1: every command where a safety rule fires shows the clinic's crisis text and phone.

Each path (measure take from a file and at a terminal, module run, assess) is tried with the clinic's
folder given by --content and by TELECBT_CONTENT_PATH, in English and Spanish (the patient's preferred
language), and with a clinic folder that sets no crisis text, where the built-in text must appear.
"""

from __future__ import annotations

import json
import os
import pty
from pathlib import Path

import pytest

from tests.clinic import BUILT_IN, CRISIS, PHONE, write_clinic
from tests.commands.helpers import cli_store, enrol, invoke
from tests.conftest import read_until, telecbt_cmd

VARIANTS = [("option", "en"), ("option", "es"), ("env", "en"), ("env", "es"), ("none", "en"), ("none", "es")]
PHQ9_RISK = {f"phq9_{n}": 1 for n in range(1, 9)} | {"phq9_9": 1}
INTAKE = {"pain-type": "mixed", "locations": ["lower_back"], "duration": "y1_5", "intensity": 6,
          "stressors": [], "coping": [], "self-harm": "yes", "functional-goals": "walk to the market",
          "tech-access": ["phone_basic"], "readiness": 7, "suitable": "yes", "red-flags": []}


@pytest.fixture
def store(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_store(tmp_path, pass_file, monkeypatch)


def _clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> list[str]:
    """The options that name the clinic folder (none when it comes from the environment)."""
    folder = write_clinic(tmp_path / "clinic", crisis=how != "none")
    if how == "env":
        monkeypatch.setenv("TELECBT_CONTENT_PATH", str(folder))
        return []
    return ["--content", str(folder)]


def _check_guidance(text: str, how: str, lang: str) -> None:
    if how == "none":
        assert BUILT_IN[lang] in text and CRISIS[lang] not in text
    else:
        assert CRISIS[lang] in text and PHONE in text
        assert BUILT_IN[lang] not in text  # the clinic's words replace the built-in ones
        assert CRISIS["es" if lang == "en" else "en"] not in text  # in the patient's language only


def _answers(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_measure_take_from_a_file_shows_the_clinic_crisis_text(store, tmp_path, monkeypatch, how, lang):
    code = enrol(lang)
    options = _clinic(tmp_path, monkeypatch, how)
    result = invoke("measure", "take", code, "phq9", "--answers", _answers(tmp_path, PHQ9_RISK), *options, "--json")
    assert result.exit_code == 0, result.stderr
    _check_guidance(result.stderr, how, lang)
    data = json.loads(result.stdout)
    assert data["safety_rules_fired"] == ["phq9-self-harm"]
    _check_guidance(data["safety_guidance"], how, lang)  # scripts get the same words


@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_module_run_shows_the_clinic_crisis_text(store, tmp_path, monkeypatch, how, lang):
    code = enrol(lang)
    options = _clinic(tmp_path, monkeypatch, how)
    answers = _answers(tmp_path, {"harm-thoughts": "yes"})
    result = invoke("module", "run", code, "clinic-checkin", "--answers", answers, *options)
    assert result.exit_code == 0, result.stderr
    _check_guidance(result.stderr, how, lang)
    listed = json.loads(invoke("alerts", "list", "--json").stdout)
    assert [a["rule_id"] for a in listed] == ["clinic-harm"]


@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_assess_shows_the_clinic_crisis_text_when_the_patient_has_thoughts_of_self_harm(
        store, tmp_path, monkeypatch, how, lang):
    code = enrol(lang)
    options = _clinic(tmp_path, monkeypatch, how)
    result = invoke("assess", code, "--answers", _answers(tmp_path, INTAKE), *options)
    assert result.exit_code == 0, result.stderr
    _check_guidance(result.stderr, how, lang)
    listed = json.loads(invoke("alerts", "list", "--json").stdout)
    assert [a["rule_id"] for a in listed] == ["intake-self-harm"]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_measure_take_at_a_terminal_shows_the_clinic_crisis_text(store, tmp_path, monkeypatch, how, lang):
    """The interactive questionnaire in a real pty: the crisis panel appears right after item 9."""
    code = enrol(lang)
    options = _clinic(tmp_path, monkeypatch, how)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "measure", "take", code, "phq9", *options], os.environ)
    out = read_until(fd, b"(0-3):")
    assert b"(0-3):" in out, out.decode(errors="replace")[-600:]
    os.write(fd, b"1\r" * 9)  # typed ahead: the terminal keeps the lines until each prompt reads one
    marker = (CRISIS[lang] if how != "none" else BUILT_IN[lang]).split()[-1].encode()
    out = read_until(fd, marker)
    os.write(fd, b"\r")  # "press Enter" after the crisis panel
    out += read_until(fd, b"\x00", timeout=5)
    os.waitpid(pid, 0)
    os.close(fd)
    screen = " ".join(out.decode(errors="replace").replace("│", " ").split())
    _check_guidance(screen, how, lang)
