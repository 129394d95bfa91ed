"""Dialogs that change a record: a form whose Save runs one core call; plan goals and homework.

A refusal (a date typed wrong, a progress above 100) keeps every field as typed, says why
in the reader's language and puts nothing in the store; success closes the dialog with
the saved row. The core call runs in a thread worker, as every store operation does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioSet, Static
from textual.worker import Worker, WorkerState

from telecbt_cli.content.catalog import pick
from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.tui.common import (
    QuietScroll,
    GlyphRadioButton,
    Localized,
    SafeInput,
    error_text,
    safe,
    tr,
    value,
)


class FormDialog(Localized, ModalScreen[Any]):
    """Fields, an error line, Save and Cancel. Subclasses give `fields`, `values` and `apply`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    SAVE_KEY = "common.save"
    # Each dialog focuses its first field itself, without scrolling: Textual's auto-focus scrolled the
    # fields (animated) before the first layout, hiding the first field's label (issue 17 review 4).
    AUTO_FOCUS = ""  # ("" turns it off; None would fall back to the app's)

    def title_text(self) -> str:
        raise NotImplementedError

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def values(self) -> dict:
        """What was typed and chosen; FormProblem for what can be told before asking core."""
        raise NotImplementedError

    def apply(self, access: Any, values: dict) -> Any:
        """The one core call (runs in a thread); its result closes the dialog."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        # Title on top and error line + buttons at the bottom stay put (docked, common.tcss); only the
        # fields scroll when the dialog is taller than the terminal (a fidelity checklist at 80x24).
        with Vertical(classes="dialog form-dialog"):
            yield Label(safe(self.title_text()), classes="dialog-title")
            with QuietScroll(classes="dialog-body"):
                yield from self.fields()
            with Vertical(classes="dialog-foot"):  # after the fields: Tab goes from the last field to Save
                yield Static("", id="form-error", classes="error")
                with Horizontal(classes="dialog-buttons"):
                    yield Button(tr(self.app, self.SAVE_KEY), variant="primary", id="form-save")
                    yield Button(tr(self.app, "common.cancel"), id="form-cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "form-save":
            event.stop()
            self.submit()
        elif event.button.id == "form-cancel":
            event.stop()
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        try:
            values = self.values()
        except FormProblem as problem:
            self.refused(problem.message, problem.field)
            return
        self.query_one("#form-save", Button).disabled = True
        self.query_one("#form-error", Static).update(tr(self.app, "common.saving"))
        self.save(values)

    @work(thread=True, exclusive=True, group="form")
    def save(self, values: dict) -> tuple[bool, Any]:
        """(True, the saved row) or (False, why it was refused); shown once the worker has ended."""
        try:
            return True, self.apply(self.app.access, values)
        except TelecbtError as error:
            return False, error_text(self.app, error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Closing the dialog from inside its own running worker would cancel that worker.
        if event.worker.group != "form" or event.state != WorkerState.SUCCESS:
            return
        saved, outcome = event.worker.result
        if saved:
            self.dismiss(outcome)
        else:
            self.refused(outcome)

    def refused(self, message: str, field: str | None = None) -> None:
        self.query_one("#form-save", Button).disabled = False
        self.query_one("#form-error", Static).update(safe(message))
        if field:
            self.query_one(f"#{field}").focus()

    def text(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def chosen(self, field: str) -> str | None:
        """The name of the chosen radio button in the set `field` (None if none is)."""
        pressed = self.query_one(f"#{field}", RadioSet).pressed_button
        return pressed.name if pressed is not None else None


class FormProblem(Exception):
    """A value the form can refuse by itself; `field` gets the cursor."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def radio_set(ident: str, choices: list[tuple[str, str]], chosen: str | None) -> RadioSet:
    """Radio buttons (name, label) that show their state by a glyph; `chosen` starts on."""
    return RadioSet(*[GlyphRadioButton(safe(label), value=name == chosen, name=name, id=f"{ident}-{name}")
                      for name, label in choices], id=ident)


