"""`telecbt tui`: the staff terminal UI (first screens; the kiosk comes later)."""

from __future__ import annotations

import typer

from telecbt_cli.commands._common import StoreOpt


def tui(store: StoreOpt = None) -> None:
    """Open the staff terminal UI: sign in, patient list, patient record, quick pain entry."""
    import sys

    from telecbt_cli.core.errors import UsageError
    from telecbt_cli.core.paths import resolve_store_dir
    from telecbt_cli.core.store import require_store_dir

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("the terminal UI needs a terminal; use the commands (see telecbt --help) in scripts")
    store_dir = resolve_store_dir(store)
    require_store_dir(store_dir)
    from telecbt_cli.tui.app import make_app

    make_app(store_dir).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
