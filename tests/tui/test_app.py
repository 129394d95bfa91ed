"""The staff TUI driven by Textual's pilot, checking what reaches the store."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import pytest

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import diary, messages
from telecbt_cli.core.clinical import alerts, engine, measures
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    patient_id_for,
    record_consent,
)
from telecbt_cli.core.store import records
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.store.users import add_user
from telecbt_cli.tui.app import HelpScreen, SettingsScreen, SignInScreen, make_app
from telecbt_cli.tui.checkins import SessionScreen
from telecbt_cli.tui.dashboard import AlertsScreen, CheckinsScreen
from telecbt_cli.tui.patients import (
    DiaryFormScreen,
    PatientScreen,
    PatientsScreen,
    PickScreen,
)
from telecbt_cli.tui.runner import CrisisScreen, RunScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import check_store, screen_text, settle

VIEWER_PASS = "viewer passphrase 1"


def _enrol(access, name: str = "Rosa Example", lang: str = "en") -> str:
    patient = add_patient(access, PatientFields(display_name=name, language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    return patient["code"]


def _run(coro) -> None:
    asyncio.run(coro)


async def _signed_in(app, pilot, store_dir, user: str = ADMIN, secret: str = ADMIN_PASS) -> None:
    await pilot.pause()
    app.signed_in(unlock(store_dir, user, secret))
    await settle(app, pilot)


@contextlib.asynccontextmanager
async def _staff(store_dir, patient: str | None = None):
    """The staff app at 80x24, signed in as the admin, on the caseload or on `patient`'s record."""
    app = make_app(store_dir, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await _signed_in(app, pilot, store_dir)
        if patient:
            app.push_screen(PatientScreen(patient))
            await settle(app, pilot)
        yield app, pilot



def test_diary_form_saves_one_entry_and_cancel_saves_nothing(created, store_dir):
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with _staff(store_dir, code) as (app, pilot):
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(app.screen, DiaryFormScreen)
            await pilot.press("6", "tab", "4")  # pain, then mood; the rest left empty
            await pilot.press("escape")  # abandoned halfway: nothing stored
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            await pilot.press("f3")
            await pilot.pause()
            await pilot.press("7", "tab", "5", "tab", "7", "tab", "3", "0", "tab", *"[b]walked[/b]", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            tabs = app.screen.query_one("#tabs")
            tabs.active = "tab-diary"
            await pilot.pause()
            assert "[b]walked[/b]" in screen_text(app)

    _run(run())
    entries = check_store(store_dir, lambda a: diary.list_entries(a, code))
    assert [(e["pain"], e["mood"], e["sleep_hours"], e["activity_min"], e["note"]) for e in entries] == [
        (7, 5, 7, 30, "[b]walked[/b]")]


def test_a_bad_diary_value_is_refused_with_a_message(created, store_dir):
    code = _enrol(created.access)
    created.access.close()

    async def run() -> None:
        async with _staff(store_dir, code) as (app, pilot):
            await pilot.press("f3")
            await pilot.pause()
            await pilot.press("1", "2", "enter")  # pain 12
            await settle(app, pilot)
            # issue 11.5: the form stays as typed and names the field (it used to close with a toast)
            assert isinstance(app.screen, DiaryFormScreen)
            assert app.screen.query_one("#diary-pain").value == "12"
            assert "Pain now (0-10)" in str(app.screen.query_one("#diary-error").render())
            await pilot.press("escape")
            await settle(app, pilot)

    _run(run())
    assert check_store(store_dir, lambda a: diary.list_entries(a, code)) == []


def test_phq9_through_the_widgets_scores_and_opens_an_alert_at_item_9(created, store_dir):
    code = _enrol(created.access, lang="en")
    created.access.close()

    async def run() -> None:
        async with _staff(store_dir, code) as (app, pilot):
            await pilot.press("f4")
            await pilot.pause()
            assert isinstance(app.screen, PickScreen)
            options = app.screen.query_one("#pick")
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert "phq9" in ids and "pcs" not in ids  # licensed questionnaires without text are not offered
            options.highlighted = ids.index("phq9")
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            assert "Little interest or pleasure" in screen_text(app)
            # the keys are the scored values, as on the paper form (issue 11.4):
            # items 1-8: 2 ("more than half the days"), item 9: 1 ("several days")
            for _ in range(8):
                await pilot.press("2")
                await settle(app, pilot)
            await pilot.press("1")
            await settle(app, pilot)
            assert isinstance(app.screen, CrisisScreen)  # shown at the answer, before the end
            opened = check_store(store_dir, lambda a: alerts.list_alerts(a, patient_id_for(a, code)))
            assert len(opened) == 1
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            assert "Score: 17" in screen_text(app)  # 8 x 2 + 1, moderately severe (15-19)
            assert "Moderately severe" in screen_text(app)
            await pilot.press("enter")  # Close
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)

    _run(run())
    history = check_store(store_dir, lambda a: measures.history(a, load(), code, "phq9"))
    assert [(r["total"], r["band"]) for r in history] == [(17, "moderately-severe")]


def test_a_paused_questionnaire_resumes_at_the_same_item(created, store_dir):
    code = _enrol(created.access)
    created.access.close()

    async def run(expect: str, keys: list[str]) -> None:
        async with _staff(store_dir) as (app, pilot):
            from telecbt_cli.core.clinical.engine import content_for

            app.push_screen(RunScreen(app.access, code, content_for(app.catalog, "instrument", "gad7"), "en"))
            await settle(app, pilot)
            assert expect in screen_text(app)
            for key in keys:
                await pilot.press(key)
                await settle(app, pilot)

    _run(run("Step 1 of 7", ["1", "1", "escape"]))
    _run(run("Step 3 of 7", []))


def test_a_module_with_breathing_and_a_thought_record(created, store_dir):
    code = _enrol(created.access)
    created.access.close()
    catalog = load()
    module = next(m for m in catalog.all("module") if any(s["kind"] == "thought_record" for s in m["steps"])
                  and len(m["steps"]) <= 3)

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 40)) as pilot:
            await _signed_in(app, pilot, store_dir)
            app.push_screen(RunScreen(app.access, code, module, "en"))
            await settle(app, pilot)
            while (step := engine.current(app.screen.run, module)) is not None:
                if step["kind"] == "info":
                    await pilot.press("enter")
                elif step["kind"] == "thought_record":
                    form = app.screen.query_one(".exercise-form")
                    values = {"situation": "Carrying water", "thought": "I will never manage",
                              "emotion": "sad", "intensity": "70"}
                    for name, value in values.items():
                        form.query_one(f"#field-{name}").value = value
                    form.query_one("#form-done").press()
                else:
                    pytest.fail(f"unexpected step kind {step['kind']}")
                await settle(app, pilot)
            assert "You finished" in screen_text(app)

    _run(run())
    runs = check_store(store_dir, lambda a: a.store.conn.execute(
        "SELECT status, answers FROM runs WHERE content_id = ?", (module["id"],)).fetchall())
    assert runs[0][0] == "completed" and "I will never manage" in runs[0][1]


