"""Running a module or questionnaire through the core step engine, one widget per step kind.

The engine decides what comes next, what is valid and what is saved; this screen only
shows a step and hands the answer back. Progress is saved after every step (in a
worker), so closing the terminal loses at most the step on screen.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Header,
    Input,
    Label,
    SelectionList,
    Static,
    TextArea,
)

from telecbt_cli.content.catalog import pick
from telecbt_cli.content.validate import EXERCISE_FIELDS
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.answers import AnswerError
from telecbt_cli.core.clinical.scoring import band_label
from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.core.store.textsafe import inert
from telecbt_cli.tui.common import Localized, SafeInput, footer, localize_bindings, safe, tell


def _text(node, key: str, **values: Any) -> str:
    """A content locale string (run.*, exercise.*, safety.*) in the language of the run on screen:
    everything a patient reads during a module or questionnaire is in one language, theirs."""
    lang = getattr(node.screen, "run_lang", None) or node.app.lang
    return node.app.catalog.text(key, lang, **values)


def _error(node, error: BaseException) -> str:
    """Why something was refused, in the run's language (the error's locale key)."""
    lang = getattr(node.screen, "run_lang", None) or node.app.lang
    return node.app.catalog.error(error, lang)


class Answered(Message):
    """A step widget has an answer ready for the engine."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


class ScaleButtons(Widget, can_focus=True):
    """0–10 as a row of large buttons: arrows move, a digit picks (1 then 0 for 10), Enter answers."""

    BINDINGS = [Binding("left", "move(-1)", show=False), Binding("right", "move(1)", show=False),
                Binding("enter", "choose", show=False)]

    def __init__(self, low: int, high: int, value: int | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.low, self.high = low, high
        self.value = value
        self._last_digit: tuple[int, float] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="scale-row"):
            for n in range(self.low, self.high + 1):
                yield Button(str(n), id=f"scale-{n}", classes="scale-button")

    def on_mount(self) -> None:
        self._paint()

    def _paint(self) -> None:
        for button in self.query(".scale-button").results(Button):
            chosen = button.id == f"scale-{self.value}"
            button.set_class(chosen, "-chosen")
            button.variant = "primary" if chosen else "default"

    def action_move(self, step: int) -> None:
        start = self.low if self.value is None else self.value + step
        self.value = min(max(start, self.low), self.high)
        self._paint()

    def action_choose(self) -> None:
        if self.value is None:
            self.post_message(NoChoice())
        else:
            self.post_message(Answered(self.value))

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit():
            event.stop()
            digit = int(event.character)
            now = time.monotonic()
            if self._last_digit and now - self._last_digit[1] < 1.0 and self._last_digit[0] * 10 + digit <= self.high:
                digit = self._last_digit[0] * 10 + digit
                self._last_digit = None
            else:
                self._last_digit = (digit, now)
            if self.low <= digit <= self.high:
                self.value = digit
                self._paint()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.value = int(str(event.button.id).removeprefix("scale-"))
        self._paint()
        self.post_message(Answered(self.value))


class NoChoice(Message):
    """Enter was pressed with no answer chosen: nothing is recorded, the person is asked to choose."""


class _ChoiceButton(Button, can_focus=False):
    """An option: clicked, or picked through its list (it never holds focus, so Enter never presses it)."""


class ChoiceList(Vertical, can_focus=True):
    """One button per option, none chosen at first. A number key answers with the option showing that
    number; Up/Down move a highlight that Enter answers. Enter with nothing highlighted answers nothing.

    `options` are (shown number, label, value): for a questionnaire the number is the scored value,
    as on the paper form and in an --answers file.
    """

    BINDINGS = [Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
                Binding("enter", "choose", show=False)]

    def __init__(self, options: list[tuple[str, str, Any]], chosen: Any = None) -> None:
        super().__init__(classes="choices")
        self.options = options
        self.highlight = next((i for i, (_k, _l, value) in enumerate(options) if value == chosen), None)

    def compose(self) -> ComposeResult:
        for i, (key, label, _value) in enumerate(self.options):
            yield _ChoiceButton(Text(f"{key}. ") + safe(label), id=f"choice-{i}", classes="choice-button")

    def on_mount(self) -> None:
        self._paint()

    def _paint(self) -> None:
        for i, button in enumerate(self.query(".choice-button").results(Button)):
            button.set_class(i == self.highlight, "-chosen")

    def action_move(self, step: int) -> None:
        start = (0 if step > 0 else len(self.options) - 1) if self.highlight is None else self.highlight + step
        self.highlight = min(max(start, 0), len(self.options) - 1)
        self._paint()

    def action_choose(self) -> None:
        if self.highlight is None:
            self.post_message(NoChoice())
        else:
            self.post_message(Answered(self.options[self.highlight][2]))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(Answered(self.options[int(str(event.button.id).removeprefix("choice-"))][2]))

    def on_key(self, event) -> None:
        for key, _label, value in self.options:
            if event.character == key:
                event.stop()
                self.post_message(Answered(value))
                return


