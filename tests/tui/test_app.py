"""The staff TUI driven by Textual's pilot, checking what reaches the store."""

from __future__ import annotations

import asyncio

from telecbt_cli.core import diary
from telecbt_cli.core.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.unlock import unlock
from telecbt_cli.tui.app import PatientScreen, PatientsScreen, SignInScreen, make_app
from tests.conftest import ADMIN, ADMIN_PASS

HOSTILE = "[/] [link=http://x]Ana[/link] @click=app.quit \x1b]52;c;aGk=\x07"


async def _settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_sign_in_list_open_and_add_a_pain_entry(created, store_dir):
    access = created.access
    patient = add_patient(access, PatientFields(display_name=HOSTILE, language="es"))
    record_consent(access, patient["code"], "verbal", "v1")
    access.close()

    async def run() -> None:
        app = make_app(store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            assert isinstance(app.screen, SignInScreen)
            app.screen.query_one("#user").value = ADMIN
            app.screen.query_one("#passphrase").value = "not the passphrase"
            await pilot.press("enter")
            await _settle(app, pilot)
            assert isinstance(app.screen, SignInScreen)
            assert "wrong passphrase" in str(app.screen.query_one("#signin-error").render())
            app.screen.query_one("#passphrase").value = ADMIN_PASS
            app.screen.query_one("#passphrase").focus()
            await pilot.press("enter")
            await _settle(app, pilot)
            assert isinstance(app.screen, PatientsScreen)
            await _settle(app, pilot)
            table = app.screen.query_one("DataTable")
            assert table.row_count == 1
            name_cell = table.get_row_at(0)[1]
            assert "[link=http://x]" in name_cell.plain and "\x1b" not in name_cell.plain
            table.focus()
            await pilot.press("enter")
            await _settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            await pilot.press("d")
            for key in ("1", "2"):
                await pilot.press(key)
            await pilot.press("enter")
            await _settle(app, pilot)
            assert "0 to 10" in str(app.screen.query_one("#diary-status").render())
            app.screen.query_one("#pain").value = "6"
            await pilot.press("enter")
            await _settle(app, pilot)
            assert "Saved" in str(app.screen.query_one("#diary-status").render())

    asyncio.run(run())
    check = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert [e["pain"] for e in diary.list_entries(check, patient["code"])] == [6]
    finally:
        check.close()


def test_the_tui_command_refuses_to_run_without_a_terminal(store_dir, created):
    from typer.testing import CliRunner

    from telecbt_cli.cli import app

    result = CliRunner().invoke(app, ["tui", "--store", str(store_dir)])
    assert result.exit_code == 2 and "needs a terminal" in result.stderr
