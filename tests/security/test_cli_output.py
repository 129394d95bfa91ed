"""Issue 12 point 3: every text output is safe for where it goes (terminal, CSV for spreadsheets, JSON).

- tables and messages (terminals): control, bidi and invisible characters shown as visible escapes;
- `--csv` (spreadsheets): the same, and formula prefixes quoted with `'` (OWASP), unless `--raw`;
- `--csv --raw` (programs): cells exactly as stored, except on a terminal;
- `--json` (programs): exact values; what could steer a terminal is a JSON escape, so nothing is lost.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.core.store.textsafe import UNSAFE_CLASS
from tests.conftest import ADMIN_PASS, read_until, telecbt_cmd

runner = CliRunner()
NASTY = "[/] [bold]x[/bold] [link=http://evil.example]click[/link] \x1b]52;c;aGVsbG8=\x07 @click=quit"
#: Terminal escapes, a C1 CSI, CR, NUL, a bidi override and a zero-width space.
CONTROLS = "\x1b]0;pwned\x07\x1b[2J\x9b31m\r\x00\u202egnp.exe\u200b"
FORMULAS = ("=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1")
UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def hostile(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store with patients named like spreadsheet formulas, and one full of control characters."""
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--admin", "alice", "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    codes = {}
    for name in (*FORMULAS, "Ana " + CONTROLS):
        added = invoke("patient", "add", "--input", "-", "--json",
                       input=json.dumps({"display_name": name, "notes": CONTROLS + " =1+1"}))
        assert added.exit_code == 0, added.stderr
        codes[name] = json.loads(added.stdout)["code"]
    code = codes["Ana " + CONTROLS]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
    assert invoke("diary", "add", code, "--pain", "6", "--note", "=cmd|'/C calc'!A0 " + CONTROLS.replace("\x00", "")
                  ).exit_code == 0
    return codes


def test_csv_for_spreadsheets_quotes_formulas_and_shows_controls(hostile):
    """Guards the attack: `--csv` to a pipe carried ESC/BEL/CR/NUL and bidi controls, and cells starting with
    = + - @ as they were (formulas in a spreadsheet)."""
    result = invoke("patient", "list", "--csv")
    assert result.exit_code == 0, result.stderr
    assert not UNSAFE.search(result.stdout.replace("\n", ""))
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    for name in FORMULAS:
        assert rows[hostile[name]]["display_name"] == "'" + name
    ana = rows[hostile["Ana " + CONTROLS]]
    assert ana["display_name"] == "Ana \\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x0d\\x00\\u202egnp.exe\\u200b"
    diary = invoke("diary", "list", hostile["Ana " + CONTROLS], "--csv")
    assert diary.exit_code == 0 and not UNSAFE.search(diary.stdout.replace("\n", ""))
    note = next(csv.DictReader(io.StringIO(diary.stdout)))["note"]
    assert note.startswith("'=cmd|") and "\\x1b]0;pwned" in note


def test_raw_csv_and_json_keep_every_value_exactly(hostile):
    raw = invoke("patient", "list", "--csv", "--raw")
    assert raw.exit_code == 0, raw.stderr
    names = {r["display_name"] for r in csv.DictReader(io.StringIO(raw.stdout, newline=""))}
    assert names == set(hostile)  # programs get exactly what is stored
    as_json = invoke("patient", "list", "--json")
    assert {r["display_name"] for r in json.loads(as_json.stdout)} == set(hostile)
    assert not UNSAFE.search(as_json.stdout.replace("\n", ""))  # each is a \\u escape in the JSON text
    assert invoke("patient", "list", "--raw").exit_code == 2  # --raw only means something with --csv


@pytest.mark.slow
def test_nothing_written_to_a_terminal_carries_control_characters(hostile):
    """Tables, `--csv`, `--csv --raw` and `--json` on a real terminal (a pty)."""
    code = hostile["Ana " + CONTROLS]
    for args, marker in ((["patient", "list"], "Ana"), (["patient", "list", "--csv"], "Ana"),
                         (["patient", "list", "--csv", "--raw"], "Ana"), (["patient", "list", "--json"], "Ana"),
                         (["patient", "show", code], "Ana"), (["diary", "list", code, "--csv", "--raw"], "calc")):
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), *args], os.environ)
        out = read_until(fd, b"\x00never\x00", timeout=30)
        os.waitpid(pid, 0)
        os.close(fd)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode("utf-8"))  # our own colours and bold, if any
        assert marker in text, args
        assert not UNSAFE.search(text.replace("\r\n", "\n").replace("\n", "")), (args, text[-400:])


def test_markup_and_escapes_in_patient_text_are_printed_inert(tmp_path, pass_file, monkeypatch):
    store = tmp_path / "cli-store"
    assert invoke("init", "--store", str(store), "--passphrase-file", str(pass_file), "--json").exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    add = invoke("patient", "add", "--name", NASTY, "--notes", NASTY, "--passphrase-file", str(pass_file), "--json")
    assert add.exit_code == 0, add.stderr
    code = json.loads(add.stdout)["code"]
    for args in (("patient", "list"), ("patient", "show", code)):
        result = invoke(*args, "--passphrase-file", str(pass_file))
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "[/]" in result.stdout and "[link=http://evil.example]" in result.stdout
        assert "\\x1b]52" in result.stdout
    shown = invoke("patient", "show", code, "--json", "--passphrase-file", str(pass_file))
    assert json.loads(shown.stdout)["notes"] == NASTY
    assert "\x1b" not in shown.stdout


def test_diary_notes_and_messages_are_printed_inert(hostile):
    code = hostile["Ana " + CONTROLS]
    assert invoke("diary", "add", code, "--pain", "6", "--note", "[/] \x1b]52;c;aGk=\x07").exit_code == 0
    table = invoke("diary", "list", code)
    assert "[/]" in table.stdout and "\x1b" not in table.stdout
    assert invoke("message", "send", code, "Hi [bold]there[/bold] \x1b[2J").exit_code == 0
    shown = invoke("message", "list", code)
    assert "\x1b" not in shown.stdout and "[bold]" in shown.stdout


def test_content_text_with_markup_is_shown_inert(tmp_path):
    folder = tmp_path / "clinic" / "modules"
    folder.mkdir(parents=True)
    from tests.content.test_validator import GOOD_MODULE

    (folder / "local-01.toml").write_text(GOOD_MODULE, encoding="utf-8")
    result = invoke("module", "show", "local-01", "--content", str(tmp_path / "clinic"))
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout


def test_step_headers_and_crisis_panel_show_content_markup_as_text():
    """Guards the Rich calls that take titles (rule, Panel): a str there is read as markup."""
    from rich.console import Console

    from telecbt_cli.commands.steps import StepRenderer
    from telecbt_cli.content import catalog as cat
    from telecbt_cli.core.clinical import engine

    built, _ = cat.build([cat.BUILTIN_DIR])
    module = {**built.get("module", "cbt-01"), "title": {"en": "[bold red]Hi[/] [link=http://x]y[/link]",
                                                        "es": "x"}}
    renderer = StepRenderer(built, "en")
    renderer.console = Console(record=True, width=120, force_terminal=False)
    run = engine.new_run("p", module, "en")
    renderer.header(run, module, engine.current(run, module))
    text = renderer.console.export_text()
    assert "[bold red]Hi[/] [link=http://x]y[/link]" in text
