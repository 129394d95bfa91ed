"""`telecbt tui` (the staff terminal UI) and `telecbt kiosk` (the patient kiosk)."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands.common import PassFdOpt, PassFileOpt, StoreOpt, UserOpt
from telecbt_cli.commands.content_opts import ContentOpt

LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of the screens: en or es "
                                                            "(default: the one chosen in Settings, else en).")]


def tui(store: StoreOpt = None, lang: LangOpt = None, content: ContentOpt = None) -> None:
    """Open the staff terminal UI: caseload, patient records, questionnaires, check-ins, alerts, bundles."""
    from telecbt_cli.tui.launch import run_tui

    run_tui(store, lang, content)


def _lock_signals() -> None:
    """Keys that would stop or suspend the process do nothing while the kiosk runs (POSIX)."""
    import os
    import signal

    os.environ.pop("TEXTUAL_ALLOW_SIGNALS", None)  # Textual would otherwise let Ctrl-C/Z through
    for name in ("SIGINT", "SIGTSTP", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def kiosk(
    store: StoreOpt = None,
    user: UserOpt = None,
    passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None,
    idle: Annotated[int, typer.Option("--idle", min=10, max=3600,
                                      help="Seconds without a key press before the kiosk returns to the "
                                           "language screen and forgets the patient.")] = 120,
    content: ContentOpt = None,
) -> None:
    """Start the patient kiosk: staff unlock the store, then patients sign in with their code and PIN.

    Leaving kiosk mode needs a staff passphrase (F10); after an unexpected error the kiosk starts
    again. Set PINs first with `telecbt patient pin set`. Start it with `exec telecbt kiosk …` so
    that not even a crash loop can leave a shell behind.
    """
    from telecbt_cli.commands.common import unlocked
    from telecbt_cli.content.catalog import content_dirs, load_for_ui
    from telecbt_cli.core.store import crypto
    from telecbt_cli.tui.launch import need_terminal, run_kiosk

    catalog = load_for_ui(content_dirs(content))  # a broken clinic folder is reported before anyone signs in
    need_terminal()
    crypto.isolate_kdf()  # PIN checks run for hours: keep scrypt's buffer out of the kiosk process
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")
        from telecbt_cli.tui.kiosk import make_kiosk

        _lock_signals()
        code = run_kiosk(lambda: make_kiosk(access, access.store.dir, idle_seconds=idle, catalog=catalog))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(tui)
    app.command()(kiosk)
