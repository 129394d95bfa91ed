"""Shared pieces for the Textual pilot tests: the screen as plain text, waiting for workers."""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
import uuid

from rich.console import Console

#: Patient text that would run markup, actions or terminal escapes if it were ever interpreted.
HOSTILE = "[/] [link=http://x]Ana[/link] @click=app.quit \x1b]52;c;aGk=\x07"


def screen_text(app) -> str:
    """What the terminal shows, as plain text (the same render the SVG screenshots use)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=False,
                      record=True, legacy_windows=False, color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let workers finish and their results reach the screen (a worker may start another)."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


def check_store(store_dir, fn):
    """Open the store as the admin (as a second session would), run `fn(access)`, close it."""
    from telecbt_cli.core.store.unlock import unlock
    from tests.conftest import ADMIN, ADMIN_PASS

    access = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        return fn(access)
    finally:
        access.close()


#: A private tmux server for the terminal tests: no clash with the user's own.
SOCKET = f"telecbt-test-{uuid.uuid4().hex[:8]}"


def tmux(*args: str) -> str:
    """Run a tmux command on the private server; its stdout."""
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def wait_for(session: str, text: str, timeout: float = 40) -> str:
    """The pane's text once `text` shows in it (AssertionError with the screen after `timeout`)."""
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


async def kiosk_sign_in(app, pilot, code: str, pin: str, lang: str = "en") -> None:
    """From the kiosk's language screen to the patient's home screen: language, code, PIN."""
    from telecbt_cli.tui.kiosk import HomeScreen, LanguageScreen, PatientSignInScreen

    await pilot.pause()
    assert isinstance(app.screen, LanguageScreen)
    if lang != "en":
        await pilot.press("tab")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, PatientSignInScreen)
    await pilot.press(*code, "enter", *pin, "enter")
    await settle(app, pilot)
    assert isinstance(app.screen, HomeScreen)


@contextlib.asynccontextmanager
async def staff_app(store_dir, lang: str = "en", patient: str | None = None, content=None, size=(80, 24)):
    """The staff app signed in as the admin (on `patient`'s record if given); yields (app, pilot)."""
    from telecbt_cli.core.store.unlock import unlock
    from telecbt_cli.tui.app import make_app
    from telecbt_cli.tui.patients import PatientScreen
    from tests.conftest import ADMIN, ADMIN_PASS

    app = make_app(store_dir, lang=lang, content=content)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
        await settle(app, pilot)
        if patient:
            app.push_screen(PatientScreen(patient))
            await settle(app, pilot)
        yield app, pilot
