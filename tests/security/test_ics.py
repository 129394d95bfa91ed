"""Issue 12 point 4: iCalendar never crashes on text; lines are folded and escaped per RFC 5545, controls stripped."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import appointments
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store.errors import UsageError
from tests.conftest import ADMIN_PASS

#: A link that would end its line and add an attendee and an alarm, with terminal escapes and a NUL.
INJECTED = "https://meet.example.org/abc\r\nATTENDEE:mailto:evil@example.org\r\nBEGIN:VALARM\x1b]52;c;aGk=\x07\x00"
LONG_TITLE = "Sesión larga " + "ñ" * 80 + " [done]; a,b\nnext line\x1b[2J"


def _later(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%d 09:00")


def _check_ics(data: bytes) -> list:
    """Parses back; only CRLF line ends, no control character, every line at most 75 octets (folded)."""
    assert b"\r\n" in data
    lines = data.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines), [line for line in lines if len(line) > 75]
    assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", data.replace(b"\r\n", b""))
    events = [c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT"]
    for event in events:
        assert "ATTENDEE" not in event and not event.subcomponents  # nothing injected
    return events


def test_a_link_with_line_breaks_or_controls_is_refused_when_scheduled(admin):
    code = add_patient(admin, PatientFields(display_name="Ana"))["code"]
    record_consent(admin, code, "verbal", "v1")
    catalog, _ = cat.build([cat.BUILTIN_DIR])
    for link in (INJECTED, "https://a.example/x y", "https://a.example/\x1b[2J"):
        with pytest.raises(UsageError):
            appointments.schedule(admin, catalog, code, _later(2), "video", link=link)


def test_ics_never_crashes_on_stored_text_and_folds_escapes_and_strips(admin):
    """Guards the attack: a CR/LF in a stored session link made `session ics` fail with a ValueError."""
    code = add_patient(admin, PatientFields(display_name="Ana"))["code"]
    record_consent(admin, code, "verbal", "v1")
    catalog, _ = cat.build([cat.BUILTIN_DIR])
    module = catalog.entries["module"]["cbt-04"]
    catalog.entries["module"]["cbt-04"] = {**module, "title": {"en": LONG_TITLE, "es": LONG_TITLE}}
    made = appointments.schedule(admin, catalog, code, _later(2), "video", "cbt-04",
                                 link="https://meet.example.org/abc")
    with admin.store.write():  # what a trusted device's bundle (or an older version) could have stored
        admin.store.conn.execute("UPDATE appointments SET link = ? WHERE id = ?", (INJECTED, made["id"]))
    events = _check_ics(appointments.ics(admin, catalog, code))
    assert len(events) == 1
    event = events[0]
    assert "url" not in event  # not a usable link any more: kept only as text
    assert str(event["location"]).startswith("https://meet.example.org/abc")
    summary = str(event["summary"])
    assert "[done]; a,b" in summary and "\x1b" not in summary and "\n" not in summary


def test_session_ics_from_the_command_line(tmp_path, pass_file, monkeypatch):
    runner = CliRunner()
    store = tmp_path / "store"
    assert runner.invoke(app, ["init", "--store", str(store), "--admin", "alice", "--passphrase-file",
                              str(pass_file)]).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    code = json.loads(runner.invoke(app, ["patient", "add", "--name", "Ana", "--json"]).stdout)["code"]
    assert runner.invoke(app, ["patient", "consent", code, "--method", "verbal", "--version", "v1"]).exit_code == 0
    refused = runner.invoke(app, ["session", "schedule", code, "--at", _later(3), "--mode", "video",
                                  "--link", INJECTED])
    assert refused.exit_code == 2 and "link" in refused.stderr
    made = runner.invoke(app, ["session", "schedule", code, "--at", _later(3), "--mode", "video",
                               "--link", "https://meet.example.org/q", "--json"])
    assert made.exit_code == 0, made.stderr
    from tests.tui.helpers import check_store

    def inject(access) -> None:
        with access.store.write():
            access.store.conn.execute("UPDATE appointments SET link = ?", (INJECTED,))

    check_store(store, inject)
    out = tmp_path / "cal.ics"
    result = runner.invoke(app, ["session", "ics", "--all", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert len(_check_ics(out.read_bytes())) == 1
