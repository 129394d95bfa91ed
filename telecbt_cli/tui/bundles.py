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
    Header,
    Input,
    Label,
    ProgressBar,
    RadioSet,
    Select,
    Static,
)

from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.tui.common import GlyphCheckbox, Localized, SafeInput, error_text, footer, safe, tr
from telecbt_cli.tui.forms import radio_set

#: The results area keeps the most recent lines only; older ones scroll away.
MAX_LINES = 200


class BundleScreen(Localized, Screen):
    """Export to a trusted device or under a passphrase (to a folder, a USB stick or email), import
    bundle files or folders, send the email outbox, and show what happened."""

    CSS_PATH = "bundles.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]  # footer words from tui.keys (Localized)
    KINDS = ("folder", "usb", "email", "eml")

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[Text] = []
        self.peer_choice: str | None = None

    def compose(self) -> ComposeResult:
        app = self.app
        yield Header()
        yield Static(tr(app, "bundles.title"), classes="screen-title", id="bundles-title")  # stays while the rest scrolls
        with VerticalScroll(id="bundles"):
            yield Static("", id="bundles-device")
            yield Label(tr(app, "bundles.export_title"), classes="bundles-section")
            yield Static(tr(app, "bundles.export_help"), classes="hint")
            yield Label(tr(app, "bundles.peer"))
            yield Select([], prompt=tr(app, "bundles.peer_prompt"), id="peer")
            yield GlyphCheckbox(tr(app, "bundles.seal"), id="seal")
            with Horizontal(classes="bundles-row", id="seal-row"):
                yield Input(placeholder=tr(app, "bundles.seal_pass"), password=True, id="seal-pass")
                yield Input(placeholder=tr(app, "bundles.seal_again"), password=True, id="seal-again")
            yield Label(tr(app, "bundles.how"))
            yield radio_set("dest-kind", [(kind, tr(app, f"bundles.kind_{kind}")) for kind in self.KINDS], "folder")
            yield Label(tr(app, "bundles.dest"))
            yield SafeInput(str(Path.cwd()), id="dest")
            yield Label(tr(app, "bundles.email"))
            yield SafeInput(id="email", placeholder="name@example.org")
            yield Button(tr(app, "bundles.export"), variant="primary", id="export")
            yield Label(tr(app, "bundles.import_title"), classes="bundles-section")
            yield Static(tr(app, "bundles.import_help"), classes="hint")
            yield Label(tr(app, "bundles.path"))
            yield SafeInput(id="import-path")
            yield Input(placeholder=tr(app, "bundles.import_pass"), password=True, id="import-pass")
            with Horizontal(classes="bundles-row"):
                yield GlyphCheckbox(tr(app, "bundles.dry_run"), id="dry-run")
                yield Button(tr(app, "bundles.import"), id="import")
            yield Static("", id="import-note", classes="hint")
            yield Label(tr(app, "bundles.outbox_title"), classes="bundles-section")
            yield Static(tr(app, "bundles.outbox_help"), classes="hint")
            yield Button(tr(app, "bundles.send"), id="send")
            yield Label(tr(app, "bundles.results"), classes="bundles-section")
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static(tr(app, "bundles.nothing_yet"), id="results")
        yield footer()

    def on_mount(self) -> None:
        self.populate()

    def populate(self) -> None:
        if not self.app.can("write"):
            self.query_one("#import-note", Static).update(tr(self.app, "bundles.import_viewer"))
        self.query_one("#seal-row").display = self.query_one("#seal", GlyphCheckbox).value
        if self.lines:
            self.query_one("#results", Static).update(Text("\n").join(self.lines))
        self.set_busy(False)
        self.query_one("#peer", Select).focus()
        self.load_devices()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "seal":
            self.query_one("#seal-row").display = event.value

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "peer" and not event.select.is_blank():
            self.peer_choice = str(event.value)

    # --- loading ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="bundles-load")
    def load_devices(self) -> None:
        from telecbt_cli.core.sync import devices

        try:
            me = devices.identity(self.app.access)
            peers = devices.peers(self.app.access)
        except TelecbtError as error:
            self.ui(self.report_error, error_text(self.app, error))
            return
        self.ui(self.show_devices, me, peers)

    def show_devices(self, me: dict, peers: list[dict]) -> None:
        self.query_one("#bundles-device", Static).update(
            safe(tr(self.app, "bundles.this_device", device=me["device_id"], fingerprint=me["fingerprint"])))
        live = [p for p in peers if not p.get("revoked_at")]
        select = self.query_one("#peer", Select)
        select.set_options([(self.peer_label(p), p["id"]) for p in live])
        if self.peer_choice in {p["id"] for p in live}:
            select.value = self.peer_choice
        if not live and not self.lines:
            self.add_line(Text(tr(self.app, "bundles.no_peers")), scroll=False)  # the screen opens at its top

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
        elif event.button.id == "send":
            self.start_send()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in ("import-path", "import-pass") and not self.query_one("#import", Button).disabled:
            self.start_import()

    def start_export(self) -> None:
        select = self.query_one("#peer", Select)
        sealed = self.query_one("#seal", GlyphCheckbox).value
        secret = None
        if sealed:
            secret = self.query_one("#seal-pass", Input).value
            if not secret or secret != self.query_one("#seal-again", Input).value:
                self.add_line(Text(tr(self.app, "bundles.seal_mismatch")))
                self.query_one("#seal-pass", Input).focus()
                return
        elif select.is_blank():
            self.add_line(Text(tr(self.app, "bundles.choose_peer")))
            select.focus()
            return
        pressed = self.query_one("#dest-kind", RadioSet).pressed_button
        kind = pressed.name if pressed is not None else "folder"
        dest = self.query_one("#dest", Input).value.strip() or str(Path.cwd())
        email = self.query_one("#email", Input).value.strip()
        if kind == "email" and not email:
            self.add_line(Text(tr(self.app, "bundles.need_email")))
            self.query_one("#email", Input).focus()
            return
        self.set_busy(True)
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.add_line(Text(tr(self.app, "bundles.busy_export")))
        self.export(None if select.is_blank() else str(select.value), kind, dest, email, secret)

    def start_import(self) -> None:
        text = self.query_one("#import-path", Input).value.strip()
        if not text:
            self.add_line(Text(tr(self.app, "bundles.need_path")))
            self.query_one("#import-path", Input).focus()
            return
        self.set_busy(True)
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.add_line(Text(tr(self.app, "bundles.busy_import")))
        self.import_(text, self.query_one("#dry-run", Checkbox).value,
                     self.query_one("#import-pass", Input).value or None)

    def start_send(self) -> None:
        self.set_busy(True)
        self.add_line(Text(tr(self.app, "bundles.busy_send")))
        self.send_outbox()

    # --- workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="bundles-io")
    def export(self, peer_id: str | None, kind: str, dest: str, email: str, secret: str | None) -> None:
        import os

        from telecbt_cli.core.sync import devices, mailer
        from telecbt_cli.core.sync.transport import mail_bundle, write_bundle

        def progress(done: int, total: int) -> None:
            self.ui(self.show_progress, done, total)

        try:
            peer, recipients = devices.destination(self.app.access, peer_id, sealed=secret is not None)
            if kind in ("email", "eml"):
                limit = mailer.parse_size(os.environ.get("TELECBT_BUNDLE_SIZE_LIMIT"), mailer.DEFAULT_SIZE_LIMIT)
                result = mail_bundle(self.app.access, recipients, peer, True, None, None, secret, limit,
                                     email or "clinic@example.invalid",
                                     eml_folder=Path(dest).expanduser() if kind == "eml" else None)
            else:
                result = write_bundle(self.app.access, Path(dest).expanduser(), recipients, peer,
                                      usb=kind == "usb", passphrase=secret, progress=progress)
        except TelecbtError as error:
            self.ui(self.report_error, error_text(self.app, error))
        except (OSError, ValueError) as error:
            self.ui(self.report_error, _reason(dest, error))
        else:
            self.ui(self.show_export, result, kind, dest, email)
        finally:
            self.ui(self.set_busy, False)

    @work(thread=True, exclusive=True, group="bundles-io")
    def import_(self, text: str, dry_run: bool, secret: str | None) -> None:
        from telecbt_cli.core.sync.transport import import_paths

        try:
            results = import_paths(self.app.access, [Path(text).expanduser()], dry_run=dry_run, passphrase=secret)
        except TelecbtError as error:
            self.ui(self.report_error, error_text(self.app, error))
        except (OSError, ValueError) as error:
            self.ui(self.report_error, _reason(text, error))
        else:
            self.ui(self.show_import, text, results)
        finally:
            self.ui(self.set_busy, False)

    @work(thread=True, exclusive=True, group="bundles-io")
    def send_outbox(self) -> None:
        from telecbt_cli.core.sync import mailer

        try:
            result = mailer.send_due(self.app.access, mailer.MailSettings.from_env())
        except TelecbtError as error:
            self.ui(self.report_error, error_text(self.app, error))
        else:
            self.ui(self.show_sent, result)
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
        for ident in ("#export", "#import", "#send"):
            self.query_one(ident, Button).disabled = busy or not self.app.can("write")

    def show_progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=min(done, max(total, 1)))

    def finish_progress(self) -> None:
        self.query_one("#progress", ProgressBar).update(total=1, progress=1)

    def show_export(self, result: dict, kind: str, dest: str, email: str) -> None:
        self.finish_progress()
        if kind == "email":
            self.add_line(safe(tr(self.app, "bundles.queued", bundle=result["bundle_id"], changes=result["changes"],
                                  parts=result["parts"], address=email)), style="bold")
            return
        if kind == "eml":
            self.add_line(safe(tr(self.app, "bundles.eml_written", parts=result["parts"], folder=dest)), style="bold")
            return
        self.add_line(safe(tr(self.app, "bundles.exported", path=result["path"], bundle=result["bundle_id"],
                              changes=result["changes"], size=result["bytes"])), style="bold")
        if kind == "usb" and result.get("verified"):
            self.add_line(Text(tr(self.app, "bundles.usb_verified")), style="bold")

    def show_sent(self, result: dict) -> None:
        self.finish_progress()
        if result["due"] == 0:
            self.add_line(Text(tr(self.app, "bundles.nothing_due", waiting=result["waiting"])))
        else:
            self.add_line(Text(tr(self.app, "bundles.sent", sent=result["sent"], due=result["due"])), style="bold")
        if result["error"]:
            message = error_text(self.app, result["cause"]) if result.get("cause") else result["error"]
            self.add_line(safe(tr(self.app, "bundles.error", message=message)), style="bold red")

    def show_import(self, text: str, results: list[dict]) -> None:
        self.finish_progress()
        if not results:
            self.add_line(safe(tr(self.app, "bundles.no_files", path=text)))
        catalog, lang = self.app.catalog, self.app.lang
        for r in results:
            r = {**r, "file": str(catalog.render(r["file"], lang))}  # a file's name, or "parts of bundle X" (core's words)
            if r.get("no_bundle"):  # a mail without a bundle: left alone, as the command line says it
                self.add_line(safe(f"{r['file']}: {catalog.text('cli.bundle_io.no_bundle', lang)}"))
            elif not r["ok"]:
                error = error_text(self.app, r["cause"]) if r.get("cause") else r["error"]
                self.add_line(safe(tr(self.app, "bundles.skipped", file=r["file"], error=error)),
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

    def add_line(self, line: Text, style: str = "", scroll: bool = True) -> None:
        """Add a line to the results; `scroll` brings them into view (what an action just did)."""
        if style:
            line.stylize(style)
        self.lines = (self.lines + [line])[-MAX_LINES:]
        self.query_one("#results", Static).update(Text("\n").join(self.lines))
        if scroll:
            area = self.query_one("#bundles", VerticalScroll)
            area.call_after_refresh(area.scroll_end, animate=False)

    @property
    def results_text(self) -> str:
        """What the results area says, as plain text (for tests and screen readers)."""
        return "\n".join(line.plain for line in self.lines)


def _reason(path: str, error: OSError | ValueError) -> str:
    """An operating-system refusal in plain words: the path and the system's reason, no traceback."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return f"{path}: {reason}"
