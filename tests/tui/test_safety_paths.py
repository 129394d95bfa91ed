"""The staff TUI and the kiosk with a clinic's content folder: its modules and its crisis contacts.

Issue 12.11: both interfaces load the same catalog as the commands, from `--content` or
TELECBT_CONTENT_PATH. Issue 11.1: a safety answer shows the clinic's crisis text in the patient's
language, and the built-in text only when the clinic set none.
"""

from __future__ import annotations

import asyncio

import pytest

from telecbt_cli.core.care import pins
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.app import make_app
from telecbt_cli.tui.kiosk import ExerciseScreen, HomeScreen, LanguageScreen, PatientSignInScreen, make_kiosk
from telecbt_cli.tui.patients import PatientScreen, PickScreen
from tests.clinic import BUILT_IN, CRISIS, EXERCISE_TITLE, write_clinic
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import screen_text, settle

PIN = "4821"
#: How the clinic folder reaches the interface: the --content option, the environment, or not at all.
VARIANTS = [("option", "en"), ("option", "es"), ("env", "en"), ("env", "es"), ("none", "en"), ("none", "es")]


def _patient(access, lang: str) -> str:
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], PIN)
    return patient["code"]


def _content(tmp_path, monkeypatch, how: str):
    """The `content` argument an interface gets, after setting the environment as `how` says."""
    folder = write_clinic(tmp_path / "clinic", crisis=how != "none")
    if how == "env":
        monkeypatch.setenv("TELECBT_CONTENT_PATH", str(folder))
        return None
    return folder if how == "option" else None


def _expected(how: str, lang: str) -> str:
    return BUILT_IN[lang] if how == "none" else CRISIS[lang]


@pytest.mark.parametrize("how", ["option", "env"])
def test_staff_app_offers_the_clinic_module(created, store_dir, tmp_path, monkeypatch, how):
    code = _patient(created.access, "en")
    created.access.close()
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        app = make_app(store_dir, lang="en", content=content)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            from telecbt_cli.core.store.unlock import unlock

            app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
            await settle(app, pilot)
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            await pilot.press("m")
            await pilot.pause()
            assert isinstance(app.screen, PickScreen)
            ids = [opt.id for opt in app.screen.query_one("#pick").options]
            assert "clinic-checkin" in ids and "cbt-01" in ids

    asyncio.run(run())


@pytest.mark.parametrize("how", ["option", "env"])
def test_kiosk_offers_the_clinic_exercise(created, store_dir, tmp_path, monkeypatch, how):
    access = created.access
    code = _patient(access, "en")
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        app = make_kiosk(access, store_dir, content=content)
        async with app.run_test(size=(80, 24)) as pilot:
            await _kiosk_sign_in(app, pilot, code, "en")
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            assert EXERCISE_TITLE["en"] in screen_text(app)

    asyncio.run(run())


async def _kiosk_sign_in(app, pilot, code: str, lang: str) -> None:
    await pilot.pause()
    assert isinstance(app.screen, LanguageScreen)
    if lang != "en":
        await pilot.press("tab")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, PatientSignInScreen)
    await pilot.press(*code, "enter", *PIN, "enter")
    await settle(app, pilot)
    assert isinstance(app.screen, HomeScreen)
