"""The staff TUI in a real terminal (tmux): keys in, screen text out, the entry in the store."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from telecbt_cli.core import diary
from telecbt_cli.core.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS, telecbt_cmd

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


SOCKET = f"telecbt-test-{uuid.uuid4().hex[:8]}"  # a private tmux server: no clash with the user's


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def _wait_for(session: str, text: str, timeout: float = 40) -> str:
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = _tmux("capture-pane", "-t", session, "-p")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_staff_flow_in_tmux(created, store_dir, isolated_home):
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()
    session = f"telecbt-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    command = f"env {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} tui --store {shlex.quote(str(store_dir))}"
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
                   check=True)
    try:
        _wait_for(session, "sign in")
        time.sleep(1.0)  # let the screen finish mounting and focus the first field
        _tmux("send-keys", "-t", session, "-l", ADMIN)
        _wait_for(session, ADMIN)  # the user field has focus and took the keys
        _tmux("send-keys", "-t", session, "Tab")
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "-l", ADMIN_PASS)
        time.sleep(0.3)
        assert ADMIN_PASS not in _tmux("capture-pane", "-t", session, "-p")  # masked
        _tmux("send-keys", "-t", session, "Enter")
        screen = _wait_for(session, patient["code"])
        assert "Rosa Example" in screen and ADMIN_PASS not in screen
        _tmux("send-keys", "-t", session, "Enter")
        _wait_for(session, "consent")
        _tmux("send-keys", "-t", session, "d")
        _tmux("send-keys", "-t", session, "7", "Enter")
        _wait_for(session, "Saved: pain 7")
        _tmux("send-keys", "-t", session, "C-q")
    finally:
        _tmux("kill-server")
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert [e["pain"] for e in diary.list_entries(check, patient["code"])] == [7]
    finally:
        check.close()
