"""Issue 12 point 2: stored text reaches the terminal inert on every screen of the staff TUI and the kiosk.

Patient text (and values a trusted device's bundle could carry) holds terminal escapes
(clipboard, window title, clear screen), C1 controls, bidi overrides, zero-width
characters and markup. Every screen is visited with Textual's pilot and what it would
draw is searched for any character that must not reach a terminal.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

from textual.widgets import DataTable, Select, TabbedContent

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import diary, messages, pins, plans
from telecbt_cli.core.care import appointments as appts
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.textsafe import UNSAFE_CLASS
from telecbt_cli.core.store.unlock import create_store, unlock
from telecbt_cli.core.sync import devices
from telecbt_cli.tui.app import SignInScreen, make_app
from telecbt_cli.tui.checkins import RecordScreen, ScheduleScreen, SessionScreen
from telecbt_cli.tui.forms import GoalUpdateScreen, HomeworkScreen
from telecbt_cli.tui.patients import PatientScreen, PatientsScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import HOSTILE, check_store, screen_text, settle

#: Everything an attacker could put in a name or a note: clipboard write (OSC 52), window and icon title
#: (OSC 0 and 2), clear screen, a C1 CSI, a bell, a bidi override, a zero-width space, a tag character.
ATTACK = ("[/] [link=http://x]Ana[/link] @click=app.quit \x1b]52;c;aGk=\x07 \x1b]0;pwned\x07 \x1b]2;pwned\x1b\\ "
          "\x1b[2J\x9b31m \u202egnp.exe \u200bzw\U000e0041")
#: What must never be in what a screen draws (line breaks excepted).
UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")
PIN = "4821"


def _shown(app, where: str, seen: list[str], attack_shown: bool = False) -> str:
    text = screen_text(app)
    bad = sorted({f"U+{ord(c):04X}" for c in UNSAFE.findall(text)})
    assert not bad, f"{where}: {', '.join(bad)} reached the terminal:\n{text}"
    if attack_shown:  # the attack is on this screen, made visible
        assert "\\x1b]52;c;aGk=" in text or "\\x1b]2;pwn" in text, f"{where}: the stored text is not shown:\n{text}"
    seen.append(where)
    return text


def _hostile_store(access, tmp_path) -> str:
    """A patient whose every text holds the attack, plus values a bundle could carry, set directly."""
    catalog = load()
    patient = add_patient(access, PatientFields(display_name=ATTACK, language="en", notes=ATTACK,
                                                caregiver_name=ATTACK))
    code = patient["code"]
    record_consent(access, code, "verbal", "v1")
    pins.set_pin(access, code, PIN)
    diary.add_entry(access, code, {"pain": 6, "note": ATTACK})
    messages.send(access, code, ATTACK)
    messages.send(access, code, ATTACK, from_patient=True)
    plans.set_plan(access, catalog, code, course="brief")
    plans.add_goal(access, code, ATTACK)
    later = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    session = appts.schedule(access, catalog, code, later, "video", module_id="cbt-04")
    engine.run_all(access, code, catalog.get("instrument", "peg3"), "en", {"peg3_pain": 6, "peg3_enjoyment": 5, "peg3_activity": 4})
    engine.run_all(access, code, catalog.get("instrument", "phq9"), "en",
                   {f"phq9_{n}": 1 for n in range(1, 10)})  # item 9 above 0: a safety alert
    record = catalog.get("module", "practice-thought-record")  # a thought record paused halfway
    run, _ = engine.start(access, code, record, "en")
    engine.answer(run, record, None)
    engine.answer(run, record, {"situation": ATTACK, "thought": ATTACK, "emotion": ATTACK, "intensity": 50})
    engine.back(run)
    engine.save(access, run)
    hub = create_store(tmp_path / "hub", "hana", "hub passphrase 1", KdfParams(10)).access
    try:
        devices.trust(access, devices.identity(hub)["card"], ATTACK, "hub")
    finally:
        hub.close()
    store = access.store
    with store.write():  # values the CLI never writes but a trusted device's bundle could carry
        store.conn.execute("UPDATE measure_responses SET band = ?", (ATTACK,))
        store.conn.execute("UPDATE safety_alerts SET rule_id = ?, content_id = ?", (ATTACK, ATTACK))
        store.conn.execute("UPDATE appointments SET module_id = ?, scheduled_at = ? WHERE id = ?",
                           (ATTACK, (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat(), session["id"]))
        store.conn.execute("UPDATE homework SET text = ?", (ATTACK,))
    return code


def test_every_staff_screen_renders_stored_text_inert(created, store_dir, tmp_path):
    """Guards the attack: OSC 52, OSC 0/2 and ESC[2J in patient text set the clipboard, changed the window
    title and blanked the header from the record's header and tabs (8 of 134 screens)."""
    _hostile_store(created.access, tmp_path)
    created.access.close()
    seen: list[str] = []
    extra: list[int] = []

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, SignInScreen)
            await pilot.press(*ADMIN, "enter", *"not the passphrase", "enter")
            await settle(app, pilot)
            _shown(app, "sign-in, refused", seen)
            await pilot.press(*ADMIN_PASS, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientsScreen)
            _shown(app, "caseload", seen, attack_shown=True)
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            for tab in ("overview", "diary", "measures", "plan", "sessions", "messages"):
                app.screen.query_one(TabbedContent).active = f"tab-{tab}"
                await settle(app, pilot)
                _shown(app, f"record, {tab} tab", seen, attack_shown=tab not in ("measures", "plan"))
            goals = app.screen.query_one("#goals", DataTable)  # a goal column is cut at 80 columns: the cells
            assert any("\\x1b]52;c;aGk=" in str(cell) for cell in goals.get_row_at(0))
            # Issue 17: the record's dialogs (a session, recording and moving it, a goal, homework).
            record, data = app.screen, app.screen.data
            session = data["sessions"][0]
            dialogs = [("session", SessionScreen(session, can_open=True), True),
                       ("record attended", RecordScreen(session, "attended"), False),
                       ("move session", ScheduleScreen(record.code, session), False),
                       ("goal update", GoalUpdateScreen(data["plan"]["goals"][0]), True)]
            dialogs += [("homework done", HomeworkScreen(task), True) for task in data["plan"]["homework"][:1]]
            for where, dialog, attack_shown in dialogs:
                app.push_screen(dialog)
                await settle(app, pilot)
                _shown(app, where, seen, attack_shown=attack_shown)
                await pilot.press("escape")
                await pilot.pause()
                assert app.screen is record, where
            extra.append(len(dialogs))
            app.screen.query_one(TabbedContent).active = "tab-overview"
            await pilot.press("f3")
            await pilot.pause()
            app.screen.query_one("#diary-pain").value = "\x1b]2;pwned\x07"
            await pilot.press("enter")
            await settle(app, pilot)
            _shown(app, "diary form refused, toast", seen)
            for key, where in (("f4", "questionnaire chooser"), ("f5", "module chooser")):
                await pilot.press(key)
                await settle(app, pilot)
                _shown(app, where, seen)
                await pilot.press("escape")
                await pilot.pause()
            app.screen._run("module", "practice-thought-record")
            await settle(app, pilot)
            _shown(app, "thought record resumed", seen, attack_shown=True)
            await pilot.press("escape")
            await settle(app, pilot)
            _shown(app, "record, after pausing (toast)", seen)
            for name in ("checkins", "alerts"):
                app.action_go(name)
                await settle(app, pilot)
                _shown(app, name, seen)
                table = app.screen.query_one(DataTable)  # narrow columns may cut the text on screen: the cells
                cells = [str(cell) for row in range(table.row_count) for cell in table.get_row_at(row)]
                assert any("\\x1b]52;c;aGk=" in cell for cell in cells), cells
            await pilot.press("enter")
            await pilot.pause()
            _shown(app, "alert note prompt", seen)
            await pilot.press("escape", "escape")
            await pilot.pause()
            app.action_go("bundles")
            await settle(app, pilot)
            select = app.screen.query_one("#peer", Select)
            select.value = devices.peers(app.access)[0]["id"]
            app.screen.query_one("#import-path").value = str(tmp_path / ATTACK.replace("/", "|"))
            app.screen.start_import()
            await settle(app, pilot)
            _shown(app, "bundles", seen, attack_shown=True)
            await pilot.press("escape")
            await pilot.pause()
            for key, where in (("f1", "help"), ("f2", "settings"), ("ctrl+p", "command palette")):
                await pilot.press(key)
                await settle(app, pilot)
                _shown(app, where, seen)
                await pilot.press("escape")
                await pilot.pause()
            assert app.is_running  # the @click action in the text did not quit

    asyncio.run(run())
    assert len(seen) == 20 + extra[0], seen


