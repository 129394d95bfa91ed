"""Issue 17 (point 5 of the brief): Ctrl-C in the kiosk, in a real terminal (tmux). In raw mode Ctrl-C arrives
as a key, not a signal; a patient who presses it half-way through a diary entry must stay in the kiosk, with
what they chose still there, and no shell. What a patient expects: nothing happens; the entry is saved when
they finish it."""

from __future__ import annotations

import shutil
import time

import pytest

from telecbt_cli.core.care import diary, pins
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import telecbt_in_tmux

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


def test_ctrl_c_half_way_through_a_pain_entry_keeps_it_and_the_kiosk(created, store_dir, isolated_home):
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Kiosk", language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], "4821")
    access.close()
    with telecbt_in_tmux(isolated_home, "kiosk", "--store", str(store_dir), env={"TELECBT_PASSPHRASE": ADMIN_PASS},
                         name="kiosk-ctrl-c") as term:
        term.kiosk_sign_in(patient["code"], "4821")
        term.keys("3")  # pain 3 chosen, not saved yet (Enter saves)
        time.sleep(0.3)
        before = term.screen()
        for _ in range(3):
            term.keys("C-c", pause=0.7)
        after = term.screen()
        assert term.running() and "How is your pain right now?" in after, after  # no shell, no exit
        assert "Saved" not in after and "Staff only" not in after, after  # nothing saved or asked behind their back
        assert after == before, (before, after)  # the choice is still on screen, as it was
        term.keys("Enter")
        term.wait_for("Saved: pain 3")  # finishing the entry saves what they chose before Ctrl-C
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert [(e["pain"], e["source"]) for e in diary.list_entries(check, patient["code"])] == [(3, "kiosk")]
    finally:
        check.close()
