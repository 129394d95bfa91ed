"""`telecbt demo`: a ready-made store with synthetic patients, for trying things out."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands.common import JsonOpt, kdf
from telecbt_cli.commands.output import emit_json, emit_table, say


def demo(
    patients: Annotated[int, typer.Option("--patients", "-n", min=0, max=100000,
                                          help="Make sure the demo store holds at least this many patients "
                                               "(new ones get four months of synthetic care history).")] = 25,
    json_out: JsonOpt = False,
    no_tui: Annotated[bool, typer.Option("--no-tui", help="Only create the store and print the summary; "
                                                          "do not open the terminal UI.")] = False,
) -> None:
    """Create (or reuse) the demo store with synthetic patients; on a terminal, open the staff UI on it."""
    import sys

    from telecbt_cli.core.care.demo import (
        DEMO_PASSPHRASE,
        DEMO_PIN,
        DEMO_USER,
        open_demo,
    )
    from telecbt_cli.core.clinical.patients import list_patients
    from telecbt_cli.core.store.paths import demo_store_dir

    from telecbt_cli.commands.i18n import columns, t

    store_dir = demo_store_dir()
    if not store_dir.exists():
        say(t("cli.demo.creating", store=store_dir))
    from telecbt_cli.commands.content_opts import load_catalog

    catalog = load_catalog(None)
    result = open_demo(store_dir, patients, kdf(), catalog=catalog)
    interactive = not json_out and not no_tui and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        from telecbt_cli.tui.app import make_app

        say(t("cli.demo.opening", store=store_dir, total=result.total))
        from telecbt_cli.core.store import crypto
        from telecbt_cli.tui.launch import run_app

        crypto.isolate_kdf()
        app = make_app(store_dir, catalog=catalog)
        app.start_access = result.access  # already unlocked with the public demo passphrase
        try:
            run_app(app)
        finally:
            result.access.close()
        say(t("cli.demo.after_tui", user=DEMO_USER, passphrase=DEMO_PASSPHRASE, store=store_dir, pin=DEMO_PIN,
              codes=", ".join(result.pin_codes) or t("cli.demo.no_patient")))
        return
    try:
        rows = list_patients(result.access)
    finally:
        result.access.close()
    summary = {"store": str(store_dir), "created": result.created, "patients_added": result.added,
               "patients": result.total, "user": DEMO_USER, "passphrase": DEMO_PASSPHRASE,
               "kiosk_pin": DEMO_PIN, "kiosk_pin_patients": result.pin_codes}
    if json_out:
        emit_json(summary)
        return
    emit_table(rows[:10], columns("patient", ["code", "display_name", "birth_year", "language"]))
    if len(rows) > 10:
        say(t("cli.demo.more", more=len(rows) - 10))
    say(t("cli.demo.summary", store=store_dir, total=result.total, added=result.added), style="green")
    say(t("cli.demo.sign_in", user=DEMO_USER, passphrase=DEMO_PASSPHRASE))
    say(t("cli.demo.try", store=store_dir, user=DEMO_USER))
    say(t("cli.demo.or_tui", store=store_dir, user=DEMO_USER, pin=DEMO_PIN,
          codes=", ".join(result.pin_codes) or t("cli.demo.no_patient")))


def register(app: typer.Typer) -> None:
    app.command()(demo)
