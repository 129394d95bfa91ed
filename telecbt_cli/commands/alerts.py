"""`telecbt alerts …`: safety alerts that need a clinician."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say, with_local_fields
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="Safety alerts: list, ack.", no_args_is_help=True, add_completion=False)


@app.command("list")
def list_(
    patient: Annotated[Optional[str], typer.Option("--patient", help="Only this patient code.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include acknowledged alerts.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
) -> None:
    """List open safety alerts (all of them with --all)."""
    from telecbt_cli.core.clinical import alerts
    from telecbt_cli.core.clinical.patients import patient_id_for

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        patient_id = patient_id_for(access, patient) if patient else None
        rows = alerts.list_alerts(access, patient_id, include_closed=all_)
        zone = device_zone(access.store)
    if json_out:
        emit_json(with_local_fields(rows, zone, ["opened_at"]))
        return
    if csv_out:
        emit_csv(rows, ["id", "code", "rule_id", "content_id", "status", "opened_at", "opened_by", "acknowledged_at",
                        "acknowledged_by", "note"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    for row in rows:
        row["short_id"] = short_id(row["id"])
        row["status"] = value("alert", row["status"])
    emit_table(rows, columns("alert", ["short_id", "code", "rule_id", "opened_at", "status", "acknowledged_by"]),
               empty=t("cli.alert.empty"), zone=zone)


@app.command()
def ack(
    alert: Annotated[str, typer.Argument(help="Alert id: as listed, or a unique start or end of it (6 characters or more).")],
    note: Annotated[str, typer.Option("--note", help="What was done, e.g. 'called patient, safe, plan agreed'.")],
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Acknowledge a safety alert after following it up (clinician or admin; audited)."""
    from telecbt_cli.core.clinical import alerts

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        row = alerts.acknowledge(access, alert, note)
    if json_out:
        emit_json(row)
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.alert_ack.done", id=short_id(row["id"])), style="green")