class GoalScreen(FormDialog):
    """A new SMART goal: what exactly, how it is measured, by when."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code

    def title_text(self) -> str:
        return tr(self.app, "goal.add_title")

    def fields(self) -> ComposeResult:
        yield Label(tr(self.app, "goal.text"))
        yield SafeInput(id="goal-text", max_length=500)
        yield Label(tr(self.app, "goal.measure"))
        yield SafeInput(id="goal-measure", max_length=500)
        yield Label(tr(self.app, "goal.by"))
        yield SafeInput(id="goal-by", placeholder="YYYY-MM-DD", max_length=10)

    def on_mount(self) -> None:
        self.query_one("#goal-text").focus(scroll_visible=False)

    def values(self) -> dict:
        if not self.text("goal-text"):
            raise FormProblem(tr(self.app, "goal.need_text"), "goal-text")
        return {"text": self.text("goal-text"), "measure": self.text("goal-measure") or None,
                "target": self.text("goal-by") or None}

    def apply(self, access: Any, values: dict) -> dict:
        from telecbt_cli.core.care.plans import add_goal

        return add_goal(access, self.code, values["text"], values["measure"], values["target"])


GOAL_STATUSES = ("active", "achieved", "revised", "dropped")


class GoalUpdateScreen(FormDialog):
    """A goal's status and progress, with a dated note (earlier notes are kept)."""

    def __init__(self, goal: dict) -> None:
        super().__init__()
        self.goal = goal

    def title_text(self) -> str:
        return tr(self.app, "goal.update_title", goal=self.goal["text"])

    def fields(self) -> ComposeResult:
        yield Label(tr(self.app, "goal.status"))
        yield radio_set("goal-status", [(s, value(self.app, "goal", s)) for s in GOAL_STATUSES], self.goal["status"])
        yield Label(tr(self.app, "goal.progress"))
        yield SafeInput(str(self.goal.get("progress") or 0), id="goal-progress", max_length=3)
        yield Label(tr(self.app, "goal.note"))
        yield SafeInput(id="goal-note", max_length=1000)

    def on_mount(self) -> None:
        self.query_one("#goal-progress").focus(scroll_visible=False)

    def values(self) -> dict:
        typed = self.text("goal-progress")
        if typed and not typed.isdigit():
            raise FormProblem(tr(self.app, "goal.bad_progress"), "goal-progress")
        status = self.chosen("goal-status")
        return {"status": status if status != self.goal["status"] else None,
                "progress": int(typed) if typed else None, "note": self.text("goal-note") or None}

    def apply(self, access: Any, values: dict) -> dict:
        from telecbt_cli.core.care.plans import update_goal

        return update_goal(access, self.goal["id"], values["status"], values["progress"], values["note"])


class HomeworkScreen(FormDialog):
    """Mark one homework task done, with how it went."""

    SAVE_KEY = "homework.done_button"

    def __init__(self, task: dict) -> None:
        super().__init__()
        self.homework = task

    def title_text(self) -> str:
        text = self.homework["text"]
        text = pick(text, self.app.lang) if isinstance(text, dict) else text
        return tr(self.app, "homework.done_title", task=text)

    def fields(self) -> ComposeResult:
        yield Label(tr(self.app, "homework.note"))
        yield SafeInput(id="homework-note", max_length=1000)

    def on_mount(self) -> None:
        self.query_one("#homework-note").focus(scroll_visible=False)

    def values(self) -> dict:
        return {"note": self.text("homework-note") or None}

    def apply(self, access: Any, values: dict) -> dict:
        from telecbt_cli.core.care.plans import homework_done

        return homework_done(access, self.homework["id"], values["note"])


def after_save(app, message_key: str, reload: Callable[[], None]) -> Callable[[Any], None]:
    """A dialog's callback: say what was saved and show the record again; nothing when cancelled."""
    from telecbt_cli.tui.common import tell

    def done(result: Any) -> None:
        if result is not None:
            tell(app, tr(app, message_key))
            reload()

    return done
