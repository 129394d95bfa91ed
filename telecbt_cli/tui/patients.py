"""The caseload list (paged, searchable) and one patient's record with its tabs."""

from __future__ import annotations

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Header,
    Input,
    Label,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option

from telecbt_cli.content.catalog import pick
from telecbt_cli.core.care.textchart import sparkline
from telecbt_cli.core.clinical import flags
from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.tui.common import (
    QuietScroll,
    Localized,
    SafeInput,
    bar_chart,
    error_text,
    footer,
    local_date,
    local_time,
    safe,
    tell,
    tr,
    value,
)
from telecbt_cli.tui.tables import FittedTable

#: Long text columns (a goal, a task) are cut to this width so the date and status beside them fit 80 columns.
TEXT_WIDTH = {"goal": 44, "task": 48}
WRITE_ACTIONS = {"diary", "take_measure", "run_module", "schedule", "add_goal", "message"}


class PatientsScreen(Localized, Screen):
    """Active patients with next check-in, overdue sessions, open alerts, last diary and unread messages.

    Rows arrive a page at a time: the next page loads when the cursor nears the end.
    """

    AUTO_FOCUS = "#patients"

    # Letters are for typing: typed on the list they go to the search box (a name typed there never
    # opens a screen). Actions sit on F-keys and Ctrl keys, as the footer shows.
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("f3", "app.go('checkins')", "Check-ins"),
        Binding("f4", "app.go('alerts')", "Alerts"),
        Binding("f5", "app.go('bundles')", "Bundles"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.search = ""
        self.loaded = 0
        self.total = 0
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SafeInput(placeholder=tr(self.app, "patients.search"), id="search",
                        select_on_focus=False)  # letters typed on the list go on from the first one
        yield FittedTable(id="patients", cursor_type="row", zebra_stripes=True)
        yield Static("", id="patients-status", classes="status")
        yield footer()

    def on_mount(self) -> None:
        self.populate()

    def populate(self) -> None:
        table = self.query_one(DataTable)
        for key in ("code", "name", "next", "alerts", "diary", "unread", "flags"):
            table.add_column(tr(self.app, f"patients.col_{key}"), key=key)
        self.query_one("#search", Input).value = self.search
        table.focus()
        self.action_reload()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """Type to search: a letter typed on the list starts (or goes on with) the search."""
        search = self.query_one("#search", Input)
        if self.focused is search or not event.is_printable or not event.character or event.character == "/":
            return
        event.stop()
        event.prevent_default()
        search.focus()
        search.insert_text_at_cursor(event.character)
        search.cursor_position = len(search.value)

    def action_reload(self) -> None:
        self.query_one(DataTable).clear()
        self.loaded = 0
        self.load_page(self.search, 0)

    @on(Input.Submitted, "#search")
    def searched(self, event: Input.Submitted) -> None:
        self.search = event.value.strip()
        self.action_reload()
        self.query_one(DataTable).focus()

    @work(thread=True, exclusive=True, group="caseload")
    def load_page(self, search: str, offset: int) -> None:
        from telecbt_cli.core.care import caseload

        try:
            total = caseload.count(self.app.access, search) if offset == 0 else self.total
            rows = caseload.page(self.app.access, search, offset)
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(self.show_page, search, offset, total, rows)

    def show_page(self, search: str, offset: int, total: int, rows: list[dict]) -> None:
        if search != self.search or offset != self.loaded:
            return  # an older request: a newer search replaced it
        table = self.query_one(DataTable)
        self.total = total
        for row in rows:
            alerts = Text(str(row["open_alerts"]), style="bold red") if row["open_alerts"] else Text("-")
            next_checkin = local_date(row["next_checkin"], self.app.zone)
            if row["overdue"]:
                next_checkin += f" (+{row['overdue']})"
            found = ", ".join(flags.label(self.app.catalog, f["content_id"], f["flag_id"], self.app.lang)
                              for f in row["flags"])
            table.add_row(safe(row["code"]), safe(row["display_name"]), Text(next_checkin), alerts,
                          Text(local_date(row["last_diary"], self.app.zone)), Text(str(row["unread"] or "-")),
                          safe(found) if found else Text("-"), key=row["code"])
        self.loaded += len(rows)
        self.query_one("#patients-status", Static).update(
            tr(self.app, "patients.count", shown=self.loaded, total=self.total))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= self.loaded - 20 and self.loaded < self.total:
            self.load_page(self.search, self.loaded)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(PatientScreen(str(event.row_key.value)))


class DiaryFormScreen(Localized, ModalScreen[dict | None]):
    """A new diary entry. Nothing is stored until Save or Enter: closing the terminal halfway stores nothing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    FIELDS = ("pain", "mood", "sleep_hours", "activity_min", "note")
    HINTS = {"pain": "0-10 ____", "mood": "0-10 ____", "sleep_hours": "h ____", "activity_min": "min ____",
             "note": "…  ____"}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog diary-form"):
            yield Label(tr(self.app, "diary.title"), classes="dialog-title")
            with Grid(classes="form-grid"):
                for name in self.FIELDS:
                    yield Label(tr(self.app, f"diary.{name}"))
                    # Plain text, read by core.parse_number: a number Input would drop the comma of "5,5".
                    yield SafeInput(id=f"diary-{name}", compact=True, placeholder=self.HINTS[name],
                                max_length=2000 if name == "note" else 12)
            yield Static("", id="diary-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(tr(self.app, "common.save"), variant="primary", id="save")
                yield Button(tr(self.app, "common.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#diary-pain", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()  # Enter saves from any field (Tab moves); quick entries are pain + Enter

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def save(self) -> None:
        """Check every value first: a refused one keeps the form as typed and names the field."""
        from telecbt_cli.core.care.diary import NUMERIC, DiaryFieldError, check_entry
        from telecbt_cli.core.clinical.answers import parse_number

        values: dict = {}
        for name in self.FIELDS:
            typed = self.query_one(f"#diary-{name}", Input).value.strip() or None
            if typed is not None and name in NUMERIC:
                try:
                    typed = parse_number(typed, self.app.lang)
                except ValueError:
                    self.show_error(name)
                    return
            values[name] = typed
        try:
            check_entry(values)
        except DiaryFieldError as error:
            self.show_error(error.field)
            return
        except TelecbtError as error:
            self.query_one("#diary-error", Static).update(safe(error_text(self.app, error)))
            return
        self.dismiss(values)

    def show_error(self, field: str) -> None:
        """Say which field holds a value that cannot be saved, and put the cursor there."""
        from telecbt_cli.core.care.diary import NUMERIC

        low, high, whole = NUMERIC[field]
        self.query_one("#diary-error", Static).update(
            tr(self.app, "diary.bad_whole" if whole else "diary.bad_number", field=tr(self.app, f"diary.{field}"),
               min=low, max=high))
        self.query_one(f"#diary-{field}", Input).focus()


class PickScreen(Localized, ModalScreen[str | None]):
    """Choose one item (a questionnaire, a module) from a list."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(safe(self.title_text), classes="dialog-title")
            yield OptionList(*[Option(safe(label), id=ident) for ident, label in self.choices], id="pick")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PatientScreen(Localized, Screen):
    """One patient: overview (charts), diary, questionnaires, plan (goals, homework), sessions, messages.

    On the plan and sessions tabs Enter acts on the highlighted goal, homework task or session."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f3", "diary", "Diary entry"),
        Binding("f4", "take_measure", "Questionnaire"),
        Binding("f5", "run_module", "Module"),
        Binding("f6", "schedule", "Check-in"),
        Binding("f7", "add_goal", "Goal"),
        Binding("f8", "message", "Message"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        # F1 and F2 work here as everywhere; the record's own keys need the room in the footer.
        Binding("f1", "app.help", "Help", show=False),
        Binding("f2", "app.settings", "Settings", show=False),
    ]
    TABS = ("overview", "diary", "measures", "plan", "sessions", "messages")

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code
        self.patient: dict | None = None
        self.data: dict | None = None
        self.tab = "overview"

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs", initial=f"tab-{self.tab}"):
            for name in self.TABS:
                with TabPane(tr(self.app, f"patient.tab_{name}"), id=f"tab-{name}"):
                    if name == "messages":
                        yield VerticalScroll(Static(tr(self.app, "common.loading"), id="messages-log"))
                        yield SafeInput(placeholder=tr(self.app, "patient.message_placeholder"), id="message-input")
                    elif name == "plan":
                        with QuietScroll():
                            yield Static(tr(self.app, "common.loading"), id="plan-body")
                            yield Label(tr(self.app, "patient.goals"), classes="table-title")
                            yield DataTable(id="goals", cursor_type="row", classes="record-table")
                            yield Label(tr(self.app, "patient.homework"), classes="table-title")
                            yield DataTable(id="homework", cursor_type="row", classes="record-table")
                            yield Static(tr(self.app, "patient.plan_hint"), classes="hint")
                    elif name == "sessions":
                        with QuietScroll():
                            yield DataTable(id="sessions-table", cursor_type="row", classes="record-table")
                            yield Static(tr(self.app, "patient.sessions_hint"), classes="hint")
                    else:
                        yield VerticalScroll(Static(tr(self.app, "common.loading"), id=f"{name}-body"))
        yield footer()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in WRITE_ACTIONS and not self.app.can("write"):
            return False  # a viewer sees the record but gets no controls that change it
        return True

    def on_mount(self) -> None:
        self.populate()

    def populate(self) -> None:
        if not self.app.can("write"):
            self.query_one("#message-input", Input).display = False
        columns = {"goals": ("goal", "by", "status", "progress"), "homework": ("task", "due", "status"),
                   "sessions-table": ("when", "mode", "module", "status")}
        for table, keys in columns.items():
            for key in keys:
                self.query_one(f"#{table}", DataTable).add_column(tr(self.app, f"patient.col_{key}"), key=key,
                                                                  width=TEXT_WIDTH.get(key))
        if self.data is not None:
            self.show(self.data)
        self.load()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.tab = str(event.pane.id).removeprefix("tab-")

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="patient")
    def load(self) -> None:
        from telecbt_cli.core.care import appointments, diary, messages, plans, reports
        from telecbt_cli.core.clinical import measures
        from telecbt_cli.core.clinical.patients import get_patient

        access, catalog, lang = self.app.access, self.app.catalog, self.app.lang
        try:
            patient = get_patient(access, self.code)
            plan = plans.show_plan(access, catalog, self.code, lang)
            data = {
                "patient": patient,
                "report": reports.patient_report(access, catalog, self.code, lang, weeks=12),
                "diary": diary.list_entries(access, self.code)[-60:],
                "measures": measures.history(access, catalog, self.code),
                "plan": plan,
                "next_module": plans.next_module(plan),  # what F6 offers
                "sessions": appointments.list_sessions(access, code=self.code),
                "messages": messages.list_messages(access, self.code),
            }
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(self.show, data)

    def show(self, data: dict) -> None:
        self.data = data
        self.patient = data["patient"]
        self.sub_title = f"{self.patient['code']} · {self.patient['display_name']}"
        self.query_one("#overview-body", Static).update(self._overview(data))
        self.query_one("#diary-body", Static).update(self._diary(data["diary"]))
        self.query_one("#measures-body", Static).update(self._measures(data["measures"]))
        self.query_one("#plan-body", Static).update(self._plan(data["plan"]))
        self._fill_plan(data["plan"])
        self._fill_sessions(data["sessions"])
        self.query_one("#messages-log", Static).update(self._messages(data["messages"]))

    def _fill(self, ident: str, rows: list[tuple[str, list]]) -> None:
        """Refill a table, keeping the cursor on the same row where it still exists."""
        table = self.query_one(f"#{ident}", DataTable)
        row = table.cursor_row
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))

    def _fill_plan(self, plan: dict) -> None:
        self._fill("goals", [(g["id"], [safe(g["text"]), Text(g["target_date"] or "-"),
                                        Text(value(self.app, "goal", g["status"])), Text(f"{g['progress'] or 0}%")])
                             for g in plan["goals"]])
        self._fill("homework", [(h["id"], [safe(pick(h["text"], self.app.lang) if isinstance(h["text"], dict)
                                                else h["text"]), Text(h["due_date"] or "-"),
                                           Text(value(self.app, "homework", "overdue" if h["overdue"] else h["status"]))])
                                for h in plan["homework"]])

    def _fill_sessions(self, rows: list[dict]) -> None:
        self._fill("sessions-table", [(r["id"], [Text(local_time(r["scheduled_at"], self.app.zone)), Text(value(self.app, "mode", r["mode"])),
                                                 safe(r["module_id"] or "-"), Text(value(self.app, "session", r["status"]))])
                                      for r in reversed(rows)])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.data is None:
            return
        ident = str(event.row_key.value)
        table = event.data_table.id
        plan = self.data["plan"]
        if table == "sessions-table":
            from telecbt_cli.tui.checkins import session_actions

            row = next(r for r in self.data["sessions"] if r["id"] == ident)
            session_actions(self, row, self.code, self.load)
        elif not self.app.can("write"):
            return
        elif table == "goals":
            from telecbt_cli.tui.forms import GoalUpdateScreen, after_save

            goal = next(g for g in plan["goals"] if g["id"] == ident)
            self.app.push_screen(GoalUpdateScreen(goal), after_save(self.app, "goal.updated", self.load))
        elif table == "homework":
            from telecbt_cli.tui.forms import HomeworkScreen, after_save

            task = next(h for h in plan["homework"] if h["id"] == ident)
            if task["status"] == "done":
                tell(self.app, tr(self.app, "homework.already_done"))
                return
            self.app.push_screen(HomeworkScreen(task), after_save(self.app, "homework.saved", self.load))

    # --- tab bodies (all user text inert) ----------------------------------------

    def _overview(self, data: dict) -> Text:
        patient, report = data["patient"], data["report"]
        out = Text()
        out.append_text(safe(patient["display_name"]))
        out.append_text(safe(f"  {patient['code']}  ", style="bold"))
        out.append(tr(self.app, "patient.consent_yes" if patient["consent"]["active"] else "patient.consent_no"))
        out.append("\n")
        out.append_text(safe(tr(self.app, "patient.timezone",
                                zone=patient["timezone"] or tr(self.app, "patient.timezone_unset"))))
        if patient.get("open_safety_alerts"):
            out.append("\n")
            out.append(tr(self.app, "patient.open_alerts", count=patient["open_safety_alerts"]), style="bold red")
        for flag in report["flags"]:  # kept from the intake until the next one
            out.append("\n")
            out.append_text(Text.assemble(safe(flag["label"]), ": ", safe(flag["message"]), style="bold yellow"))
            for detail in flag["details"]:
                out.append("\n  - ")
                out.append_text(safe(detail))
        weekly = report["diary"]["weekly"].get("pain", [])
        out.append("\n\n")
        out.append(tr(self.app, "patient.pain_weekly"), style="bold")
        out.append("\n")
        if weekly:
            out.append_text(bar_chart([(w["week"][5:], w["value"]) for w in weekly[-10:]],
                                      number=lambda value: self.app.catalog.number(value, self.app.lang)))
        else:
            out.append(tr(self.app, "common.nothing_yet"))
        completion = report["diary"]["completion"]
        if completion is not None:
            out.append("\n")
            out.append(tr(self.app, "patient.diary_completion", percent=round(completion * 100)))
        for score in report["measures"]:
            out.append("\n\n")
            latest = score["points"][-1]
            out.append_text(safe(f"{score['title']}: ", style="bold"))
            out.append(f"{self.app.catalog.number(latest['total'], self.app.lang)} ")
            out.append_text(safe(latest["band_label"] or ""))
            out.append("  ")
            out.append(sparkline([p["total"] for p in score["points"]], 0, max((b["max"] for b in score["bands"]),
                                                                          default=10)))
        return out

    def _diary(self, entries: list[dict]) -> Text:
        if not entries:
            return Text(tr(self.app, "common.nothing_yet"))
        out = Text(tr(self.app, "patient.diary_header") + "\n", style="bold")
        for entry in reversed(entries):
            out.append_text(safe(f"{local_time(entry['entry_at'], self.app.zone):<20}  {entry['pain'] if entry['pain'] is not None else '-':>4}"
                                 f"  {entry['mood'] if entry['mood'] is not None else '-':>4}  "))
            out.append_text(safe(entry.get("note") or ""))
            out.append("\n")
        return out

    def _measures(self, rows: list[dict]) -> Text:
        if not rows:
            return Text(tr(self.app, "common.nothing_yet"))
        out = Text(tr(self.app, "patient.measures_header") + "\n", style="bold")
        from telecbt_cli.core.clinical.scoring import band_label

        for row in reversed(rows):
            instrument = self.app.catalog.entries["instrument"].get(row["instrument_id"])
            band = band_label(instrument, row["band"], self.app.lang) or ""
            out.append_text(safe(f"{local_date(row['completed_at'], self.app.zone)}  {row['instrument_id']:<12} "
                                 f"{self.app.catalog.number(row['total'], self.app.lang):>5}  {band}"))
            out.append("\n")
        return out

    def _plan(self, plan: dict) -> Text:
        out = Text()
        course = value(self.app, "course", plan["course"]) if plan["course"] else tr(self.app, "patient.no_course")
        out.append_text(safe(tr(self.app, "patient.course", course=course), style="bold"))
        for session in plan["sessions"]:
            mark = "x" if session["attended"] else " "
            out.append_text(safe(f"\n[{mark}] {session['n']:>2}. ", multiline=True))
            out.append_text(safe(session["title"]))
        return out

    def _messages(self, rows: list[dict]) -> Text:
        if not rows:
            return Text(tr(self.app, "common.nothing_yet"))
        out = Text()
        for row in rows:
            who = tr(self.app, "patient.from_patient" if row["direction"] == "from_patient" else "patient.from_team")
            out.append_text(safe(f"{local_time(row['sent_at'], self.app.zone)} {who}: ", style="bold"))
            out.append_text(safe(row["body"]))
            out.append("\n")
        return out

    # --- actions -----------------------------------------------------------------

    def action_diary(self) -> None:
        self.app.push_screen(DiaryFormScreen(), self._diary_given)

    def _diary_given(self, values: dict | None) -> None:
        if values:
            self.save_diary(values)

    @work(thread=True, group="patient-write")
    def save_diary(self, values: dict) -> None:
        from telecbt_cli.core.care.diary import add_entry

        try:
            entry = add_entry(self.app.access, self.code, values)
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(tell, self.app, tr(self.app, "diary.saved", pain=entry["pain"]))
        self.app.call_from_thread(self.load)

    def action_take_measure(self) -> None:
        from telecbt_cli.core.clinical.engine import runnable_instruments

        catalog, lang = self.app.catalog, self.app.lang
        choices = [(i["id"], pick(i["title"], lang)) for i in runnable_instruments(catalog)]
        self.app.push_screen(PickScreen(tr(self.app, "patient.pick_measure"), choices),
                             lambda ident: self._run("instrument", ident))

    def action_run_module(self) -> None:
        catalog, lang = self.app.catalog, self.app.lang
        choices = [(m["id"], f"{m['id']}: {pick(m['title'], lang)}") for m in catalog.all("module")]
        self.app.push_screen(PickScreen(tr(self.app, "patient.pick_module"), choices),
                             lambda ident: self._run("module", ident))

    def _run(self, kind: str, ident: str | None) -> None:
        if not ident:
            return
        from telecbt_cli.tui.runner import RunScreen

        lang = (self.patient or {}).get("language") or self.app.lang
        from telecbt_cli.core.clinical.engine import content_for

        content = content_for(self.app.catalog, kind, ident)
        self.app.push_screen(RunScreen(self.app.access, self.code, content, lang), lambda _: self.load())

    def action_schedule(self) -> None:
        """The schedule dialog on the plan's next module: from the loaded record, or (not loaded
        yet) asked of core first, so the dialog never opens without it."""
        if self.data is not None:
            self.open_schedule(self.data["next_module"])
        else:
            self.find_next_module()

    @work(thread=True, exclusive=True, group="patient-next")
    def find_next_module(self) -> None:
        from telecbt_cli.core.care.plans import upcoming_module

        try:
            module = upcoming_module(self.app.access, self.app.catalog, self.code)
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(self.open_schedule, module)

    def open_schedule(self, module: str | None) -> None:
        from telecbt_cli.tui.checkins import ScheduleScreen
        from telecbt_cli.tui.forms import after_save

        if self.app.screen is not self:
            return  # the person moved on while core was asked
        self.app.push_screen(ScheduleScreen(self.code, module=module),
                             after_save(self.app, "checkin.scheduled", self.load))

    def action_add_goal(self) -> None:
        from telecbt_cli.tui.forms import GoalScreen, after_save

        self.app.push_screen(GoalScreen(self.code), after_save(self.app, "goal.added", self.load))

    def action_message(self) -> None:
        self.query_one(TabbedContent).active = "tab-messages"
        self.query_one("#message-input", Input).focus()

    @on(Input.Submitted, "#message-input")
    def send_message(self, event: Input.Submitted) -> None:
        text = event.value
        if text.strip():
            event.input.value = ""
            self.send(text)

    @work(thread=True, group="patient-write")
    def send(self, text: str) -> None:
        from telecbt_cli.core.care import messages

        try:
            messages.send(self.app.access, self.code, text)
        except TelecbtError as error:
            self.app.call_from_thread(tell, self.app, error_text(self.app, error), True)
            return
        self.app.call_from_thread(self.load)
