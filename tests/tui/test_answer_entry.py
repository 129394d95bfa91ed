"""Answers in the staff TUI and the kiosk: nothing is recorded by default, numbers are the scored values.

Issue 11.2: Enter on a question with nothing chosen records nothing and asks for a choice (PHQ-9
item 9 included), for every step kind that could otherwise take a default. Issue 11.4: a
questionnaire's options are numbered by their scored values (0-3 for the PHQ-9), as on paper.
"""

from __future__ import annotations

import asyncio
import contextlib

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import pins
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.kiosk import DueScreen, make_kiosk
from telecbt_cli.tui.runner import RunScreen
from tests.tui.helpers import check_store, kiosk_sign_in, screen_text, settle, staff_app
from tests.tui.test_safety_paths import PIN

CHOOSE_FIRST = "Choose an answer first"


def _patient(access, lang: str = "en") -> str:
    patient = add_patient(access, PatientFields(display_name="Rosa Example", language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], PIN)
    return patient["code"]


@contextlib.asynccontextmanager
async def _running(store_dir, code: str, content: dict):
    """The staff app signed in, with `content` running for the patient."""
    async with staff_app(store_dir, size=(80, 40)) as (app, pilot):
        app.push_screen(RunScreen(app.access, code, content, "en"))
        await settle(app, pilot)
        yield app, pilot


def _saved_answers(store_dir, content_id: str) -> dict:
    import json

    rows = check_store(store_dir, lambda a: a.store.conn.execute(
        "SELECT answers FROM runs WHERE content_id = ? ORDER BY started_at DESC", (content_id,)).fetchall())
    return json.loads(rows[0][0]) if rows else {}


def test_enter_on_a_questionnaire_item_with_nothing_chosen_records_nothing(created, store_dir):
    code = _patient(created.access)
    created.access.close()
    phq9 = load().get("instrument", "phq9")

    async def run() -> None:
        async with _running(store_dir, code, phq9) as (app, pilot):
            shown = screen_text(app)
            assert "0. Not at all" in shown and "3. Nearly every day" in shown  # the paper form's numbers
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.screen.run.position == "phq9_1" and "phq9_1" not in app.screen.run.answers
            assert CHOOSE_FIRST in screen_text(app)
            await pilot.press("down", "enter")  # moving to an option is a choice: the first, 0
            await settle(app, pilot)
            await pilot.press("3")  # item 2: the key is the scored value
            await settle(app, pilot)
            assert app.screen.run.answers == {"phq9_1": 0, "phq9_2": 3}

    asyncio.run(run())
    assert _saved_answers(store_dir, "phq9") == {"phq9_1": 0, "phq9_2": 3}


def test_enter_on_item_9_and_on_a_scale_records_nothing(created, store_dir):
    code = _patient(created.access)
    phq9 = load().get("instrument", "phq9")
    run_, _ = engine.start(created.access, code, phq9, "en")
    for _ in range(8):
        engine.answer(run_, phq9, 2)
    engine.save(created.access, run_)
    created.access.close()
    peg = load().get("instrument", "peg3")

    async def run() -> None:
        async with _running(store_dir, code, phq9) as (app, pilot):
            assert app.screen.run.position == "phq9_9"
            await pilot.press("enter", "enter")
            await settle(app, pilot)
            assert app.screen.run.position == "phq9_9" and "phq9_9" not in app.screen.run.answers
            assert CHOOSE_FIRST in screen_text(app)
        async with _running(store_dir, code, peg) as (app, pilot):
            await pilot.press("enter")  # a 0-10 scale with no number chosen
            await settle(app, pilot)
            assert app.screen.run.answers == {} and CHOOSE_FIRST in screen_text(app)

    asyncio.run(run())
    assert "phq9_9" not in _saved_answers(store_dir, "phq9")


def test_a_choose_all_that_fit_step_needs_a_tick_or_an_explicit_none(created, store_dir):
    code = _patient(created.access)
    created.access.close()
    step = {"id": "red-flags", "kind": "multi", "min_choices": 0,
            "prompt": {"en": "Any of these now?", "es": "¿Alguna ahora?"},
            "options": [{"value": "fever", "label": {"en": "Fever", "es": "Fiebre"}},
                        {"value": "night_pain", "label": {"en": "Night pain", "es": "Dolor nocturno"}}]}
    module = {"id": "test-multi", "version": "1.0.0", "kind": "module", "title": {"en": "Flags", "es": "F"},
              "steps": [step, {**step, "id": "again"}]}

    async def run() -> None:
        async with _running(store_dir, code, module) as (app, pilot):
            app.screen.query_one("#multi-done").press()  # Next with nothing ticked
            await settle(app, pilot)
            assert app.screen.run.answers == {} and "or press None of these" in screen_text(app)
            app.screen.query_one("#multi-none").press()
            await settle(app, pilot)
            assert app.screen.run.answers == {"red-flags": []}
            app.screen.query_one("#multi-list").select("fever")
            app.screen.query_one("#multi-none").press()  # "none" with a tick is refused, not guessed
            await settle(app, pilot)
            assert "again" not in app.screen.run.answers
            app.screen.query_one("#multi-done").press()
            await settle(app, pilot)
            assert app.screen.run.answers["again"] == ["fever"]

    asyncio.run(run())


def test_kiosk_enter_on_a_question_with_nothing_chosen_records_nothing(created, store_dir):
    access = created.access
    code = _patient(access)

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 40)) as pilot:
            await kiosk_sign_in(app, pilot, code, PIN)
            await pilot.press("f2")
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            next(b for b in app.screen.query(".choice") if b.name == "phq9").press()
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.screen.run.answers == {} and CHOOSE_FIRST in screen_text(app)
            await pilot.press("2")
            await settle(app, pilot)
            assert app.screen.run.answers == {"phq9_1": 2}

    asyncio.run(run())


def test_an_exercise_form_names_the_refused_field_and_keeps_the_others(created, store_dir):
    """Issue 11.5: one bad value in the pacing plan keeps every field as typed and says which one."""
    code = _patient(created.access, "es")
    created.access.close()
    step = {"id": "plan", "kind": "pacing_plan", "body": {"en": "Plan it.", "es": "Planifíquelo."}}
    module = {"id": "test-pacing", "version": "1.0.0", "kind": "module", "title": {"en": "Pacing", "es": "Ritmo"},
              "steps": [step]}

    async def run() -> None:
        async with staff_app(store_dir, lang="es", size=(80, 40)) as (app, pilot):
            app.push_screen(RunScreen(app.access, code, module, "es"))
            await settle(app, pilot)
            form = app.screen.query_one(".exercise-form")
            typed = {"activity": "caminar", "baseline_minutes": "20,5", "quota_minutes": "25", "step_minutes": "5",
                     "every_days": "3"}
            for name, value in typed.items():
                form.query_one(f"#field-{name}").value = value
            form.query_one("#form-done").press()
            await settle(app, pilot)
            status = str(app.screen.query_one("#run-status").render())
            assert "¿Con cuántos minutos empieza?" in status and "menos de 20,5 minutos" in status
            assert app.screen.focused.id == "field-quota_minutes"
            assert {n: form.query_one(f"#field-{n}").value for n in typed} == typed
            form.query_one("#field-quota_minutes").value = "10"
            form.query_one("#form-done").press()
            await settle(app, pilot)
            plan = app.screen.run.answers["plan"]
            assert (plan["baseline_minutes"], plan["quota_minutes"]) == (20.5, 10)

    asyncio.run(run())
