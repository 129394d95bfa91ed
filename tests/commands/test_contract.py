"""The scripting contract, checked over every command of the tree (issue 16, point 4).

Walks the whole Typer tree (tests/command_tree.py), so a command added later cannot
escape: help, --json, --csv on listings, metavars, the README and the group help.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from telecbt_cli import __version__
from tests.command_tree import all_commands, groups, leaves
from tests.commands.clirun import invoke, invoke_json
from tests.conftest import ADMIN

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")

#: Commands without --json, each with the reason.
NO_JSON = {
    "tui": "a full-screen terminal app: there is no document to print",
    "kiosk": "a full-screen terminal app for patients: there is no document to print",
}
#: Listings (tabular rows) besides the commands called `list`: each takes --csv.
LISTINGS = {"audit log", "measure history", "bundle conflicts", "report program"}
ARGUMENT_METAVAR = re.compile(r"^[A-Z][A-Z0-9_-]*$")
OPTION_METAVAR = re.compile(r"^<[^<>\s]+>$")


def _help(*path: str) -> str:
    result = invoke(*path, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, (path, result.output)
    return result.stdout


def test_the_walker_finds_the_whole_tree():
    names = {c.name for c in all_commands()}
    assert len(leaves()) >= 70
    for expected in ("init", "patient pin set", "plan homework done", "bundle outbox retry", "export fhir"):
        assert expected in names


@pytest.mark.parametrize("command", all_commands()[1:], ids=lambda c: c.name)
def test_every_command_has_help_for_itself_and_each_option(command):
    assert (command.command.help or "").strip(), command.name
    for param in command.command.params:
        assert (getattr(param, "help", None) or "").strip(), (command.name, param.name)
    assert "Usage: telecbt " + command.name in " ".join(_help(*command.path).split())


def test_every_command_prints_json_unless_exempt():
    missing = [c.name for c in leaves() if "--json" not in c.options() and c.name not in NO_JSON]
    assert missing == []
    for name in NO_JSON:
        assert name in {c.name for c in leaves()}, f"stale exemption {name}"


def _listings() -> list:
    return [c for c in leaves() if c.path[-1] == "list" or c.name in LISTINGS]


def test_every_listing_takes_csv():
    assert len(_listings()) >= 15
    assert [c.name for c in _listings() if "--csv" not in c.options()] == []


def test_every_listing_prints_csv_rows_under_one_header(cli_store, pass_file):
    """Runs each listing of the tree with --csv on a store with a patient in it."""
    pw = ("--passphrase-file", str(pass_file))
    code = invoke_json("patient", "add", "--name", "Ana", *pw)["code"]
    invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", *pw)
    invoke("diary", "add", code, "--pain", "4", *pw)
    for command in _listings():
        arguments = [code if a.name in ("patient", "code") else None for a in command.arguments() if a.required]
        assert None not in arguments, f"{command.name}: give this test a value for its arguments"
        result = invoke(*command.path, *arguments, "--csv", *(pw if "--passphrase-file" in command.options() else ()))
        assert result.exit_code == 0, (command.name, result.stderr)
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert len(rows[0]) >= 2 and {len(r) for r in rows} == {len(rows[0])}, command.name


def test_commands_that_gained_json_print_one_document(cli_store, pass_file, tmp_path):
    pw = ("--passphrase-file", str(pass_file))
    pin = tmp_path / "pin"
    pin.write_text("2468\n")
    code = invoke_json("patient", "add", "--name", "Ana", *pw)["code"]
    assert invoke_json("patient", "pin", "set", code, "--pin-file", str(pin), *pw) == {
        "code": code, "set": True, "locked": False}
    assert invoke_json("patient", "pin", "unlock", code, *pw) == {"code": code, "locked": False}
    assert invoke_json("patient", "archive", code, "--yes", *pw)["status"] == "archived"
    other = tmp_path / "other"
    other.write_text("other passphrase 1\n")
    invoke("user", "add", "bob", "--role", "viewer", "--new-passphrase-file", str(other), *pw)
    assert invoke_json("user", "disable", "bob", "--yes", *pw)["disabled"] is True
    assert invoke_json("store", "passwd", "--new-passphrase-file", str(other), *pw) == {"user": ADMIN, "changed": True}


def test_metavars_follow_one_style():
    """Arguments are named in capitals (CODE, ENTRY); option values show their type; flags show none."""
    for command in leaves():
        for param in command.command.params:
            if param.param_type_name == "argument":
                assert param.metavar and ARGUMENT_METAVAR.match(param.metavar), (command.name, param.name)
            elif getattr(param, "is_flag", False):
                assert not param.metavar, (command.name, param.name)
            else:
                assert param.metavar is None or OPTION_METAVAR.match(param.metavar), (command.name, param.name)
    for path in (("plan", "set"), ("session", "record"), ("bundle", "outbox", "retry"), ()):
        shown = _help(*path)
        assert "<bool>" not in shown and "[[" not in shown and "{patient}" not in shown, path


def test_every_group_names_its_subcommands_in_its_help():
    for group in groups()[1:]:
        summary = group.command.help or ""
        for sub in group.subcommands():
            assert re.search(rf"\b{re.escape(sub)}\b", summary), f"`{group.name}` help does not name {sub}"


def test_every_command_is_in_the_readme():
    lines = [" ".join(line.split()) for line in README.splitlines()]
    for command in leaves():
        *parents, leaf = command.path
        pattern = re.compile(rf"telecbt {re.escape(' '.join(parents)) + ' ' if parents else ''}"
                             rf"(?:[^#]*[\s|;/])?{re.escape(leaf)}\b")
        assert any(pattern.search(line) for line in lines), f"README never shows `telecbt {command.name}`"


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"telecbt {__version__}\n"


def test_root_help_lists_the_global_options():
    shown = _help()
    for option in ("--store", "--user", "--passphrase-file", "--passphrase-fd", "--version"):
        assert option in shown


def test_global_options_before_the_command(cli_store, pass_file, monkeypatch):
    """`telecbt --store S --passphrase-file F patient list` works as with the options after it."""
    monkeypatch.delenv("TELECBT_STORE")
    made = invoke("--store", str(cli_store.parent / "second"), "--passphrase-file", str(pass_file), "init", "--json")
    assert made.exit_code == 0 and (cli_store.parent / "second" / "telecbt.db").exists()
    before = invoke("--store", str(cli_store), "--user", ADMIN, "--passphrase-file", str(pass_file),
                    "patient", "add", "--name", "Ana", "--json")
    assert before.exit_code == 0, before.stderr
    listed = invoke("--store", str(cli_store), "patient", "list", "--json", "--passphrase-file", str(pass_file))
    assert [p["display_name"] for p in json.loads(listed.stdout)] == ["Ana"]
    elsewhere = invoke("--store", str(cli_store.parent / "nowhere"), "patient", "list", "--store", str(cli_store),
                       "--passphrase-file", str(pass_file))
    assert elsewhere.exit_code == 0, "the command's own option wins over the one before it"
    assert invoke("--store", str(cli_store.parent / "nowhere"), "patient", "list",
                  "--passphrase-file", str(pass_file)).exit_code == 4