def test_every_kiosk_screen_renders_stored_text_inert(created, store_dir, tmp_path):
    from telecbt_cli.tui.kiosk import make_kiosk

    access = created.access
    code = _hostile_store(access, tmp_path)
    seen: list[str] = []

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            _shown(app, "language", seen)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press(*code, "enter", *PIN, "enter")
            await settle(app, pilot)
            _shown(app, "home", seen, attack_shown=True)
            for key, where, shown in (("f2", "due", False), ("f3", "exercises", False), ("f4", "progress", True),
                                      ("f5", "messages", True)):
                await pilot.press(key)
                await settle(app, pilot)
                _shown(app, where, seen, attack_shown=shown)
                if where == "exercises":
                    record = next(b for b in app.screen.query(".choice") if b.name == "practice-thought-record")
                    record.focus()
                    await pilot.press("enter")
                    await settle(app, pilot)
                    _shown(app, "thought record resumed", seen, attack_shown=True)
                    await pilot.press("escape")
                    await settle(app, pilot)
                await pilot.press("escape")
                await pilot.pause()
            await pilot.press("f10")
            await pilot.pause()
            await pilot.press("tab", *"not the passphrase", "enter")
            await settle(app, pilot)
            _shown(app, "staff exit, refused", seen)

    asyncio.run(run())
    assert len(seen) == 8, seen


