"""Typed answers at a real terminal (pty): one numbering with --answers, and an explicit "none".

Issue 11.4: the PHQ-9 options are shown and typed as their scored values (0-3), so what a person
types and what an --answers file holds are the same numbers. Issue 11.3: the intake's "choose all
that fit, or none" and red-flag steps take 0 for "none of these", so the intake can be finished.
"""

from __future__ import annotations

import json
import os
import pty

import pytest

from tests.commands.helpers import cli_store, enrol, invoke
from tests.conftest import ADMIN_PASS, read_until, telecbt_cmd

pytestmark = pytest.mark.slow


@pytest.fixture
def code(tmp_path, pass_file, monkeypatch) -> str:
    cli_store(tmp_path, pass_file, monkeypatch)
    return enrol("en")


def _typed(args: list[str], first_prompt: bytes, lines: list[str], done: bytes) -> str:
    """Run telecbt in a pty; once `first_prompt` shows, type `lines` ahead; return the whole output."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), *args], os.environ)
    out = read_until(fd, first_prompt)
    assert first_prompt in out, out.decode(errors="replace")[-600:]
    os.write(fd, "".join(line + "\r" for line in lines).encode())
    out += read_until(fd, done, timeout=30)
    out += read_until(fd, b"\x00", timeout=3)
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace")


def test_phq9_at_a_terminal_takes_the_scored_values_shown_on_screen(code, tmp_path):
    shown = _typed(["measure", "take", code, "phq9", "--lang", "en"], b"(0-3):", ["3"] * 9 + [""], b"Score")
    assert "0. Not at all" in shown and "3. Nearly every day" in shown and "1. Not at all" not in shown
    typed = json.loads(invoke("measure", "history", code, "--json").stdout)
    assert [row["total"] for row in typed] == [27]  # 9 x 3: the number typed is the value scored
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({f"phq9_{n}": 3 for n in range(1, 10)}))
    assert invoke("measure", "take", code, "phq9", "--answers", str(answers)).exit_code == 0
    assert [row["total"] for row in json.loads(invoke("measure", "history", code, "--json").stdout)] == [27, 27]


def test_the_intake_at_a_terminal_can_be_finished_with_none_of_these(code, tmp_path):
    lines = ["", "",            # welcome, about your pain
             "1", "5", "3", "6",  # pain type, locations (lower back), duration, intensity
             "", "",            # medicines, history: optional, skipped
             "",                # about your daily life
             "0", "", "0",      # stressors: none; notes skipped; coping: none
             "1",               # thoughts of self-harm: no
             "walk to the market",
             "", "1", "7",      # about access, tech (basic phone), readiness
             "", "1",           # health-worker page, suitable: yes
             "0",               # red flags: none
             "", ""]            # start your diary, thank you
    shown = _typed(["assess", code, "--lang", "en"], b"Press Enter", lines, b"You finished")
    assert "0. None of these" in shown and "You finished" in shown
    from telecbt_cli.core.store.unlock import unlock

    access = unlock(tmp_path / "store", None, ADMIN_PASS)
    try:
        status, answers = access.store.conn.execute(
            "SELECT status, answers FROM runs WHERE content_id = 'intake'").fetchone()
    finally:
        access.close()
    answers = json.loads(answers)
    assert status == "completed"
    assert (answers["stressors"], answers["coping"], answers["red-flags"]) == ([], [], [])
    assert answers["locations"] == ["lower_back"] and answers["self-harm"] == "no"
