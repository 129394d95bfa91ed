"""Issue 12 point 1: the kiosk never leaves a door open (no crash on odd numbers, no shell, no secrets)."""

from __future__ import annotations

import asyncio

import pytest

from telecbt_cli.core.care import diary, pins
from telecbt_cli.core.clinical.answers import AnswerError, check_answer
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.tui.kiosk import ExerciseScreen, HomeScreen, LanguageScreen, PatientSignInScreen, make_kiosk
from telecbt_cli.tui.runner import ExerciseForm, RunScreen
from tests.tui.helpers import screen_text, settle

PIN = "4821"
#: Numbers a person can type that float() accepts but no rating can be.
ODD_NUMBERS = ("nan", "NaN", " -nan ", "inf", "-Infinity", "1e400", "9" * 5000, float("nan"), float("inf"))


def kiosk_patient(access, name: str = "Rosa Example", pin: str = PIN, lang: str = "en") -> str:
    patient = add_patient(access, PatientFields(display_name=name, language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], pin)
    return patient["code"]


async def kiosk_sign_in(app, pilot, code: str, pin: str = PIN) -> None:
    await pilot.pause()
    assert isinstance(app.screen, LanguageScreen)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, PatientSignInScreen)
    await pilot.press(*code, "enter", *pin, "enter")
    await settle(app, pilot)
    assert isinstance(app.screen, HomeScreen)


@pytest.mark.parametrize("value", ODD_NUMBERS, ids=repr)
def test_number_answers_refuse_nan_inf_and_huge_values_with_a_message(value):
    """Guards the kiosk crash: `nan` in a thought record's intensity raised ValueError from int()."""
    steps = [{"id": "n", "kind": "number", "min": 0, "max": 100},
             {"id": "f", "kind": "number", "min": 0, "max": 100, "integer": False},
             {"id": "s", "kind": "scale", "min": 0, "max": 10}]
    for step in steps:
        with pytest.raises(AnswerError) as refused:
            check_answer(step, value)
        assert refused.value.key in ("run.not_a_number", "run.out_of_range")
    record = {"situation": "s", "thought": "t", "emotion": "e", "intensity": value}
    with pytest.raises(AnswerError) as refused:
        check_answer({"id": "r", "kind": "thought_record"}, record)
    assert refused.value.step_id == "r.intensity"


@pytest.mark.parametrize("value", ("nan", "inf", "1e400", float("nan")), ids=repr)
def test_diary_numbers_refuse_nan_and_inf(value):
    """The same odd numbers in a diary field (staff TUI form, JSON) are a usage error, not a crash."""
    for field in ("mood", "sleep_hours", "steps"):
        with pytest.raises(UsageError):
            diary.check_entry({"pain": 3, field: value})


def test_nan_in_the_kiosk_thought_record_shows_a_message_and_keeps_the_kiosk(created, store_dir):
    """Guards the attack: typing nan into the intensity box crashed the kiosk (then a crash loop, then a shell)."""
    access = created.access
    code = kiosk_patient(access)

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await kiosk_sign_in(app, pilot, code)
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            record = next(b for b in app.screen.query(".choice") if b.name == "practice-thought-record")
            record.focus()
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            await pilot.press("enter")  # the info page
            await settle(app, pilot)
            form = app.screen.query_one(ExerciseForm)
            for name, value in (("situation", "at the market"), ("thought", "it will never stop"),
                                ("emotion", "afraid"), ("intensity", "nan")):
                form.query_one(f"#field-{name}").value = value
            app.screen.query_one("#form-done").press()
            await settle(app, pilot)
            assert app.is_running and isinstance(app.screen, RunScreen)
            assert "Please type a number." in screen_text(app)

    asyncio.run(run())