class Breathing(Vertical):
    """The breathing timer as an animation: a bar grows while breathing in and shrinks breathing out."""

    def __init__(self, step: dict) -> None:
        super().__init__(classes="breathing")
        self.step = step
        self.rounds_done = 0
        self._phase = 0
        self._tick = 0.0
        self._timer = None

    def compose(self) -> ComposeResult:
        yield Static("", id="breath-label")
        yield Static("", id="breath-bar")
        with Horizontal(classes="buttons"):
            yield Button(_text(self, "tui.run.start"), variant="primary", id="breath-start")
            yield Button(_text(self, "tui.run.stop"), id="breath-stop")

    def on_mount(self) -> None:
        self.query_one("#breath-label", Static).update(
            safe(_text(self, "exercise.breathing.ready", rounds=self.step["rounds"])))

    def _phases(self) -> list[tuple[str, int]]:
        return [(k, self.step[k]) for k in ("inhale", "hold", "exhale") if self.step.get(k)]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "breath-start" and self._timer is None:
            self._phase, self._tick = 0, 0.0
            self._timer = self.set_interval(0.25, self._advance)
            self.query_one("#breath-stop", Button).focus()
        elif event.button.id == "breath-stop":
            self.finish()

    def _advance(self) -> None:
        phases = self._phases()
        name, seconds = phases[self._phase]
        self._tick += 0.25
        if self._tick >= seconds:
            self._tick = 0.0
            self._phase += 1
            if self._phase == len(phases):
                self._phase = 0
                self.rounds_done += 1
                if self.rounds_done >= self.step["rounds"]:
                    self.finish()
                    return
            name, seconds = phases[self._phase]
        share = self._tick / seconds
        fill = {"inhale": share, "hold": 1.0, "exhale": 1.0 - share}[name]
        width = 30
        label = (f"{_text(self, 'exercise.breathing.round', n=self.rounds_done + 1, total=self.step['rounds'])}"
                 f" · {_text(self, f'exercise.breathing.{name}')} {int(seconds - self._tick + 0.99)}")
        self.query_one("#breath-label", Static).update(safe(label))
        self.query_one("#breath-bar", Static).update("█" * round(fill * width) + "·" * (width - round(fill * width)))

    def finish(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.query_one("#breath-label", Static).update(safe(_text(self, "exercise.breathing.done")))
        self.post_message(Answered({"rounds_done": self.rounds_done}))


class ExerciseForm(Vertical):
    """An exercise (thought record, pacing plan, SMART goal, sleep or flare plan) as a form."""

    ACTIVITY_ROWS = 3

    def __init__(self, kind: str, previous: dict | None) -> None:
        super().__init__(classes="exercise-form")
        self.kind, self.previous = kind, previous or {}

    def compose(self) -> ComposeResult:
        for name in EXERCISE_FIELDS[self.kind]:
            if name == "activities":
                for i in range(self.ACTIVITY_ROWS):
                    old = (self.previous.get("activities") or [{}] * self.ACTIVITY_ROWS)
                    old = old[i] if i < len(old) else {}
                    yield Label(safe(_text(self, "exercise.pleasant_activities.name")))
                    yield SafeInput(value=inert(old.get("name")), id=f"field-activity-{i}")
                    yield Label(safe(_text(self, "exercise.pleasant_activities.when")))
                    yield SafeInput(value=inert(old.get("when")), id=f"field-when-{i}")
                continue
            yield Label(safe(_text(self, f"exercise.{self.kind}.{name}")))
            old = self.previous.get(name)
            yield SafeInput(value=inert(old), id=f"field-{name}")
        yield Button(_text(self, "tui.run.next"), variant="primary", id="form-done")

    def value(self) -> dict:
        out: dict = {}
        for name in EXERCISE_FIELDS[self.kind]:
            if name == "activities":
                rows = []
                for i in range(self.ACTIVITY_ROWS):
                    what = self.query_one(f"#field-activity-{i}", Input).value.strip()
                    when = self.query_one(f"#field-when-{i}", Input).value.strip()
                    if what or when:
                        rows.append({"name": what, "when": when})
                out[name] = rows
            else:
                out[name] = self.query_one(f"#field-{name}", Input).value
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(Answered(self.value()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()


class CrisisScreen(Localized, ModalScreen[None]):
    """Safety first: crisis guidance shown the moment a safety answer is given."""

    BINDINGS = [Binding("enter", "dismiss_crisis", "OK")]

    def __init__(self, body: str, title: str, note: str, button: str) -> None:
        super().__init__()
        self.body, self.title_text, self.note, self.button = body, title, note, button

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog crisis"):
            yield Label(safe(self.title_text), classes="dialog-title")
            yield Static(safe(self.body, multiline=True))
            yield Static(safe(self.note), classes="note")
            yield Button(self.button, variant="error", id="crisis-ok")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_dismiss_crisis(self) -> None:
        self.dismiss(None)


class RunScreen(Localized, Screen):
    """One module or questionnaire for one patient. `access` and `code` decide whose record it is."""

    BINDINGS = [Binding("escape", "pause", "Pause"), Binding("ctrl+b", "back", "Back"),
                Binding("ctrl+n", "skip", "Skip")]

    def __init__(self, access, code: str, content: dict, lang: str, kiosk: bool = False) -> None:
        super().__init__(classes="kiosk" if kiosk else "")
        self.access, self.code, self.content, self.run_lang = access, code, content, lang
        self.run: engine.Run | None = None
        self.outcome: engine.Outcome | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="run-body"):
            yield Static("", id="run-heading", classes="run-heading")
            yield Static("", id="run-text")
            yield Vertical(id="run-answer")
            yield Static("", id="run-status", classes="status")
        yield footer()

    async def relocalize(self) -> None:
        """A new staff language changes the keys only: the run stays in the patient's language."""
        localize_bindings(self, self.app)

    def on_mount(self) -> None:
        self.sub_title = pick(self.content["title"], self.run_lang)
        self.begin()

    @work(thread=True, exclusive=True, group="run")
    def begin(self) -> None:
        try:
            run, resumed = engine.start(self.access, self.code, self.content, self.run_lang)
        except TelecbtError as error:
            self.app.call_from_thread(self._failed, _error(self, error))
            return
        self.app.call_from_thread(self._started, run, resumed)

    def _started(self, run: engine.Run, resumed: bool) -> None:
        self.run = run
        if resumed:
            self._status(_text(self, "run.resumed", done=len(run.answers)))
        self.show_step()

    def _failed(self, message: str) -> None:
        self._status(message, error=True)

    def _status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#run-status", Static)
        status.update(safe(message))
        status.set_class(error, "error")
        if error:  # below a long form the message would be out of sight
            status.call_after_refresh(status.scroll_visible, animate=False)

    # --- showing a step ----------------------------------------------------------

    def show_step(self) -> None:
        assert self.run is not None
        step = engine.current(self.run, self.content)
        area = self.query_one("#run-answer", Vertical)
        area.remove_children()
        if step is None:
            self.finish()
            return
        lang = self.run_lang
        steps = engine.visible(self.content, self.run.answers)
        number = next((i for i, s in enumerate(steps) if s["id"] == step["id"]), 0) + 1
        heading = Text(_text(self, "run.step_of", n=number, total=len(steps)), style="dim")
        if pick(step.get("title"), lang):
            heading.append("\n")
            heading.append_text(safe(pick(step["title"], lang)))
        self.query_one("#run-heading", Static).update(heading)
        body = []
        if self.content["kind"] == "instrument" and pick(self.content.get("recall"), lang):
            body.append(pick(self.content["recall"], lang))
        if pick(step.get("body"), lang):
            body.append(pick(step["body"], lang))
        prompt = pick(step.get("prompt") or step.get("text"), lang)
        if prompt:
            body.append(prompt)
        if step.get("optional"):
            body.append(_text(self, "run.optional"))
        self.query_one("#run-text", Static).update(
            Text("\n\n").join(safe(b, multiline=True) for b in body))
        widget = self._widget_for(step)
        area.mount(widget)
        self.call_after_refresh(self._focus_answer)

    def _widget_for(self, step: dict) -> Widget:
        kind = step["kind"]
        previous = self.run.answers.get(step["id"]) if self.run else None
        lang = self.run_lang
        if kind == "info":
            return Button(_text(self, "tui.run.next"), variant="primary", id="info-next")
        if kind == "item" and "options" in step:
            options = self.content["option_sets"][step["options"]]
            return ChoiceList([(str(o["value"]), pick(o.get("label"), lang), o["value"]) for o in options], previous)
        if kind in ("item", "scale"):
            if kind == "scale":
                low, high = step.get("min", 0), step.get("max", 10)
            else:
                from telecbt_cli.core.clinical.answers import item_range

                low, high = item_range(self.content, step)
            if high - low <= 10:
                widget = Vertical(ScaleButtons(low, high, previous, id="scale"), classes="scale")
                if step.get("min_label") and step.get("max_label"):
                    anchor = _text(self, "run.scale_anchor", min=low, max=high,
                                   min_label=pick(step["min_label"], lang), max_label=pick(step["max_label"], lang))
                    widget.compose_add_child(Static(safe(anchor), classes="hint"))
                return widget
            return SafeInput(value=inert(previous), type="integer", id="answer-input")
        if kind == "choice":
            return ChoiceList([(str(i), pick(o.get("label"), lang), o["value"])
                               for i, o in enumerate(step["options"], 1)], previous)
        if kind == "multi":
            box = Vertical(classes="multi")
            box.compose_add_child(SelectionList[str](
                *[(safe(pick(o.get("label"), lang)), o["value"], o["value"] in (previous or []))
                  for o in step["options"]], id="multi-list"))
            box.compose_add_child(Static(_text(self, "tui.run.multi_hint"), classes="hint"))
            box.compose_add_child(Button(_text(self, "tui.run.next"), variant="primary", id="multi-done"))
            if step.get("min_choices", 1) == 0:  # "none" is an answer too, but only when chosen
                box.compose_add_child(Button(_text(self, "run.none_of_these"), id="multi-none"))
            return box
        if kind in ("number", "text"):
            return SafeInput(value=inert(previous),
                         type="number" if kind == "number" else "text", id="answer-input")
        if kind == "longtext":
            box = Vertical(classes="longtext")
            box.compose_add_child(TextArea(inert(previous, keep_newlines=True), id="answer-area"))
            box.compose_add_child(Button(_text(self, "tui.run.next"), variant="primary", id="longtext-done"))
            return box
        if kind == "breathing":
            return Breathing(step)
        return ExerciseForm(kind, previous if isinstance(previous, dict) else None)

    def _focus_answer(self) -> None:
        for selector in ("#scale", "#answer-input", "#multi-list", "#answer-area", ".choices", "#info-next",
                         "#breath-start", "#run-answer Input"):
            found = self.query(selector)
            if found:
                found.first().focus()
                return

    # --- answers -----------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "info-next":
            self.give(None)
        elif event.button.id in ("multi-done", "multi-none"):
            self._give_multi(list(self.query_one("#multi-list", SelectionList).selected),
                             none=event.button.id == "multi-none")
        elif event.button.id == "longtext-done":
            self.give(self.query_one("#answer-area", TextArea).text)
        elif event.button.id == "done-close":
            self.dismiss_run()

    def _give_multi(self, ticked: list, none: bool) -> None:
        """Ticked choices, or an explicit "none": Next with nothing ticked never stands for "none"."""
        step = engine.current(self.run, self.content) if self.run else None
        if step is not None and step.get("min_choices", 1) == 0 and bool(ticked) == none:
            self._status(_text(self, "tui.run.untick_for_none" if none else "tui.run.tick_or_none"), error=True)
            return
        self.give(ticked)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "answer-input":
            event.stop()
            self.give(event.value)

    def on_answered(self, message: Answered) -> None:
        message.stop()
        self.give(message.value)

    def on_no_choice(self, message: NoChoice) -> None:
        message.stop()
        self._status(_text(self, "tui.run.choose_first"), error=True)

    def give(self, value: Any) -> None:
        if self.run is None or self._busy:
            return
        step = engine.current(self.run, self.content)
        try:
            fired = engine.answer(self.run, self.content, value)
        except AnswerError as error:
            self._status(self._refusal(error, step), error=True)
            return
        self._status("")
        self._busy = True
        self.save(fired)

    def _refusal(self, error: AnswerError, step: dict | None) -> str:
        """Why an answer was refused; in an exercise form, which field (the cursor goes there, the rest stays)."""
        message = _text(self, error.key, **error.values)
        name = error.step_id.partition(".")[2].partition("[")[0]
        fields = self.query(f"#field-{name}") if name.isidentifier() else None
        if step is None or not fields:
            return message
        fields.first().focus()
        label = _text(self, f"exercise.{step['kind']}.{name}")
        return f"{label} {message}"

    @work(thread=True, exclusive=True, group="run")
    def save(self, fired: list[dict]) -> None:
        try:
            engine.save(self.access, self.run, fired)
        except TelecbtError as error:
            self.app.call_from_thread(self._save_failed, _error(self, error))
            return
        self.app.call_from_thread(self._saved, fired)

    def _save_failed(self, message: str) -> None:
        self._busy = False
        engine.back(self.run)
        self._status(message, error=True)

    def _saved(self, fired: list[dict]) -> None:
        self._busy = False
        if fired:
            from telecbt_cli.core.clinical.alerts import guidance

            self.app.push_screen(CrisisScreen(guidance(self.app.catalog, fired, self.run_lang),
                                              _text(self, "safety.crisis_title"),
                                              _text(self, "safety.alert_opened"),
                                              _text(self, "tui.run.understood")),
                                 lambda _: self.show_step())
            return
        self.show_step()

    def action_back(self) -> None:
        if self.run is not None and not self._busy:
            if not engine.back(self.run):
                self._status(_text(self, "run.at_start"))
            else:
                self.show_step()

    def action_skip(self) -> None:
        if self.run is None or self._busy:
            return
        try:
            engine.skip(self.run, self.content)
        except AnswerError as error:
            self._status(_text(self, error.key, **error.values), error=True)
            return
        self._busy = True
        self.save([])

    def action_pause(self) -> None:
        """Leave; answers so far are already saved and the run resumes next time."""
        if self.outcome is None and self.run is not None and self.run.answers:
            tell(self.app, _text(self, "tui.run.paused"))
        self.dismiss_run()

    def dismiss_run(self) -> None:
        self.dismiss(self.outcome)

    # --- the end -----------------------------------------------------------------

    def finish(self) -> None:
        self._busy = True
        self.complete()

    # Its own group: it starts from the last save's callback, while that worker is still finishing,
    # and an exclusive worker of the same group would cancel it.
    @work(thread=True, exclusive=True, group="run-end")
    def complete(self) -> None:
        try:
            outcome = engine.complete(self.access, self.run, self.content)
        except TelecbtError as error:
            message = _error(self, error)
            self.app.call_from_thread(self._failed, message)
            return
        self.app.call_from_thread(self._completed, outcome)

    def _completed(self, outcome: engine.Outcome) -> None:
        self.outcome = outcome
        lang = self.run_lang
        self.query_one("#run-heading", Static).update(safe(pick(self.content["title"], lang)))
        lines = Text(_text(self, "run.completed", title=pick(self.content["title"], lang)), style="bold")
        if outcome.score is not None:
            lines.append("\n\n")
            lines.append(f"{_text(self, 'measure.score')}: {self.app.catalog.number(outcome.score.total, lang)}")
            label = band_label(self.content, outcome.score.band, lang)
            if label:
                lines.append(f"\n{_text(self, 'measure.band')}: ")
                lines.append_text(safe(label))
        if self.content["kind"] == "module" and self.content.get("homework"):
            lines.append("\n\n")
            lines.append(_text(self, "run.homework"), style="bold")
            for task in self.content["homework"]:
                lines.append("\n  - ")
                lines.append_text(safe(pick(task["text"], lang)))
        self.query_one("#run-text", Static).update(lines)
        area = self.query_one("#run-answer", Vertical)
        area.remove_children()
        area.mount(Button(_text(self, "tui.run.close"), variant="primary", id="done-close"))
        self.call_after_refresh(lambda: self.query_one("#done-close", Button).focus())
