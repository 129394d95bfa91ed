"""The patient kiosk: language, code + PIN, then large simple screens for one patient only.

Staff unlock the store and start the kiosk; the app holds that staff `Access` but every
screen goes through `core.kiosk`, which only ever reaches the signed-in patient. No key
leaves the app: Ctrl-C, Ctrl-Q, Ctrl-Z, Ctrl-\\ and the command palette do nothing, and
leaving needs a staff passphrase. After `idle_seconds` without a key press the screens
are thrown away and the language screen comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.content.languages import LANGS
from telecbt_cli.core.care.textchart import sparkline
from telecbt_cli.core.store.errors import (
    PermissionDenied,
    TelecbtError,
    WrongPassphrase,
)
from telecbt_cli.tui.common import (
    InertTitles,
    Localized,
    QuietCrash,
    SafeInput,
    bar_chart,
    error_text,
    footer,
    localize_bindings,
    safe,
    tr,
)

if TYPE_CHECKING:
    from telecbt_cli.core.store.access import Access
    from telecbt_cli.tui.runner import Answered

DEFAULT_IDLE_SECONDS = 120


def k(app, key: str, **values: object) -> str:
    return tr(app, f"kiosk.{key}", **values)


class LanguageScreen(Localized, Screen):
    """The first screen: one big button per language, each labelled in its own language."""

    def compose(self) -> ComposeResult:
        with Vertical(id="languages", classes="kiosk-panel"):
            yield Static(" / ".join(self.app.catalog.text("tui.kiosk.welcome", lang) for lang in LANGS),
                         classes="kiosk-title")
            for lang in LANGS:
                yield Button(self.app.catalog.text(f"tui.lang.{lang}", lang), id=f"lang-{lang}",
                             classes="kiosk-button")
        yield footer()

    def on_mount(self) -> None:
        self.query_one(f"#lang-{LANGS[0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.app.lang = str(event.button.id).removeprefix("lang-")
        localize_bindings(self.app, self.app)
        self.app.push_screen(PatientSignInScreen())


class PatientSignInScreen(Localized, Screen):
    """Patient code and PIN. The PIN check (a slow hash) runs in a worker."""

    BINDINGS = [Binding("escape", "restart", "Language")]

    def compose(self) -> ComposeResult:
        with Vertical(id="kiosk-signin", classes="kiosk-panel"):
            yield Static(k(self.app, "signin_title"), classes="kiosk-title")
            yield Label(k(self.app, "code"))
            yield SafeInput(placeholder="XXXX-XXXX", id="code", max_length=20)
            yield Label(k(self.app, "pin"))
            yield Input(password=True, id="pin", max_length=8)
            yield Button(k(self.app, "signin_button"), variant="primary", id="signin", classes="kiosk-button")
            yield Static("", id="kiosk-error", classes="error")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "code":
            self.query_one("#pin", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def submit(self) -> None:
        code = self.query_one("#code", Input).value.strip()
        pin = self.query_one("#pin", Input).value.strip()
        if not code or not pin:
            self.query_one("#code" if not code else "#pin", Input).focus()
            return
        self.query_one("#kiosk-error", Static).update(k(self.app, "checking"))
        self.query_one("#signin", Button).disabled = True
        self.check(code, pin)

    @work(thread=True, exclusive=True, group="check")
    def check(self, code: str, pin: str) -> None:
        from telecbt_cli.core.care import kiosk, pins

        try:
            patient = kiosk.sign_in(self.app.store_access(), code, pin)
        except pins.PinLocked:
            self.app.call_from_thread(self.refused, k(self.app, "locked"))
            return
        except TelecbtError:
            # Wrong PIN and unknown code read the same: the screen must not confirm that a code exists.
            self.app.call_from_thread(self.refused, k(self.app, "wrong"))
            return
        self.app.call_from_thread(self.app.patient_signed_in, patient)

    def refused(self, message: str) -> None:
        self.query_one("#pin", Input).value = ""
        self.query_one("#signin", Button).disabled = False
        self.query_one("#kiosk-error", Static).update(message)
        self.query_one("#pin", Input).focus()

    def action_restart(self) -> None:
        self.app.pop_screen()


class HomeScreen(Localized, Screen):
    """"How is your pain right now?" first: a digit and Enter save a diary entry. Then the menu."""

    # The menu buttons show these keys on screen, so the footer stays short.
    BINDINGS = [
        Binding("f2", "due", "Questionnaires", show=False),
        Binding("f3", "exercise", "Exercises", show=False),
        Binding("f4", "progress", "Progress", show=False),
        Binding("f5", "messages", "Messages", show=False),
        Binding("f9", "app.sign_out", "Sign out", show=False),
    ]

    def compose(self) -> ComposeResult:
        from telecbt_cli.tui.runner import (
            ScaleButtons,  # after sign-in: the first screen starts without it
        )

        patient = self.app.patient
        with VerticalScroll(id="kiosk-home", classes="kiosk-panel"):
            yield Static(Text(k(self.app, "hello") + " ") + safe(patient.name), classes="kiosk-title")
            yield Static(k(self.app, "pain_question"), classes="kiosk-question")
            yield ScaleButtons(0, 10, id="pain")
            yield Static(k(self.app, "pain_hint"), classes="hint", id="pain-hint")
            yield Static("", id="pain-status", classes="status")
            with Horizontal(classes="kiosk-menu"):
                yield Button(k(self.app, "menu_due"), id="menu-due")
                yield Button(k(self.app, "menu_exercise"), id="menu-exercise")
                yield Button(k(self.app, "menu_progress"), id="menu-progress")
                yield Button(k(self.app, "menu_messages"), id="menu-messages")
                yield Button(k(self.app, "menu_signout"), id="menu-signout")
            yield Static("", id="due-note", classes="hint")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#pain").focus()
        self.count_due()

    @work(thread=True, exclusive=True, group="kiosk-read")
    def count_due(self) -> None:
        from telecbt_cli.core.care import kiosk

        try:
            due = kiosk.due_questionnaires(self.app.patient, self.app.catalog, self.app.lang)
        except TelecbtError:
            return
        self.app.call_from_thread(self.query_one("#due-note", Static).update,
                                  k(self.app, "due_count", count=len(due)) if due else k(self.app, "due_none"))

    def on_answered(self, message: Answered) -> None:
        message.stop()
        self.query_one("#pain-status", Static).update(k(self.app, "saving"))
        self.save(int(message.value))

    @work(thread=True, exclusive=True, group="kiosk-write")
    def save(self, pain: int) -> None:
        from telecbt_cli.core.care import kiosk

        try:
            kiosk.save_pain(self.app.patient, pain)
        except TelecbtError:
            self.app.call_from_thread(self.query_one("#pain-status", Static).update, k(self.app, "not_saved"))
            return
        self.app.call_from_thread(self.query_one("#pain-status", Static).update, k(self.app, "saved", pain=pain))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"menu-due": self.action_due, "menu-exercise": self.action_exercise,
                  "menu-progress": self.action_progress, "menu-messages": self.action_messages,
                  "menu-signout": self.app.action_sign_out}.get(str(event.button.id))
        if action:
            event.stop()
            action()

    def action_due(self) -> None:
        self.app.push_screen(DueScreen())

    def action_exercise(self) -> None:
        self.app.push_screen(ExerciseScreen())

    def action_progress(self) -> None:
        self.app.push_screen(ProgressScreen())

    def action_messages(self) -> None:
        self.app.push_screen(MessagesScreen())


class _ListScreen(Localized, Screen):
    """A titled list of big buttons, loaded in a worker; Escape goes back home."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    TITLE_KEY = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="kiosk-panel"):
            yield Static(k(self.app, self.TITLE_KEY), classes="kiosk-title")
            yield Vertical(id="choices")
            yield Static(k(self.app, "loading"), id="list-note", classes="hint")
            yield Button(k(self.app, "back"), id="back", classes="kiosk-button")
        yield footer()

    def fill(self, choices: list[tuple[str, str]], empty_key: str) -> None:
        box = self.query_one("#choices", Vertical)
        for ident, label in choices:
            box.mount(Button(safe(label), name=ident, classes="kiosk-button choice"))
        self.query_one("#list-note", Static).update("" if choices else k(self.app, empty_key))
        self.call_after_refresh(lambda: (self.query(".choice").first() if choices else self.query_one("#back")).focus())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "back":
            self.app.pop_screen()
        elif event.button.name:
            self.chosen(event.button.name)

    def chosen(self, ident: str) -> None:
        raise NotImplementedError

    def run_content(self, kind: str, ident: str) -> None:
        from telecbt_cli.tui.runner import RunScreen

        content = self.app.catalog.get(kind, ident)
        patient = self.app.patient
        self.app.push_screen(RunScreen(patient.access, patient.code, content, self.app.lang, kiosk=True),
                             lambda _: self.refill())

    def refill(self) -> None:
        """Back from a run: list again (a finished questionnaire is no longer due)."""
        self.query_one("#choices", Vertical).remove_children()
        self.on_mount()


