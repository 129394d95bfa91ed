"""Ids people can use, search as people type, and records people can read (issue 16, points 5-7)."""

from __future__ import annotations

import re
from pathlib import Path

from telecbt_cli.core.store.ids import parse_patient_code, short_id
from tests.commands.clirun import invoke, invoke_json

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _consented(pw: tuple[str, str], name: str = "Ana") -> str:
    code = invoke_json("patient", "add", "--name", name, *pw)["code"]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", *pw).exit_code == 0
    return code


def _id_column(table: str) -> list[str]:
    lines = table.splitlines()
    assert lines[0].split()[0] == "id", lines[0]
    return [line.split()[0] for line in lines[1:]]


def test_tables_show_the_ids_that_other_commands_take(cli_store, pass_file):
    """Guards the finding: `diary correct` printed a short id that it then refused, and the
    diary table showed no ids at all."""
    pw = ("--passphrase-file", str(pass_file))
    code = _consented(pw)
    for pain in ("6", "7"):
        assert invoke("diary", "add", code, "--pain", pain, *pw).exit_code == 0
    shown = _id_column(invoke("diary", "list", code, *pw).stdout)
    full = [e["id"] for e in invoke_json("diary", "list", code, *pw)]
    assert shown == [short_id(i) for i in full]
    corrected = invoke("diary", "correct", shown[0], "--pain", "5", *pw)
    assert corrected.exit_code == 0, corrected.stderr
    said = re.findall(r"[0-9a-f]{12}", corrected.stderr)
    assert said[1] == shown[0]
    again = invoke("diary", "correct", said[0], "--pain", "4", *pw)
    assert again.exit_code == 0, "the id the correction printed is accepted back"
    by_start = invoke("diary", "correct", full[1][:23], "--pain", "3", *pw)
    assert by_start.exit_code == 0, by_start.stderr
    ambiguous = invoke("diary", "correct", full[0][:6], "--pain", "3", *pw)
    assert ambiguous.exit_code == 2 and "matches" in ambiguous.stderr
    assert invoke("diary", "correct", "000000000000", "--pain", "3", *pw).exit_code == 4

    invoke("session", "schedule", code, "--at", "2031-03-04 10:00", "--mode", "phone", *pw)
    session = _id_column(invoke("session", "list", *pw).stdout)[0]
    assert invoke("session", "record", session, "--attended", "--fidelity", "all", *pw).exit_code == 0
    invoke("plan", "goal", "add", code, "Walk to the market", *pw)
    goal_table = invoke("plan", "show", code, *pw).stdout.split("Goals:\n", 1)[1].split("Homework:")[0]
    assert invoke("plan", "goal", "update", _id_column(goal_table)[0], "--progress", "50", *pw).exit_code == 0
    invoke("message", "send", code, "See you Tuesday", *pw)
    messages = [m["id"] for m in invoke_json("message", "list", code, *pw)]
    assert _id_column(invoke("message", "list", code, *pw).stdout) == [short_id(m) for m in messages]


def test_alert_ids_as_listed_are_accepted(cli_store, pass_file, tmp_path):
    pw = ("--passphrase-file", str(pass_file))
    code = _consented(pw)
    answers = tmp_path / "a.json"
    answers.write_text('{"phq9_1": 1, "phq9_2": 1, "phq9_3": 1, "phq9_4": 1, "phq9_5": 1, "phq9_6": 1, '
                       '"phq9_7": 1, "phq9_8": 1, "phq9_9": 1}')
    assert invoke("measure", "take", code, "phq9", "--answers", str(answers), *pw).exit_code == 0
    listed = invoke("alerts", "list", *pw).stdout
    alert = listed.splitlines()[1].split()[0]
    assert listed.splitlines()[0].split()[0] == "alert" and len(alert) == 12
    acked = invoke("alerts", "ack", alert, "--note", "called, safe", *pw)
    assert acked.exit_code == 0, acked.stderr


def test_patient_search_ignores_case_and_accents(cli_store, pass_file):
    """Guards the finding: `patient list --search jose` did not find "José", nor "lopez" "López"."""
    pw = ("--passphrase-file", str(pass_file))
    for name in ("José Núñez", "Ana López", "Joseph Lopes"):
        invoke("patient", "add", "--name", name, *pw)

    def names(search: str) -> set[str]:
        return {p["display_name"] for p in invoke_json("patient", "list", "--search", search, *pw)}

    assert names("jose") == {"José Núñez", "Joseph Lopes"}
    assert names("lopez") == {"Ana López"} and names("LÓPEZ") == {"Ana López"} and names("nunez") == {"José Núñez"}


def test_the_audit_log_reads_as_words(cli_store, pass_file):
    """Guards the finding: audit details printed as Python reprs and epoch numbers."""
    pw = ("--passphrase-file", str(pass_file))
    invoke("unlock", "--ttl", "1h", *pw)
    log = invoke("audit", "log", *pw, env={"COLUMNS": "250"}).stdout
    started = next(line for line in log.splitlines() if "session.start" in line)
    assert re.search(r"expires: 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", started), started
    assert "{" not in log and "True" not in log and "False" not in log
    assert "role: admin" in log
    as_csv = invoke("audit", "log", "--csv", *pw).stdout
    assert as_csv.splitlines()[0] == "seq,at,user,action,patient_code,detail,device_id"
    assert "expires: 20" in as_csv


def test_the_readme_shows_valid_patient_codes():
    """Guards the finding: the README's example code 7K3M-9QXD failed its own check character."""
    codes = set(re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b", README))
    assert codes
    assert {c for c in codes if parse_patient_code(c) != c} == set()