def test_breathing_timer_animates_and_records_rounds(created, store_dir):
    code = _enrol(created.access)
    created.access.close()
    step = {"id": "breathe", "kind": "breathing", "inhale": 1, "hold": 0, "exhale": 1, "rounds": 2,
            "title": {"en": "Calm breathing", "es": "Respiración"}}
    module = {"id": "test-breathing", "version": "1.0.0", "kind": "module", "title": {"en": "Breathe", "es": "R"},
              "steps": [step]}

    async def run() -> None:
        async with _staff(store_dir) as (app, pilot):
            app.push_screen(RunScreen(app.access, code, module, "en"))
            await settle(app, pilot)
            await pilot.press("enter")  # Start
            await pilot.pause(0.6)
            bar = str(app.screen.query_one("#breath-bar").render())
            assert "█" in bar and "Breathe" in screen_text(app)
            await pilot.pause(4.0)  # two rounds of 1 s in, 1 s out
            await settle(app, pilot)
            assert "You finished" in screen_text(app)
            assert app.screen.run.answers["breathe"] == {"rounds_done": 2}

    _run(run())


def test_viewer_sees_the_record_but_gets_no_controls_that_change_it(created, store_dir):
    access = created.access
    code = _enrol(access)
    add_user(access, "vera", "viewer", VIEWER_PASS, KdfParams(10))
    access.close()

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 24)) as pilot:
            await _signed_in(app, pilot, store_dir, "vera", VIEWER_PASS)
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            footer = screen_text(app).splitlines()[-1]
            assert "Diary" not in footer and "Questionnaire" not in footer and "Goal" not in footer
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(app.screen, PatientScreen)  # no form opened
            assert not app.screen.query_one("#message-input").display

    _run(run())


