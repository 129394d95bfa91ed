"""The command line through Typer's runner: outputs, exit codes, prompts that never hang."""

from __future__ import annotations

import json

from tests.commands.clirun import invoke
from tests.conftest import ADMIN, ADMIN_PASS



def test_init_prints_the_recovery_key_once(tmp_path, pass_file):
    store = tmp_path / "s"
    result = invoke("init", "--store", str(store), "--passphrase-file", str(pass_file))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    key = "-".join(lines)
    from telecbt_cli.core.store.ids import parse_recovery_key

    assert len(parse_recovery_key(key)) == 32
    assert "RECOVERY KEY" in result.stderr
    again = invoke("init", "--store", str(store), "--passphrase-file", str(pass_file))
    assert again.exit_code == 1
    assert "already exists" in again.stderr and again.stdout == ""


def test_json_listing_is_clean_json_with_empty_stderr(cli_store, pass_file):
    add = invoke("patient", "add", "--name", "Ana", "--birth-year", "1970", "--language", "es",
                 "--passphrase-file", str(pass_file), "--json")
    assert add.exit_code == 0, add.stderr
    code = json.loads(add.stdout)["code"]
    listed = invoke("patient", "list", "--json", "--passphrase-file", str(pass_file))
    assert listed.exit_code == 0 and listed.stderr == ""
    rows = json.loads(listed.stdout)
    assert [(r["code"], r["display_name"], r["language"]) for r in rows] == [(code, "Ana", "es")]


def test_csv_listing(cli_store, pass_file):
    invoke("patient", "add", "--name", "Ana, \"the\" first", "--passphrase-file", str(pass_file))
    result = invoke("patient", "list", "--csv", "--passphrase-file", str(pass_file))
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["display_name"] == 'Ana, "the" first'
    both = invoke("patient", "list", "--csv", "--json", "--passphrase-file", str(pass_file))
    assert both.exit_code == 2


