"""Issue 17: a day's work in the staff TUI (check-ins, goals, homework, idle lock) and keys that do
what the footer says. Real stores on disk, Textual's pilot, results checked through core."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from textual.widgets import DataTable, Input, RadioSet, TabbedContent

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import appointments, plans
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    patient_id_for,
    record_consent,
)
from telecbt_cli.core.store import records
from telecbt_cli.tui.app import SignInScreen
from telecbt_cli.tui.checkins import RecordScreen, ScheduleScreen, SessionScreen
from telecbt_cli.core.store import zones
from telecbt_cli.tui.common import GlyphRadioButton, GlyphSelectionList, local_time
from telecbt_cli.tui.forms import GoalScreen, GoalUpdateScreen, HomeworkScreen
from telecbt_cli.tui.patients import PatientScreen, PatientsScreen
from tests.tui.helpers import check_store, screen_text, settle, staff_app


def _enrol(access, name: str = "Maria Example") -> str:
    patient = add_patient(access, PatientFields(display_name=name, language="es"))
    record_consent(access, patient["code"], "verbal", "v1")
    return patient["code"]


def _tomorrow(hour: int = 10) -> str:
    return (datetime.now() + timedelta(days=1)).strftime(f"%Y-%m-%d {hour:02d}:00")


def _sessions(store_dir, code: str) -> list[dict]:
    """Every session of the patient, whole rows (notes, feedback, fidelity as stored)."""
    def read(access) -> list[dict]:
        rows = appointments.list_sessions(access, code=code)
        return [plans.find_record(access, "appointments", r["id"]) for r in rows]

    return check_store(store_dir, read)


async def enter_on_row(app, pilot, tab: str, table: str) -> DataTable:
    """On a patient's record: open `tab`, press Enter on the first row of `table`; that table."""
    record = app.screen
    record.query_one(TabbedContent).active = f"tab-{tab}"
    await settle(app, pilot)
    rows = record.query_one(f"#{table}", DataTable)
    rows.focus()
    await pilot.press("enter")
    await settle(app, pilot)
    return rows


def test_typing_a_name_on_the_caseload_searches_and_never_opens_a_screen(created, store_dir):
    """Issue 17 point 2: "maria" typed on the caseload once opened Alerts and an acknowledge dialog."""
    _enrol(created.access, "Maria Example")
    _enrol(created.access, "Rosa Example")
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            assert app.focused is app.screen.query_one("#patients", DataTable)
            await pilot.press(*"maria")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientsScreen) and len(app.screen_stack) == 2
            assert app.screen.query_one("#search", Input).value == "maria"
            await pilot.press("enter")  # Enter in the search box searches
            await settle(app, pilot)
            table = app.screen.query_one("#patients", DataTable)
            assert table.row_count == 1 and "Maria" in str(table.get_row_at(0)[1])
            footer = screen_text(app).splitlines()[-1]
            assert "f3 check-ins" in footer.lower() and "f4 alerts" in footer.lower()  # the actions, as the footer shows

    asyncio.run(run())


def test_changing_the_language_keeps_the_current_screen_and_tab(created, store_dir, isolated_home):
    """Issue 17 point 2: F2 → Español used to throw the person back to the caseload."""
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, patient=code) as (app, pilot):
            app.screen.query_one(TabbedContent).active = "tab-plan"
            await settle(app, pilot)
            await pilot.press("f2")
            await pilot.pause()
            app.screen.query_one("#lang-es", GlyphRadioButton).value = True
            await pilot.pause()
            await pilot.press("escape")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen) and app.screen.code == code
            assert app.screen.query_one(TabbedContent).active == "tab-plan"
            text = screen_text(app)
            assert "Metas" in text or "Meta" in text, text
            assert "Goals" not in text

    asyncio.run(run())


