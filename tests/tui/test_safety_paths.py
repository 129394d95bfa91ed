"""The staff TUI and the kiosk with a clinic's content folder: its modules and its crisis contacts.

Issue 12.11: both interfaces load the same catalog as the commands, from `--content` or
TELECBT_CONTENT_PATH. Issue 11.1: a safety answer shows the clinic's crisis text in the patient's
language, and the built-in text only when the clinic set none.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button

from telecbt_cli.core.care import pins
from telecbt_cli.core.clinical import alerts, engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, patient_id_for, record_consent
from telecbt_cli.tui.app import make_app
from telecbt_cli.tui.kiosk import DueScreen, ExerciseScreen, make_kiosk
from telecbt_cli.tui.patients import PatientScreen, PickScreen
from telecbt_cli.tui.runner import CrisisScreen
from tests.clinic import BUILT_IN, CRISIS, EXERCISE_TITLE, PHONE, write_clinic
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import check_store, kiosk_sign_in, screen_text, settle

PIN = "4821"
#: How the clinic folder reaches the interface: the --content option, the environment, or not at all.
VARIANTS = [("option", "en"), ("option", "es"), ("env", "en"), ("env", "es"), ("none", "en"), ("none", "es")]


def _patient(access, lang: str) -> str:
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], PIN)
    return patient["code"]


def _content(tmp_path, monkeypatch, how: str):
    """The `content` argument an interface gets, after setting the environment as `how` says.

    "none" is a clinic folder that sets no crisis text, given as the option."""
    folder = write_clinic(tmp_path / "clinic", crisis=how != "none")
    if how == "env":
        monkeypatch.setenv("TELECBT_CONTENT_PATH", str(folder))
        return None
    return folder


def _at_item_9(access, code: str, lang: str) -> None:
    """A PHQ-9 already answered up to item 8 (saved), so the interface resumes at item 9."""
    from telecbt_cli.content.catalog import load

    phq9 = load().get("instrument", "phq9")
    run, _ = engine.start(access, code, phq9, lang)
    for _ in range(8):
        engine.answer(run, phq9, 1)
    engine.save(access, run)


def _check_guidance(shown: str, how: str, lang: str) -> None:
    flat = " ".join(shown.replace("│", " ").replace("▌", " ").replace("▐", " ").split())
    if how == "none":
        assert BUILT_IN[lang] in flat and CRISIS[lang] not in flat
    else:
        assert CRISIS[lang] in flat and PHONE in flat and BUILT_IN[lang] not in flat


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
            await kiosk_sign_in(app, pilot, code, PIN, "en")
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            assert EXERCISE_TITLE["en"] in screen_text(app)

    asyncio.run(run())


@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_staff_questionnaire_shows_the_clinic_crisis_text(created, store_dir, tmp_path, monkeypatch, how, lang):
    access = created.access
    code = _patient(access, lang)
    _at_item_9(access, code, lang)
    access.close()
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        app = make_app(store_dir, lang="en", content=content)
        async with app.run_test(size=(80, 40)) as pilot:
            await pilot.pause()
            from telecbt_cli.core.store.unlock import unlock

            app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
            await settle(app, pilot)
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            await pilot.press("q")
            await pilot.pause()
            picker = app.screen.query_one("#pick")
            picker.highlighted = [opt.id for opt in picker.options].index("phq9")
            await pilot.press("enter")
            await settle(app, pilot)
            await pilot.press("1")  # item 9: "several days"
            await settle(app, pilot)
            assert isinstance(app.screen, CrisisScreen)
            _check_guidance(screen_text(app), how, lang)  # the patient's language, whatever the staff's

    asyncio.run(run())
    opened = check_store(store_dir, lambda a: alerts.list_alerts(a, patient_id_for(a, code)))
    assert [a["rule_id"] for a in opened] == ["phq9-self-harm"]


@pytest.mark.parametrize(("how", "lang"), VARIANTS)
def test_kiosk_questionnaire_shows_the_clinic_crisis_text(created, store_dir, tmp_path, monkeypatch, how, lang):
    access = created.access
    code = _patient(access, lang)
    _at_item_9(access, code, lang)
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        app = make_kiosk(access, store_dir, content=content)
        async with app.run_test(size=(80, 40)) as pilot:
            await kiosk_sign_in(app, pilot, code, PIN, lang)
            await pilot.press("f2")
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            next(b for b in app.screen.query(Button) if b.name == "phq9").press()
            await settle(app, pilot)
            await pilot.press("1")
            await settle(app, pilot)
            assert isinstance(app.screen, CrisisScreen)
            _check_guidance(screen_text(app), how, lang)

    asyncio.run(run())
    opened = check_store(store_dir, lambda a: alerts.list_alerts(a, patient_id_for(a, code)))
    assert [a["rule_id"] for a in opened] == ["phq9-self-harm"]
