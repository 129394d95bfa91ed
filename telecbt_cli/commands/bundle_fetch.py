"""`telecbt bundle fetch`: import the bundles waiting in the hub's mailbox (IMAP)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import JsonOpt, PassFdOpt, PassFileOpt, StoreOpt, UserOpt, unlocked
from telecbt_cli.commands.output import emit_json, say
from telecbt_cli.core.store.errors import IntegrityError



def fetch(
    host: Annotated[Optional[str], typer.Option("--host", help="The mailbox server (TELECBT_IMAP_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Its port (TELECBT_IMAP_PORT; default 993 for tls, 143 for starttls).")] = None,
    security: Annotated[Optional[str], typer.Option("--security", metavar="<tls|starttls|none>", help="tls (default), starttls, or none (loopback only) (TELECBT_IMAP_SECURITY).")] = None,
    user_name: Annotated[Optional[str], typer.Option("--user-name", help="The mailbox login (TELECBT_IMAP_USER).")] = None,
    password_file: Annotated[Optional[Path], typer.Option("--password-file", help="Read the mailbox password from this file's first line ('-' = stdin); or TELECBT_IMAP_PASSWORD_FILE, TELECBT_IMAP_PASSWORD, or asked for.")] = None,
    folder: Annotated[Optional[str], typer.Option("--folder", help="The folder to read (TELECBT_IMAP_FOLDER; default INBOX).")] = None,
    done_folder: Annotated[Optional[str], typer.Option("--done-folder", help="Where imported messages go (TELECBT_IMAP_DONE_FOLDER; default telecbt-imported).")] = None,
    failed_folder: Annotated[Optional[str], typer.Option("--failed-folder", help="Where messages with a refused bundle go (TELECBT_IMAP_FAILED_FOLDER; default telecbt-failed).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the bundles; change nothing and move no message.")] = False,
    bundle_passphrase_file: Annotated[Optional[Path], typer.Option(
        "--bundle-passphrase-file", help="Read the bundle passphrase from this file; or TELECBT_BUNDLE_PASSPHRASE.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Fetch bundles from the hub's mailbox over IMAP, import them, and move the messages to a folder.

    Safe to run again after a dropped connection: a bundle imported twice changes nothing. The
    password is never stored or shown. Exit 3 if the server refuses the login, 1 if the
    connection fails, 6 if a bundle was refused.
    """
    from telecbt_cli.commands.i18n import t
    from telecbt_cli.commands.signin import read_secret
    from telecbt_cli.core.sync import imapfetch

    options = {"host": host, "port": port, "security": security, "user": user_name, "folder": folder,
               "done_folder": done_folder, "failed_folder": failed_folder}
    secret = None
    if bundle_passphrase_file or os.environ.get("TELECBT_BUNDLE_PASSPHRASE"):
        secret = read_secret(file=bundle_passphrase_file, fd=None, env="TELECBT_BUNDLE_PASSPHRASE",
                             prompt=t("cli.bundle_io.prompt"), options="--bundle-passphrase-file")
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")

        def ask(file: Path | None = None) -> str:
            return read_secret(file=file, fd=None, env="TELECBT_IMAP_PASSWORD", prompt=t("cli.fetch.password_prompt"),
                               options="--password-file, TELECBT_IMAP_PASSWORD_FILE")

        password = ask(password_file) if password_file is not None else None
        settings = imapfetch.ImapSettings.from_env(options, password, ask=ask)
        result = imapfetch.fetch(access, settings, dry_run=dry_run, passphrase=secret)
    causes = [m.pop("causes", []) for m in result["messages"]]  # the errors themselves, worded in the reader's language
    if json_out:
        emit_json(result)
    else:
        _show(result, causes)
    if result["failed"]:
        raise typer.Exit(int(IntegrityError.exit_code))


def _show(result: dict, causes: list[list]) -> None:
    from telecbt_cli.commands.i18n import error_text, t

    if not result["messages"]:
        say(t("cli.fetch.empty", folder=result["folder"], server=result["server"]))
    for m, why in zip(result["messages"], causes):
        text = t(f"cli.fetch.{m['status']}", folder=m["moved_to"] or t("cli.fetch.not_moved"))
        say(t("cli.fetch.message", uid=m["uid"], subject=m["subject"] or t("cli.fetch.no_subject"), text=text),
            style={"imported": "green", "failed": "red"}.get(m["status"], "yellow"))
        for b in m["bundles"]:
            note = t("cli.bundle_io.seen_before") if b.get("seen_before") else ""
            say(t("cli.fetch.bundle", bundle=b["bundle_id"], changes=b["changes"], inserted=b["inserted"],
                  updated=b["updated"], conflicts=b["conflicts"], note=note))
        lines = [f"{name}: {error_text(error)}" for name, error in why if name]  # a whole bundle attached
        parted = [error_text(error) for name, error in why if not name]  # its parts, which did not make a bundle
        for error in lines + (["; ".join(parted)] if parted else []):
            say(f"  {error}", style="red")
    if result["left"]:
        say(t("cli.fetch.left", count=result["left"]), style="yellow")
