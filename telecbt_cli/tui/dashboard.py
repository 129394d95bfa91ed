"""Today's and overdue check-ins, and safety alerts waiting for a clinician."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from telecbt_cli.core.errors import TelecbtError
from telecbt_cli.tui.common import Localized, TextPromptScreen, local_time, safe, tr


class CheckinsScreen(Localized, Screen):
    """Sessions today, then scheduled sessions whose time has passed without a record; Enter opens the patient."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]
    AUTO_FOCUS = "DataTable"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(tr(self.app, "checkins.title"), classes="screen-title")
        yield DataTable(id="checkins", cursor_type="row", zebra_stripes=True)
        yield Static("", id="checkins-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key in ("when", "code", "mode", "module", "state"):
            table.add_column(tr(self.app, f"checkins.col_{key}"), key=key)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from telecbt_cli.core.appointments import list_sessions

        try:
            today = list_sessions(self.app.access, when="today")
            overdue = list_sessions(self.app.access, when="overdue")
        except TelecbtError as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self.show, today, overdue)

    def show(self, today: list[dict], overdue: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        seen = set()
        for row, late in [(r, False) for r in today] + [(r, True) for r in overdue]:
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            state = Text(tr(self.app, "checkins.overdue"), style="bold red") if late and row["status"] == "scheduled" \
                else Text(tr(self.app, f"checkins.status_{row['status']}"))
            table.add_row(Text(local_time(row["scheduled_at"])), safe(row["code"]), safe(row["mode"]),
                          safe(row["module_id"] or "-"), state, key=f"{row['id']}|{row['code']}")
        self.query_one("#checkins-status", Static).update(
            tr(self.app, "checkins.count", today=len(today), overdue=len(overdue)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from telecbt_cli.tui.patients import PatientScreen

        self.app.push_screen(PatientScreen(str(event.row_key.value).split("|", 1)[1]))


class AlertsScreen(Localized, Screen):
    """Open safety alerts. Enter asks what was done, then acknowledges (clinicians and admins)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]
    AUTO_FOCUS = "DataTable"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(tr(self.app, "alerts.title"), classes="screen-title")
        yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        yield Static("", id="alerts-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key in ("opened", "code", "rule", "content"):
            table.add_column(tr(self.app, f"alerts.col_{key}"), key=key)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from telecbt_cli.core.alerts import list_alerts

        try:
            rows = list_alerts(self.app.access)
        except TelecbtError as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(Text(local_time(row["opened_at"])), safe(row["code"]), safe(row["rule_id"]),
                          safe(row["content_id"]), key=row["id"])
        hint = "alerts.count" if self.app.can("review") else "alerts.count_view_only"
        self.query_one("#alerts-status", Static).update(tr(self.app, hint, count=len(rows)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not self.app.can("review"):
            self.app.notify(tr(self.app, "alerts.needs_review_role"), severity="warning")
            return
        ident = str(event.row_key.value)
        self.app.push_screen(TextPromptScreen(tr(self.app, "alerts.note_question"), tr(self.app, "alerts.note_hint")),
                             lambda note: self.acknowledge(ident, note) if note and note.strip() else None)

    @work(thread=True)
    def acknowledge(self, ident: str, note: str) -> None:
        from telecbt_cli.core.alerts import acknowledge

        try:
            acknowledge(self.app.access, ident, note)
        except TelecbtError as error:
            self.app.call_from_thread(self.app.notify, safe(str(error)).plain, severity="error")
            return
        self.app.call_from_thread(self.app.notify, tr(self.app, "alerts.acknowledged"))
        self.app.call_from_thread(self.load)