def test_a_whole_check_in_schedule_record_with_fidelity_then_homework_done(created, store_dir):
    """Issue 17 point 1: schedule → record attended with feedback and fidelity → homework done."""
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, patient=code, size=(80, 24)) as (app, pilot):
            await pilot.press("f6")
            await pilot.pause()
            assert isinstance(app.screen, ScheduleScreen)
            assert app.focused is app.screen.query_one("#checkin-when", Input)
            app.screen.query_one("#checkin-when", Input).value = "yesterday at noon"
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, ScheduleScreen)  # refused, kept as typed, nothing stored
            assert app.screen.query_one("#checkin-when", Input).value == "yesterday at noon"
            assert str(app.screen.query_one("#form-error").render()).strip()
            app.screen.query_one("#checkin-when", Input).value = _tomorrow()
            app.screen.query_one("#checkin-mode-phone", GlyphRadioButton).value = True
            app.screen.query_one("#checkin-module").value = "cbt-01"
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            sessions = await enter_on_row(app, pilot, "sessions", "sessions-table")
            assert sessions.row_count == 1 and isinstance(app.screen, SessionScreen)
            app.screen.query_one("#session-attended").press()
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            app.screen.query_one("#checkin-feedback-4", GlyphRadioButton).value = True
            checklist = app.screen.query_one("#checkin-fidelity", GlyphSelectionList)
            assert checklist.option_count >= 2
            checklist.select(checklist.get_option_at_index(0))
            checklist.select(checklist.get_option_at_index(1))
            first_two = [checklist.get_option_at_index(i).value for i in (0, 1)]
            app.screen.query_one("#checkin-notes", Input).value = "went well"
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            homework = await enter_on_row(app, pilot, "plan", "homework")
            assert homework.row_count >= 1 and isinstance(app.screen, HomeworkScreen)
            await pilot.press(*"walked twice", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            return first_two

    first_two = asyncio.run(run())
    [session] = _sessions(store_dir, code)
    assert (session["status"], session["mode"], session["feedback"], session["notes"]) == (
        "attended", "phone", 4, "went well")
    assert sorted(json.loads(session["fidelity"])) == sorted(first_two)
    tasks = check_store(store_dir, lambda a: plans.list_homework(a, code))
    assert [t["status"] for t in tasks].count("done") == 1
    assert any(t["note"] == "walked twice" for t in tasks)


def test_move_and_cancel_a_session_on_the_record(created, store_dir):
    """Issue 17 point 1: reschedule and cancel from the record's sessions tab (Enter on the session)."""
    code = _enrol(created.access)
    appointments.schedule(created.access, load(), code, _tomorrow(), "video", None)
    created.access.close()

    async def open_session(app, pilot) -> None:
        await enter_on_row(app, pilot, "sessions", "sessions-table")
        assert isinstance(app.screen, SessionScreen)

    async def run() -> None:
        async with staff_app(store_dir, patient=code) as (app, pilot):
            await open_session(app, pilot)
            app.screen.query_one("#session-move").press()
            await settle(app, pilot)
            assert isinstance(app.screen, ScheduleScreen)
            app.screen.query_one("#checkin-when", Input).value = _tomorrow(15)
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            await open_session(app, pilot)
            assert "15:00" in screen_text(app)
            app.screen.query_one("#session-cancelled").press()
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            await pilot.press(*"patient is unwell", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)

    asyncio.run(run())
    [session] = _sessions(store_dir, code)
    assert session["status"] == "cancelled" and session["notes"] == "patient is unwell"
    zone = zones.load(zones.system_zone_name()) or zones.ZoneInfo(zones.FALLBACK)  # the device zone: no setting here
    assert local_time(session["scheduled_at"], zone).split()[1] == "15:00"


def test_the_check_ins_list_records_a_missed_session(created, store_dir):
    """Issue 17 point 1: Enter on an overdue session in Check-ins (F3) records it; the list empties."""
    code = _enrol(created.access)
    past = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with created.access.store.write():
        records.insert(created.access.store, "appointments", {
            "patient_id": patient_id_for(created.access, code), "scheduled_at": past, "minutes": 50,
            "mode": "phone", "module_id": None, "module_version": None, "clinician": "alice", "link": None,
            "status": "scheduled", "recorded_at": None, "recorded_by": None, "notes": None, "feedback": None,
            "fidelity": None})
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            await pilot.press("f3")
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, SessionScreen)
            app.screen.query_one("#session-no_show").press()
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            assert app.focused is app.screen.query_one("#checkin-notes", Input)
            await pilot.press(*"no answer by phone", "enter")
            await settle(app, pilot)
            assert app.screen.query_one(DataTable).row_count == 0

    asyncio.run(run())
    [session] = _sessions(store_dir, code)
    assert (session["status"], session["notes"]) == ("no_show", "no answer by phone")


