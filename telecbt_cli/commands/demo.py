"""`telecbt demo`: a ready-made store with synthetic patients, for trying things out."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands._common import JsonOpt, kdf
from telecbt_cli.commands._output import emit_json, emit_table, say


def demo(
    patients: Annotated[int, typer.Option("--patients", "-n", min=0, max=100000,
                                          help="Make sure the demo store holds at least this many patients "
                                               "(new ones get four months of synthetic care history).")] = 25,
    json_out: JsonOpt = False,
) -> None:
    """Create (or reuse) the demo store with synthetic patients and show what is in it."""
    from telecbt_cli.core.demo import DEMO_PASSPHRASE, DEMO_USER, open_demo
    from telecbt_cli.core.patients import list_patients
    from telecbt_cli.core.paths import demo_store_dir

    store_dir = demo_store_dir()
    if not store_dir.exists():
        say(f"Creating the demo store at {store_dir} ...")
    from telecbt_cli.commands._content_opts import load_catalog

    result = open_demo(store_dir, patients, kdf(), catalog=load_catalog(None))
    try:
        rows = list_patients(result.access)
    finally:
        result.access.close()
    summary = {"store": str(store_dir), "created": result.created, "patients_added": result.added,
               "patients": result.total, "user": DEMO_USER, "passphrase": DEMO_PASSPHRASE}
    if json_out:
        emit_json(summary)
        return
    emit_table(rows[:10], [("code", "code"), ("display_name", "name"), ("birth_year", "born"),
                           ("language", "lang")])
    if len(rows) > 10:
        say(f"... and {len(rows) - 10} more.")
    say(f"Demo store: {store_dir} ({result.total} synthetic patients, {result.added} added now).", style="green")
    say(f"Demo sign-in: user {DEMO_USER}, passphrase {DEMO_PASSPHRASE} (demo data only; never use it for real).")
    say(f"Try: TELECBT_STORE={store_dir} telecbt patient list --user {DEMO_USER}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
