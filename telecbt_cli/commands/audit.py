"""`telecbt audit …`: read and verify the tamper-evident audit log."""

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
from telecbt_cli.core.store.errors import IntegrityError

app = typer.Typer(help="The audit log: log, verify.", no_args_is_help=True, add_completion=False)


@app.command()
def log(
    patient: Annotated[Optional[str], typer.Option("--patient", help="Only entries about this patient code.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only entries from this date or time (this device's time zone), e.g. 2026-11-01.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the newest N entries.", min=1)] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
) -> None:
    """Show audit entries, oldest first (admin and clinician)."""
    from telecbt_cli.core.clinical.patients import patient_id_for
    from telecbt_cli.core.store import audit
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("audit")
        one_format(json_out, csv_out)
        zone = device_zone(access.store)
        since_iso = parse_since(since, zone) if since else None
        patient_id = patient_id_for(access, patient) if patient else None
        rows = [e.to_dict() for e in audit.entries(access.store, patient_id, since_iso, limit)]
    if json_out:
        emit_json(with_local_fields(rows, zone, ["at"]))
        return
    if csv_out:
        for row in rows:
            row["detail"] = audit.describe(row["detail"], zone)
        emit_csv(rows, ["seq", "at", "user", "action", "patient_code", "detail", "device_id"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, reader, t, value

    for row in rows:
        row["detail"] = audit.describe(row["detail"], zone, value)  # field names and yes/no in the reader's language
        word = value("audit_action", row["action"].replace(".", "_"))
        if reader() != "en" and word != row["action"].replace(".", "_"):  # the code stays: it is what auditors search for
            row["action"] = f"{row['action']} ({word})"
        row["at"] = staff_time(row["at"], zone, seconds=True)
        row["patient"] = row["patient_code"] or ""

    emit_table(rows, columns("audit", ["seq", "at", "user", "action", "patient", "detail"]), empty=t("cli.audit.empty"))


@app.command()
def verify(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
           passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Check the hash chain: finds edited, deleted, inserted or reordered entries (exit 6)."""
    from telecbt_cli.core.store import audit

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        problems = audit.verify(access.store)
        count = audit.count(access.store)
    from telecbt_cli.commands.i18n import error_text, t

    if json_out:
        emit_json({"ok": not problems, "entries": count, "problems": problems})
    elif problems:
        for line in problems:
            say(error_text(e) if (e := audit.described(line)) else line, style="red")
        say(t("cli.audit.damaged"), style="bold red")
    else:
        say(t("cli.audit.intact", count=count), style="green")
    if problems:
        raise typer.Exit(int(IntegrityError.exit_code))
