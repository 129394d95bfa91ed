"""Issue 11.5 in the staff TUI: the diary form keeps what was typed, names a refused field, and reads
a decimal comma in Spanish (5,5 hours used to become 55 and the form was lost)."""

from __future__ import annotations

import asyncio

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.patients import DiaryFormScreen, PatientScreen
from tests.tui.helpers import check_store, settle, staff_app


def _values(screen) -> dict:
    return {name: screen.query_one(f"#diary-{name}").value for name in DiaryFormScreen.FIELDS}


def _run(store_dir, code: str, lang: str, steps) -> None:
    async def run() -> None:
        async with staff_app(store_dir, lang=lang, patient=code) as (app, pilot):
            await pilot.press("f3")
            await pilot.pause()
            await steps(app, pilot)

    asyncio.run(run())


def test_a_refused_value_keeps_the_form_and_names_the_field(created, store_dir):
    code = add_patient(created.access, PatientFields(display_name="Rosa", language="es"))["code"]
    record_consent(created.access, code, "verbal", "v1")
    created.access.close()

    async def steps(app, pilot) -> None:
        await pilot.press("1", "1", "tab", "4", "tab", *"5,5", "tab", "3", "0", "tab", *"dolor de rodilla", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DiaryFormScreen)  # nothing lost
        assert _values(app.screen) == {"pain": "11", "mood": "4", "sleep_hours": "5,5", "activity_min": "30",
                                       "note": "dolor de rodilla"}
        error = str(app.screen.query_one("#diary-error").render())
        assert "Dolor ahora (0-10)" in error and "número entero de 0 a 10" in error
        assert app.screen.focused.id == "diary-pain"
        await pilot.press("backspace", "backspace", "7", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)

    _run(store_dir, code, "es", steps)
    entries = check_store(store_dir, lambda a: diary.list_entries(a, code))
    assert [(e["pain"], e["mood"], e["sleep_hours"], e["activity_min"], e["note"]) for e in entries] == [
        (7, 4, 5.5, 30, "dolor de rodilla")]  # 5,5 hours is 5.5, not 55


def test_a_comma_in_english_is_refused_by_name_not_read_as_55(created, store_dir):
    code = add_patient(created.access, PatientFields(display_name="Rosa", language="en"))["code"]
    record_consent(created.access, code, "verbal", "v1")
    created.access.close()

    async def steps(app, pilot) -> None:
        await pilot.press("6", "tab", "tab", *"5,5", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DiaryFormScreen)
        assert "Hours of sleep: type a number from 0 to 24" in str(app.screen.query_one("#diary-error").render())
        assert _values(app.screen)["sleep_hours"] == "5,5" and app.screen.focused.id == "diary-sleep_hours"
        await pilot.press("escape")
        await settle(app, pilot)

    _run(store_dir, code, "en", steps)
    assert check_store(store_dir, lambda a: diary.list_entries(a, code)) == []