def test_alert_is_acknowledged_with_a_note(created, store_dir):
    access = created.access
    code = _enrol(access)
    engine.run_all(access, code, load().get("instrument", "phq9"), "en",
                   {f"phq9_{i}": 0 for i in range(1, 9)} | {"phq9_9": 2})
    access.close()

    async def run() -> None:
        async with _staff(store_dir) as (app, pilot):
            await pilot.press("f4")
            await settle(app, pilot)
            assert isinstance(app.screen, AlertsScreen)
            assert code in screen_text(app)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press(*"called, safe, plan agreed", "enter")
            await settle(app, pilot)
            assert app.screen.query_one("DataTable").row_count == 0

    _run(run())
    rows = check_store(store_dir, lambda a: alerts.list_alerts(a, include_closed=True))
    assert [(r["status"], r["note"], r["acknowledged_by"]) for r in rows] == [
        ("acknowledged", "called, safe, plan agreed", ADMIN)]


def test_checkins_lists_overdue_sessions_and_opens_the_patient(created, store_dir):
    access = created.access
    code = _enrol(access)
    past = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with access.store.write():
        records.insert(access.store, "appointments", {
            "patient_id": patient_id_for(access, code), "scheduled_at": past, "minutes": 50, "mode": "phone",
            "module_id": "cbt-01", "module_version": "1.0.0", "clinician": ADMIN, "link": None,
            "status": "scheduled", "recorded_at": None, "recorded_by": None, "notes": None, "feedback": None,
            "fidelity": None})
    access.close()

    async def run() -> None:
        async with _staff(store_dir) as (app, pilot):
            table = app.screen.query_one("#patients")
            assert "(+1)" in table.get_row_at(0)[2].plain  # one overdue session in the caseload column
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, CheckinsScreen)
            assert "OVERDUE" in screen_text(app) and code in screen_text(app)
            await pilot.press("enter")  # the session, and what can be done with it
            await settle(app, pilot)
            assert isinstance(app.screen, SessionScreen)
            app.screen.query_one("#session-open").press()
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen) and app.screen.code == code
            await pilot.press("escape")
            await settle(app, pilot)
            assert isinstance(app.screen, CheckinsScreen)
            await pilot.press("f3")  # F3 on the check-ins list opens the patient straight away
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen) and app.screen.code == code

    _run(run())


def test_caseload_pages_in_as_the_cursor_moves_and_search_filters(created, store_dir):
    access = created.access
    for n in range(260):
        add_patient(access, PatientFields(display_name=f"Person {n:03d}", language="en"))
    access.close()

    async def run() -> None:
        async with _staff(store_dir) as (app, pilot):
            table = app.screen.query_one("#patients")
            assert table.row_count == 100  # one page, not the whole caseload
            assert "Showing 100 of 260" in screen_text(app)
            table.move_cursor(row=95)
            await settle(app, pilot)
            assert table.row_count == 200
            await pilot.press("slash", *"person 25", "enter")
            await settle(app, pilot)
            assert [table.get_row_at(i)[1].plain for i in range(table.row_count)] == [
                f"Person {n}" for n in range(250, 260)]

    _run(run())


def test_messages_tab_sends_to_the_patient(created, store_dir):
    code = _enrol(created.access)
    messages.send(created.access, code, "I had a bad night [red]x", from_patient=True)
    created.access.close()

    async def run() -> None:
        async with _staff(store_dir, code) as (app, pilot):
            app.screen.query_one("#tabs").active = "tab-messages"
            await pilot.pause()
            assert "I had a bad night [red]x" in screen_text(app)
            app.screen.query_one("#message-input").focus()
            await pilot.press(*"See you Tuesday", "enter")
            await settle(app, pilot)
            assert "See you Tuesday" in screen_text(app)

    _run(run())
    rows = check_store(store_dir, lambda a: messages.list_messages(a, code))
    assert [(r["direction"], r["body"]) for r in rows][-1] == ("to_patient", "See you Tuesday")


def test_settings_switch_language_and_theme_and_remember_them(created, store_dir):
    created.access.close()

    async def run(expect_title: str, change: bool) -> None:
        app = make_app(store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert expect_title in screen_text(app)
            if not change:
                assert app.theme == "telecbt-contrast"
                return
            await pilot.press("f2")
            await pilot.pause()
            assert isinstance(app.screen, SettingsScreen)
            app.screen.query_one("#lang").query("RadioButton")[1].value = True
            app.screen.query_one("#theme").query("RadioButton")[1].value = True
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, SignInScreen)
            assert "iniciar sesión" in screen_text(app)
            assert app.theme == "telecbt-contrast"

    _run(run("telecbt: sign in", True))
    _run(run("iniciar sesión", False))  # remembered for next time


