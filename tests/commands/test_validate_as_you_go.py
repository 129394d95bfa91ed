"""Issue 11.5 at the command line: each value is checked as it is typed and nothing typed is lost.

`patient add` prompts, `init`'s passphrase, `store recover`'s recovery key and the pacing-plan step
each refuse a bad value at once and ask again for that value only.
"""

from __future__ import annotations

import json
import os
import pty
from pathlib import Path

import pytest

from telecbt_cli.core.store.ids import format_recovery_key
from tests.commands.helpers import cli_store, enrol, invoke
from tests.conftest import ADMIN, ADMIN_PASS, read_until, telecbt_cmd

PACING_MODULE = '''
id = "clinic-pacing"
version = "1.0.0"
kind = "module"
title = { en = "Pacing", es = "Ritmo" }
summary = { en = "Plan an activity.", es = "Planifique una actividad." }
phase = "skills"
minutes = 10
goals = [{ en = "Pace one activity", es = "Dosificar una actividad" }]
homework = [{ id = "hw", text = { en = "Follow the plan", es = "Siga el plan" } }]
fidelity = [{ id = "f1", text = { en = "Made a plan", es = "Hizo un plan" } }]

[[steps]]
id = "plan"
kind = "pacing_plan"
body = { en = "Plan it.", es = "Planifíquelo." }
'''


