"""Issue 12 point 7: roles hold for every command, and a refusal of a role (exit 5) comes first.

Every command of the Typer tree (lazy groups included) runs as each role, with values that
other checks would refuse (an unknown patient, a bad date, --json with --csv), and the exit
code is compared with the table in docs/roles.md: 5 where the role may not run it, never 5
where it may.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.core.store.access import COMMANDS, PERMISSIONS, ROLES
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.ids import new_patient_code
from telecbt_cli.core.store.unlock import create_store
from telecbt_cli.core.store.users import add_user
from tests.conftest import ADMIN, ADMIN_PASS

ROOT = Path(__file__).resolve().parents[2]
STAFF = {"admin": (ADMIN, ADMIN_PASS), "clinician": ("cleo", "clinician passphrase 1"),
         "chw": ("cham", "community worker passphrase"), "viewer": ("vic", "viewer passphrase 1")}
ROW = re.compile(r"^\| `([a-z -]+)` \| (no sign-in|[a-z_]+)[^|]*\|((?: [a-z-]+ \|){4})$")
#: Commands whose permission depends on a value: (command, extra arguments, what they need).
VARIANTS = [("user passwd", ["nobody"], "manage"), ("settings", ["--timezone", "Africa/Nairobi"], "manage"),
            *[(f"export {kind}", ["--plaintext"], "write") for kind in ("csv", "ndjson", "fhir")]]


def documented() -> dict[str, tuple[str | None, set[str]]]:
    """docs/roles.md: command -> (permission, roles marked yes)."""
    table = {}
    for line in (ROOT / "docs" / "roles.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            marks = [m.strip() for m in match.group(3).strip(" |").split("|")]
            table[match.group(1)] = (None if match.group(2) == "no sign-in" else match.group(2),
                                     {role for role, mark in zip(ROLES, marks) if mark == "yes"})
    return table


def cli_commands() -> dict[str, typer.core.TyperCommand]:
    """Every leaf command of the CLI, by path (`patient pin set`), lazy groups loaded."""
    root = typer.main.get_command(app)
    found = {}

    def walk(command, path: list[str], parent) -> None:
        ctx = typer.Context(command, parent=parent, info_name=path[-1] if path else "telecbt")
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name], ctx)
        else:
            found[" ".join(path)] = command

    walk(root, [], None)
    return found


def test_the_table_in_the_docs_is_the_table_in_core_and_covers_every_command():
    docs = documented()
    assert set(docs) == set(cli_commands()) == set(COMMANDS)
    for command, (need, roles) in docs.items():
        assert need == COMMANDS[command], command
        assert roles == (set(PERMISSIONS[need]) if need else set()), command


@pytest.fixture
def staff_store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    access = create_store(store, ADMIN, ADMIN_PASS, KdfParams(10)).access
    try:
        for role, (name, secret) in STAFF.items():
            if role != "admin":
                add_user(access, name, role, secret, KdfParams(10))
    finally:
        access.close()
    for role, (_, secret) in STAFF.items():
        (tmp_path / f"{role}.pass").write_text(secret + "\n")
    return store


def _argv(command: typer.core.TyperCommand, tmp_path: Path, run: str) -> list[str]:
    """The required values (all pointing at nothing that exists), plus values later checks would refuse."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    (folder / "steps.csv").write_text("Date,Steps\n2026-01-01,100\n")
    dummies = {"patient": new_patient_code(), "code": new_patient_code(), "name": "nobody", "text": "hello",
               "file": str(folder / "steps.csv"), "paths": str(folder), "dest": str(tmp_path / f"backup-{run}"),
               "instrument": "phq9", "module": "cbt-01", "card": "not-a-card", "device": "nowhere",
               "label": "x", "role": "viewer", "at": "2030-01-01 10:00", "mode": "video", "note": "x",
               "out": str(tmp_path / f"out-{run}"), "ident": "0190aaaa-0000-7000-8000-000000000000"}
    argv = []
    for param in command.params:
        value = dummies.get(param.name, "0190aaaa-0000-7000-8000-000000000000")
        if param.param_type_name == "argument" and param.required:
            argv.append(value)
        elif param.param_type_name == "option" and param.required:
            argv += [param.opts[0], value]
    names = {param.name for param in command.params}
    if "since" in names:
        argv += ["--since", "2026-13-45"]
    if {"json_out", "csv_out"} <= names:
        argv += ["--json", "--csv"]
    return argv


def test_every_command_as_every_role(staff_store, tmp_path, monkeypatch):
    """Guards: a viewer could run `bundle export`; some refusals of a role were exit 2 (a value was
    checked before the role)."""
    monkeypatch.setenv("TELECBT_STORE", str(staff_store))
    runner = CliRunner()
    wrong = []
    runs = 0
    cases = [(path, [], need) for path, need in COMMANDS.items() if need] + VARIANTS
    commands = cli_commands()
    for path, extra, need in cases:
        for role, (name, _) in STAFF.items():
            runs += 1
            argv = [*path.split(), *_argv(commands[path], tmp_path, f"{runs}"), *extra,
                    "--user", name, "--passphrase-file", str(tmp_path / f"{role}.pass")]
            result = runner.invoke(app, argv)
            allowed = role in PERMISSIONS[need]
            if (result.exit_code == 5) == allowed:
                wrong.append(f"{' '.join(argv[:len(path.split()) + 3])} as {role}: exit {result.exit_code}, "
                             f"{'allowed' if allowed else 'refused'} by the table; {result.stderr.strip()[:160]}")
    assert not wrong, "\n".join(wrong)
    assert runs == 4 * len(cases)


def test_a_viewer_cannot_send_a_bundle_through_core_or_the_tui(staff_store, tmp_path):
    """Guards the attack: a viewer could run `bundle export` to a device or a bare age recipient; the
    bundle screen offered a viewer the export button (core allowed it: it asked only for `read`)."""
    import asyncio
    import io

    import pyrage
    from textual.widgets import Button, Static

    from telecbt_cli.core.store.errors import PermissionDenied
    from telecbt_cli.core.store.unlock import unlock
    from telecbt_cli.core.sync import bundles
    from telecbt_cli.tui.app import make_app
    from telecbt_cli.tui.bundles import BundleScreen
    from tests.tui.helpers import settle

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    viewer = unlock(staff_store, *STAFF["viewer"])
    try:
        with pytest.raises(PermissionDenied):
            bundles.export_bundle(viewer, io.BytesIO(), [recipient])
    finally:
        viewer.close()

    async def run() -> None:
        app = make_app(staff_store)
        async with app.run_test(size=(80, 24)) as pilot:
            app.signed_in(unlock(staff_store, *STAFF["viewer"]))
            await settle(app, pilot)
            app.push_screen(BundleScreen())
            await settle(app, pilot)
            screen = app.screen
            assert screen.query_one("#import", Button).disabled and screen.query_one("#export", Button).disabled
            assert "not send or import" in str(screen.query_one("#import-note", Static).render())

    asyncio.run(run())
