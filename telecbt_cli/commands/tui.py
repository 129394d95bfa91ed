"""`telecbt tui` (the staff terminal UI) and `telecbt kiosk` (the patient kiosk)."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands._common import PassFdOpt, PassFileOpt, StoreOpt, UserOpt

LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of the screens: en or es "
                                                            "(default: the one chosen in Settings, else en).")]


def _need_terminal() -> None:
    import sys

    from telecbt_cli.core.errors import UsageError

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("the terminal UI needs a terminal; use the commands (see telecbt --help) in scripts")


def _check_lang(lang: str | None) -> None:
    from telecbt_cli.content.catalog import LANGS
    from telecbt_cli.core.errors import UsageError

    if lang is not None and lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")


def tui(store: StoreOpt = None, lang: LangOpt = None) -> None:
    """Open the staff terminal UI: caseload, patient records, questionnaires, check-ins, alerts, bundles."""
    from telecbt_cli.core.paths import resolve_store_dir
    from telecbt_cli.core.store import require_store_dir

    _need_terminal()
    _check_lang(lang)
    store_dir = resolve_store_dir(store)
    require_store_dir(store_dir)
    from telecbt_cli.tui.app import make_app

    make_app(store_dir, lang=lang).run()


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
) -> None:
    """Start the patient kiosk: staff unlock the store, then patients sign in with their code and PIN.

    Leaving kiosk mode needs a staff passphrase (F10). Set PINs first with `telecbt patient pin set`.
    """
    from telecbt_cli.commands._common import unlocked

    _need_terminal()
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")
        from telecbt_cli.tui.kiosk import make_kiosk

        _lock_signals()
        make_kiosk(access, access.store.dir, idle_seconds=idle).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
    app.command()(kiosk)
