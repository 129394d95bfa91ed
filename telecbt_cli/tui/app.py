"""The staff terminal UI: sign-in, caseload, patient record, check-ins, alerts, bundles, settings.

Every store operation runs in a thread worker and goes through the same core services
as the CLI; screens only gather input and show results. User text is shown as Rich
`Text` made inert (Textual would otherwise read `str` cells as markup).
"""

from __future__ import annotations

import time
from datetime import timezone
from pathlib import Path

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widgets import Button, Header, Input, Label, Static

from telecbt_cli.content.catalog import Catalog
from telecbt_cli.content.languages import LANGS
from telecbt_cli.core.store.errors import TelecbtError, WrongPassphrase
from telecbt_cli.core.store.settings import load_ui_settings, save_ui_settings
from telecbt_cli.tui.common import (
    QuietScroll,
    InertTitles,
    Localized,
    QuietCrash,
    SafeInput,
    error_text,
    footer,
    localize_bindings,
    safe,
    tell,
    tr,
)

#: Black and white with one strong accent: readable in sunlight and on poor screens.
HIGH_CONTRAST = Theme(
    name="telecbt-contrast", primary="#ffff00", secondary="#00ffff", accent="#ffff00", foreground="#ffffff",
    background="#000000", surface="#000000", panel="#1a1a1a", success="#00ff00", warning="#ffff00",
    error="#ff5555", dark=True,
)
THEMES = {"standard": "textual-dark", "contrast": "telecbt-contrast"}


