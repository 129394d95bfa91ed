"""The `telecbt` console script: quick starts for the staff UI and the kiosk, else the Typer CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] in (["tui"], ["kiosk"]):
        from telecbt_cli.tui.launch import quick_kiosk, quick_tui

        code = (quick_tui if sys.argv[1] == "tui" else quick_kiosk)(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from telecbt_cli.cli import main as cli_main

    cli_main()
