"""`telecbt patient pin …` through Typer's runner, real subprocesses and a real terminal."""

from __future__ import annotations

import json
import os
import pty
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.core.care import pins
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS, read_until, run_telecbt, telecbt_cmd

runner = CliRunner()


def invoke(*args: str, input: str | None = None, env: dict | None = None):
    return runner.invoke(app, list(args), input=input, env=env)


@pytest.fixture
def enrolled(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    code = json.loads(invoke("patient", "add", "--name", "Ana", "--json").stdout)["code"]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
    return code


def _status(code: str) -> dict:
    result = invoke("patient", "pin", "status", code, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_set_from_a_file_or_stdin_then_status(enrolled, tmp_path):
    assert _status(enrolled) == {"set": False, "failures": 0, "locked": False, "set_at": None}
    pin_file = tmp_path / "pin"
    pin_file.write_text("4826\n")
    result = invoke("patient", "pin", "set", enrolled, "--pin-file", str(pin_file))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "4826" not in result.stderr and "Set the kiosk PIN" in result.stderr
    status = _status(enrolled)
    assert status["set"] and status["set_at"]
    assert invoke("patient", "pin", "set", enrolled.lower(), "--pin-file", "-", input="97531\n").exit_code == 0
    access = unlock(Path(os.environ["TELECBT_STORE"]), ADMIN, ADMIN_PASS)
    try:
        assert pins.check_pin(access, enrolled, "97531")
    finally:
        access.close()
    human = invoke("patient", "pin", "status", enrolled)
    assert "set" in human.stdout and "0 of 5" in human.stdout


def test_no_terminal_and_no_pin_file_names_the_option(enrolled):
    result = invoke("patient", "pin", "set", enrolled)
    assert result.exit_code == 2 and "--pin-file" in result.stderr
    assert not _status(enrolled)["set"]


def test_a_pin_is_never_an_argument_value_and_bad_pins_are_refused(enrolled, tmp_path):
    assert invoke("patient", "pin", "set", enrolled, "4826").exit_code == 2
    for bad in ("12", "12345678901", "abcd", ""):
        result = invoke("patient", "pin", "set", enrolled, "--pin-file", "-", input=bad + "\n")
        assert result.exit_code == 2, (bad, result.stderr)
    assert not _status(enrolled)["set"]
    both = invoke("patient", "pin", "set", enrolled, "--pin-file", "-", "--passphrase-file", "-", input="x\n")
    assert both.exit_code == 2 and "standard input" in both.stderr
    missing = invoke("patient", "pin", "set", enrolled, "--pin-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_unlock_after_five_wrong_tries(enrolled):
    assert invoke("patient", "pin", "unlock", enrolled).exit_code == 4  # no PIN yet
    assert invoke("patient", "pin", "set", enrolled, "--pin-file", "-", input="4826\n").exit_code == 0
    access = unlock(Path(os.environ["TELECBT_STORE"]), ADMIN, ADMIN_PASS)
    try:
        for _ in range(pins.MAX_FAILURES):
            with pytest.raises((pins.PinRefused, pins.PinLocked)):
                pins.check_pin(access, enrolled, "0000")
    finally:
        access.close()
    assert _status(enrolled)["locked"] is True
    assert "locked" in invoke("patient", "pin", "status", enrolled).stdout
    result = invoke("patient", "pin", "unlock", enrolled)
    assert result.exit_code == 0, result.stderr
    assert _status(enrolled) | {"set_at": None} == {"set": True, "failures": 0, "locked": False, "set_at": None}
    log = json.loads(invoke("audit", "log", "--json").stdout)
    actions = [e["action"] for e in log]
    assert actions.count("kiosk.pin_failed") == 5 and "kiosk.pin_locked" in actions and "pin.unlock" in actions


def test_viewer_is_refused(enrolled, tmp_path, pass_file):
    viewer_pass = tmp_path / "viewer"
    viewer_pass.write_text("viewer passphrase\n")
    added = invoke("user", "add", "vic", "--role", "viewer", "--new-passphrase-file", str(viewer_pass))
    assert added.exit_code == 0, added.stderr
    as_viewer = ["--user", "vic", "--passphrase-file", str(viewer_pass)]
    result = invoke("patient", "pin", "set", enrolled, "--pin-file", str(pass_file), *as_viewer)
    assert result.exit_code == 5 and "viewer" in result.stderr
    assert invoke("patient", "pin", "status", enrolled, "--json", *as_viewer).exit_code == 0


def test_as_a_real_subprocess(enrolled):
    env = {"TELECBT_PASSPHRASE": ADMIN_PASS}
    done = run_telecbt("patient", "pin", "set", enrolled, "--pin-file", "-", input="135790\n", env=env)
    assert done.returncode == 0, done.stderr
    assert "135790" not in done.stderr + done.stdout
    status = run_telecbt("patient", "pin", "status", enrolled, "--json", env=env)
    assert status.returncode == 0 and status.stderr == ""
    assert json.loads(status.stdout)["set"] is True
    prompt = run_telecbt("patient", "pin", "set", enrolled, env=env)
    assert prompt.returncode == 2 and "--pin-file" in prompt.stderr


@pytest.mark.slow
def test_prompts_twice_hidden_in_a_real_terminal_and_refuses_a_mismatch(enrolled):
    def session(first: bytes, second: bytes) -> tuple[bytes, int]:
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "patient", "pin", "set", enrolled], os.environ)
        out = read_until(fd, b"4 to 8 digits")
        os.write(fd, first + b"\r")
        out += read_until(fd, b"Repeat")
        os.write(fd, second + b"\r")
        out += read_until(fd, b"\x00", timeout=10)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return out, os.waitstatus_to_exitcode(status)

    out, code = session(b"2580", b"2581")
    assert code == 2 and b"differ" in out and b"2580" not in out
    assert not _status(enrolled)["set"]
    out, code = session(b"2580", b"2580")
    assert code == 0 and b"Set the kiosk PIN" in out and b"2580" not in out
    assert _status(enrolled)["set"]
