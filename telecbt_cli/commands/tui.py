"""`telecbt tui` (the staff terminal UI) and `telecbt kiosk` (the patient kiosk)."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands.common import (
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    store_option,
)
from telecbt_cli.commands.content_opts import ContentOpt

LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of the screens: en or es "
                                                            "(default: TELECBT_LANG, else the one chosen in "
                                                            "Settings, else en).")]


def tui(store: StoreOpt = None, lang: LangOpt = None, content: ContentOpt = None,
        idle: Annotated[int | None, typer.Option("--idle", show_default=False,
                                                 help="Seconds without a key press before the app locks and asks "
                                                      "for a passphrase again (default: as set in Settings, else "
                                                      "900); from 60 to 28800.")] = None) -> None:
    """Open the staff terminal UI: caseload, patient records, questionnaires, check-ins, alerts, bundles."""
    from telecbt_cli.tui.launch import run_tui

    run_tui(store_option(store), lang, content, idle)


def kiosk(
    store: StoreOpt = None,
    user: UserOpt = None,
    passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None,
    idle: Annotated[int, typer.Option("--idle",
                                      help="Seconds without a key press before the kiosk returns to the "
                                           "language screen and forgets the patient (10 to 3600).")] = 120,
    content: ContentOpt = None,
) -> None:
    """Start the patient kiosk: staff unlock the store, then patients sign in with their code and PIN.

    Leaving kiosk mode needs an admin's or clinician's passphrase (F10); after an unexpected
    error the kiosk starts again, and after repeated errors it locks the terminal until such
    a passphrase is given. It never exits to a shell on its own; run it as the login command
    of a dedicated account (README). Set PINs first with `telecbt patient pin set`.
    """
    from telecbt_cli.tui.launch import start_kiosk

    code = start_kiosk(store, user, passphrase_file, passphrase_fd, idle, content)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(tui)
    app.command()(kiosk)
