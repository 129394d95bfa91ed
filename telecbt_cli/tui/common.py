"""Pieces every screen shares: inert text, translated strings, charts, toggles that show their state, dialogs."""

from __future__ import annotations

import re
from dataclasses import replace

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    Label,
    RadioButton,
    SelectionList,
    Static,
)

from telecbt_cli.core.store.textsafe import inert


class QuietCrash:
    """App mixin: an unexpected error ends the app with its type only.

    Textual's default crash report prints a traceback with local variables, which could
    put patient data on the screen (and in a scrollback or screen recording).
    `TELECBT_DEBUG=1` restores the full report.
    """

    def _fatal_error(self) -> None:
        import os

        if os.environ.get("TELECBT_DEBUG"):
            super()._fatal_error()
            return
        self.bell()
        kind = type(getattr(self, "_exception", None)).__name__
        self._exit_renderables.append(Text(
            f"telecbt stopped after an unexpected error ({kind}). Saved work is safe; "
            "run again with TELECBT_DEBUG=1 to see details for a bug report.", style="bold red"))
        self._close_messages_no_wait()


class SafeInput(Input):
    """An input whose value never holds a character that could steer the terminal.

    Nobody types an escape sequence, but one can be pasted, or come back into a form that
    keeps what was typed after a refusal: the value shows it as a visible escape (`\\x1b`),
    as every other widget shows stored text. Password fields keep their dots."""

    def validate_value(self, value: str) -> str:
        return value if self.password else inert(value)


class InertTitles:
    """App mixin: the header's title and sub-title (a patient's name, a content title) are drawn inert.

    Textual puts them on the screen as they are: escape sequences in a name would reach the
    terminal (set its clipboard or window title, clear the screen)."""

    def format_title(self, title: str, sub_title: str):
        return super().format_title(inert(title), inert(sub_title))


class Localized:
    """Mixin for screens: key descriptions in the footer follow the app's language (`tui.keys.<slug>`).

    After a language change `relocalize` draws the screen again in place (the person stays where
    they were): `compose` runs again, then `populate`, which fills what `on_mount` filled."""

    def on_mount(self) -> None:
        localize_bindings(self, self.app)

    async def relocalize(self) -> None:
        localize_bindings(self, self.app)
        typed = {w.id: w.value for w in self.query(Input) if w.id}
        toggled = {w.id: w.value for w in self.query("RadioButton, Checkbox") if w.id}
        await self.recompose()
        for widget in self.query(Input):
            if widget.id in typed:
                widget.value = typed[widget.id]
        for widget in self.query("RadioButton, Checkbox"):
            if widget.id in toggled:
                widget.value = toggled[widget.id]
        self.populate()

    def populate(self) -> None:
        """Fill the widgets with data after (re)composing; screens that load data override it."""


class QuietScroll(VerticalScroll, can_focus=False):
    """A scrolling area (a dialog's body, a tab with tables) that never takes the focus itself: Tab
    goes straight from field to field or table to table, and the area scrolls to the focused one."""


def footer() -> Footer:
    """The key bar: compact, so a screen's keys fit 80 columns in every language. Ctrl+P (commands)
    works everywhere and is listed in Help (F1), not here: there is no room for it at 80 columns."""
    return Footer(compact=True, show_command_palette=False)


class _Glyph:
    """Toggle mixin: the mark inside the button says on or off (colour alone says nothing
    with NO_COLOR, on a monochrome screen or to a colour-blind reader)."""

    ON_GLYPH = "●"

    @property
    def _button(self):
        self.__dict__["BUTTON_INNER"] = self.ON_GLYPH if self.value else " "
        return super()._button


class GlyphRadioButton(_Glyph, RadioButton):
    """A radio button that shows ● when chosen and nothing when not."""


class GlyphCheckbox(_Glyph, Checkbox):
    """A check box that shows X when ticked and nothing when not."""

    ON_GLYPH = "X"


