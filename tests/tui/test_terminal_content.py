"""Issue 12.11 in a real terminal (tmux): `telecbt tui --content DIR` (the quick start path) offers the
clinic's module, as the commands do."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from tests.clinic import MODULE_TITLE, write_clinic
from tests.conftest import ADMIN, ADMIN_PASS, telecbt_cmd

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]
SOCKET = f"telecbt-content-{uuid.uuid4().hex[:8]}"  # a private tmux server


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


def test_tui_with_a_content_folder_offers_the_clinic_module(created, store_dir, isolated_home, tmp_path):
    patient = add_patient(created.access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(created.access, patient["code"], "verbal", "v1")
    created.access.close()
    clinic = write_clinic(tmp_path / "clinic")
    session = f"content-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    command = (f"env -u COLUMNS -u LINES {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} tui "
               f"--store {shlex.quote(str(store_dir))} --content {shlex.quote(str(clinic))}")
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
                   check=True)
    try:
        _wait_for(session, "sign in")
        time.sleep(1.0)
        _tmux("send-keys", "-t", session, "-l", ADMIN)
        _wait_for(session, ADMIN)
        _tmux("send-keys", "-t", session, "Tab")
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "-l", ADMIN_PASS)
        _tmux("send-keys", "-t", session, "Enter")
        _wait_for(session, patient["code"])
        _tmux("send-keys", "-t", session, "Enter")
        _wait_for(session, "consent")
        _tmux("send-keys", "-t", session, "m")
        _wait_for(session, "Which module?")
        _tmux("send-keys", "-t", session, "End")
        screen = _wait_for(session, MODULE_TITLE["en"])
        assert "clinic-checkin" in screen
    finally:
        _tmux("kill-server")
