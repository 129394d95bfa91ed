"""`telecbt bundle …`: encrypted, signed bundles of changes between devices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands._common import JsonOpt, PassFdOpt, PassFileOpt, StoreOpt, UserOpt, unlocked
from telecbt_cli.commands._output import emit_json, emit_table, say
from telecbt_cli.core.errors import IntegrityError, UsageError

app = typer.Typer(help="Sync bundles: export, import, conflicts.", no_args_is_help=True, add_completion=False)


BundlePassOpt = Annotated[Optional[Path], typer.Option(
    "--bundle-passphrase-file", help="Read the bundle passphrase from this file ('-' = stdin); or TELECBT_BUNDLE_PASSPHRASE.")]


def _bundle_passphrase(path: Optional[Path], confirm: bool) -> str:
    from telecbt_cli.commands._common import read_secret

    return read_secret(file=path, fd=None, env="TELECBT_BUNDLE_PASSPHRASE", prompt="Bundle passphrase: ",
                       options="--bundle-passphrase-file", confirm=confirm)


@app.command("export")
def export_(
    to: Annotated[Optional[str], typer.Option("--to", help="A trusted device (id or label), or an age recipient age1….")] = None,
    seal_passphrase: Annotated[bool, typer.Option("--seal-with-passphrase", help="Seal to a passphrase instead of a device key (slower; for peers without telecbt keys).")] = False,
    bundle_passphrase_file: BundlePassOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the bundle to this file or folder.")] = None,
    usb: Annotated[Optional[Path], typer.Option("--usb", help="Write to a USB stick mounted here (verified read-back).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every change, not only those the peer has not acknowledged.")] = False,
    since: Annotated[Optional[str], typer.Option("--since", help="Only changes from this date (YYYY-MM-DD).")] = None,
    patient: Annotated[Optional[list[str]], typer.Option("--patient", help="Only this patient (repeatable).")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Export changes as one encrypted, signed bundle (incremental per peer by default)."""
    from telecbt_cli.core import devices
    from telecbt_cli.core.timeparse import parse_since
    from telecbt_cli.core.transport import write_bundle

    if (out is None) == (usb is None):
        raise UsageError("give exactly one destination: --out PATH or --usb MOUNT")
    if not to and not seal_passphrase:
        raise UsageError("give --to DEVICE|age1…, or --seal-with-passphrase")
    if seal_passphrase and to and to.startswith("age1"):
        raise UsageError("--seal-with-passphrase replaces the age1… recipient: give one or the other")
    secret = _bundle_passphrase(bundle_passphrase_file, confirm=True) if seal_passphrase else None
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        peer_id, recipients = None, []
        if to and to.startswith("age1"):
            recipients = [to]
        elif to:
            peer = devices.peer(access, to)
            if peer["revoked_at"]:
                raise UsageError(f"{to} is revoked")
            peer_id, recipients = peer["id"], [] if secret else [peer["recipient"]]
        result = write_bundle(access, out or usb, recipients, peer_id, since_last=not all_,
                              since=parse_since(since) if since else None, patient_codes=patient, usb=usb is not None,
                              passphrase=secret)
    if json_out:
        emit_json(result)
    else:
        say(f"Wrote {result['path']}: {result['changes']} change(s), {result['bytes']} bytes.", style="green")
        if usb:
            say("Verified on the stick: it is safe to remove it.", style="bold green")


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Bundle files, or folders holding .tcb files.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the bundles; change nothing.")] = False,
    bundle_passphrase_file: BundlePassOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Import bundles: each is verified, then applied whole or not at all. Bad ones are reported and skipped."""
    from telecbt_cli.core import bundles

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".tcb", ".age"))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    import os

    results, failed = [], 0
    secret = None
    if bundle_passphrase_file or os.environ.get("TELECBT_BUNDLE_PASSPHRASE"):
        secret = _bundle_passphrase(bundle_passphrase_file, confirm=False)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        for file in files:
            try:
                stats = bundles.import_bundle(access, file.read_bytes(), dry_run=dry_run, passphrase=secret)
                results.append({"file": str(file), "ok": True, **stats})
                if not json_out:
                    note = " (seen before: nothing changed)" if stats.get("seen_before") else ""
                    say(f"{file.name}: {stats['changes']} change(s), {stats['inserted']} new, {stats['updated']} "
                        f"updated, {stats['conflicts']} conflict(s){note}.", style="green")
            except IntegrityError as error:
                failed += 1
                results.append({"file": str(file), "ok": False, "error": str(error)})
                if not json_out:
                    say(f"{file.name}: skipped: {error}", style="red")
    if json_out:
        emit_json(results)
    if failed:
        raise typer.Exit(int(IntegrityError.exit_code))


@app.command()
def conflicts(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
              passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """List versions that lost a last-writer-wins merge (they are kept here)."""
    from telecbt_cli.core import bundles

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = bundles.conflicts(access)
    if json_out:
        emit_json(rows)
        return
    emit_table([{**r, "lost_device": r["lost_hlc"].split(".")[2][-12:], "kept_device": r["kept_hlc"].split(".")[2][-12:]}
                for r in rows], [("table_name", "table"), ("row_id", "record"), ("kept_device", "kept (device)"),
                                 ("lost_device", "lost (device)"), ("detected_at", "when")], empty="No conflicts.")
