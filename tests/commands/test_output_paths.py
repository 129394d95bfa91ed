"""Where output files go (issue 16, point 2): `-` is standard output where the output is one
file, a folder gets the file inside it, and an existing file is never replaced silently."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage

from tests.commands import test_bundle_cli
from tests.commands.clirun import invoke, invoke_json

pair = test_bundle_cli.pair  # fixture: a field and a hub store that trust each other


def _patient_with_a_session(pass_file: Path) -> str:
    pw = ("--passphrase-file", str(pass_file))
    code = invoke_json("patient", "add", "--name", "Ana", "--language", "en", *pw)["code"]
    invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", *pw)
    made = invoke("session", "schedule", code, "--at", "2031-03-04 10:00", "--mode", "phone", *pw)
    assert made.exit_code == 0, made.stderr
    return code


def test_out_dash_is_refused_for_folders_and_creates_nothing(cli_store, pass_file, tmp_path, monkeypatch):
    """Guards the finding: `export csv --out - --plaintext` made a folder named `-` full of
    plaintext patient data."""
    monkeypatch.chdir(tmp_path)
    _patient_with_a_session(pass_file)
    for kind in ("csv", "ndjson", "fhir"):
        refused = invoke("export", kind, "--out", "-", "--plaintext", "--passphrase-file", str(pass_file))
        assert refused.exit_code == 2 and "standard output" in refused.stderr, kind
    refused = invoke("store", "backup", "-", "--passphrase-file", str(pass_file))
    assert refused.exit_code == 2
    assert not (tmp_path / "-").exists()


def test_out_dash_streams_a_single_file(cli_store, pass_file):
    code = _patient_with_a_session(pass_file)
    pw = ("--passphrase-file", str(pass_file))
    calendar = invoke("session", "ics", code, "--out", "-", *pw)
    assert calendar.exit_code == 0 and calendar.stdout.startswith("BEGIN:VCALENDAR")
    page = invoke("report", "patient", code, "--html", "-", *pw)
    assert page.exit_code == 0 and page.stdout.lstrip().lower().startswith("<!doctype html")
    assert "report-" not in page.stderr
    as_json = invoke_json("session", "ics", code, *pw)
    assert as_json["sessions"] == 1 and as_json["ics"].startswith("BEGIN:VCALENDAR")
    identity = pyrage.x25519.Identity.generate()
    mixed = invoke("bundle", "export", "--to", str(identity.to_public()), "--out", "-", "--json", *pw)
    assert mixed.exit_code == 2 and "--json" in mixed.stderr


def test_a_bundle_on_standard_output_imports_at_the_other_end(pair, tmp_path):
    stores, code = pair
    streamed = invoke("bundle", "export", "--to", "hub", "--out", "-", "--store", str(stores["field"]))
    assert streamed.exit_code == 0, streamed.stderr
    assert streamed.stdout_bytes.startswith(b"age-encryption.org/v1")
    assert "standard output" in streamed.stderr
    received = tmp_path / "received.tcb"
    received.write_bytes(streamed.stdout_bytes)
    imported = invoke("bundle", "import", str(received), "--json", "--store", str(stores["hub"]))
    assert imported.exit_code == 0 and json.loads(imported.stdout)[0]["inserted"] == 2


def test_a_folder_gets_the_file_inside_and_nothing_is_overwritten(pair, tmp_path):
    stores, _ = pair
    field = ("--store", str(stores["field"]))
    into = tmp_path / "new" / "outgoing"
    first = json.loads(invoke("bundle", "export", "--to", "hub", "--all", "--out", f"{into}/", "--json", *field).stdout)
    second = json.loads(invoke("bundle", "export", "--to", "hub", "--all", "--out", str(into), "--json", *field).stdout)
    assert Path(first["path"]).parent == into and Path(second["path"]).parent == into
    assert first["path"] != second["path"]
    named = tmp_path / "named.tcb"
    assert invoke("bundle", "export", "--to", "hub", "--all", "--out", str(named), *field).exit_code == 0
    before = named.read_bytes()
    again = invoke("bundle", "export", "--to", "hub", "--all", "--out", str(named), *field)
    assert again.exit_code == 2 and "--force" in again.stderr and named.read_bytes() == before
    forced = invoke("bundle", "export", "--to", "hub", "--all", "--out", str(named), "--force", *field)
    assert forced.exit_code == 0 and named.read_bytes() != before


def test_calendar_report_and_identity_files_follow_the_same_rules(cli_store, pass_file, tmp_path):
    code = _patient_with_a_session(pass_file)
    pw = ("--passphrase-file", str(pass_file))
    folder = tmp_path / "cal"
    for expected in ("sessions.ics", "sessions-2.ics"):
        written = invoke_json("session", "ics", "--all", "--out", f"{folder}/", *pw)
        assert written == {"path": str(folder / expected), "sessions": 1}
    target = tmp_path / "mine.ics"
    assert invoke("session", "ics", code, "--out", str(target), *pw).exit_code == 0
    refused = invoke("session", "ics", code, "--out", str(target), *pw)
    assert refused.exit_code == 2 and "already exists" in refused.stderr
    assert invoke("session", "ics", code, "--out", str(target), "--force", *pw).exit_code == 0
    report = invoke("report", "patient", code, "--html", str(tmp_path), *pw)
    assert report.exit_code == 0 and (tmp_path / f"report-{code}.html").exists()
    assert invoke("report", "patient", code, "--html", str(tmp_path / f"report-{code}.html"), *pw).exit_code == 2
    keys = invoke_json("device", "export-identity", "--out", f"{tmp_path / 'keys'}/", "--yes", *pw)
    key_file = Path(keys["path"])
    assert key_file.parent == tmp_path / "keys" and key_file.read_text().startswith("AGE-SECRET-KEY-")
    assert key_file.stat().st_mode & 0o077 == 0
    again = invoke("device", "export-identity", "--out", str(key_file), "--yes", *pw)
    assert again.exit_code == 2