def test_exit_codes(cli_store, pass_file, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    assert invoke("patient", "list", "--passphrase-file", str(wrong)).exit_code == 3
    assert invoke("patient", "show", "0000-0000", "--passphrase-file", str(pass_file)).exit_code in (2, 4)
    from telecbt_cli.core.store.ids import new_patient_code

    missing = invoke("patient", "show", new_patient_code(), "--passphrase-file", str(pass_file))
    assert missing.exit_code == 4 and "no patient" in missing.stderr
    assert invoke("patient", "show", "ABC", "--passphrase-file", str(pass_file)).exit_code == 2
    assert invoke("patient", "list", "--store", str(tmp_path / "nowhere"), "--passphrase-file",
                  str(pass_file)).exit_code == 4
    assert invoke("patient", "frobnicate").exit_code == 2


def test_no_terminal_and_no_secret_fails_at_once_naming_the_options(cli_store):
    result = invoke("patient", "list")
    assert result.exit_code == 3
    assert "--passphrase-file" in result.stderr and "TELECBT_PASSPHRASE" in result.stderr


def test_role_refusal_is_exit_5(cli_store, pass_file, tmp_path):
    viewer_pass = tmp_path / "viewer"
    viewer_pass.write_text("viewer passphrase\n")
    added = invoke("user", "add", "vic", "--role", "viewer", "--passphrase-file", str(pass_file),
                   "--new-passphrase-file", str(viewer_pass))
    assert added.exit_code == 0, added.stderr
    result = invoke("patient", "add", "--name", "X", "--user", "vic", "--passphrase-file", str(viewer_pass))
    assert result.exit_code == 5 and "viewer" in result.stderr
    listed = invoke("user", "list", "--json", "--user", "vic", "--passphrase-file", str(viewer_pass))
    assert {u["name"]: u["role"] for u in json.loads(listed.stdout)} == {"alice": "admin", "vic": "viewer"}


def test_passphrase_from_stdin_and_environment(cli_store, pass_file):
    assert invoke("patient", "list", "--passphrase-file", "-", input=ADMIN_PASS + "\n").exit_code == 0
    assert invoke("patient", "list", env={"TELECBT_PASSPHRASE": ADMIN_PASS}).exit_code == 0


def test_session_token_flow(cli_store, pass_file):
    token = invoke("unlock", "--passphrase-file", str(pass_file), "--ttl", "5m")
    assert token.exit_code == 0, token.stderr
    env = {"TELECBT_SESSION": token.stdout.strip()}
    assert invoke("patient", "add", "--name", "Via session", env=env).exit_code == 0
    assert invoke("patient", "list", "--json", env=env).exit_code == 0
    assert invoke("lock").exit_code == 0
    after = invoke("patient", "list", env=env)
    assert after.exit_code == 3 and "unlock" in after.stderr
    forged = invoke("patient", "list", env={"TELECBT_SESSION": "tcs1.AAAAAAAAAAAA." + "A" * 43})
    assert forged.exit_code == 3


def test_consent_commands(cli_store, pass_file):
    code = json.loads(invoke("patient", "add", "--name", "Ana", "--json", "--passphrase-file",
                             str(pass_file)).stdout)["code"]
    given = invoke("patient", "consent", code, "--method", "written", "--version", "2026-01",
                   "--witness", "Nurse Joy", "--passphrase-file", str(pass_file), "--json")
    assert given.exit_code == 0 and json.loads(given.stdout)["active"] is True
    withdrawn = invoke("patient", "consent", code, "--withdraw", "--passphrase-file", str(pass_file), "--json")
    assert json.loads(withdrawn.stdout)["active"] is False
    shown = json.loads(invoke("patient", "show", code, "--json", "--passphrase-file", str(pass_file)).stdout)
    assert [h["action"] for h in shown["consent"]["history"]] == ["given", "withdrawn"]
    assert invoke("patient", "consent", code, "--passphrase-file", str(pass_file)).exit_code == 2


def test_archive_asks_for_confirmation_without_a_terminal(cli_store, pass_file):
    code = json.loads(invoke("patient", "add", "--name", "Ana", "--json", "--passphrase-file",
                             str(pass_file)).stdout)["code"]
    refused = invoke("patient", "archive", code, "--passphrase-file", str(pass_file))
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert invoke("patient", "archive", code, "--yes", "--passphrase-file", str(pass_file)).exit_code == 0
    assert json.loads(invoke("patient", "list", "--json", "--passphrase-file", str(pass_file)).stdout) == []


def test_patient_fields_from_json_input(cli_store, pass_file, tmp_path):
    source = tmp_path / "patient.json"
    source.write_text(json.dumps({"name": "José Núñez", "birth_year": 1966, "language": "es"}))
    result = invoke("patient", "add", "--input", str(source), "--json", "--passphrase-file", str(pass_file))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["display_name"] == "José Núñez"


def test_audit_commands(cli_store, pass_file):
    invoke("patient", "add", "--name", "Ana", "--passphrase-file", str(pass_file))
    log = invoke("audit", "log", "--json", "--passphrase-file", str(pass_file))
    actions = [e["action"] for e in json.loads(log.stdout)]
    assert "store.init" in actions and "patient.add" in actions
    since = invoke("audit", "log", "--json", "--since", "2999-01-01", "--passphrase-file", str(pass_file))
    assert json.loads(since.stdout) == []
    ok = invoke("audit", "verify", "--json", "--passphrase-file", str(pass_file))
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True


def test_store_commands(cli_store, pass_file, tmp_path):
    info = json.loads(invoke("store", "info", "--json", "--passphrase-file", str(pass_file)).stdout)
    assert info["path"] == str(cli_store) and info["schema_version"] >= 1
    check = invoke("store", "check", "--json", "--passphrase-file", str(pass_file))
    assert check.exit_code == 0 and json.loads(check.stdout)["ok"] is True
    backup = invoke("store", "backup", str(tmp_path / "bk"), "--passphrase-file", str(pass_file))
    assert backup.exit_code == 0, backup.stderr
    assert invoke("patient", "list", "--store", str(tmp_path / "bk"), "--passphrase-file",
                  str(pass_file)).exit_code == 0
    assert invoke("store", "rekey", "--passphrase-file", str(pass_file)).exit_code == 2
    assert invoke("store", "rekey", "--yes", "--passphrase-file", str(pass_file)).exit_code == 0
    new_pass = tmp_path / "new"
    new_pass.write_text("another passphrase\n")
    assert invoke("store", "passwd", "--passphrase-file", str(pass_file), "--new-passphrase-file",
                  str(new_pass)).exit_code == 0
    assert invoke("patient", "list", "--passphrase-file", str(new_pass)).exit_code == 0


def test_store_check_reports_a_tampered_audit_log_with_exit_6(cli_store, pass_file):
    from telecbt_cli.core.store.unlock import unlock

    access = unlock(cli_store, ADMIN, ADMIN_PASS)
    access.store.conn.execute("DROP TRIGGER audit_log_no_update")
    access.store.conn.execute("UPDATE audit_log SET action = 'nothing' WHERE seq = 2")
    access.close()
    assert invoke("store", "check", "--passphrase-file", str(pass_file)).exit_code == 6
    verify = invoke("audit", "verify", "--passphrase-file", str(pass_file))
    assert verify.exit_code == 6 and "entry 2" in verify.stderr


def test_recover_command(tmp_path, pass_file):
    store = tmp_path / "r"
    init = invoke("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file), "--json")
    key = json.loads(init.stdout)["recovery_key"]
    key_file = tmp_path / "key.txt"
    key_file.write_text(key + "\n")
    new_pass = tmp_path / "new"
    new_pass.write_text("recovered passphrase\n")
    result = invoke("store", "recover", "--store", str(store), "--user", ADMIN, "--recovery-key-file",
                    str(key_file), "--new-passphrase-file", str(new_pass))
    assert result.exit_code == 0, result.stderr
    assert invoke("patient", "list", "--store", str(store), "--passphrase-file", str(new_pass)).exit_code == 0


def test_paths_and_demo(monkeypatch):
    paths = json.loads(invoke("paths", "--json").stdout)
    assert paths["demo_store"].endswith("demo")
    first = invoke("demo", "--patients", "3", "--json")
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["created"] is True and summary["patients"] == 3
    again = json.loads(invoke("demo", "--patients", "5", "--json").stdout)
    assert again["created"] is False and again["patients"] == 5 and again["patients_added"] == 2


def test_unexpected_errors_hide_their_message(cli_store, pass_file, monkeypatch):
    """Guards against a traceback or exception text quoting patient data on screen."""
    from telecbt_cli.core.clinical import patients as core_patients

    def broken(*args, **kwargs):
        raise RuntimeError("Ana Secret-Name 1968")

    monkeypatch.setattr(core_patients, "list_patients", broken)
    result = invoke("patient", "list", "--passphrase-file", str(pass_file))
    assert result.exit_code == 1
    assert "Secret-Name" not in result.stderr + result.stdout
    assert "RuntimeError" in result.stderr and "TELECBT_DEBUG" in result.stderr


def test_group_help_in_the_root_listing_matches_each_group():
    """Guards the static help texts that keep `telecbt --help` from importing every group."""
    import importlib

    from telecbt_cli.cli import GROUP_HELP, LAZY_GROUPS

    for name, module in LAZY_GROUPS.items():
        assert importlib.import_module(f"telecbt_cli.commands.{module}").app.info.help == GROUP_HELP[name], name
    listing = invoke("--help").stdout
    for name in LAZY_GROUPS:
        assert name in listing