class Terminal:
    """telecbt in a real pty: wait for a prompt, type a line, keep everything it printed."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), *args], os.environ)
        self.seen = b""

    def answer(self, prompt: str, line: str) -> None:
        """Wait for `prompt` (after what was already read), then type `line` and Enter."""
        got = read_until(self.fd, prompt.encode())
        self.seen += got
        assert prompt.encode() in got, self.seen.decode(errors="replace")[-800:]
        os.write(self.fd, line.encode() + b"\r")

    def close(self) -> str:
        self.seen += read_until(self.fd, b"\x00", timeout=5)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        return self.seen.decode(errors="replace")


def test_store_recover_checks_the_recovery_key_before_asking_for_a_new_passphrase(created, store_dir, tmp_path):
    key = created.recovery_key
    created.access.close()
    typo = tmp_path / "typo.txt"
    typo.write_text(key[:-1] + ("A" if key[-1] != "A" else "B"))  # one character wrong in the last group
    result = invoke("store", "recover", "--store", str(store_dir), "--user", ADMIN, "--recovery-key-file", str(typo))
    assert result.exit_code == 2 and "group 13" in result.stderr and "typo" in result.stderr
    other = tmp_path / "other.txt"
    other.write_text(format_recovery_key(bytes(32)))  # well formed, but not this store's
    result = invoke("store", "recover", "--store", str(store_dir), "--user", ADMIN, "--recovery-key-file", str(other))
    assert result.exit_code == 3 and "does not belong to this store" in result.stderr
    good = tmp_path / "good.txt"
    good.write_text(key)
    result = invoke("store", "recover", "--store", str(store_dir), "--user", "nobody", "--recovery-key-file", str(good))
    assert result.exit_code == 3 and "not known" in result.stderr  # still no new passphrase asked for


@pytest.mark.slow
def test_store_recover_at_a_terminal_asks_for_the_passphrase_only_after_a_good_key(created, store_dir):
    key = created.recovery_key
    created.access.close()
    term = Terminal("store", "recover", "--store", str(store_dir), "--user", ADMIN)
    typo = key.replace("-", "")[:-1] + ("A" if key[-1] != "A" else "B")  # always one character wrong: a key
    term.answer("Recovery key:", typo)  # ending in 0 made "+ '0'" the good key, and the test waited forever
    shown = term.close()
    assert "typo" in shown and "New passphrase" not in shown
    term = Terminal("store", "recover", "--store", str(store_dir), "--user", ADMIN)
    term.answer("Recovery key:", key)
    term.answer("New passphrase for", "a brand new passphrase")
    term.answer("Repeat it:", "a brand new passphrase")
    assert "can now unlock" in term.close()


@pytest.mark.slow
def test_init_judges_the_passphrase_before_asking_to_repeat_it(tmp_path):
    store = tmp_path / "store"
    term = Terminal("init", "--store", str(store))
    term.answer("Choose a passphrase", "short")
    term.answer("Choose a passphrase", "long enough passphrase")  # asked again, not "Repeat it"
    term.answer("Repeat it:", "long enough passphrase")
    shown = term.close()
    assert "at least 8 characters" in shown and shown.count("Repeat it:") == 1
    assert "RECOVERY KEY" in shown and (store / "telecbt.db").exists()


@pytest.mark.slow
def test_patient_add_prompts_check_each_field_as_it_is_typed(tmp_path, pass_file, monkeypatch):
    cli_store(tmp_path, pass_file, monkeypatch)
    term = Terminal("patient", "add")
    term.answer("Name or alias:", "Rosa Example")
    term.answer("Year of birth:", "sixty-eight")
    term.answer("Year of birth:", "1968")
    term.answer("Sex (female/male/other/unknown):", "f")
    term.answer("Sex (female/male/other/unknown):", "female")
    term.answer("Preferred language", "es")
    term.answer("Phone:", "+254 700 000000")
    term.answer("Email:", "rosa-at-example")
    term.answer("Email:", "rosa@example.org")
    for prompt in ("Caregiver's name:", "Caregiver's contact:", "Notes:"):
        term.answer(prompt, "")
    term.answer("Time zone (Enter:", "nairobi")  # issue 13: refused with a suggestion, asked again
    term.answer("Time zone (Enter:", "Africa/Nairobi")
    shown = term.close()
    assert "year of birth must be a number" in shown and "sex must be one of" in shown and "has no @" in shown
    assert "Did you mean Africa/Nairobi" in shown
    assert "Enrolled patient" in shown
    listed = json.loads(invoke("patient", "list", "--json").stdout)
    assert [(p["display_name"], p["birth_year"], p["sex"], p["language"], p["phone"], p["email"], p["timezone"])
            for p in listed] == [("Rosa Example", 1968, "female", "es", "+254 700 000000", "rosa@example.org",
                                  "Africa/Nairobi")]


@pytest.mark.slow
def test_the_pacing_plan_asks_again_for_the_bad_field_only(tmp_path, pass_file, monkeypatch):
    clinic = tmp_path / "clinic" / "modules"
    clinic.mkdir(parents=True)
    (clinic / "clinic-pacing.toml").write_text(PACING_MODULE, encoding="utf-8")
    store = cli_store(tmp_path, pass_file, monkeypatch)
    monkeypatch.setenv("TELECBT_CONTENT_PATH", str(tmp_path / "clinic"))
    code = enrol("es")
    term = Terminal("module", "run", code, "clinic-pacing")  # the patient's language: Spanish
    term.answer("¿Qué actividad", "caminar")
    term.answer("¿Cuántos minutos puede", "veinte")
    term.answer("¿Cuántos minutos puede", "20,5")  # a decimal comma in Spanish
    term.answer("¿Con cuántos minutos", "25")    # not below the baseline: this field again
    term.answer("¿Con cuántos minutos", "10")
    term.answer("¿Cuántos minutos agrega", "5")
    term.answer("¿Cada cuántos días sube", "3")
    shown = term.close()
    assert shown.count("¿Qué actividad") == 1  # never back to the first field
    assert "escriba un número" in shown.lower() and "20,5" in shown
    from telecbt_cli.core.store.unlock import unlock

    access = unlock(Path(store), None, ADMIN_PASS)
    try:
        answers = json.loads(access.store.conn.execute(
            "SELECT answers FROM runs WHERE content_id = 'clinic-pacing'").fetchone()[0])
    finally:
        access.close()
    plan = answers["plan"]
    assert (plan["activity"], plan["baseline_minutes"], plan["quota_minutes"]) == ("caminar", 20.5, 10)
