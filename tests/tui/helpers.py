"""Shared pieces for the TUI tests: the screen as plain text, waiting for workers, the app in tmux."""

from __future__ import annotations

import contextlib
import io
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator

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


class Terminal:
    """A telecbt running in a tmux session at a fixed size: keys in, the pane's text out."""

    def __init__(self, session: str) -> None:
        self.session = session

    def screen(self) -> str:
        return tmux("capture-pane", "-t", self.session, "-p")

    def wait_for(self, text: str, timeout: float = 40) -> str:
        return wait_for(self.session, text, timeout)

    def keys(self, *names: str, pause: float = 0.0) -> None:
        """Press keys by tmux name (Enter, Tab, F6, C-c), waiting `pause` seconds after each."""
        for name in names:
            tmux("send-keys", "-t", self.session, name)
            if pause:
                time.sleep(pause)

    def type(self, text: str) -> None:
        """Type `text` literally."""
        tmux("send-keys", "-t", self.session, "-l", text)

    def close(self) -> None:
        """Close the terminal window: the program gets SIGHUP."""
        tmux("kill-session", "-t", self.session)

    def running(self) -> bool:
        return subprocess.run(["tmux", "-L", SOCKET, "has-session", "-t", self.session],
                              capture_output=True).returncode == 0

    def ended(self, timeout: float = 20) -> bool:
        """Whether the program (and so its session) has ended within `timeout` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.running():
            time.sleep(0.2)
        return not self.running()

    def sign_in(self, user: str, passphrase: str, prompt: str = "sign in") -> None:
        """The staff sign-in screen: user name, Tab, passphrase (never shown), Enter."""
        self.wait_for(prompt)
        time.sleep(1.0)  # let the screen finish mounting and focus the first field
        self.type(user)
        self.wait_for(user)  # the user field has focus and took the keys
        self.keys("Tab", pause=0.5)
        self.type(passphrase)
        time.sleep(0.3)
        assert passphrase not in self.screen()  # masked
        self.keys("Enter")

    def kiosk_sign_in(self, code: str, pin: str) -> None:
        """The kiosk from its language screen (English) to the patient's home screen: code, PIN (never shown)."""
        self.wait_for("English")
        time.sleep(1.0)
        self.keys("Enter")
        self.wait_for("Please sign in")
        time.sleep(0.5)
        self.type(code)
        self.wait_for(code)
        self.keys("Enter")
        time.sleep(0.5)
        self.type(pin)
        time.sleep(0.3)
        assert pin not in self.screen()  # the PIN is masked
        self.keys("Enter")
        self.wait_for("How is your pain right now?")
        time.sleep(0.5)


@contextlib.contextmanager
def telecbt_in_tmux(home, *args: str, size: tuple[int, int] = (80, 24), env: dict[str, str] | None = None,
                    prefix: str = "", name: str = "telecbt") -> Iterator[Terminal]:
    """`telecbt ARGS` in a new session of the private tmux server (`size` columns x rows, no colour,
    cheap key derivation, TELECBT_HOME=`home`, plus `env`; `prefix` goes before the command, e.g.
    strace); yields its Terminal and kills the tmux server at the end."""
    from tests.conftest import telecbt_cmd

    session = f"{name}-{uuid.uuid4().hex[:8]}"
    variables = {"TELECBT_HOME": str(home), "TELECBT_KDF_LOG2N": "10", "TERM": "xterm-256color", "NO_COLOR": "1",
                 **(env or {})}
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
    program = " ".join(shlex.quote(part) for part in [*telecbt_cmd(), *args])
    # -u COLUMNS: conftest sets COLUMNS for CLI tables, and Textual would believe it over the terminal.
    command = f"{prefix}env -u COLUMNS -u LINES {assignments} {program}"
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
                    command], check=True)
    try:
        yield Terminal(session)
    finally:
        tmux("kill-server")


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
