"""`telecbt message …`: secure messages between a patient and the care team."""

from __future__ import annotations

from typing import Annotated

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
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say, with_local_fields, yes_no
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="Secure messages: send, list.", no_args_is_help=True, add_completion=False)
CodeArg = Annotated[str, typer.Argument(help="Patient code.")]


@app.command()
def send(
    patient: CodeArg,
    text: Annotated[str, typer.Argument(help="The message ('-' reads it from standard input).")],
    from_patient: Annotated[bool, typer.Option("--from-patient", help="Record a message the patient sent (e.g. on paper or by phone).")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Send a message to the patient (stored encrypted; it travels in bundles)."""
    import sys

    from telecbt_cli.core.care import messages

    body = sys.stdin.read() if text == "-" else text
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        row = messages.send(access, patient, body, from_patient)
    if json_out:
        emit_json(row)
        return
    from telecbt_cli.commands.i18n import t

    say(t("cli.message_write.saved"), style="green")


@app.command("list")
def list_(
    patient: CodeArg,
    unread: Annotated[bool, typer.Option("--unread", help="Only unread messages from the patient.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
) -> None:
    """Show the conversation; the patient's messages are marked read."""
    from telecbt_cli.core.care import messages

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = messages.list_messages(access, patient, unread_only=unread)
        zone = device_zone(access.store)
    if json_out:
        emit_json(with_local_fields(rows, zone, ["sent_at"]))
        return
    if csv_out:
        emit_csv(yes_no(rows), ["id", "sent_at", "direction", "kind", "sender", "unread", "read_at", "body"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    emit_table([{**r, "short": short_id(r["id"]), "new": t("cli.message.new") if r["unread"] else "",
                 "who": t("cli.message.patient") if r["direction"] == "from_patient" else f"{r['sender']} ({value('message', r['kind'])})"}
                for r in rows],
               [(k, "" if k == "new" else h) for k, h in columns("message", ["short", "sent_at", "who", "new", "body"])],
               empty=t("cli.message.empty"), zone=zone)
