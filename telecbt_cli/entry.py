"""The `telecbt` console script: a quick start for the staff UI, else the Typer CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["tui"]:
        from telecbt_cli.tui.launch import quick_tui

        code = quick_tui(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from telecbt_cli.cli import main as cli_main

    cli_main()
