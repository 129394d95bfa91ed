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
    no_stdout,
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
                                                 help="Only records changed since this date (YYYY-MM-DD, a day in this device's time zone).")]
EncryptOpt = Annotated[Optional[list[str]], typer.Option(
    "--encrypt-to", show_default=False, metavar="<age1…>",
    help="Encrypt every file to this age recipient (files end in .age); repeat for several recipients.")]
PlaintextOpt = Annotated[bool, typer.Option("--plaintext", help="Write patient data unencrypted (not for viewers).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty.")]
CompressOpt = Annotated[Optional[bool], typer.Option(
    "--compress/--no-compress", show_default=False,
    help="Compress each file with zstd (.zst); the default with --encrypt-to, not with --plaintext.")]
RawOpt = Annotated[bool, typer.Option(
    "--raw", help="Write cells exactly as stored: without it, a cell starting with = + - @ gets a leading ' so "
                  "a spreadsheet shows it as text instead of running it as a formula.")]


def _run(kind: str, out: Path | None, patients: list[str] | None, since: str | None, encrypt_to: list[str] | None,
         plaintext: bool, force: bool, store, user, passphrase_file, passphrase_fd, json_out: bool,
         content: Path | None = None, compress: bool | None = None, raw: bool = False) -> None:
    from telecbt_cli.core.store.errors import UsageError
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.store.zones import device_zone
    from telecbt_cli.commands.i18n import t, value
    from telecbt_cli.core.sync import bulk, exports, fhir

    with unlocked(store, user, passphrase_file, passphrase_fd) as access, \
            progress_bar(json_out, t("cli.export_run.exporting")) as bar:
        if plaintext:
            bulk.authorize(access, None)  # a viewer may export encrypted, never in clear: said first
        if out is None:
            if kind == "fhir":
                raise UsageError("give --out DIR to write files, or --post URL to send to a FHIR server",
                                 key="errors.export_run.out_or_post")
            raise UsageError("give --out DIR to write files", key="errors.export_run.out")
        no_stdout(out, t("cli.export_run.per_patient" if kind == "fhir" else "cli.export_run.per_table", kind=kind))
        bulk.recipients_for(encrypt_to, plaintext)
        since_iso = parse_since(since, device_zone(access.store)) if since else None
        catalog = load_catalog(content) if kind == "fhir" else None
        progress = (lambda label, done, total: bar(done, total, label)) if bar else None
        if kind == "fhir":
            result = fhir.export_fhir(access, catalog, out, patients or None, since_iso, encrypt_to=encrypt_to,
                                      plaintext=plaintext, force=force, progress=progress, compress=compress)
        else:
            result = exports.export_tables(access, out, kind, patients or None, since_iso, encrypt_to=encrypt_to,
                                           plaintext=plaintext, force=force, progress=progress, compress=compress,
                                           raw=raw)
    if plaintext:
        say(t("cli.export_run.in_clear", folder=result["out_dir"]), style="yellow")
    if json_out:
        emit_json(result)
        return
    # table names (CSV, NDJSON) in words; FHIR resource types are codes (Patient, Observation) and stay
    what = ", ".join(f"{name if kind == 'fhir' else value('export_table', name)} {count}"
                     for name, count in result["counts"].items())
    files = len(result["files"])
    lock = t("cli.export_run.encrypted") if result["encrypted"] else ""
    if result.get("compressed"):
        lock = t("cli.export_run.compressed_encrypted" if result["encrypted"] else "cli.export_run.compressed")
    say(t("cli.export_run.wrote", files=files, lock=lock, folder=result["out_dir"], what=what), style="green")


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


PostOpt = Annotated[Optional[str], typer.Option(
    "--post", show_default=False, metavar="<url>",
    help="Send each patient's bundle to this FHIR server (base URL, https) instead of writing files.")]
TokenFileOpt = Annotated[Optional[Path], typer.Option(
    "--token-file", show_default=False,
    help="With --post: read the server's bearer token from this file ('-' = stdin); or TELECBT_FHIR_TOKEN.")]
AskTokenOpt = Annotated[bool, typer.Option("--ask-token", help="With --post: ask for the bearer token (hidden).")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, max=10,
                                         help="With --post: how many times to retry a dropped connection.")]
MaxEntriesOpt = Annotated[int, typer.Option("--max-entries", min=1, max=10000,
                                            help="With --post: most entries in one transaction.")]


