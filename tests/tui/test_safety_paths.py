"""The staff TUI and the kiosk with a clinic's content folder: its modules and its crisis contacts.

Issue 12.11: both interfaces load the same catalog as the commands, from `--content` or
TELECBT_CONTENT_PATH, so the clinic's module is in their choosers. Issue 11.1: a safety answer
shows the clinic's crisis text in the patient's language (whatever the staff's), and the built-in
text only when the clinic set none. Between them the two paths cover the option, the environment
and the fallback in both languages (each variant costs a whole app run).
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import pins
from telecbt_cli.core.clinical import alerts, engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, patient_id_for, record_consent
from telecbt_cli.tui.kiosk import DueScreen, ExerciseScreen, make_kiosk
from telecbt_cli.tui.patients import PickScreen
from telecbt_cli.tui.runner import CrisisScreen
from tests.clinic import BUILT_IN, CRISIS, EXERCISE_TITLE, PHONE, write_clinic
from tests.tui.helpers import check_store, kiosk_sign_in, screen_text, settle, staff_app

PIN = "4821"


def _patient(access, lang: str) -> str:
    """A patient preferring `lang`, with a PHQ-9 saved up to item 8, so a run resumes at item 9."""
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], PIN)
    phq9 = load().get("instrument", "phq9")
    run, _ = engine.start(access, patient["code"], phq9, lang)
    for _ in range(8):
        engine.answer(run, phq9, 1)
    engine.save(access, run)
    return patient["code"]


def _content(tmp_path, monkeypatch, how: str):
    """The `content` argument an interface gets, after setting the environment as `how` says:
    "option" and "none" (a clinic folder that sets no crisis text) pass the folder, "env" sets
    TELECBT_CONTENT_PATH and passes nothing."""
    folder = write_clinic(tmp_path / "clinic", crisis=how != "none")
    if how == "env":
        monkeypatch.setenv("TELECBT_CONTENT_PATH", str(folder))
        return None
    return folder


def _check_guidance(shown: str, how: str, lang: str) -> None:
    flat = " ".join(shown.replace("│", " ").replace("▌", " ").replace("▐", " ").split())
    if how == "none":
        assert BUILT_IN[lang] in flat and CRISIS[lang] not in flat
    else:
        assert CRISIS[lang] in flat and PHONE in flat and BUILT_IN[lang] not in flat


def _alerts(store_dir, code: str) -> list[str]:
    return [a["rule_id"] for a in check_store(store_dir, lambda a: alerts.list_alerts(a, patient_id_for(a, code)))]


@pytest.mark.parametrize(("how", "lang"), [("option", "en"), ("env", "es"), ("none", "es")])
def test_staff_app_offers_the_clinic_module_and_shows_its_crisis_text(
        created, store_dir, tmp_path, monkeypatch, how, lang):
    code = _patient(created.access, lang)
    created.access.close()
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        async with staff_app(store_dir, patient=code, content=content, size=(80, 40)) as (app, pilot):
            await pilot.press("f5")
            await pilot.pause()
            assert isinstance(app.screen, PickScreen)
            ids = [opt.id for opt in app.screen.query_one("#pick").options]
            assert "clinic-checkin" in ids and "cbt-01" in ids
            await pilot.press("escape", "f4")
            await pilot.pause()
            picker = app.screen.query_one("#pick")
            picker.highlighted = [opt.id for opt in picker.options].index("phq9")
            await pilot.press("enter")
            await settle(app, pilot)
            await pilot.press("1")  # item 9: "several days"
            await settle(app, pilot)
            assert isinstance(app.screen, CrisisScreen)
            _check_guidance(screen_text(app), how, lang)  # the patient's language; the staff's is English

    asyncio.run(run())
    assert _alerts(store_dir, code) == ["phq9-self-harm"]


@pytest.mark.parametrize(("how", "lang"), [("option", "es"), ("env", "en"), ("none", "en")])
def test_kiosk_offers_the_clinic_exercise_and_shows_its_crisis_text(
        created, store_dir, tmp_path, monkeypatch, how, lang):
    access = created.access
    code = _patient(access, lang)
    content = _content(tmp_path, monkeypatch, how)

    async def run() -> None:
        app = make_kiosk(access, store_dir, content=content)
        async with app.run_test(size=(80, 40)) as pilot:
            await kiosk_sign_in(app, pilot, code, PIN, lang)
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            assert EXERCISE_TITLE[lang] in screen_text(app)
            await pilot.press("escape", "f2")
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            next(b for b in app.screen.query(Button) if b.name == "phq9").press()
            await settle(app, pilot)
            await pilot.press("1")
            await settle(app, pilot)
            assert isinstance(app.screen, CrisisScreen)
            _check_guidance(screen_text(app), how, lang)

    asyncio.run(run())
    assert _alerts(store_dir, code) == ["phq9-self-harm"]