class SignInScreen(Localized, Screen):
    """Staff sign-in: user name and passphrase; the slow key derivation runs off the event loop."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="signin"):
            yield Label(tr(self.app, "signin.title"), id="signin-title")
            yield SafeInput(placeholder=tr(self.app, "signin.user"), id="user")
            yield Input(placeholder=tr(self.app, "signin.passphrase"), password=True, id="passphrase")
            yield Button(tr(self.app, "signin.button"), variant="primary", id="go")
            yield Static("", id="signin-error")
        yield footer()

    def on_mount(self) -> None:
        self.populate()

    def populate(self) -> None:
        self.query_one("#user", Input).focus()
        if self.app.locked_note:
            self.query_one("#signin-error", Static).update(self.app.locked_note)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "user":
            self.query_one("#passphrase", Input).focus()
            return
        self.submit()

    def submit(self) -> None:
        user = self.query_one("#user", Input).value.strip() or None
        secret = self.query_one("#passphrase", Input).value
        if not secret:
            self.query_one("#passphrase", Input).focus()
            return
        self.query_one("#signin-error", Static).update(tr(self.app, "signin.busy"))
        self.query_one("#go", Button).disabled = True
        self.unlock(user, secret)

    @work(thread=True, exclusive=True, group="unlock")
    def unlock(self, user: str | None, secret: str) -> None:
        from telecbt_cli.core.store.unlock import unlock

        try:
            access = unlock(self.app.store_dir, user, secret)
            self.app.catalog.entries  # noqa: B018  (load modules and questionnaires here, off the event loop)
        except WrongPassphrase:
            self.app.call_from_thread(self.failed, tr(self.app, "signin.wrong"))
            return
        except TelecbtError as error:
            self.app.call_from_thread(self.failed, error_text(self.app, error))
            return
        self.app.call_from_thread(self.app.signed_in, access)

    def failed(self, message: str) -> None:
        self.query_one("#go", Button).disabled = False
        self.query_one("#passphrase", Input).value = ""
        self.query_one("#passphrase", Input).focus()
        self.query_one("#signin-error", Static).update(safe(message))


class HelpScreen(Localized, ModalScreen[None]):
    """The keys of the staff app, in the chosen language."""

    BINDINGS = [Binding("escape,f1", "app.pop_screen", "Close")]
    KEYS = ("help.keys_global", "help.keys_list", "help.keys_patient", "help.keys_tables", "help.keys_run")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label(tr(self.app, "help.title"), classes="dialog-title")
            for key in self.KEYS:
                yield Static(tr(self.app, key))
            yield Button(tr(self.app, "common.close"), id="help-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.app.pop_screen()


class SettingsScreen(Localized, ModalScreen[None]):
    """Language, look and idle lock; saved for next time. A new language redraws every open screen in it."""

    BINDINGS = [Binding("escape", "close", "Close")]
    AUTO_FOCUS = ""  # focused in on_mount without scrolling the first label away ("" turns it off)

    def compose(self) -> ComposeResult:
        from telecbt_cli.tui.forms import radio_set

        app = self.app
        with Vertical(classes="dialog"):  # title and Close stay in view; the choices scroll (80x24)
            yield Label(tr(app, "settings.title"), classes="dialog-title")
            with QuietScroll(classes="dialog-body"):
                yield Label(tr(app, "settings.language"))
                yield radio_set("lang", [(lang, tr(app, f"lang.{lang}")) for lang in LANGS], app.lang)
                yield Label(tr(app, "settings.theme"))
                yield radio_set("theme", [(name, tr(app, f"settings.theme_{name}")) for name in THEMES],
                                app.theme_name)
                yield Label(tr(app, "settings.idle"))
                yield radio_set("idle", [(str(m), tr(app, "settings.minutes", n=m)) for m in IDLE_CHOICES],
                                str(app.idle_seconds // 60))
            with Vertical(classes="dialog-foot"):
                yield Button(tr(app, "common.close"), variant="primary", id="settings-close")

    def on_radio_set_changed(self, event) -> None:
        choice = event.pressed.name
        if event.radio_set.id == "lang":
            self.app.set_language(choice)
        elif event.radio_set.id == "theme":
            self.app.set_theme(choice)
        else:
            self.app.set_idle(int(choice) * 60)

    def on_mount(self) -> None:
        self.start_lang = self.app.lang
        self.query_one("#lang").focus(scroll_visible=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.app.pop_screen()
        if self.app.lang != self.start_lang:
            self.app.relocalize()


#: Idle lock: minutes offered in Settings; `telecbt tui --idle SECONDS` sets any time in IDLE_RANGE.
IDLE_CHOICES = (5, 15, 30, 60)
IDLE_RANGE = (60, 8 * 3600)
DEFAULT_IDLE = 15 * 60


class TelecbtApp(InertTitles, QuietCrash, App):
    """The staff app. Built by `make_app`, given the store folder; screens never open the store."""

    CSS_PATH = [Path(__file__).parent / "common.tcss", Path(__file__).parent / "app.tcss"]
    TITLE = "telecbt"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
        Binding("f1", "help", "Help"),
        Binding("f2", "settings", "Settings"),
        Binding("ctrl+l", "lock", "Lock", show=False),
    ]

    def __init__(self, store_dir: Path, catalog: Catalog | None = None, lang: str | None = None,
                 content: Path | None = None, idle_seconds: int | None = None) -> None:
        super().__init__()
        from telecbt_cli.content.catalog import content_dirs, load_for_ui

        self.store_dir = store_dir
        self.catalog = catalog or load_for_ui(content_dirs(content))  # the clinic's folders, as every command
        settings = load_ui_settings()
        self.lang = lang or (settings.get("lang") if settings.get("lang") in LANGS else "en")
        self.theme_name = settings.get("theme") if settings.get("theme") in THEMES else "standard"
        saved_idle = settings.get("idle_seconds")
        low, high = IDLE_RANGE
        self.idle_seconds = idle_seconds or (saved_idle if isinstance(saved_idle, int) and low <= saved_idle <= high
                                             else DEFAULT_IDLE)
        self.last_activity = time.monotonic()
        self.locked_note = ""  # why the sign-in screen is back (the idle lock), shown on it
        self.access = None
        self.zone = timezone.utc  # this device's time zone, read from the store at sign-in
        self.start_access = None  # an already unlocked store (the demo): skip the sign-in screen

    def on_mount(self) -> None:
        self.register_theme(HIGH_CONTRAST)
        if self.theme != THEMES[self.theme_name]:  # re-styling every widget costs start-up time
            self.theme = THEMES[self.theme_name]
        localize_bindings(self, self)
        self.set_interval(1.0, self.lock_when_idle)
        if self.start_access is not None:
            self.signed_in(self.start_access)
            self.start_access = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    def lock_when_idle(self) -> None:
        """The idle lock: no key or click for `idle_seconds` closes the store and shows the sign-in.

        Work in progress (an import, a save) finishes first: the lock waits for it."""
        if self.access is None or time.monotonic() - self.last_activity < self.idle_seconds:
            return
        if any(worker.is_running for worker in self.workers):
            return
        self.action_lock(note=self.t("signin.idle_locked", minutes=max(1, round(self.idle_seconds / 60))))

    def get_default_screen(self) -> Screen:
        """Sign-in is the bottom of the screen stack: every other screen sits on top of it, and
        locking pops back to it (no blank screen to build before the first frame)."""
        return SignInScreen()

    def t(self, key: str, **values: object) -> str:
        return tr(self, key, **values)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "lock" and self.access is None:
            return False  # nothing to lock at the sign-in screen: no key in the footer either
        return True

    def can(self, permission: str) -> bool:
        """Only for showing or hiding controls: core refuses what a role may not do anyway."""
        return self.access is not None and self.access.can(permission)

    def signed_in(self, access) -> None:
        from telecbt_cli.tui.patients import PatientsScreen

        from telecbt_cli.core.store.zones import device_zone, device_zone_name

        self.access = access
        self.locked_note = ""
        self.last_activity = time.monotonic()
        self.zone = device_zone(access.store)  # every time on the staff screens is shown in it, labelled
        self.sub_title = f"{access.user} ({access.role}) · {device_zone_name(access.store)}"
        for notice in access.store.notices:  # e.g. a full disk: reading works, saving does not
            tell(self, str(self.catalog.render(notice, self.lang)), error=True)
        self.refresh_bindings()
        self.push_screen(PatientsScreen())

    def set_language(self, lang: str) -> None:
        self.lang = lang
        localize_bindings(self, self)
        save_ui_settings({"lang": lang})
        tell(self, self.t("settings.saved"))

    def set_theme(self, name: str) -> None:
        self.theme_name = name
        self.theme = THEMES[name]
        save_ui_settings({"theme": name})

    def set_idle(self, seconds: int) -> None:
        self.idle_seconds = seconds
        save_ui_settings({"idle_seconds": seconds})

    @work(exclusive=True, group="relocalize")
    async def relocalize(self) -> None:
        """Every open screen drawn again in the new language, where it was (after Settings)."""
        for screen in list(self.screen_stack):
            if isinstance(screen, Localized):
                await screen.relocalize()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_settings(self) -> None:
        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen())

    def action_lock(self, note: str = "") -> None:
        if self.access is None:
            return
        self.access.close()
        self.access = None
        self.sub_title = ""
        self.locked_note = note
        self.clear_notifications()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.refresh_bindings()
        self.call_later(self.screen.relocalize)  # empty fields, current language, the reason for the lock

    def action_go(self, name: str) -> None:
        """Open one of the main screens (from the palette or a key)."""
        if self.access is None:
            return
        from telecbt_cli.tui import dashboard, patients

        screens = {"patients": patients.PatientsScreen, "checkins": dashboard.CheckinsScreen,
                   "alerts": dashboard.AlertsScreen}
        if name == "bundles":
            from telecbt_cli.tui.bundles import BundleScreen

            self.push_screen(BundleScreen())
        else:
            self.push_screen(screens[name]())

    def get_system_commands(self, screen: Screen):
        if self.access is not None:
            for name in ("patients", "checkins", "alerts", "bundles"):
                yield SystemCommand(self.t(f"palette.{name}"), self.t(f"palette.{name}_help"),
                                    lambda name=name: self.action_go(name))
            yield SystemCommand(self.t("palette.lock"), self.t("palette.lock_help"), self.action_lock)
        yield SystemCommand(self.t("palette.settings"), self.t("palette.settings_help"), self.action_settings)
        yield SystemCommand(self.t("palette.help"), self.t("palette.help_help"), self.action_help)
        yield SystemCommand(self.t("palette.quit"), self.t("palette.quit_help"), self.exit)

    def on_unmount(self) -> None:
        if self.access is not None:
            self.access.close()


def make_app(store_dir: Path, lang: str | None = None, catalog: Catalog | None = None,
             content: Path | None = None, idle_seconds: int | None = None) -> TelecbtApp:
    """The staff app; content from `content` (--content), else TELECBT_CONTENT_PATH, plus the built-in.
    `idle_seconds` (--idle) overrides the idle lock chosen in Settings."""
    return TelecbtApp(store_dir, catalog=catalog, lang=lang, content=content, idle_seconds=idle_seconds)