def test_add_and_update_a_goal(created, store_dir):
    """Issue 17 point 1: plan goals are added (F7) and updated (Enter on the goal) in the TUI."""
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, patient=code) as (app, pilot):
            await pilot.press("f7")
            await pilot.pause()
            assert isinstance(app.screen, GoalScreen)
            await pilot.press("enter")  # nothing typed: refused, the dialog stays
            await pilot.pause()
            assert isinstance(app.screen, GoalScreen)
            app.screen.query_one("#goal-text", Input).value = "Walk to the market twice a week"
            app.screen.query_one("#goal-measure", Input).value = "days walked"
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            goals = await enter_on_row(app, pilot, "plan", "goals")
            assert goals.row_count == 1 and isinstance(app.screen, GoalUpdateScreen)
            app.screen.query_one("#goal-progress", Input).value = "150"
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            assert isinstance(app.screen, GoalUpdateScreen)  # core refused a progress above 100
            app.screen.query_one("#goal-progress", Input).value = "50"
            app.screen.query_one("#goal-status-achieved", GlyphRadioButton).value = True
            app.screen.query_one("#form-save").press()
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)

    asyncio.run(run())
    plan = check_store(store_dir, lambda a: plans.show_plan(a, load(), code))
    [goal] = plan["goals"]
    assert (goal["text"], goal["status"], goal["progress"]) == ("Walk to the market twice a week", "achieved", 50)


def test_idle_lock_returns_to_sign_in_and_forgets_the_store(created, store_dir):
    """Issue 17 point 1: no key for the idle time closes the store and shows the sign-in screen."""
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir, patient=code) as (app, pilot):
            app.idle_seconds = 60
            app.lock_when_idle()
            await pilot.pause()
            assert isinstance(app.screen, PatientScreen)  # still in use
            app.last_activity -= 61
            app.lock_when_idle()
            await settle(app, pilot)
            assert isinstance(app.screen, SignInScreen) and app.access is None
            text = screen_text(app)
            assert "Maria" not in text and code not in text
            assert "1 min" in text

    asyncio.run(run())


def test_radio_buttons_show_their_state_by_a_glyph(created, store_dir):
    """Issue 17 point 3: with NO_COLOR the chosen radio button is told apart by its mark."""
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            await pilot.press("f2")
            await pilot.pause()
            lines = screen_text(app).splitlines()
            english = next(line for line in lines if "English" in line)
            spanish = next(line for line in lines if "Español" in line)
            assert "●" in english and "●" not in spanish
            assert isinstance(app.screen.query_one("#lang"), RadioSet)

    asyncio.run(run())


class _SlowRecord(PatientScreen):
    """A record whose loaded data is held back (as on a slow laptop) until `release` is called."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.held: dict | None = None
        self.released = False

    def show(self, data: dict) -> None:
        if not self.released:
            self.held = data
            return
        super().show(data)

    def release(self) -> None:
        self.released = True
        if self.held is not None:
            self.show(self.held)


def test_f6_before_the_record_has_loaded_offers_the_plans_next_module(created, store_dir):
    """Issue 17 review, point 1: F6 pressed before the record's data had loaded opened the schedule
    dialog with no module chosen; it must always offer the plan's next session (cbt-02 here)."""
    catalog = load()
    code = _enrol(created.access)
    plans.set_plan(created.access, catalog, code, sessions=["cbt-01", "cbt-02", "cbt-03"])
    first = appointments.schedule(created.access, catalog, code, _tomorrow(), "video", "cbt-01")
    appointments.record(created.access, catalog, first["id"], "attended")
    created.access.close()

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            record = _SlowRecord(code)
            app.push_screen(record)
            await settle(app, pilot)
            assert record.data is None and record.held is not None  # loaded, but not yet on screen
            await pilot.press("f6")
            await settle(app, pilot)
            assert isinstance(app.screen, ScheduleScreen)
            assert app.screen.query_one("#checkin-module").value == "cbt-02"
            await pilot.press("escape")
            await pilot.pause()
            record.release()
            await pilot.press("f6")  # and once it has loaded, the same
            await settle(app, pilot)
            assert isinstance(app.screen, ScheduleScreen)
            assert app.screen.query_one("#checkin-module").value == "cbt-02"

    asyncio.run(run())


def test_the_schedule_dialog_starts_at_tomorrow_ten_in_the_device_zone(created, store_dir):
    """Issue 17 review, point 2: the dialog's default time is core's (tomorrow 10:00, device zone)."""
    from telecbt_cli.core.store.zones import set_device_zone

    code = _enrol(created.access)
    set_device_zone(created.access, "Pacific/Kiritimati")  # UTC+14: its tomorrow is often UTC's day after
    created.access.close()

    async def run() -> str:
        async with staff_app(store_dir, patient=code) as (app, pilot):
            await pilot.press("f6")
            await settle(app, pilot)
            assert isinstance(app.screen, ScheduleScreen)
            return app.screen.query_one("#checkin-when", Input).value

    from zoneinfo import ZoneInfo

    shown = asyncio.run(run())
    local = datetime.now(ZoneInfo("Pacific/Kiritimati"))
    assert shown == (local + timedelta(days=1)).strftime("%Y-%m-%d 10:00")
