"""Check-ins in the staff app: schedule and move a session, record it (with fidelity), cancel it.

Each dialog calls the same core functions as `telecbt session schedule|reschedule|record`;
the caller (a patient's record or the check-ins list) shows the session again afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Select, Static

from telecbt_cli.content.catalog import pick
from telecbt_cli.tui.common import (
    QuietScroll,
    GlyphSelectionList,
    Localized,
    SafeInput,
    local_time,
    safe,
    tr,
    value,
)
from telecbt_cli.tui.forms import FormDialog, FormProblem, after_save, radio_set

MODES = ("video", "phone", "in-person", "kiosk")


def _module_choices(app) -> list[tuple[Any, str]]:
    return [(safe(f"{m['id']}: {pick(m['title'], app.lang)}"), m["id"]) for m in app.catalog.all("module")
            if m.get("phase") != "practice"]


class ScheduleScreen(FormDialog):
    """A new session for a patient, or (given `session`) the same session at another time."""

    def __init__(self, code: str, session: dict | None = None, module: str | None = None) -> None:
        super().__init__()
        self.code, self.session, self.module = code, session, module

    def title_text(self) -> str:
        return tr(self.app, "checkin.move_title" if self.session else "checkin.new_title")

    def fields(self) -> ComposeResult:
        if self.session:
            moment = datetime.fromisoformat(self.session["scheduled_at"].replace("Z", "+00:00"))
            when = moment.astimezone(self.app.zone).strftime("%Y-%m-%d %H:%M")  # typed back in this device's zone
        else:
            from telecbt_cli.core.care.appointments import default_session_time

            when = default_session_time(self.app.zone)
        yield Label(tr(self.app, "checkin.when"))
        yield SafeInput(when, id="checkin-when", placeholder="YYYY-MM-DD HH:MM", max_length=25)
        yield Label(tr(self.app, "checkin.mode"))
        mode = self.session["mode"] if self.session else "video"
        yield radio_set("checkin-mode", [(m, value(self.app, "mode", m)) for m in MODES], mode)
        if not self.session:
            yield Label(tr(self.app, "checkin.module"))
            yield Select(_module_choices(self.app), prompt=tr(self.app, "checkin.no_module"),
                         value=self.module or Select.NULL, id="checkin-module")
        yield Label(tr(self.app, "checkin.link"))
        yield SafeInput((self.session or {}).get("link") or "", id="checkin-link", max_length=500,
                        placeholder="https://… / tel:…")

    def on_mount(self) -> None:
        self.query_one("#checkin-when").focus(scroll_visible=False)

    def values(self) -> dict:
        if not self.text("checkin-when"):
            raise FormProblem(tr(self.app, "checkin.need_when"), "checkin-when")
        values = {"at": self.text("checkin-when"), "mode": self.chosen("checkin-mode") or "video",
                  "link": self.text("checkin-link")}
        if not self.session:
            module = self.query_one("#checkin-module", Select)
            values["module"] = None if module.is_blank() else str(module.value)
        return values

    def apply(self, access: Any, values: dict) -> dict:
        from telecbt_cli.core.care import appointments

        if self.session:
            return appointments.reschedule(access, self.app.catalog, self.session["id"], values["at"],
                                           values["mode"], values["link"])
        return appointments.schedule(access, self.app.catalog, self.code, values["at"], values["mode"],
                                     values["module"], link=values["link"] or None)


class RecordScreen(FormDialog):
    """What happened at a session: attended (with the patient's rating and the module's fidelity
    checklist), no-show or cancelled, and notes. A session is recorded once."""

    def __init__(self, session: dict, outcome: str) -> None:
        super().__init__()
        self.session, self.outcome = session, outcome

    def title_text(self) -> str:
        return tr(self.app, f"checkin.record_{self.outcome}", when=local_time(self.session["scheduled_at"], self.app.zone))

    def checklist(self) -> list[dict]:
        module = self.app.catalog.entries["module"].get(self.session.get("module_id") or "")
        return (module or {}).get("fidelity") or []

    def fields(self) -> ComposeResult:
        if self.outcome == "attended":
            yield Label(tr(self.app, "checkin.feedback"))
            yield radio_set("checkin-feedback", [(str(n), str(n)) for n in range(1, 6)]
                            + [("none", tr(self.app, "checkin.not_asked"))], "none")
            items = self.checklist()
            if items:
                yield Label(tr(self.app, "checkin.fidelity"))
                yield GlyphSelectionList(*[(safe(pick(i["text"], self.app.lang)), i["id"], False) for i in items],
                                              id="checkin-fidelity")
                yield Static(tr(self.app, "checkin.fidelity_hint"), classes="hint")
        yield Label(tr(self.app, "checkin.notes"))
        yield SafeInput(id="checkin-notes", max_length=2000)

    def on_mount(self) -> None:
        first = "#checkin-feedback" if self.outcome == "attended" else "#checkin-notes"
        self.query_one(first).focus(scroll_visible=False)

    def values(self) -> dict:
        values: dict = {"notes": self.text("checkin-notes") or None, "feedback": None, "fidelity": []}
        if self.outcome == "attended":
            rating = self.chosen("checkin-feedback")
            values["feedback"] = int(rating) if rating and rating.isdigit() else None
            if self.checklist():
                values["fidelity"] = list(self.query_one("#checkin-fidelity", GlyphSelectionList).selected)
        return values

    def apply(self, access: Any, values: dict) -> dict:
        from telecbt_cli.core.care import appointments

        return appointments.record(access, self.app.catalog, self.session["id"], self.outcome, values["notes"],
                                   values["feedback"], values["fidelity"])


class SessionScreen(Localized, ModalScreen[str | None]):
    """One session and what can be done with it: record, move, cancel, or open the patient's record."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, session: dict, can_open: bool = False) -> None:
        super().__init__()
        self.session, self.can_open = session, can_open

    def compose(self) -> ComposeResult:
        row, app = self.session, self.app
        with QuietScroll(classes="dialog"):
            yield Label(tr(app, "checkin.session_title"), classes="dialog-title")
            summary = tr(app, "checkin.summary", when=local_time(row["scheduled_at"], app.zone), mode=value(app, "mode", row["mode"]),
                         status=value(app, "session", row["status"]))
            yield Static(safe(summary))
            if row.get("module_id"):
                module = app.catalog.entries["module"].get(row["module_id"])
                title = pick(module["title"], app.lang) if module else ""
                yield Static(safe(f"{row['module_id']}: {title}"))
            open_now = row["status"] == "scheduled" and app.can("write")
            if open_now:
                with Horizontal(classes="dialog-buttons"):
                    yield Button(tr(app, "checkin.attended"), variant="primary", id="session-attended")
                    yield Button(tr(app, "checkin.no_show"), id="session-no_show")
                with Horizontal(classes="dialog-buttons"):
                    yield Button(tr(app, "checkin.move"), id="session-move")
                    yield Button(tr(app, "checkin.cancel_session"), variant="error", id="session-cancelled")
            else:
                yield Static(tr(app, "checkin.recorded" if row["status"] != "scheduled" else "checkin.view_only"),
                             classes="hint")
            with Horizontal(classes="dialog-buttons"):
                if self.can_open:
                    yield Button(tr(app, "checkin.open_record"), id="session-open")
                yield Button(tr(app, "common.close"), id="session-close")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = str(event.button.id).removeprefix("session-")
        self.dismiss(None if action == "close" else action)

    def action_close(self) -> None:
        self.dismiss(None)


def session_actions(screen: Screen, session: dict, code: str, reload: Callable[[], None],
                    can_open: bool = False) -> None:
    """Show a session and carry out what the person picks; `reload` shows the result."""
    app = screen.app

    def picked(action: str | None) -> None:
        if action in ("attended", "no_show", "cancelled"):
            app.push_screen(RecordScreen(session, action), after_save(app, "checkin.saved", reload))
        elif action == "move":
            app.push_screen(ScheduleScreen(code, session), after_save(app, "checkin.moved", reload))
        elif action == "open":
            from telecbt_cli.tui.patients import PatientScreen

            app.push_screen(PatientScreen(code))

    app.push_screen(SessionScreen(session, can_open), picked)
