"""The staff TUI in a real terminal (tmux): keys in, screen text out, the entry in the store.

The kiosk in a real terminal (and attempts to leave it) is in tests/security/test_kiosk_terminal.py."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS, telecbt_cmd
from tests.tui.helpers import SOCKET
from tests.tui.helpers import tmux as _tmux
from tests.tui.helpers import wait_for as _wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


def test_staff_flow_in_tmux(created, store_dir, isolated_home):
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()
    session = f"telecbt-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    # -u COLUMNS: conftest sets COLUMNS for CLI tables, and Textual would believe it over the terminal.
    command = f"env -u COLUMNS -u LINES {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} tui --store {shlex.quote(str(store_dir))}"
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
        _tmux("send-keys", "-t", session, "F3")
        _wait_for(session, "New diary entry")
        _tmux("send-keys", "-t", session, "7", "Enter")
        _wait_for(session, "Saved: pain 7")
        # A second entry is half typed when the terminal goes away: nothing of it may be stored.
        _tmux("send-keys", "-t", session, "F3")
        _wait_for(session, "New diary entry")
        _tmux("send-keys", "-t", session, "9")
        time.sleep(0.5)
        _tmux("kill-session", "-t", session)  # the terminal closes (SIGHUP), no Enter was pressed
        time.sleep(1.0)
    finally:
        _tmux("kill-server")
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert [e["pain"] for e in diary.list_entries(check, patient["code"])] == [7]
    finally:
        check.close()


def test_demo_on_a_terminal_opens_the_staff_ui_signed_in(isolated_home):
    session = f"demo-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    command = f"env -u COLUMNS -u LINES {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} demo -n 3"
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
                   check=True)
    try:
        screen = _wait_for(session, "Next check-in", timeout=90)
        assert "(demo)" in screen and "demo (admin)" in screen  # the caseload, already signed in
        _tmux("send-keys", "-t", session, "C-q")
        deadline = time.time() + 20
        while time.time() < deadline and subprocess.run(["tmux", "-L", SOCKET, "has-session", "-t", session],
                                                        capture_output=True).returncode == 0:
            time.sleep(0.2)
    finally:
        _tmux("kill-server")


def test_tui_with_a_content_folder_offers_the_clinic_module(created, store_dir, isolated_home, tmp_path):
    """Issue 12.11: `telecbt tui --content DIR` (the quick start path) offers the clinic's module."""
    from tests.clinic import MODULE_TITLE, write_clinic

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
        _tmux("send-keys", "-t", session, "F5")
        _wait_for(session, "Which module?")
        _tmux("send-keys", "-t", session, "End")
        screen = _wait_for(session, MODULE_TITLE["en"])
        assert "clinic-checkin" in screen
    finally:
        _tmux("kill-server")


def test_a_whole_check_in_in_spanish_in_tmux(created, store_dir, isolated_home):
    """Issue 17 (done when): in a real terminal, in Spanish, with the keyboard only: schedule a check-in
    (F6), record it attended with the fidelity checklist, then mark the homework it set as done."""
    from telecbt_cli.content.catalog import load
    from telecbt_cli.core.care import appointments, plans

    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Ejemplo", language="es"))
    record_consent(access, patient["code"], "verbal", "v1")
    plans.set_plan(access, load(), patient["code"], course="standard")  # the next session: cbt-01
    access.close()
    session = f"checkin-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    command = (f"env -u COLUMNS -u LINES {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} tui "
               f"--store {shlex.quote(str(store_dir))} --lang es")
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
                   check=True)

    def keys(*names: str, pause: float = 0.4) -> None:
        for name in names:
            _tmux("send-keys", "-t", session, name)
            time.sleep(pause)

    try:
        _wait_for(session, "iniciar sesión")
        time.sleep(1.0)
        _tmux("send-keys", "-t", session, "-l", ADMIN)
        _wait_for(session, ADMIN)
        keys("Tab")
        _tmux("send-keys", "-t", session, "-l", ADMIN_PASS)
        keys("Enter")
        _wait_for(session, patient["code"])
        keys("Enter")
        _wait_for(session, "Zona horaria")  # the record's data has loaded: F6 then offers the plan's next module
        keys("F6")
        _wait_for(session, "Sesión que se verá")
        keys("Enter")  # tomorrow at 10:00 as offered, by video, the plan's next session
        _wait_for(session, "Cita agendada")
        keys("Right", "Right", "Right", "Right")  # the tabs: Resumen → … → Sesiones
        _wait_for(session, "Enter en una sesión")
        keys("Tab", "Enter")
        _wait_for(session, "No asistió")
        keys("Enter")  # the first button: Asistió
        _wait_for(session, "lista de fidelidad")
        keys("Tab", "space", "Down", "space")  # the first two points of the checklist
        keys("Tab")
        _tmux("send-keys", "-t", session, "-l", "bien")
        keys("Enter")
        screen = _wait_for(session, "Cita registrada")
        assert "asistió" in screen
        keys("BTab", "Left")  # back to the tabs, then the plan
        _wait_for(session, "Curso: estándar")
        keys("Tab", "Tab", "Enter")
        _wait_for(session, "Marcar como hecha")
        _tmux("send-keys", "-t", session, "-l", "caminé")
        keys("Enter")
        screen = _wait_for(session, "Tarea marcada como hecha")
        assert "hecha" in screen and "done" not in screen
    finally:
        _tmux("kill-server")
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        [row] = appointments.list_sessions(check, code=patient["code"])
        stored = plans.find_record(check, "appointments", row["id"])
        assert stored["status"] == "attended" and stored["notes"] == "bien"
        assert len(json.loads(stored["fidelity"])) == 2
        done = [h for h in plans.list_homework(check, patient["code"]) if h["status"] == "done"]
        assert len(done) == 1 and done[0]["note"] == "caminé"
    finally:
        check.close()
