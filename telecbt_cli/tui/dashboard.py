"""Today's and overdue check-ins, and safety alerts waiting for a clinician."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.tui.common import (
    Localized,
    TextPromptScreen,
    error_text,
    footer,
    local_time,
    safe,
    tell,
    tr,
    value,
)
from telecbt_cli.tui.tables import FittedTable


class _TableScreen(Localized, Screen):
    """A titled table filled by a worker (`fetch`, in core), with a status line; Enter acts on a row,
    F3 opens the patient's record. Letters do nothing here: there is nothing to type."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f3", "open_patient", "Patient"),
                Binding("ctrl+r", "reload", "Reload", show=False)]
    AUTO_FOCUS = "DataTable"
    NAME = ""  # locale section and widget id
    COLUMNS: tuple[str, ...] = ()
    rows: list[dict] = []  # what the table shows, in its order

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(tr(self.app, f"{self.NAME}.title"), classes="screen-title")
        yield FittedTable(id=self.NAME, cursor_type="row", zebra_stripes=True)
        yield Static("", id=f"{self.NAME}-status", classes="status")
        yield footer()

    def on_mount(self) -> None:
        self.populate()

    def populate(self) -> None:
        table = self.query_one(DataTable)
        for key in self.COLUMNS:
            table.add_column(tr(self.app, f"{self.NAME}.col_{key}"), key=key)
        self.action_reload()

    def action_open_patient(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            from telecbt_cli.tui.patients import PatientScreen

            row = self.rows[table.cursor_row]
            self.app.push_screen(PatientScreen(row["code"]))

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        try:
            data = self.fetch()
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(self._fill, data)

    def _fill(self, data) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        status = self.show(table, data)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.query_one(f"#{self.NAME}-status", Static).update(status)

    def fetch(self):
        raise NotImplementedError

    def show(self, table: DataTable, data) -> str:
        """Add the rows; return the status line."""
        raise NotImplementedError


class CheckinsScreen(_TableScreen):
    """Sessions today, then scheduled sessions whose time has passed without a record; Enter opens the patient."""

    NAME = "checkins"
    COLUMNS = ("when", "code", "mode", "module", "state")

    def fetch(self) -> dict:
        from telecbt_cli.core.care.appointments import checkins

        return checkins(self.app.access)

    def show(self, table: DataTable, data: dict) -> str:
        self.rows = data["sessions"]
        for row in self.rows:
            state = Text(tr(self.app, "checkins.overdue"), style="bold red") if row["overdue"] \
                else Text(value(self.app, "session", row["status"]))
            table.add_row(Text(local_time(row["scheduled_at"], self.app.zone)), safe(row["code"]), Text(value(self.app, "mode", row["mode"])),
                          safe(row["module_id"] or "-"), state, key=row["id"])
        return tr(self.app, "checkins.count", today=data["today"], overdue=data["overdue"])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from telecbt_cli.tui.checkins import session_actions

        row = next(r for r in self.rows if r["id"] == event.row_key.value)
        session_actions(self, row, row["code"], self.load, can_open=True)


class AlertsScreen(_TableScreen):
    """Open safety alerts. Enter asks what was done, then acknowledges (clinicians and admins)."""

    NAME = "alerts"
    COLUMNS = ("opened", "code", "rule", "content")

    def fetch(self) -> list[dict]:
        from telecbt_cli.core.clinical.alerts import list_alerts

        return list_alerts(self.app.access)

    def show(self, table: DataTable, rows: list[dict]) -> str:
        self.rows = rows
        for row in rows:
            table.add_row(Text(local_time(row["opened_at"], self.app.zone)), safe(row["code"]), safe(row["rule_id"]),
                          safe(row["content_id"]), key=row["id"])
        return tr(self.app, "alerts.count" if self.app.can("review") else "alerts.count_view_only", count=len(rows))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not self.app.can("review"):
            tell(self.app, tr(self.app, "alerts.needs_review_role"), True)
            return
        ident = str(event.row_key.value)
        self.app.push_screen(TextPromptScreen(tr(self.app, "alerts.note_question"), tr(self.app, "alerts.note_hint")),
                             lambda note: self.acknowledge(ident, note) if note and note.strip() else None)

    @work(thread=True)
    def acknowledge(self, ident: str, note: str) -> None:
        from telecbt_cli.core.clinical.alerts import acknowledge

        try:
            acknowledge(self.app.access, ident, note)
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(tell, self.app, tr(self.app, "alerts.acknowledged"))
        self.app.call_from_thread(self.load)
