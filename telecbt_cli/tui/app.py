"""The staff terminal UI (first step of issue 6): sign in, patient list, patient record, quick diary entry.

Every store operation runs in a thread worker and goes through the same core services
as the CLI; screens only gather input and show results. User text is shown as Rich
`Text` made inert (Textual would otherwise read `str` cells as markup).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from telecbt_cli.commands._output import inert
from telecbt_cli.core.errors import TelecbtError


def safe(value: object) -> Text:
    """User or patient text as inert Rich text: markup and escape sequences stay visible."""
    return Text(inert(value).replace("\\x0a", " "))


class SignInScreen(Screen):
    """Staff sign-in: user name and passphrase; the slow key derivation runs off the event loop."""

    BINDINGS = [Binding("escape", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="signin"):
            yield Label("telecbt: sign in", id="signin-title")
            yield Input(placeholder="user name (optional)", id="user")
            yield Input(placeholder="passphrase", password=True, id="passphrase")
            yield Button("Sign in", variant="primary", id="go")
            yield Static("", id="signin-error")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def submit(self) -> None:
        user = self.query_one("#user", Input).value.strip() or None
        secret = self.query_one("#passphrase", Input).value
        self.query_one("#signin-error", Static).update("Unlocking…")
        self.unlock(user, secret)

    @work(thread=True, exclusive=True)
    def unlock(self, user: str | None, secret: str) -> None:
        from telecbt_cli.core.unlock import unlock

        try:
            access = unlock(self.app.store_dir, user, secret)
        except TelecbtError as error:
            self.app.call_from_thread(self.failed, str(error))
            return
        self.app.call_from_thread(self.app.signed_in, access)

    def failed(self, message: str) -> None:
        self.query_one("#passphrase", Input).value = ""
        self.query_one("#signin-error", Static).update(safe(message))


class PatientsScreen(Screen):
    """Active patients; Enter opens a record."""

    BINDINGS = [Binding("r", "reload", "Reload"), Binding("escape", "app.lock", "Lock")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="patients", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("code", "name", "born", "lang")
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from telecbt_cli.core.patients import list_patients

        rows = list_patients(self.app.access)
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(safe(row["code"]), safe(row["display_name"]), safe(row["birth_year"] or ""),
                          safe(row["language"]), key=row["code"])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(PatientScreen(str(event.row_key.value)))


class PatientScreen(Screen):
    """One patient's record and a quick pain entry (d)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("d", "diary", "Pain entry")]

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="record")
        with Vertical(id="diary-form"):
            yield Input(placeholder="pain now, 0-10", id="pain", type="integer")
            yield Static("", id="diary-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from telecbt_cli.core.patients import get_patient

        try:
            patient = get_patient(self.app.access, self.code)
        except TelecbtError as error:
            self.app.call_from_thread(self.query_one("#record", Static).update, safe(str(error)))
            return
        lines = Text()
        for label, key in (("code", "code"), ("name", "display_name"), ("born", "birth_year"),
                           ("language", "language"), ("phone", "phone"), ("notes", "notes")):
            lines.append(f"{label:<10}", style="bold")
            lines.append_text(safe(patient.get(key) or "-"))
            lines.append("\n")
        lines.append("consent   ", style="bold")
        lines.append("active" if patient["consent"]["active"] else "none")
        if patient.get("open_safety_alerts"):
            lines.append(f"\nOpen safety alerts: {patient['open_safety_alerts']}", style="bold red")
        self.app.call_from_thread(self.query_one("#record", Static).update, lines)

    def action_diary(self) -> None:
        self.query_one("#pain", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.save(event.value)

    @work(thread=True, exclusive=True)
    def save(self, value: str) -> None:
        from telecbt_cli.core.diary import add_entry

        try:
            entry = add_entry(self.app.access, self.code, {"pain": value.strip() or None})
            message = Text(f"Saved: pain {entry['pain']}.", style="green")
        except TelecbtError as error:
            message = Text(inert(str(error)), style="red")
        self.app.call_from_thread(self.query_one("#diary-status", Static).update, message)


class TelecbtApp(App):
    """The staff app. Built by `make_app`, given the store folder; screens never open the store."""

    CSS_PATH = "app.tcss"
    TITLE = "telecbt"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit")]

    def __init__(self, store_dir: Path) -> None:
        super().__init__()
        self.store_dir = store_dir
        self.access = None

    def on_mount(self) -> None:
        self.push_screen(SignInScreen())

    def signed_in(self, access) -> None:
        self.access = access
        self.sub_title = f"{access.user} ({access.role})"
        self.switch_screen(PatientsScreen())

    def action_lock(self) -> None:
        if self.access is not None:
            self.access.close()
            self.access = None
        self.sub_title = ""
        self.switch_screen(SignInScreen())

    def on_unmount(self) -> None:
        if self.access is not None:
            self.access.close()


def make_app(store_dir: Path) -> TelecbtApp:
    return TelecbtApp(store_dir)
