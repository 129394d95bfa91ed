"""Issue 13 from the command line: one store read by devices in different zones (TZ=), the
device setting, patient zones, labelled tables, --csv with offsets and --json in UTC.

A session typed as 2030-12-03 10:00 in Nairobi (+03:00) is 07:00 UTC: 02:00 EST in New York,
12:45 in Kathmandu (+05:45). Worked out by hand from the zones' offsets."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.commands.clirun import invoke
from tests.conftest import ADMIN_PASS, run_telecbt


@pytest.fixture
def nairobi_patient(cli_store: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A patient in Nairobi with a session booked by a device in Nairobi for 2030-12-03 10:00."""
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    added = invoke("patient", "add", "--name", "Ana", "--timezone", "Africa/Nairobi", "--email", "a@example.org",
                   "--json")
    assert added.exit_code == 0, added.stderr
    code = json.loads(added.stdout)["code"]
    assert json.loads(added.stdout)["timezone"] == "Africa/Nairobi"
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
    booked = run_telecbt("session", "schedule", code, "--at", "2030-12-03 10:00", "--mode", "phone",
                         env={"TZ": "Africa/Nairobi"})
    assert booked.returncode == 0, booked.stderr
    assert "at 2030-12-03 10:00 EAT (phone)" in booked.stdout + booked.stderr
    assert "The patient is told: Tue 3 Dec, 10:00 (Nairobi time)." in booked.stdout + booked.stderr
    return code


def test_the_same_store_read_on_devices_in_other_zones(nairobi_patient):
    """The issue's 'done when': staff see their own device's local time, labelled."""
    seen = {}
    for tz in ("Africa/Nairobi", "America/New_York", "Asia/Kathmandu"):
        listed = run_telecbt("session", "list", env={"TZ": tz})
        assert listed.returncode == 0, listed.stderr
        seen[tz] = listed.stdout
    assert "2030-12-03 10:00 EAT" in seen["Africa/Nairobi"]
    assert "2030-12-03 02:00 EST" in seen["America/New_York"]
    assert "2030-12-03 12:45 +05:45" in seen["Asia/Kathmandu"]
    assert all("07:00" not in text for text in seen.values())
    # The reminder in the outbox is the patient's, whichever device reads it.
    outbox = run_telecbt("message", "list", nairobi_patient, "--json", env={"TZ": "America/New_York"})
    assert "Tue 3 Dec, 10:00 (Nairobi time)" in outbox.stdout


def test_csv_has_offsets_and_json_keeps_utc(nairobi_patient):
    rows = list(csv.DictReader(io.StringIO(
        run_telecbt("session", "list", "--csv", env={"TZ": "America/New_York"}).stdout)))
    assert rows[0]["scheduled_at"] == "2030-12-03T02:00:00-05:00"
    doc = json.loads(run_telecbt("session", "list", "--json", env={"TZ": "Asia/Kathmandu"}).stdout)
    assert doc[0]["scheduled_at"] == "2030-12-03T07:00:00.000Z"
    assert doc[0]["scheduled_at_local"] == "2030-12-03T12:45:00+05:45"


def test_the_device_setting_beats_the_system_zone(nairobi_patient, monkeypatch):
    refused = invoke("settings", "--timezone", "kathmandu")
    assert refused.exit_code == 2 and "Did you mean Asia/Kathmandu" in refused.stderr
    assert invoke("settings", "--timezone", "Asia/Kathmandu").exit_code == 0
    listed = run_telecbt("session", "list", env={"TZ": "America/New_York"})
    assert "2030-12-03 12:45 +05:45" in listed.stdout
    info = json.loads(run_telecbt("settings", "--json", env={"TZ": "America/New_York"}).stdout)
    assert (info["timezone"], info["source"], info["system"]) == ("Asia/Kathmandu", "setting", "America/New_York")
    assert info["now"].endswith("Z") and info["now_local"].endswith("+05:45")
    assert invoke("settings", "--system-timezone").exit_code == 0
    info = json.loads(run_telecbt("settings", "--json", env={"TZ": "America/New_York"}).stdout)
    assert (info["timezone"], info["source"]) == ("America/New_York", "system")


def test_the_audit_log_and_patient_record_name_the_zone(nairobi_patient, monkeypatch):
    monkeypatch.setenv("TZ", "Africa/Nairobi")
    log = invoke("audit", "log")
    assert log.exit_code == 0 and " EAT " in log.stdout and "time (UTC)" not in log.stdout
    entries = json.loads(invoke("audit", "log", "--json").stdout)
    assert entries[-1]["at"].endswith("Z") and entries[-1]["at_local"].endswith("+03:00")
    shown = invoke("patient", "show", nairobi_patient)
    assert "Africa/Nairobi" in shown.stdout and " EAT" in shown.stdout
    assert invoke("patient", "edit", nairobi_patient, "--timezone", "nairobi").exit_code == 2
    edited = invoke("patient", "edit", nairobi_patient, "--timezone", "America/Mexico_City", "--json")
    assert edited.exit_code == 0 and json.loads(edited.stdout)["timezone"] == "America/Mexico_City"


def test_init_sets_the_device_zone_and_refuses_a_bad_name_first(tmp_path: Path, pass_file: Path):
    bad = invoke("init", "--store", str(tmp_path / "bad"), "--timezone", "nairobi", "--passphrase-file", str(pass_file))
    assert bad.exit_code == 2 and "Africa/Nairobi" in bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    made = invoke("init", "--store", str(tmp_path / "s"), "--timezone", "Asia/Kathmandu",
                  "--passphrase-file", str(pass_file), "--json")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["timezone"] == "Asia/Kathmandu"


def test_the_patient_report_is_in_the_patients_zone(nairobi_patient, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")  # the reading device's zone does not matter here
    text = invoke("report", "patient", nairobi_patient)
    assert text.exit_code == 0, text.stderr
    assert "(Nairobi time)" in text.stdout
    html = invoke("report", "patient", nairobi_patient, "--html", "-")
    assert html.exit_code == 0 and "(Nairobi time)" in html.stdout
    doc = json.loads(invoke("report", "patient", nairobi_patient, "--json").stdout)
    assert doc["timezone"] == "Africa/Nairobi"
