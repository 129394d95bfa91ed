"""The staff TUI in a real terminal (tmux): keys in, screen text out, the entry in the store.

The kiosk in a real terminal (and attempts to leave it) is in tests/security/test_kiosk_terminal.py."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import telecbt_in_tmux

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


def test_staff_flow_in_tmux(created, store_dir, isolated_home):
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()
    with telecbt_in_tmux(isolated_home, "tui", "--store", str(store_dir)) as term:
        term.sign_in(ADMIN, ADMIN_PASS)
        screen = term.wait_for(patient["code"])
        assert "Rosa Example" in screen and ADMIN_PASS not in screen
        term.keys("Enter")
        term.wait_for("consent")
        term.keys("F3")
        term.wait_for("New diary entry")
        term.keys("7", "Enter")
        term.wait_for("Saved: pain 7")
        # A second entry is half typed when the terminal goes away: nothing of it may be stored.
        term.keys("F3")
        term.wait_for("New diary entry")
        term.keys("9")
        time.sleep(0.5)
        term.close()  # the terminal closes (SIGHUP), no Enter was pressed
        time.sleep(1.0)
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert [e["pain"] for e in diary.list_entries(check, patient["code"])] == [7]
    finally:
        check.close()


def test_demo_on_a_terminal_opens_the_staff_ui_signed_in(isolated_home):
    with telecbt_in_tmux(isolated_home, "demo", "-n", "3", name="demo") as term:
        screen = term.wait_for("Next check-in", timeout=90)
        assert "(demo)" in screen and "demo (admin)" in screen  # the caseload, already signed in
        term.keys("C-q")
        term.ended()


def test_tui_with_a_content_folder_offers_the_clinic_module(created, store_dir, isolated_home, tmp_path):
    """Issue 12.11: `telecbt tui --content DIR` (the quick start path) offers the clinic's module."""
    from tests.clinic import MODULE_TITLE, write_clinic

    patient = add_patient(created.access, PatientFields(display_name="Rosa Example", language="en"))
    record_consent(created.access, patient["code"], "verbal", "v1")
    created.access.close()
    clinic = write_clinic(tmp_path / "clinic")
    with telecbt_in_tmux(isolated_home, "tui", "--store", str(store_dir), "--content", str(clinic),
                         name="content") as term:
        term.sign_in(ADMIN, ADMIN_PASS)
        term.wait_for(patient["code"])
        term.keys("Enter")
        term.wait_for("consent")
        term.keys("F5")
        term.wait_for("Which module?")
        term.keys("End")
        screen = term.wait_for(MODULE_TITLE["en"])
        assert "clinic-checkin" in screen


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
    with telecbt_in_tmux(isolated_home, "tui", "--store", str(store_dir), "--lang", "es", name="checkin") as term:
        def keys(*names: str) -> None:
            term.keys(*names, pause=0.4)

        term.sign_in(ADMIN, ADMIN_PASS, prompt="iniciar sesión")
        time.sleep(0.4)
        term.wait_for(patient["code"])
        keys("Enter")
        term.wait_for("Zona horaria")  # the record is on screen
        keys("F6")
        term.wait_for("Nueva cita")  # the dialog opens at its top: its title, then "Cuándo"
        keys("Enter")  # tomorrow at 10:00 as offered, by video, the plan's next session
        term.wait_for("Cita agendada")
        keys("Right", "Right", "Right", "Right")  # the tabs: Resumen → … → Sesiones
        term.wait_for("Enter en una sesión")
        keys("Tab", "Enter")
        term.wait_for("No asistió")
        keys("Enter")  # the first button: Asistió
        term.wait_for("lista de fidelidad")
        keys("Tab", "space", "Down", "space")  # the first two points of the checklist
        keys("Tab")
        term.type("bien")
        keys("Enter")
        screen = term.wait_for("Cita registrada")
        assert "asistió" in screen
        keys("BTab", "Left")  # back to the tabs, then the plan
        term.wait_for("Curso: estándar")
        keys("Tab", "Tab", "Enter")
        term.wait_for("Marcar como hecha")
        term.type("caminé")
        keys("Enter")
        screen = term.wait_for("Tarea marcada como hecha")
        assert "hecha" in screen and "done" not in screen
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        [row] = appointments.list_sessions(check, code=patient["code"])
        stored = plans.find_record(check, "appointments", row["id"])
        assert stored["status"] == "attended" and stored["notes"] == "bien"
        assert stored["module_id"] == "cbt-01"  # the plan's next session, as F6 offered it
        assert len(json.loads(stored["fidelity"])) == 2
        done = [h for h in plans.list_homework(check, patient["code"]) if h["status"] == "done"]
        assert len(done) == 1 and done[0]["note"] == "caminé"
    finally:
        check.close()
