"""Starting the terminal UIs: the checks `telecbt tui` and `telecbt kiosk` share, and a quick start.

`telecbt tui` is the one command where start-up time is felt on every use, so the entry
point hands plain `telecbt tui [--store PATH] [--lang LANG] [--content DIR]` straight to `run_tui`
without building the Typer command tree (Typer parses options through pydantic, about
0.1 s on an old laptop). Anything else, `-h` included, goes through the full CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from telecbt_cli.core.store.errors import ExitCode, TelecbtError, UsageError


def need_terminal() -> None:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("the terminal UI needs a terminal; use the commands (see telecbt --help) in scripts")


def check_lang(lang: str | None) -> None:
    from telecbt_cli.content.languages import LANGS

    if lang is not None and lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")


def run_tui(store: str | os.PathLike[str] | None, lang: str | None,
            content: str | os.PathLike[str] | None = None) -> None:
    """Open the staff app on a store folder (the sign-in screen unlocks it), with the clinic's content."""
    from telecbt_cli.content.catalog import content_dirs, load_for_ui
    from telecbt_cli.core.store import crypto
    from telecbt_cli.core.store.paths import require_store_dir, resolve_store_dir

    catalog = load_for_ui(content_dirs(content))  # a broken clinic folder is reported before anything else
    need_terminal()
    check_lang(lang)
    store_dir = resolve_store_dir(store)
    require_store_dir(store_dir)
    crypto.isolate_kdf()  # sign-in's scrypt buffer stays out of this long-running process
    from telecbt_cli.tui.app import make_app

    run_app(make_app(Path(store_dir), lang=lang, catalog=catalog))


def run_app(app) -> None:
    """Run a Textual app; if it stopped on an unexpected error (already reported), exit with 1."""
    app.run()
    if app.return_code:
        raise SystemExit(int(ExitCode.ERROR))


def run_kiosk(make_app, restarts: int = 5, pause: float = 1.0, headless: bool = False) -> int:
    """Run the kiosk until staff leave it; after an unexpected error, start it again.

    A crash must not drop a patient at a shell prompt: the kiosk comes back on the language
    screen (the patient is forgotten with the old app). Only more than `restarts` crashes
    within a minute end it, with exit code 1, so a broken install does not spin forever.
    """
    import time

    crashes: list[float] = []
    while True:
        app = make_app()
        app.run(headless=headless)
        if app.exiting:  # a staff passphrase was given
            return 0
        now = time.monotonic()
        crashes = [t for t in crashes if now - t < 60] + [now]
        if len(crashes) > restarts:
            from telecbt_cli.commands.output import error

            error(f"the kiosk stopped unexpectedly {len(crashes)} times within a minute; it stays closed. "
                  "Run it with TELECBT_DEBUG=1 to see why.")
            return int(ExitCode.ERROR)
        time.sleep(pause)


def quick_options(argv: list[str]) -> dict[str, str] | None:
    """`--store X`, `--lang X`, `--content X` (or `--name=X`) and nothing else; None for anything more."""
    found: dict[str, str] = {}
    items = iter(argv)
    for item in items:
        name, eq, value = item.partition("=")
        if name not in ("--store", "--lang", "--content") or name in found:
            return None
        if not eq:
            value = next(items, None)
            if value is None or value.startswith("-"):
                return None
        found[name] = value
    return found


def quick_tui(argv: list[str]) -> int | None:
    """Run `telecbt tui` without the Typer layer; None when the arguments need the full CLI."""
    options = quick_options(argv)
    if options is None:
        return None
    store = options.get("--store") or os.environ.get("TELECBT_STORE") or None
    try:
        run_tui(store, options.get("--lang"), options.get("--content"))
    except TelecbtError as err:
        from telecbt_cli.commands.output import error

        error(str(err))
        return int(err.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as err:
        if os.environ.get("TELECBT_DEBUG"):
            raise
        from telecbt_cli.commands.output import error

        error(f"unexpected problem ({err.__class__.__name__}); set TELECBT_DEBUG=1 for details")
        return int(ExitCode.ERROR)
    return 0