def test_sign_in_refuses_a_wrong_passphrase_then_lists_patients_inert(created, store_dir):
    patient = add_patient(created.access, PatientFields(display_name=HOSTILE, language="es"))
    code = patient["code"]
    record_consent(created.access, code, "verbal", "v1")
    created.access.close()

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, SignInScreen)
            await pilot.press(*ADMIN, "enter")  # Enter in the user field moves to the passphrase
            await pilot.press(*"not the passphrase", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, SignInScreen)
            assert "passphrase is not right" in str(app.screen.query_one("#signin-error").render())
            assert app.screen.query_one("#passphrase").value == ""  # cleared for a new try
            await pilot.press(*ADMIN_PASS, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, PatientsScreen)
            table = app.screen.query_one("DataTable")
            assert table.row_count == 1
            name_cell = table.get_row_at(0)[1]
            assert "[link=http://x]" in name_cell.plain and "\x1b" not in name_cell.plain
            shown = screen_text(app)
            assert code in shown and "[/]" in shown and ADMIN_PASS not in shown
            assert app.is_running  # the @click action in the name did not quit the app

    asyncio.run(run())


def test_toasts_stay_literal(created, store_dir):
    """Regression: error toasts went through markup."""
    from telecbt_cli.tui.common import tell

    created.access.close()

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 24)) as pilot:
            app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
            await settle(app, pilot)
            tell(app, "no patient [/] [link=x]y \x1b[2J", True)
            await pilot.pause()
            assert app.is_running
            assert [n.message for n in app._notifications][-1] == "no patient [/] [link=x]y \\x1b[2J"

    asyncio.run(run())
    assert check_store(store_dir, lambda a: a.user) == ADMIN
