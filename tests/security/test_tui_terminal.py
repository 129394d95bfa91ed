"""Issue 12 point 2 in a real terminal (tmux): a patient's name cannot retitle the window or write the clipboard."""

from __future__ import annotations

import shutil
import time

import pytest

from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import telecbt_in_tmux, tmux

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]

#: Sets the window title (OSC 2 and OSC 0), writes the clipboard (OSC 52) and clears the screen.
NAME = "Rosa \x1b]2;PWNED-TITLE\x07\x1b]0;PWNED-ICON\x07\x1b]52;c;UFdORUQtQ0xJUA==\x07\x1b[2J Example"


def test_a_hostile_name_on_the_record_header_leaves_the_terminal_alone(created, store_dir, isolated_home):
    """Guards the attack: the record header sent a patient's name to the terminal as it was."""
    access = created.access
    patient = add_patient(access, PatientFields(display_name=NAME, language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()
    with telecbt_in_tmux(isolated_home, "tui", "--store", str(store_dir), size=(100, 30), name="inert") as term:
        tmux("set-option", "-g", "set-clipboard", "on")  # let OSC 52 from the program create a tmux buffer
        title = tmux("display-message", "-p", "-t", term.session, "#{pane_title}")
        term.sign_in(ADMIN, ADMIN_PASS)
        term.wait_for(patient["code"])
        term.keys("Enter")
        term.wait_for("Overview")
        time.sleep(1.0)
        screen = term.screen()
        assert "Example" in screen and "telecbt" in screen  # the header is still drawn, not cleared
        assert "\\x1b]2;PWNED-TITLE" in screen  # the name is shown with its escapes made visible
        assert "PWNED" not in tmux("display-message", "-p", "-t", term.session, "#{pane_title}")
        assert tmux("display-message", "-p", "-t", term.session, "#{pane_title}") == title
        assert tmux("list-buffers") == ""  # no clipboard write reached the terminal
