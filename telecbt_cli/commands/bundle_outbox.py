"""`telecbt bundle outbox …`: the emails waiting to go (bundles and session reminders)."""

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
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="The outbox of emails (bundles and reminders): list, send, retry.", no_args_is_help=True,
                  add_completion=False)


def _size(value: int | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.0f} kB" if value >= 1000 else f"{value} B"


def _shown(row: dict, zone) -> dict:
    from telecbt_cli.core.store.localtime import staff_time

    return {**row, "short_id": short_id(row["id"]), "what": row["attachment_name"] or row["subject"],
            "size_text": _size(row["size"]), "next": staff_time(row["next_attempt_at"] or row["send_after"], zone)
            if row["status"] == "queued" else ""}


_COLUMNS = [("short_id", "id"), ("kind", "kind"), ("status", "status"), ("address", "to"), ("what", "subject / file"),
            ("size_text", "size"), ("attempts", "tries"), ("next", "next try"), ("last_error", "last error")]


@app.command("list")
def list_(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False) -> None:
    """List the emails in the outbox: queued, sent, failed, and reminders with no address."""
    from telecbt_cli.core.sync import mailer

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = mailer.list_outbox(access)
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
        return
    if csv_out:
        emit_csv(rows, ["id", "kind", "channel", "status", "address", "subject", "attachment_name", "size", "bundle_id",
                        "patient", "attempts", "last_error", "send_after", "next_attempt_at", "created_at", "updated_at"],
                 zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, error_text, t, value

    def reason(text: str | None) -> str | None:  # kept in English; shown in the reader's language
        known = mailer.stored_reason(text)
        return error_text(known) if known else text

    emit_table([{**_shown(r, zone), "status": value("outbox", r["status"]), "kind": value("message", r["kind"]),
                 "last_error": reason(r["last_error"])} for r in rows],
               columns("outbox", [key for key, _ in _COLUMNS]), empty=t("cli.outbox.empty"))


@app.command()
def send(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
         passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Send the emails that are due, through the mail server set in TELECBT_SMTP_* variables.

    TELECBT_SMTP_HOST, TELECBT_SMTP_PORT, TELECBT_SMTP_SECURITY (starttls, tls or none),
    TELECBT_SMTP_USER, TELECBT_SMTP_PASSWORD_FILE (or TELECBT_SMTP_PASSWORD), TELECBT_SMTP_FROM.
    If the server cannot be reached nothing changes (exit 1); emails it refuses are tried
    again later, 8 times at most.
    """
    import getpass
    import os
    import sys

    from telecbt_cli.core.sync import mailer

    environ = dict(os.environ)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if environ.get("TELECBT_SMTP_USER") and not (environ.get("TELECBT_SMTP_PASSWORD")
                                                      or environ.get("TELECBT_SMTP_PASSWORD_FILE")):
            if sys.stdin.isatty():  # the third way to give it: asked for, never stored or echoed
                from telecbt_cli.commands.i18n import t

                environ["TELECBT_SMTP_PASSWORD"] = getpass.getpass(t("cli.mail.password_prompt"), stream=sys.stderr)
        settings = mailer.MailSettings.from_env(environ)
        result = mailer.send_due(access, settings)
    cause = result.pop("cause", None)  # why a send stopped part-way, to word it in the reader's language
    if json_out:
        emit_json(result)
    else:
        from telecbt_cli.commands.i18n import error_text, t

        if result["due"] == 0:
            say(t("cli.mail.nothing_due", waiting=result["waiting"]))
        else:
            say(t("cli.mail.sent", sent=result["sent"], due=result["due"], where=settings.where),
                style="green" if result["sent"] == result["due"] else "yellow")
            if result["retrying"]:
                say(t("cli.mail.retrying", count=result["retrying"]), style="yellow")
            if result["failed"]:
                say(t("cli.mail.failed", count=result["failed"]), style="red")
        if result["no_address"]:
            say(t("cli.mail.no_address", count=result["no_address"]))
        if result["error"]:
            say(error_text(cause) if cause else result["error"], style="red")
    if result["error"]:
        raise typer.Exit(1)


@app.command()
def retry(ident: Annotated[Optional[str], typer.Argument(
              metavar="ID", help="One email: its id as listed, or a unique start or end of it (6 characters or more); default: every failed email.")] = None,
          store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Queue failed emails again; they go at the next `telecbt bundle outbox send`."""
    from telecbt_cli.core.sync import mailer

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = mailer.retry(access, ident)
    from telecbt_cli.commands.i18n import t

    if json_out:
        emit_json(rows)
    elif rows:
        say(t("cli.mail.requeued", count=len(rows)), style="green")
    else:
        say(t("cli.mail.none_failed"))