def test_help_screen_palette_commands_and_a_tiny_terminal(created, store_dir):
    created.access.close()

    async def run() -> None:
        app = make_app(store_dir, lang="es")
        async with app.run_test(size=(80, 24)) as pilot:
            await _signed_in(app, pilot, store_dir)
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert "Teclas" in screen_text(app)
            await pilot.press("escape")
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Alertas de seguridad" in titles and "Bloquear" in titles
            await pilot.resize_terminal(20, 6)
            await pilot.pause()
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert isinstance(app.screen, PatientsScreen)
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert isinstance(app.screen, SignInScreen) and app.access is None

    _run(run())


def test_tui_refuses_to_start_without_a_terminal(created, store_dir):
    from typer.testing import CliRunner

    from telecbt_cli.cli import app

    created.access.close()
    result = CliRunner().invoke(app, ["tui", "--store", str(store_dir)])
    assert result.exit_code == 2
    assert "needs a terminal" in result.output


def test_an_unexpected_error_shows_its_type_but_no_patient_data(created, store_dir):
    created.access.close()
    report: list[str] = []

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app._exception = ValueError("Rosa Example, HIV positive")
            app._fatal_error()  # what Textual calls on an unhandled error: it prints _exit_renderables
            report.extend(str(r) for r in app._exit_renderables)
            app._exit_renderables.clear()
            app._exception = None  # run_test would raise it again on the way out

    _run(run())
    assert "ValueError" in report[0] and "Rosa" not in report[0]


def test_a_store_busy_in_another_process_for_a_moment_only_delays_a_save(created, store_dir):
    import threading
    import time

    code = _enrol(created.access)
    created.access.close()
    other = unlock(store_dir, ADMIN, ADMIN_PASS)  # a second connection, as another process would hold
    release = threading.Timer(1.5, lambda: other.store.conn.execute("COMMIT"))

    async def run() -> None:
        async with _staff(store_dir, code) as (app, pilot):
            await pilot.press("f3")
            await pilot.pause()
            other.store.conn.execute("BEGIN IMMEDIATE")  # the other writer takes the store now
            started = time.monotonic()
            release.start()
            await pilot.press("3", "enter")
            await settle(app, pilot)
            assert time.monotonic() - started >= 1.0  # it waited for the other writer
            assert any("Saved: pain 3" in str(n.message) for n in app._notifications)

    try:
        _run(run())
    finally:
        if release.is_alive() or release.finished.is_set():
            release.join()
        other.close()
    assert [e["pain"] for e in check_store(store_dir, lambda a: diary.list_entries(a, code))] == [3]


def test_step_paragraphs_keep_their_line_breaks(created, store_dir):
    """Regression: step bodies were flattened to one line (toasts: tests/security/test_tui_inert.py)."""
    code = _enrol(created.access)
    created.access.close()
    module = {"id": "test-info", "version": "1.0.0", "kind": "module", "title": {"en": "Info", "es": "Info"},
              "steps": [{"id": "read", "kind": "info", "title": {"en": "Read", "es": "Lea"},
                         "body": {"en": "First paragraph [b]x[/b].\n\nSecond paragraph.", "es": "-"}}]}

    async def run() -> None:
        async with _staff(store_dir) as (app, pilot):
            app.push_screen(RunScreen(app.access, code, module, "en"))
            await settle(app, pilot)
            lines = screen_text(app).splitlines()
            first = next(i for i, line in enumerate(lines) if "First paragraph [b]x[/b]." in line)
            assert lines[first + 1].strip() == "" and lines[first + 2].strip() == "Second paragraph."

    _run(run())


def test_a_full_disk_notice_is_told_in_the_apps_language(created, store_dir):
    """Review of issue 17: the staff app showed the store's full-disk notice in English in a Spanish session
    (only the command line translated it, by comparing the text)."""
    from telecbt_cli.core.store.vault import FULL_DISK_NOTICE

    async def run() -> None:
        app = make_app(store_dir, lang="es")
        async with app.run_test(size=(80, 24)) as pilot:
            access = unlock(store_dir, ADMIN, ADMIN_PASS)
            access.store.notices.append(FULL_DISK_NOTICE)  # what a sign-in on a full disk leaves (core/store/vault.py)
            app.signed_in(access)
            await pilot.pause()
            told = [str(n.message) for n in app._notifications]
            assert any("disco" in m for m in told) and not any("the disk" in m for m in told), told

    asyncio.run(run())
