"""`telecbt export …`: bulk exports for analysts (CSV, NDJSON) and health-record systems (FHIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    unlocked,
)
from telecbt_cli.commands.content_opts import ContentOpt, load_catalog
from telecbt_cli.commands.output import emit_json, progress_bar, say

app = typer.Typer(help="Bulk exports for analysts and health-record systems: csv, ndjson, fhir.",
                  no_args_is_help=True, add_completion=False)

OutOpt = Annotated[Path, typer.Option("--out", show_default=False,
                                      help="Folder to write into (created if missing; must be empty unless --force).")]
PatientOpt = Annotated[Optional[list[str]], typer.Option("--patient", show_default=False,
                                                         help="Only this patient (code); repeat for several.")]
SinceOpt = Annotated[Optional[str], typer.Option("--since", show_default=False,
                                                 help="Only records changed since this date (YYYY-MM-DD, UTC).")]
EncryptOpt = Annotated[Optional[list[str]], typer.Option(
    "--encrypt-to", show_default=False, metavar="age1…",
    help="Encrypt every file to this age recipient (files end in .age); repeat for several recipients.")]
PlaintextOpt = Annotated[bool, typer.Option("--plaintext", help="Write patient data unencrypted (not for viewers).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty.")]
CompressOpt = Annotated[Optional[bool], typer.Option(
    "--compress/--no-compress", show_default=False,
    help="Compress each file with zstd (.zst); the default with --encrypt-to, not with --plaintext.")]
RawOpt = Annotated[bool, typer.Option(
    "--raw", help="Write cells exactly as stored: without it, a cell starting with = + - @ gets a leading ' so "
                  "a spreadsheet shows it as text instead of running it as a formula.")]


def _run(kind: str, out: Path, patients: list[str] | None, since: str | None, encrypt_to: list[str] | None,
         plaintext: bool, force: bool, store, user, passphrase_file, passphrase_fd, json_out: bool,
         content: Path | None = None, compress: bool | None = None, raw: bool = False) -> None:
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.sync import bulk, exports, fhir

    bulk.recipients_for(encrypt_to, plaintext)  # refuse before asking for a passphrase
    since_iso = parse_since(since) if since else None
    catalog = load_catalog(content) if kind == "fhir" else None
    with unlocked(store, user, passphrase_file, passphrase_fd) as access, progress_bar(json_out, "Exporting") as bar:
        progress = (lambda label, done, total: bar(done, total, label)) if bar else None
        if kind == "fhir":
            result = fhir.export_fhir(access, catalog, out, patients or None, since_iso, encrypt_to=encrypt_to,
                                      plaintext=plaintext, force=force, progress=progress)
        else:
            result = exports.export_tables(access, out, kind, patients or None, since_iso, encrypt_to=encrypt_to,
                                           plaintext=plaintext, force=force, progress=progress, compress=compress,
                                           raw=raw)
    if plaintext:
        say(f"Warning: files hold patient data in clear: {result['out_dir']}. Keep them on an encrypted disk, "
            "share them only through a secure channel and delete them when done.", style="yellow")
    if json_out:
        emit_json(result)
        return
    what = ", ".join(f"{name} {count}" for name, count in result["counts"].items())
    files = len(result["files"])
    lock = " (age-encrypted)" if result["encrypted"] else ""
    if result.get("compressed"):
        lock = " (zstd-compressed" + (", age-encrypted)" if result["encrypted"] else ")")
    say(f"Wrote {files} file(s){lock} to {result['out_dir']}: {what}.", style="green")


@app.command()
def csv(
    out: OutOpt, patient: PatientOpt = None, since: SinceOpt = None, encrypt_to: EncryptOpt = None,
    plaintext: PlaintextOpt = False, force: ForceOpt = False, compress: CompressOpt = None, raw: RawOpt = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """One CSV file per table (JSON columns stay JSON text). Needs --encrypt-to or --plaintext.

    Cells that a spreadsheet would run as formulas get a leading ' unless --raw."""
    _run("csv", out, patient, since, encrypt_to, plaintext, force, store, user, passphrase_file, passphrase_fd,
         json_out, compress=compress, raw=raw)


@app.command()
def ndjson(
    out: OutOpt, patient: PatientOpt = None, since: SinceOpt = None, encrypt_to: EncryptOpt = None,
    plaintext: PlaintextOpt = False, force: ForceOpt = False, compress: CompressOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """One NDJSON file per table (one JSON object a line). Needs --encrypt-to or --plaintext."""
    _run("ndjson", out, patient, since, encrypt_to, plaintext, force, store, user, passphrase_file, passphrase_fd,
         json_out, compress=compress)


@app.command()
def fhir(
    out: OutOpt, patient: PatientOpt = None, since: SinceOpt = None, encrypt_to: EncryptOpt = None,
    plaintext: PlaintextOpt = False, force: ForceOpt = False, content: ContentOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """One FHIR R4 transaction bundle per patient (<code>.json). Needs --encrypt-to or --plaintext.

    Each bundle holds the Patient, questionnaire responses, score Observations and diary pain
    ratings, each sent as a PUT of its own id: posting a bundle again changes nothing.
    """
    _run("fhir", out, patient, since, encrypt_to, plaintext, force, store, user, passphrase_file, passphrase_fd,
         json_out, content)
