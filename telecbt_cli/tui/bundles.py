"""The bundle screen: send changes to a trusted device (folder or USB stick) and import bundles.

All store work runs in thread workers through `core.transport` and `core.devices`, the
same calls the `telecbt bundle` commands make; core decides who may do what. Device
labels, file names and error messages are shown inert (they may hold markup or escapes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    Select,
    Static,
)

from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.tui.common import Localized, SafeInput, safe, tr

#: The results area keeps the most recent lines only; older ones scroll away.
MAX_LINES = 200


class BundleScreen(Localized, Screen):
    """Export to a trusted device, import bundle files or folders, and show what happened."""

    CSS_PATH = "bundles.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]  # footer words from tui.keys (Localized)

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[Text] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="bundles"):
            yield Static(tr(self.app, "bundles.title"), classes="screen-title")
            yield Static("", id="bundles-device")
            yield Label(tr(self.app, "bundles.export_title"), classes="bundles-section")
            yield Static(tr(self.app, "bundles.export_help"), classes="hint")
            yield Label(tr(self.app, "bundles.peer"))
            yield Select([], prompt=tr(self.app, "bundles.peer_prompt"), id="peer")
            yield Label(tr(self.app, "bundles.dest"))
            yield SafeInput(str(Path.cwd()), id="dest")
            with Horizontal(classes="bundles-row"):
                yield Checkbox(tr(self.app, "bundles.usb"), id="usb")
                yield Button(tr(self.app, "bundles.export"), variant="primary", id="export")
            yield Label(tr(self.app, "bundles.import_title"), classes="bundles-section")
            yield Static(tr(self.app, "bundles.import_help"), classes="hint")
            yield Label(tr(self.app, "bundles.path"))
            yield SafeInput(id="import-path")
            with Horizontal(classes="bundles-row"):
                yield Checkbox(tr(self.app, "bundles.dry_run"), id="dry-run")
                yield Button(tr(self.app, "bundles.import"), id="import")
            yield Static("", id="import-note", classes="hint")
            yield Label(tr(self.app, "bundles.results"), classes="bundles-section")
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static(tr(self.app, "bundles.nothing_yet"), id="results")
        yield Footer()

    def on_mount(self) -> None:
        if not self.app.can("write"):
            self.query_one("#import-note", Static).update(tr(self.app, "bundles.import_viewer"))
        self.set_busy(False)
        self.query_one("#peer", Select).focus()
        self.load_devices()

    # --- loading ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="bundles-load")
    def load_devices(self) -> None:
        from telecbt_cli.core.sync import devices

        try:
            me = devices.identity(self.app.access)
            peers = devices.peers(self.app.access)
        except TelecbtError as error:
            self.ui(self.report_error, str(error))
            return
        self.ui(self.show_devices, me, peers)

    def show_devices(self, me: dict, peers: list[dict]) -> None:
        self.query_one("#bundles-device", Static).update(
            safe(tr(self.app, "bundles.this_device", device=me["device_id"], fingerprint=me["fingerprint"])))
        live = [p for p in peers if not p.get("revoked_at")]
        self.query_one("#peer", Select).set_options([(self.peer_label(p), p["id"]) for p in live])
        if not live:
            self.add_line(Text(tr(self.app, "bundles.no_peers")))

    def peer_label(self, peer: dict) -> Text:
        role = tr(self.app, f"bundles.role_{peer['role']}") if peer.get("role") in ("hub", "field") \
            else str(peer.get("role") or "")
        return Text.assemble(safe(peer["label"]), Text(f"  {role}  {peer['fingerprint']}", style="dim"))

    # --- actions ------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export":
            self.start_export()
        elif event.button.id == "import":
            self.start_import()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "import-path" and not self.query_one("#import", Button).disabled:
            self.start_import()

    def start_export(self) -> None:
        select = self.query_one("#peer", Select)
        if select.is_blank():
            self.add_line(Text(tr(self.app, "bundles.choose_peer")))
            select.focus()
            return
        dest = self.query_one("#dest", Input).value.strip() or str(Path.cwd())
        self.set_busy(True)
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.add_line(Text(tr(self.app, "bundles.busy_export")))
        self.export(str(select.value), dest, self.query_one("#usb", Checkbox).value)

    def start_import(self) -> None:
        text = self.query_one("#import-path", Input).value.strip()
        if not text:
            self.add_line(Text(tr(self.app, "bundles.need_path")))
            self.query_one("#import-path", Input).focus()
            return
        self.set_busy(True)
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.add_line(Text(tr(self.app, "bundles.busy_import")))
        self.import_(text, self.query_one("#dry-run", Checkbox).value)

    # --- workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="bundles-io")
    def export(self, peer_id: str, dest: str, usb: bool) -> None:
        from telecbt_cli.core.sync import devices
        from telecbt_cli.core.sync.transport import write_bundle

        def progress(done: int, total: int) -> None:
            self.ui(self.show_progress, done, total)

        try:
            peer, recipients = devices.destination(self.app.access, peer_id)
            result = write_bundle(self.app.access, Path(dest).expanduser(), recipients, peer,
                                  usb=usb, progress=progress)
        except TelecbtError as error:
            self.ui(self.report_error, str(error))
        except (OSError, ValueError) as error:
            self.ui(self.report_error, _reason(dest, error))
        else:
            self.ui(self.show_export, result, usb)
        finally:
            self.ui(self.set_busy, False)

    @work(thread=True, exclusive=True, group="bundles-io")
    def import_(self, text: str, dry_run: bool) -> None:
        from telecbt_cli.core.sync.transport import import_paths

        try:
            results = import_paths(self.app.access, [Path(text).expanduser()], dry_run=dry_run)
        except TelecbtError as error:
            self.ui(self.report_error, str(error))
        except (OSError, ValueError) as error:
            self.ui(self.report_error, _reason(text, error))
        else:
            self.ui(self.show_import, text, results)
        finally:
            self.ui(self.set_busy, False)

    # --- showing ------------------------------------------------------------------

    def ui(self, callback: Callable[..., None], *args: object) -> None:
        """Run `callback` on the event loop from a worker, unless the screen was closed meanwhile."""
        def guarded() -> None:
            if self.is_attached:
                callback(*args)

        self.app.call_from_thread(guarded)

    def set_busy(self, busy: bool) -> None:
        self.query_one("#export", Button).disabled = busy or not self.app.can("write")
        self.query_one("#import", Button).disabled = busy or not self.app.can("write")

    def show_progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=min(done, max(total, 1)))

    def finish_progress(self) -> None:
        self.query_one("#progress", ProgressBar).update(total=1, progress=1)

    def show_export(self, result: dict, usb: bool) -> None:
        self.finish_progress()
        self.add_line(safe(tr(self.app, "bundles.exported", path=result["path"], bundle=result["bundle_id"],
                              changes=result["changes"], size=result["bytes"])), style="bold")
        if usb and result.get("verified"):
            self.add_line(Text(tr(self.app, "bundles.usb_verified")), style="bold")

    def show_import(self, text: str, results: list[dict]) -> None:
        self.finish_progress()
        if not results:
            self.add_line(safe(tr(self.app, "bundles.no_files", path=text)))
        for r in results:
            if not r["ok"]:
                self.add_line(safe(tr(self.app, "bundles.skipped", file=r["file"], error=r["error"])),
                              style="bold red")
            elif r.get("seen_before"):
                self.add_line(safe(tr(self.app, "bundles.seen_before", file=r["file"])))
            elif r.get("dry_run"):
                self.add_line(safe(tr(self.app, "bundles.dry_run_ok", file=r["file"], changes=r["changes"])))
            else:
                self.add_line(safe(tr(self.app, "bundles.imported", file=r["file"], changes=r["changes"],
                                      inserted=r["inserted"], updated=r["updated"], conflicts=r["conflicts"])),
                              style="bold")

    def report_error(self, message: str) -> None:
        self.query_one("#progress", ProgressBar).update(total=1, progress=0)
        self.add_line(safe(tr(self.app, "bundles.error", message=message)), style="bold red")

    def add_line(self, line: Text, style: str = "") -> None:
        if style:
            line.stylize(style)
        self.lines = (self.lines + [line])[-MAX_LINES:]
        self.query_one("#results", Static).update(Text("\n").join(self.lines))
        scroll = self.query_one("#bundles", VerticalScroll)
        scroll.call_after_refresh(scroll.scroll_end, animate=False)

    @property
    def results_text(self) -> str:
        """What the results area says, as plain text (for tests and screen readers)."""
        return "\n".join(line.plain for line in self.lines)


def _reason(path: str, error: OSError | ValueError) -> str:
    """An operating-system refusal in plain words: the path and the system's reason, no traceback."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return f"{path}: {reason}"
