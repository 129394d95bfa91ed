"""Issue 12 point 2 in a real terminal (tmux): a patient's name cannot retitle the window or write the clipboard."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from tests.conftest import ADMIN, ADMIN_PASS, telecbt_cmd
from tests.tui.helpers import SOCKET, tmux, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]

#: Sets the window title (OSC 2 and OSC 0), writes the clipboard (OSC 52) and clears the screen.
NAME = "Rosa \x1b]2;PWNED-TITLE\x07\x1b]0;PWNED-ICON\x07\x1b]52;c;UFdORUQtQ0xJUA==\x07\x1b[2J Example"


def test_a_hostile_name_on_the_record_header_leaves_the_terminal_alone(created, store_dir, isolated_home):
    """Guards the attack: the record header sent a patient's name to the terminal as it was."""
    access = created.access
    patient = add_patient(access, PatientFields(display_name=NAME, language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()
    session = f"inert-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
        "TELECBT_HOME": str(isolated_home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color",
        "NO_COLOR": "1"}.items())
    command = (f"env -u COLUMNS -u LINES {env} {' '.join(shlex.quote(c) for c in telecbt_cmd())} tui "
               f"--store {shlex.quote(str(store_dir))}")
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command],
                   check=True)
    try:
        tmux("set-option", "-g", "set-clipboard", "on")  # let OSC 52 from the program create a tmux buffer
        title = tmux("display-message", "-p", "-t", session, "#{pane_title}")
        wait_for(session, "sign in")
        time.sleep(1.0)
        tmux("send-keys", "-t", session, "-l", ADMIN)
        wait_for(session, ADMIN)
        tmux("send-keys", "-t", session, "Tab")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "-l", ADMIN_PASS)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, patient["code"])
        tmux("send-keys", "-t", session, "Enter")
        screen = wait_for(session, "Overview")
        time.sleep(1.0)
        screen = tmux("capture-pane", "-t", session, "-p")
        assert "Example" in screen and "telecbt" in screen  # the header is still drawn, not cleared
        assert "\\x1b]2;PWNED-TITLE" in screen  # the name is shown with its escapes made visible
        assert "PWNED" not in tmux("display-message", "-p", "-t", session, "#{pane_title}")
        assert tmux("display-message", "-p", "-t", session, "#{pane_title}") == title
        assert tmux("list-buffers") == ""  # no clipboard write reached the terminal
    finally:
        tmux("kill-server")
