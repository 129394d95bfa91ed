"""Issue 17 review, point 4: at 80x24 a long dialog keeps its title and its Save/Cancel buttons on
screen and scrolls only its fields; the bundle screen opens at its top, on its first field."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, Select

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import appointments
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.checkins import RecordScreen, ScheduleScreen
from telecbt_cli.tui.common import tr
from tests.tui.helpers import screen_text, settle, staff_app


@pytest.fixture
def booked(created) -> tuple[str, dict]:
    """A patient with a session booked for cbt-01 (whose fidelity checklist is long); store closed."""
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language="es"))
    record_consent(access, patient["code"], "verbal", "v1")
    session = appointments.schedule(access, load(), patient["code"], "2099-01-05 10:00", "video", "cbt-01")
    access.close()
    return patient["code"], session


def _framed(app, title: str, buttons: tuple[str, ...], first: str | None = None) -> None:
    """The dialog's title and buttons are on the screen (not scrolled away), in full; so is the label
    of its first field (`first`) when it has just opened."""
    text = screen_text(app)
    if first is not None:
        assert first in text, f"{first!r} scrolled away:\n{text}"
    flat = " ".join(text.replace("█", " ").replace("▊", " ").replace("▎", " ").split())
    assert " ".join(title.split()) in flat, text
    for label in buttons:
        assert label in text, f"{label!r} not on screen:\n{text}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_record_attended_keeps_title_and_buttons_while_its_fields_scroll(booked, store_dir, lang):
    """Finding: with the fidelity checklist the dialog scrolled as a whole, so its title (which says
    which session) left the screen at once and Save was below the fold."""
    code, session = booked

    async def run() -> None:
        async with staff_app(store_dir, lang=lang, patient=code) as (app, pilot):
            dialog = RecordScreen(session, "attended")
            app.push_screen(dialog)
            await settle(app, pilot)
            title = dialog.title_text()
            buttons = (tr(app, "common.save"), tr(app, "common.cancel"))
            _framed(app, title, buttons, tr(app, "checkin.feedback"))
            assert app.focused is dialog.query_one("#checkin-feedback")
            dialog.query_one("#checkin-notes", Input).focus()  # the last field, below the checklist
            await settle(app, pilot)
            _framed(app, title, buttons)

    asyncio.run(run())


@pytest.mark.parametrize("lang", ["en", "es"])
def test_schedule_keeps_title_and_buttons_on_every_field(booked, store_dir, lang):
    """Finding: the schedule dialog opened one line down, its title cut, Save out of sight."""
    code, _ = booked

    async def run() -> None:
        async with staff_app(store_dir, lang=lang, patient=code) as (app, pilot):
            dialog = ScheduleScreen(code, module="cbt-02")
            app.push_screen(dialog)
            await settle(app, pilot)
            buttons = (tr(app, "common.save"), tr(app, "common.cancel"))
            _framed(app, dialog.title_text(), buttons, tr(app, "checkin.when"))
            assert app.focused is dialog.query_one("#checkin-when", Input)
            dialog.query_one("#checkin-link", Input).focus()
            await settle(app, pilot)
            _framed(app, dialog.title_text(), buttons)
            assert dialog.query_one("#checkin-module", Select).value == "cbt-02"

    asyncio.run(run())


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_bundle_screen_opens_at_its_top_on_its_first_field(created, store_dir, lang):
    """Finding: with no trusted device yet, the "no devices" line scrolled the screen to its end on
    opening: the title and the export fields were out of sight, the focus on a field not shown."""
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, lang=lang) as (app, pilot):
            await pilot.press("f5")
            await settle(app, pilot)
            screen = app.screen
            assert screen.query_one("#bundles").scroll_y == 0
            assert tr(app, "bundles.title") in screen_text(app)
            assert app.focused is screen.query_one("#peer", Select)
            assert tr(app, "bundles.no_peers").split(":")[0] in screen.results_text  # the line is still there

    asyncio.run(run())


@pytest.mark.parametrize("lang", ["en", "es"])
def test_settings_keeps_its_title_and_close_button(created, store_dir, lang):
    """Finding: Settings (F2) at 80x24 scrolled as a whole and opened without its title."""
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, lang=lang) as (app, pilot):
            await pilot.press("f2")
            await settle(app, pilot)
            _framed(app, tr(app, "settings.title"), (tr(app, "common.close"),), tr(app, "settings.language"))
            app.screen.query_one("#idle").focus()  # the last choices, at the bottom
            await settle(app, pilot)
            _framed(app, tr(app, "settings.title"), (tr(app, "common.close"),))

    asyncio.run(run())