class GlyphSelectionList(SelectionList):
    """A list of check boxes that shows X on each ticked line and nothing on the others."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:  # a line below the last option
            return strip
        if len(segments) > 1:
            mark = "X" if selection.value in self.selected else " "
            segments[1] = Segment(mark, segments[1].style)
        return Strip(segments, strip.cell_length)


def localize_bindings(node, app) -> None:
    """Replace each binding's English description with its translation, where one exists."""
    table = app.catalog.locales.get("en", {})
    if not hasattr(node, "_english_bindings"):
        node._english_bindings = dict(node._bindings.key_to_bindings)
    changed = False
    for key, bindings in node._english_bindings.items():
        shown = []
        for binding in bindings:
            slug = "tui.keys." + re.sub(r"[^a-z0-9]+", "_", (binding.description or "").lower()).strip("_")
            if binding.description and slug in table:
                binding = replace(binding, description=app.catalog.text(slug, app.lang))
            shown.append(binding)
        if shown != node._bindings.key_to_bindings.get(key):
            node._bindings.key_to_bindings[key] = shown
            changed = True
    if changed:  # redrawing the footer costs start-up time: only when a word changed
        node.refresh_bindings()


def safe(value: object, multiline: bool = False, style: str = "") -> Text:
    """Stored or typed text as inert Rich text: markup and escape sequences stay visible, never run.

    The one way text from the store (or a person, or content) reaches a widget: labels,
    table cells, options, titles (see `InertTitles`) and toasts (`tell`). One line unless
    `multiline` (then line breaks are kept, for paragraphs of content)."""
    text = inert(value, keep_newlines=True)
    return Text(text if multiline else text.replace("\n", " "), style=style)


def tell(app, message: str, error: bool = False) -> None:
    """A toast with `message` as plain text: error text can quote what a person typed, and
    Textual would read `[…]` in it as markup (or fail on `[/]`)."""
    app.notify(inert(message), severity="error" if error else "information", markup=False,
               timeout=8 if error else 4)


def tr(app, key: str, **values: object) -> str:
    """A UI string from the content locales (`tui.<key>`), in the app's current language."""
    return app.catalog.text(f"tui.{key}", app.lang, **values)


def error_text(app, error: BaseException) -> str:
    """What went wrong, in the app's language (the error's locale key), else as raised."""
    return app.catalog.error(error, app.lang)


def value(app, kind: str, raw: object) -> str:
    """A stored status or kind (video, no_show, achieved) in words of the app's language."""
    if raw is None or raw == "":
        return "-"
    key = f"values.{kind}.{str(raw).replace('-', '_')}"
    return app.catalog.text(key, app.lang) if key in app.catalog.locales.get("en", {}) else str(raw)


def local_time(iso: str | None, zone) -> str:
    """A stored UTC time as staff read it, in this device's zone (`app.zone`) and naming it:
    `2026-12-03 10:00 EAT`."""
    from telecbt_cli.core.store.localtime import staff_time

    return staff_time(iso, zone)


def local_date(iso: str | None, zone) -> str:
    """The day a stored UTC time falls on in `zone`, `2026-12-03`; `-` for none."""
    if not iso:
        return "-"
    from telecbt_cli.core.store.localtime import local_day

    try:
        return local_day(iso, zone).isoformat()
    except ValueError:
        return iso[:10]


def bar_chart(points: list[tuple[str, float | None]], high: float = 10, width: int = 30,
              number=None) -> Text:
    """Labelled horizontal bars (label, value), readable without colour and at 80 columns.

    `number` writes a value the way the reader's language does (decimal comma in Spanish)."""
    out = Text()
    label_width = max((len(label) for label, _ in points), default=0)
    for label, value in points:
        out.append(f"{label:<{label_width}} ")
        if value is None:
            out.append("-\n")
            continue
        filled = round(min(max(value, 0), high) / (high or 1) * width)
        out.append("█" * filled, style="bold")
        out.append("·" * (width - filled), style="dim")
        shown = number(round(value, 1)) if number else f"{value:.1f}".rstrip("0").rstrip(".")
        out.append(f" {shown}\n")
    out.rstrip()
    return out


class ConfirmScreen(Localized, ModalScreen[bool]):
    """Yes/no before anything that cannot be undone; Escape means no."""

    BINDINGS = [Binding("escape", "dismiss_no", "Cancel")]

    def __init__(self, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(safe(self.question), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="primary", id="yes")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_dismiss_no(self) -> None:
        self.dismiss(False)


class TextPromptScreen(Localized, ModalScreen[str | None]):
    """One line of text (a note, a passphrase); Escape cancels with None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, placeholder: str = "", password: bool = False) -> None:
        super().__init__()
        self.question, self.placeholder, self.password = question, placeholder, password

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(safe(self.question), classes="dialog-title")
            yield SafeInput(placeholder=self.placeholder, password=self.password, id="prompt-input")
            yield Static("", id="prompt-error", classes="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
