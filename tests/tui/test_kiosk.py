"""The patient kiosk through Textual's pilot: sign-in, quick pain entry, lockout, idle lock.

Attempts to leave the kiosk are in tests/security/test_kiosk_escape.py."""

from __future__ import annotations

import asyncio

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import diary, messages, pins
from telecbt_cli.core.clinical import measures
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.tui.kiosk import (
    DueScreen,
    ExerciseScreen,
    HomeScreen,
    LanguageScreen,
    MessagesScreen,
    PatientSignInScreen,
    ProgressScreen,
    make_kiosk,
)
from telecbt_cli.tui.runner import RunScreen
from tests.tui.helpers import HOSTILE, check_store, screen_text, settle

PIN = "4821"


def _patient(access, name: str, pin: str | None = PIN, lang: str = "es") -> str:
    patient = add_patient(access, PatientFields(display_name=name, language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    if pin:
        pins.set_pin(access, patient["code"], pin)
    return patient["code"]



async def _sign_in(app, pilot, code: str, pin: str = PIN, lang: str = "en") -> None:
    await pilot.pause()
    assert isinstance(app.screen, LanguageScreen)
    await pilot.press("enter" if lang == "en" else "tab")
    if lang != "en":
        await pilot.press("enter")
    for _ in range(40):  # a loaded machine may take a moment to push the sign-in screen
        await pilot.pause(0.05)
        if isinstance(app.screen, PatientSignInScreen):
            break
    assert isinstance(app.screen, PatientSignInScreen)
    await pilot.press(*code, "enter", *pin, "enter")
    await settle(app, pilot)


def test_language_first_then_pin_then_pain_in_two_keys(created, store_dir):
    access = created.access
    code = _patient(access, "Rosa Example")
    other = _patient(access, "Someone Else", pin="9999")

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            shown = screen_text(app)
            assert "English" in shown and "Español" in shown  # the first screen offers the languages
            await _sign_in(app, pilot, code, "0000", lang="es")
            assert isinstance(app.screen, PatientSignInScreen)
            assert "no es correcto" in screen_text(app)
            await pilot.press(*PIN, "enter")  # the code stays filled; focus is back on the PIN
            await settle(app, pilot)
            assert isinstance(app.screen, HomeScreen)
            shown = screen_text(app)
            assert "¿Cómo está su dolor ahora mismo?" in shown and "Rosa Example" in shown
            assert "Someone Else" not in shown and other not in shown
            await pilot.press("7", "enter")  # two key presses after sign-in
            await settle(app, pilot)
            assert "Guardado: dolor 7" in screen_text(app)

    asyncio.run(run())
    entries = check_store(store_dir, lambda a: diary.list_entries(a, code))
    assert [(e["pain"], e["source"]) for e in entries] == [(7, "kiosk")]
    assert check_store(store_dir, lambda a: diary.list_entries(a, other)) == []


def test_five_wrong_pins_lock_the_patient_until_staff_unlock(created, store_dir):
    access = created.access
    code = _patient(access, "Rosa Example")

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await _sign_in(app, pilot, code, "1111")
            for _ in range(4):
                await pilot.press("1", "1", "1", "1", "enter")
                await settle(app, pilot)
            assert "Too many wrong PINs" in screen_text(app)
            await pilot.press(*PIN, "enter")  # even the right PIN is refused now
            await settle(app, pilot)
            assert isinstance(app.screen, PatientSignInScreen)
            assert "Too many wrong PINs" in screen_text(app)

    asyncio.run(run())
    status = pins.pin_status(access, code)
    assert status["locked"] and status["failures"] >= 5
    pins.unlock_pin(access, code)
    assert pins.check_pin(access, code, PIN)


def test_idle_timeout_returns_to_the_language_screen_and_forgets_the_patient(created, store_dir):
    access = created.access
    code = _patient(access, "Rosa Idle")

    async def run() -> None:
        app = make_kiosk(access, store_dir, idle_seconds=600)
        async with app.run_test(size=(80, 24)) as pilot:
            await _sign_in(app, pilot, code)
            await pilot.press("f4")  # open "my progress", a screen full of this patient's data
            await settle(app, pilot)
            assert isinstance(app.screen, ProgressScreen)
            app.idle_seconds = 1  # from now (read at each tick): a loaded machine may take a second to get here
            for _ in range(60):  # one idle second, then the lock; a loaded machine may run the timer late
                await pilot.pause(0.25)
                if isinstance(app.screen, LanguageScreen):
                    break
            assert isinstance(app.screen, LanguageScreen)
            assert app.patient is None
            assert len(app.screen_stack) == 1  # every screen that showed the patient is gone
            assert "Rosa Idle" not in screen_text(app)

    asyncio.run(run())


def test_idle_timeout_also_clears_a_half_typed_sign_in(created, store_dir):
    access = created.access

    async def run() -> None:
        app = make_kiosk(access, store_dir, idle_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("enter")
            await pilot.press(*"ABCD-")
            await pilot.pause(2.5)
            assert isinstance(app.screen, LanguageScreen)
            assert "ABCD-" not in screen_text(app)

    asyncio.run(run())


def test_due_questionnaire_exercise_progress_and_messages(created, store_dir):
    access = created.access
    code = _patient(access, "Rosa Example", lang="en")
    other = _patient(access, "Other Person", pin="9999", lang="en")
    diary.add_entry(access, code, {"pain": 6})
    messages.send(access, code, "Keep going " + HOSTILE)
    messages.send(access, other, "Private note for someone else")

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await _sign_in(app, pilot, code)
            assert "Questionnaires waiting for you" in screen_text(app)
            await pilot.press("f2")
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            labels = [b.label.plain for b in app.screen.query(".choice")]
            assert any("PEG" in label for label in labels)
            peg = next(b for b in app.screen.query(".choice") if b.name == "peg3")
            peg.focus()
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            for value in ("6", "4", "5"):
                await pilot.press(value, "enter")
                await settle(app, pilot)
            assert "You finished" in screen_text(app)
            await pilot.press("enter")  # Close: back to the list, which no longer offers PEG
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            assert "peg3" not in [b.name for b in app.screen.query(".choice")]
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            assert [b.name for b in app.screen.query(".choice")] == ["practice-breathing",
                                                                     "practice-thought-record"]
            await pilot.press("escape", "f4")
            await settle(app, pilot)
            assert isinstance(app.screen, ProgressScreen)
            assert "Pain, last 4 weeks" in screen_text(app) and "PEG" in screen_text(app)
            await pilot.press("escape", "f5")
            await settle(app, pilot)
            assert isinstance(app.screen, MessagesScreen)
            shown = screen_text(app)
            assert "Keep going [/] [link=http://x]Ana[/link]" in shown and "\x1b" not in shown
            assert "Private note" not in shown
            app.screen.query_one("#reply").focus()
            await pilot.press(*"thank you", "enter")
            await settle(app, pilot)
            assert "thank you" in screen_text(app)

    asyncio.run(run())
    history = measures.history(access, load(), code, "peg3")
    assert [r["total"] for r in history] == [5]  # mean of 6, 4 and 5
    rows = messages.list_messages(access, code, mark_read=False)
    assert (rows[-1]["direction"], rows[-1]["body"]) == ("from_patient", "thank you")