def _token(token_file: Path | None, ask: bool):
    """The bearer token, or None: from a file, TELECBT_FHIR_TOKEN, or a hidden prompt when asked."""
    import os
    import sys

    from telecbt_cli.core.store.errors import AuthError, UsageError
    from telecbt_cli.core.sync.fhir_push import Token

    if token_file is not None:
        if str(token_file) == "-":
            return Token(sys.stdin.readline())
        try:
            return Token(token_file.read_text(encoding="utf-8").splitlines()[0] if token_file.stat().st_size else "")
        except (OSError, UnicodeDecodeError, IndexError):
            raise UsageError("cannot read the token file {path}", key="errors.export_run.token_file",
                             path=str(token_file)) from None
    if os.environ.get("TELECBT_FHIR_TOKEN"):
        return Token(os.environ["TELECBT_FHIR_TOKEN"])
    if ask:
        if not sys.stdin.isatty():
            raise AuthError("no terminal to ask for the token on: use --token-file or TELECBT_FHIR_TOKEN",
                            key="errors.export_run.no_terminal")
        import getpass

        from telecbt_cli.commands.i18n import t

        return Token(getpass.getpass(t("cli.export_run.token_prompt"), stream=sys.stderr))
    return None


def _post(url: str, patients: list[str] | None, since: str | None, token_file: Path | None, ask_token: bool,
          retries: int, max_entries: int, content: Path | None, store, user, passphrase_file, passphrase_fd,
          json_out: bool, files_too: bool = False) -> None:
    from telecbt_cli.core.store.errors import UsageError
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.store.zones import device_zone
    from telecbt_cli.core.sync import fhir_push

    from telecbt_cli.commands.i18n import t

    with unlocked(store, user, passphrase_file, passphrase_fd) as access, \
            progress_bar(json_out, t("cli.export_run.sending")) as bar:
        if files_too:  # values are checked after the role (docs/roles.md)
            raise UsageError("--post sends to a server instead of writing files: leave out --out, --encrypt-to, "
                             "--plaintext and --force", key="errors.export_run.post_only")
        server = fhir_push.Server(url, retries=retries, max_entries=max_entries)
        server.token = _token(token_file, ask_token)
        since_iso = parse_since(since, device_zone(access.store)) if since else None
        catalog = load_catalog(content)
        progress = (lambda label, done, total: bar(done, total, label)) if bar else None
        result = fhir_push.push_fhir(access, catalog, server, patients or None, since_iso, progress=progress)
    if json_out:
        emit_json(result)
    else:
        for bundle in result["bundles"]:
            for refused in bundle["refused_entries"]:
                why = "; ".join(str(i.get("details") or i.get("diagnostics") or i.get("code")) for i in refused["issues"])
                say(t("cli.export_run.refused", code=bundle["patient"], url=refused["url"],
                      status=str(refused["status"]), why=why).rstrip(), style="red")
        say(t("cli.export_run.sent", patients=result["patients"], post=result["post"], accepted=result["accepted"],
              refused=result["refused"], retries=result["retries"]),
            style="green" if not result["refused"] else "yellow")
    if result["refused"]:
        raise typer.Exit(1)


@app.command()
def fhir(
    out: Annotated[Optional[Path], typer.Option(
        "--out", show_default=False,
        help="Folder to write into (created if missing; must be empty unless --force).")] = None,
    patient: PatientOpt = None, since: SinceOpt = None, encrypt_to: EncryptOpt = None,
    plaintext: PlaintextOpt = False, force: ForceOpt = False, compress: CompressOpt = None, content: ContentOpt = None,
    post: PostOpt = None, token_file: TokenFileOpt = None, ask_token: AskTokenOpt = False,
    retries: RetriesOpt = 4, max_entries: MaxEntriesOpt = 50,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """FHIR R4 transaction bundles: files (--out, with --encrypt-to or --plaintext) or a server (--post URL).

    Each bundle holds the Patient and everything recorded for them (questionnaires with their
    Questionnaire, scores, diary values, care plan, goals, check-ins, alerts, consent), each sent
    as a PUT of its own id: sending a bundle again changes nothing.
    """
    if post is not None:
        _post(post, patient, since, token_file, ask_token, retries, max_entries, content, store, user,
              passphrase_file, passphrase_fd, json_out,
              files_too=out is not None or bool(encrypt_to) or plaintext or force)
        return
    _run("fhir", out, patient, since, encrypt_to, plaintext, force, store, user, passphrase_file, passphrase_fd,
         json_out, content, compress=compress)