class DueScreen(_ListScreen):
    TITLE_KEY = "due_title"

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        from telecbt_cli.core.care import kiosk

        due = kiosk.due_questionnaires(self.app.patient, self.app.catalog, self.app.lang)
        self.app.call_from_thread(self.fill, [(d["id"], d["title"]) for d in due], "due_none")

    def chosen(self, ident: str) -> None:
        self.run_content("instrument", ident)


class ExerciseScreen(_ListScreen):
    TITLE_KEY = "exercise_title"

    def on_mount(self) -> None:
        from telecbt_cli.core.care import kiosk

        catalog = self.app.catalog
        self.fill([(m, pick(catalog.get("module", m)["title"], self.app.lang)) for m in kiosk.exercises(catalog)],
                  "exercise_none")

    def chosen(self, ident: str) -> None:
        self.run_content("module", ident)


class ProgressScreen(Localized, Screen):
    """The last four weeks of pain, and the latest questionnaire results, as simple charts."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="kiosk-panel"):
            yield Static(k(self.app, "progress_title"), classes="kiosk-title")
            yield Static(k(self.app, "loading"), id="progress-body")
            yield Button(k(self.app, "back"), id="back", classes="kiosk-button")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        from telecbt_cli.core.care import kiosk

        data = kiosk.progress(self.app.patient, self.app.catalog, self.app.lang)
        self.app.call_from_thread(self.show, data)

    def show(self, data: dict) -> None:
        days = data["pain"]
        out = Text(k(self.app, "progress_pain") + "\n", style="bold")
        out.append(sparkline([d["value"] for d in days], 0, 10) + "\n")
        out.append(f"{days[0]['date'][5:] if days else ''}{'':>{max(len(days) - 10, 1)}}{days[-1]['date'][5:] if days else ''}\n\n",
                   style="dim")
        points = [(k(self.app, "progress_week", n=n), week["value"]) for n, week in enumerate(data["weeks"], 1)]
        out.append_text(bar_chart(points, width=20,
                                  number=lambda value: self.app.catalog.number(value, self.app.lang)))
        for score in data["scores"]:
            out.append("\n\n")
            out.append_text(safe(f"{score['title']}: ", style="bold"))
            latest = score["points"][-1] if score["points"] else None
            if latest:
                out.append(f"{self.app.catalog.number(latest['total'], self.app.lang)} ")
                out.append_text(safe(score.get("latest_band") or ""))
                out.append("  " + sparkline([p["total"] for p in score["points"]], 0,
                                        max(p["total"] for p in score["points"]) or 1))
        self.query_one("#progress-body", Static).update(out)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.app.pop_screen()


class MessagesScreen(Localized, Screen):
    """Messages from the care team, and a short reply."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="kiosk-panel"):
            yield Static(k(self.app, "messages_title"), classes="kiosk-title")
            yield Static(k(self.app, "loading"), id="messages-body")
            yield Label(k(self.app, "reply"))
            yield SafeInput(id="reply", max_length=500)
            yield Static("", id="reply-status", classes="status")
            yield Button(k(self.app, "back"), id="back", classes="kiosk-button")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        from telecbt_cli.core.care import kiosk

        rows = kiosk.messages(self.app.patient)
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list[dict]) -> None:
        if not rows:
            self.query_one("#messages-body", Static).update(k(self.app, "messages_none"))
            return
        if self.app.patient is None:  # signed out (idle) while the messages were read
            return
        catalog, zone = self.app.catalog, self.app.patient.zone  # the patient's own clock, named once
        out = Text(k(self.app, "times_in", zone=catalog.zone_name(zone, self.app.lang)) + "\n", style="dim")
        for row in rows[-20:]:
            who = k(self.app, "from_me" if row["from_patient"] else "from_team")
            out.append(f"{catalog.when(row['at'], self.app.lang, zone, labelled=False)} {who}: ", style="bold")
            out.append_text(safe(row["text"]))
            out.append("\n")
        self.query_one("#messages-body", Static).update(out)

    @on(Input.Submitted, "#reply")
    def reply(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.send(event.value)
            event.input.value = ""

    @work(thread=True)
    def send(self, text: str) -> None:
        from telecbt_cli.core.care import kiosk

        try:
            kiosk.send_message(self.app.patient, text)
        except TelecbtError:
            self.app.call_from_thread(self.query_one("#reply-status", Static).update, k(self.app, "not_saved"))
            return
        self.app.call_from_thread(self.query_one("#reply-status", Static).update, k(self.app, "sent"))
        self.load()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.app.pop_screen()


class StaffExitScreen(Localized, ModalScreen[bool]):
    """Leaving kiosk mode: a staff user name (optional) and passphrase, checked like a sign-in;
    only an admin's or a clinician's ends it (`core.kiosk.end_kiosk`)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(k(self.app, "staff_title"), classes="dialog-title")
            yield SafeInput(placeholder=tr(self.app, "signin.user"), id="staff-user")
            yield Input(placeholder=tr(self.app, "signin.passphrase"), password=True, id="staff-pass")
            yield Static("", id="staff-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#staff-user", Input).focus()  # the field staff type first; Enter moves on

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "staff-user":
            self.query_one("#staff-pass", Input).focus()
            return
        secret = self.query_one("#staff-pass", Input).value
        if not secret:
            self.query_one("#staff-pass", Input).focus()
            return
        self.query_one("#staff-error", Static).update(tr(self.app, "signin.busy"))
        self.verify(self.query_one("#staff-user", Input).value.strip() or None, secret)

    @work(thread=True, exclusive=True, group="verify")
    def verify(self, user: str | None, secret: str) -> None:
        from telecbt_cli.core.care.kiosk import end_kiosk

        try:
            end_kiosk(self.app.store_dir, user, secret)
        except WrongPassphrase:
            self.app.call_from_thread(self.refused, tr(self.app, "signin.wrong"))
            return
        except PermissionDenied:
            self.app.call_from_thread(self.refused, k(self.app, "staff_role"))
            return
        except TelecbtError as error:
            self.app.call_from_thread(self.refused, error_text(self.app, error))
            return
        self.app.call_from_thread(self.dismiss, True)

    def refused(self, message: str) -> None:
        self.query_one("#staff-pass", Input).value = ""
        self.query_one("#staff-error", Static).update(safe(message))

    def action_cancel(self) -> None:
        self.dismiss(False)


class StoreOpening:
    """The staff unlock behind a kiosk, done once, in the background, after the first screen is up.

    Key derivation and opening the database would otherwise delay the first screen; no
    patient can type a code and a PIN before it is done. The same opening serves every
    restart of the kiosk app. A failure (wrong passphrase, a role that may not run the
    kiosk) ends the kiosk with that error.
    """

    def __init__(self, opener: Callable[[], "Access"]) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.access: Access | None = None
        self.error: TelecbtError | None = None

    def open(self) -> None:
        with self._lock:
            if self._done.is_set():
                return
            try:
                access = self._opener()
                try:
                    access.require("write")
                except TelecbtError:
                    access.close()
                    raise
                self.access = access
            except TelecbtError as error:
                self.error = error
            except Exception as error:  # staff are still at the terminal: end with a message, no restarts
                self.error = TelecbtError(f"the store could not be opened ({type(error).__name__})")
            finally:
                self._done.set()

    def wait(self) -> "Access":
        """The open store (from a worker thread); raises the opening's error."""
        self.open()
        if self.error is not None:
            raise self.error
        assert self.access is not None
        return self.access

    def close(self) -> None:
        if self.access is not None:
            self.access.close()


class KioskApp(InertTitles, QuietCrash, App):
    """The kiosk. `access` is the staff session that started it (or `opening`, which opens it after
    the first screen); it never reaches a staff screen."""

    CSS_PATH = [Path(__file__).parent / "common.tcss", Path(__file__).parent / "kiosk.tcss"]
    TITLE = "telecbt"
    ENABLE_COMMAND_PALETTE = False
    INHERIT_BINDINGS = False
    # Only these keys act at app level. Ctrl-C, Ctrl-Q, Ctrl-Z and Ctrl-\ are bound to
    # nothing (Textual's raw mode turns them into plain keys), so they cannot end the app.
    BINDINGS = [Binding("f10", "staff_exit", "Staff", priority=True)]

    def __init__(self, access, store_dir: Path, idle_seconds: float = DEFAULT_IDLE_SECONDS,
                 catalog: Catalog | None = None, opening: StoreOpening | None = None,
                 content: Path | None = None) -> None:
        super().__init__()
        from telecbt_cli.content.catalog import content_dirs, load_for_ui

        self.access, self.store_dir, self.opening = access, store_dir, opening
        self.failure: TelecbtError | None = None  # the store could not be opened: the kiosk ends
        self.catalog = catalog or load_for_ui(content_dirs(content))  # the clinic's folders, as every command
        self.lang = LANGS[0]
        self.idle_seconds = idle_seconds
        self.patient = None
        self.last_activity = time.monotonic()
        self.exiting = False

    def on_mount(self) -> None:
        self.add_class("kiosk")
        localize_bindings(self, self)
        self.set_interval(1.0, self.lock_when_idle)
        if self.access is None and self.opening is not None:
            self.call_after_refresh(self.open_store)

    @work(thread=True, exclusive=True, group="kiosk-open")
    def open_store(self) -> None:
        try:
            access = self.opening.wait()
        except TelecbtError as error:
            self.call_from_thread(self.store_failed, error)
            return
        self.call_from_thread(setattr, self, "access", access)

    def store_failed(self, error: TelecbtError) -> None:
        self.failure = error
        self.exit(return_code=int(error.exit_code))

    def store_access(self):
        """The staff access, waiting for the background opening if needed (call from a worker)."""
        return self.access if self.access is not None else self.opening.wait()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    def lock_when_idle(self) -> None:
        if self.exiting or time.monotonic() - self.last_activity < self.idle_seconds:
            return
        if self.patient is not None or not isinstance(self.screen, LanguageScreen):
            self.action_sign_out()

    def get_default_screen(self) -> Screen:
        return LanguageScreen()

    def patient_signed_in(self, patient) -> None:
        self.patient = patient
        self.last_activity = time.monotonic()
        self.switch_screen(HomeScreen())

    def action_sign_out(self) -> None:
        """Forget the patient and throw every screen that showed their data away."""
        self.patient = None
        self.clear_notifications()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.lang = LANGS[0]
        localize_bindings(self, self)

    def action_staff_exit(self) -> None:
        if isinstance(self.screen, StaffExitScreen):
            return
        self.push_screen(StaffExitScreen(), self._staff_checked)

    def _staff_checked(self, ok: bool | None) -> None:
        if ok:
            self.exiting = True
            self.patient = None
            self.exit()

    def action_quit(self) -> None:
        """Textual's own quit path is closed in kiosk mode; only a staff passphrase leaves."""
        self.action_staff_exit()

    def action_command_palette(self) -> None:
        return None

    def action_suspend_process(self) -> None:
        return None

    def action_help_quit(self) -> None:
        return None


def make_kiosk(access, store_dir: Path, idle_seconds: float = DEFAULT_IDLE_SECONDS,
               opening: StoreOpening | None = None, catalog: Catalog | None = None,
               content: Path | None = None) -> KioskApp:
    """The kiosk; content from `catalog`, else `content` (--content), else TELECBT_CONTENT_PATH, plus the built-in."""
    return KioskApp(access, store_dir, idle_seconds, catalog=catalog, opening=opening, content=content)
