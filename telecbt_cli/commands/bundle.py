"""`telecbt bundle …`: encrypted, signed bundles of changes between devices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    binary_to_stdout,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import (
    emit_csv,
    emit_json,
    emit_table,
    emit_text,
    progress_bar,
    say,
)
from telecbt_cli.core.store.errors import IntegrityError, UsageError

app = typer.Typer(help="Sync bundles: export, import, fetch (from a mailbox), status, conflicts, and the email outbox.", no_args_is_help=True, add_completion=False)


def _outbox() -> typer.Typer:
    from telecbt_cli.commands.bundle_outbox import app as outbox_app

    return outbox_app


app.add_typer(_outbox(), name="outbox")


def _fetch():
    from telecbt_cli.commands.bundle_fetch import fetch

    return fetch


app.command("fetch")(_fetch())


BundlePassOpt = Annotated[Optional[Path], typer.Option(
    "--bundle-passphrase-file", help="Read the bundle passphrase from this file ('-' = stdin); or TELECBT_BUNDLE_PASSPHRASE.")]


def _bundle_passphrase(path: Optional[Path], confirm: bool) -> str:
    from telecbt_cli.commands.common import read_secret

    from telecbt_cli.commands.i18n import t

    return read_secret(file=path, fd=None, env="TELECBT_BUNDLE_PASSPHRASE", prompt=t("cli.bundle_io.prompt"),
                       options="--bundle-passphrase-file", confirm=confirm)


@app.command("export")
def export_(
    to: Annotated[Optional[str], typer.Option("--to", help="A trusted device (id or label), or an age recipient age1….")] = None,
    seal_passphrase: Annotated[bool, typer.Option("--seal-with-passphrase", help="Seal to a passphrase instead of a device key (slower; for peers without telecbt keys).")] = False,
    bundle_passphrase_file: BundlePassOpt = None,
    out: Annotated[Optional[str], typer.Option("--out", metavar="<path>", help="Write the bundle to this file, or into this folder (existing, or ending in /); '-' writes it to standard output.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file named by --out.")] = False,
    usb: Annotated[Optional[Path], typer.Option("--usb", help="Write to a USB stick mounted here (verified read-back).")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="Queue in the outbox for this address (sent by `bundle outbox send`).")] = None,
    eml: Annotated[Optional[Path], typer.Option("--eml", help="Write .eml files to this folder, to send by hand.")] = None,
    eml_to: Annotated[Optional[str], typer.Option("--eml-to", help="Recipient address written into the .eml files.")] = None,
    size_limit: Annotated[Optional[str], typer.Option("--size-limit", help="Largest email as sent, headers and encoded attachment included; a bigger bundle is split into parts, e.g. 5M or 500k (TELECBT_BUNDLE_SIZE_LIMIT; default 5M).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every change, not only those the peer has not acknowledged.")] = False,
    since_last: Annotated[bool, typer.Option("--since-last", help="Only what the peer has not acknowledged (the default).")] = True,
    since: Annotated[Optional[str], typer.Option("--since", help="Only changes from this date (YYYY-MM-DD, a day in this device's time zone).")] = None,
    patient: Annotated[Optional[list[str]], typer.Option("--patient", help="Only this patient (repeatable).")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Export changes as one encrypted, signed bundle (incremental per peer by default)."""
    from telecbt_cli.core.store.fsutil import output_path
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.store.zones import device_zone
    from telecbt_cli.core.sync import devices
    from telecbt_cli.core.sync.transport import write_bundle

    from telecbt_cli.commands.i18n import t

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if sum(x is not None for x in (out, usb, email, eml)) != 1:
            raise UsageError("give exactly one destination: --out PATH, --usb MOUNT, --email ADDRESS or --eml DIR",
                             key="errors.bundle_io.one_destination")
        if not to and not seal_passphrase:
            raise UsageError("give --to DEVICE|age1…, or --seal-with-passphrase", key="errors.bundle_io.to")
        if seal_passphrase and to and to.startswith("age1"):
            raise UsageError("--seal-with-passphrase replaces the age1… recipient: give one or the other",
                             key="errors.bundle_io.seal_or_age")
        if out == "-":
            binary_to_stdout(t("cli.bundle_io.the_bundle"), json_out)
        secret = _bundle_passphrase(bundle_passphrase_file, confirm=True) if seal_passphrase else None
        peer_id, recipients = devices.destination(access, to, sealed=secret is not None)
        since_iso = parse_since(since, device_zone(access.store)) if since else None
        if email or eml:
            result = _mail(access, recipients, peer_id, not all_, since_iso, patient, secret, email, eml, eml_to, size_limit)
        elif out == "-":
            import sys

            from telecbt_cli.core.sync.bundles import export_bundle

            result = export_bundle(access, sys.stdout.buffer, recipients, peer_id, since_last and not all_, since_iso,
                                   patient, secret)
            sys.stdout.buffer.flush()
        else:
            with progress_bar(json_out, t("cli.bundle_io.writing")) as progress:
                dest = usb if usb is not None else output_path(out or "", force=force)
                result = write_bundle(access, dest, recipients, peer_id, since_last=since_last and not all_,
                                      since=since_iso, patient_codes=patient, usb=usb is not None, passphrase=secret,
                                      progress=progress, overwrite=force)
    if json_out:
        emit_json(result)
    elif email:
        emit_text(t("cli.bundle_io.queued", bundle=result["bundle_id"], changes=result["changes"],
                    parts=result["parts"], to=email))
    elif eml:
        emit_text(t("cli.bundle_io.eml", parts=result["parts"], folder=eml))
    elif out == "-":
        say(t("cli.bundle_io.to_stdout", bundle=result["bundle_id"], changes=result["changes"]))
    else:
        emit_text(t("cli.bundle_io.wrote", path=result["path"], changes=result["changes"], size=str(result["bytes"])))
        if usb:
            say(t("cli.bundle_io.verified"), style="bold green")


def _mail(access, recipients, peer_id, since_last, since, patient, secret, email, eml, eml_to, size_limit) -> dict:
    import os

    from telecbt_cli.core.sync import mailer
    from telecbt_cli.core.sync.transport import mail_bundle

    limit = mailer.parse_size(size_limit or os.environ.get("TELECBT_BUNDLE_SIZE_LIMIT"), 5_000_000)
    return mail_bundle(access, recipients, peer_id, since_last, since, patient, secret, limit,
                       email or eml_to or "clinic@example.invalid", eml_folder=None if email else eml)


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Bundle files, folders holding .tcb files, or mail: saved .eml files, mbox files, Maildir folders.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the bundles; change nothing.")] = False,
    bundle_passphrase_file: BundlePassOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Import bundles: each is verified, then applied whole or not at all. Bad ones are reported and skipped."""
    import os

    from telecbt_cli.core.sync.transport import import_paths

    secret = None
    if bundle_passphrase_file or os.environ.get("TELECBT_BUNDLE_PASSPHRASE"):
        secret = _bundle_passphrase(bundle_passphrase_file, confirm=False)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        results = import_paths(access, paths, dry_run=dry_run, passphrase=secret)
    causes = [r.pop("cause", None) for r in results]  # the errors themselves, to word them in the reader's language
    if json_out:
        emit_json(results)
    else:
        from telecbt_cli.commands.i18n import error_text, said, t

        for r, cause in zip(results, causes):
            r["file"] = said(r["file"])  # a file's name, or "parts of bundle X", "inbox.mbox message 2"
            if r["ok"]:
                note = t("cli.bundle_io.seen_before") if r.get("seen_before") else ""
                if r.get("waiting"):
                    note += t("cli.bundle_io.waiting", count=r["waiting"])
                if r.get("released"):
                    note += t("cli.bundle_io.released", count=r["released"])
                if r.get("dry_run"):
                    note += t("cli.bundle_io.dry_run")
                say(t("cli.bundle_io.imported", file=r["file"], changes=r["changes"], inserted=r["inserted"],
                      updated=r["updated"], conflicts=r["conflicts"], note=note), style="green")
            elif r.get("no_bundle"):
                say(f"{r['file']}: {t('cli.bundle_io.no_bundle')}.", style="yellow")
            else:
                say(t("cli.bundle_io.skipped", file=r["file"], error=error_text(cause) if cause else r["error"]),
                    style="red")
            if r.get("warning"):
                from telecbt_cli.core.sync.devices import rollback_described

                said = rollback_described(r["warning"])
                say(t("cli.bundle_io.warning", file=r["file"], warning=error_text(said) if said else r["warning"]),
                    style="yellow")
    failed = [r for r in results if not r["ok"] and not r.get("no_bundle")]
    if failed:
        raise typer.Exit(failed[0].get("exit_code", int(IntegrityError.exit_code)))


@app.command()
def status(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
           passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """List changes waiting for a record that has not arrived yet (they apply when its bundle is imported)."""
    from telecbt_cli.core.sync import waiting

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        result = waiting.status(access)
    if json_out:
        emit_json(result)
        return
    from telecbt_cli.commands.i18n import columns, t

    emit_text(t("cli.bundle.waiting", count=result["waiting"]) if result["waiting"] else t("cli.bundle.none_waiting"))
    if not result["changes"]:
        return
    emit_table([{**c, "from": (c["from_device"] or "")[-12:], "when": c["received_at"][:16].replace("T", " ")}
                for c in result["changes"]],
               columns("bundle", ["table", "row_id", "needs", "needs_id", "from", "when"]))


@app.command()
def conflicts(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
              passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False) -> None:
    """List versions that lost a last-writer-wins merge (they are kept here)."""
    from telecbt_cli.core.sync import bundles

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = bundles.conflicts(access)
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
        return
    if csv_out:
        emit_csv(rows, ["id", "table_name", "row_id", "kept_hlc", "lost_hlc", "bundle_id", "detected_at"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t

    emit_table([{**r, "lost_device": r["lost_hlc"].split(".")[2][-12:], "kept_device": r["kept_hlc"].split(".")[2][-12:]}
                for r in rows], columns("bundle", ["table_name", "row_id", "kept_device", "lost_device", "detected_at"]),
               empty=t("cli.bundle.no_conflicts"), zone=zone)
