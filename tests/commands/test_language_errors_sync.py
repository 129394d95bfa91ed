"""Issue 17 point 4: the errors of core/sync (bundle export and import, mail and mailbox settings, FHIR
export and push) read in the reader's language. Those a user reaches from the command line are provoked
with TELECBT_LANG=es on one store; the rest are built as core raises them and rendered in Spanish. Either
way no English-only word (tests/commands/test_language_cli.py's finder) and no {placeholder} is left."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pyrage
import pytest

from telecbt_cli.content.catalog import load_for_ui
from telecbt_cli.core.store.errors import (IntegrityError, PermissionDenied, Said, StorageError, TelecbtError,
                                           UsageError, recognise)
from telecbt_cli.core.sync import bundle_apply, fhir_push, imapfetch, incoming, mailer, parts, transport
from tests.commands.clirun import invoke
from tests.commands.test_language_cli import english_only, words_of
from tests.commands.test_language_errors_core import shared, spanish  # noqa: F401  (fixtures: one store, Spanish)

#: Paths, quoted values and environment variables are the user's own data or names to type, not UI words;
#: so are the table and column names a bundle's rows carry (the same in every language), as used below.
DATA = re.compile(r"'[^']*'|\S*/\S*|\bTELECBT_\w+|--[\w-]+|\b(?:zz_language_probe|diary_entries|pain|notes|triggers)\b")


def _english_left(text: str) -> set[str]:
    return words_of([DATA.sub(" ", text)]) & english_only()


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict:
    """A folder to write into and a real age recipient (the store and TELECBT_LANG=es: test_language_errors_core)."""
    folder = tmp_path_factory.mktemp("sync-errors-es")
    return {"out": str(folder), "age": str(pyrage.x25519.Identity.generate().to_public())}


#: (command line, exit code, words of the Spanish message): each fails in core/sync with a keyed error.
CLI_ERRORS = [
    (["bundle", "export", "--to", "age1qqqq", "--out", "{out}/b.tcb"], 2, "un destinatario age tiene la forma"),
    (["bundle", "export", "--to", "{age}", "--usb", "{out}/no-stick"], 2, "no es una carpeta montada"),
    (["bundle", "export", "--to", "{age}", "--eml", "{out}", "--eml-to", "nadie"], 2,
     "la dirección de correo debe tener la forma nombre@ejemplo.org"),
    (["bundle", "export", "--to", "{age}", "--eml", "{out}", "--eml-to", "a@example.org", "--size-limit", "5Q"], 2,
     "es un tamaño en bytes"),
    (["export", "fhir", "--post", "http://example.org/fhir"], 2, "solo se pueden enviar por https"),
    (["export", "fhir", "--post", "ftp://example.org/fhir"], 2, "no es la dirección de un servidor FHIR"),
]


@pytest.mark.parametrize(("args", "exit_code", "spanish_words"), CLI_ERRORS, ids=[" ".join(c[0][:4]) for c in CLI_ERRORS])
def test_a_sync_command_error_reads_in_spanish(spanish, places, args, exit_code, spanish_words):  # noqa: F811
    """Bundle export's destinations and mail settings, FHIR push's address: in Spanish, same exit code."""
    result = invoke(*[a.format(**places) for a in args], *spanish["pw"])
    assert (result.exit_code, spanish_words in result.stderr) == (exit_code, True), result.stderr
    assert not _english_left(result.stdout + result.stderr)


def _raised(call) -> TelecbtError:
    with pytest.raises(TelecbtError) as caught:
        call()
    return caught.value


def _probe_row(**changes: object) -> None:
    """A row of a table made for this test checked as an incoming bundle's row is (incoming.RowChecker)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE zz_language_probe (id TEXT NOT NULL, device_id TEXT NOT NULL, hlc TEXT NOT NULL, "
                 "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted INTEGER NOT NULL, pain INTEGER)")
    row = {"id": "r1", "device_id": "d1", "hlc": "1767225600000.00000.d1", "created_at": "2026-01-01T00:00:00Z",
           "updated_at": "2026-01-01T00:00:00Z", "deleted": 0, "pain": 3, **changes}
    incoming.RowChecker(conn).check("zz_language_probe", row)


def _split_error() -> None:
    """What `bundle export --email` says when parts.split refuses (mailer keys parts' plain reasons)."""
    try:
        parts.split(b"x" * 5000, "b1", 40)
    except ValueError as error:
        why = recognise(str(error), mailer.SPLIT_REASONS, "errors.mail_split", UsageError)
        assert why is not None, f"parts.split's reason is not in mailer.SPLIT_REASONS: {error}"
        raise UsageError("{why}", key="errors.mail_split.any", why=why) from None
    raise AssertionError("parts.split accepted a limit too small for its header")


def _imap(**changes: object) -> None:
    values = {"host": "mail.example.org", "port": 993, "security": "tls", "username": "hub", "password": "x",
              **changes}
    imapfetch.ImapSettings(**values)


SMTP_ENV = {"TELECBT_SMTP_HOST": "mail.example.org", "TELECBT_SMTP_FROM": "hub@example.org"}
#: Errors met inside core (a bundle's rows, mail and mailbox settings, a helper process): (what, how).
CORE_ERRORS = {
    "row refused (kind)": lambda: _probe_row(pain="mucho"),
    "row refused (missing)": lambda: _probe_row(hlc=None),
    "row refused (id)": lambda: _probe_row(id="no es un id"),
    "row refused (stamp)": lambda: _probe_row(hlc="1767225600000.00000.otro"),
    "row refused (time)": lambda: _probe_row(created_at="ayer"),
    "row refused (deleted)": lambda: _probe_row(deleted=2),
    "row too long": lambda: (_ for _ in ()).throw(IntegrityError(
        "the bundle holds a {table} row ({where}) that this store refuses: {problem}. Nothing was imported from it",
        key="errors.sync_rows.refused", table="diary_entries", where="r1", problem=UsageError(
            "{name} is longer than {mib} MiB", key="errors.sync_rows.too_long", name="notes", mib=1))),
    "row json": lambda: (_ for _ in ()).throw(UsageError(
        "{column} is not valid JSON", key="errors.sync_rows.not_json", column="triggers")),
    "row json shape": lambda: (_ for _ in ()).throw(UsageError(
        "{column} does not hold the expected kind of value", key="errors.sync_rows.shape", column="triggers")),
    "row patient id": lambda: (_ for _ in ()).throw(UsageError(
        "its patient id is not an id", key="errors.sync_rows.patient_id")),
    "change not json": lambda: bundle_apply.parse_change(b"{not json"),
    "change malformed": lambda: bundle_apply.parse_change(b'{"change": 5}'),
    "unknown table": lambda: (_ for _ in ()).throw(IntegrityError(
        "the bundle holds a change for an unknown table ({table})", key="errors.sync_apply.unknown_table",
        table="zz")),
    "fhir token": lambda: fhir_push.Token(" "),
    "fhir credentials": lambda: fhir_push.check_url("https://ana:secreto@fhir.example.org/r4"),
    "fhir query": lambda: fhir_push.check_url("https://fhir.example.org/r4?x=1"),
    "fhir not sent": lambda: (_ for _ in ()).throw(StorageError(
        "could not send to the FHIR server at {url}: {why} (tried {times} times; sending again is safe)",
        key="errors.fhir_push.not_sent", url="https://fhir.example.org/r4", times=5,
        why=Said("the connection failed ({kind})", "errors.fhir_push.connection_failed",
                 kind="ConnectionRefusedError"))),
    "fhir viewer": lambda: (_ for _ in ()).throw(PermissionDenied(
        "a viewer may not send patient data to a server ({user} is signed in as viewer)",
        key="errors.fhir_push.viewer", user="vera")),
    "export viewer": lambda: (_ for _ in ()).throw(PermissionDenied(
        "a viewer may only export encrypted files: add --encrypt-to age1… ({user} is signed in as viewer)",
        key="errors.sync_export.viewer", user="vera")),
    "helper stopped": lambda: (_ for _ in ()).throw(StorageError(
        "an export helper process stopped unexpectedly; its files were not kept",
        key="errors.sync_export.helper_stopped")),
    "usb folder missing": lambda: transport.write_bundle(None, Path("/nonexistent-telecbt/b.tcb"), [], None),
    "sender address": lambda: mailer.MailSettings.from_env({**SMTP_ENV, "TELECBT_SMTP_FROM": "hub"}),
    "smtp security": lambda: mailer.MailSettings.from_env({**SMTP_ENV, "TELECBT_SMTP_SECURITY": "ssl3"}),
    "smtp login": lambda: mailer.MailSettings.from_env({**SMTP_ENV, "TELECBT_SMTP_USER": "hub"}),
    "smtp size": lambda: mailer.parse_size("10", 1),
    "password file": lambda: mailer.read_password(Path("/nonexistent-telecbt/pass")),
    "no room for the bundle": lambda: mailer.attachment_room(3000, "a@example.org", "b1"),
    "bundle parts": _split_error,
    "imap folder": lambda: _imap(done_folder="señal"),
    "imap same folder": lambda: _imap(done_folder="INBOX", folder="INBOX"),
    "imap in clear": lambda: _imap(security="none"),
    "imap port": lambda: _imap(port=0),
}


@pytest.mark.parametrize("what", list(CORE_ERRORS))
def test_a_sync_core_error_reads_in_spanish(what):
    """Each error built as core raises it has a key, and its Spanish has no English word and no placeholder."""
    error = _raised(CORE_ERRORS[what])
    assert error.key, f"{what}: {error} has no locale key"
    shown = load_for_ui([]).error(error, "es")
    assert shown != str(error), shown
    assert not _english_left(shown) and not re.search(r"\{\w+", shown), (shown, _english_left(shown))


def test_a_refused_row_names_the_rule_in_spanish_and_english_stays():
    """The report of bundle import names the row's table, its id and the rule, each in the reader's language;
    `str(error)` keeps the English it had (stored and compared by English tests)."""
    error = _raised(lambda: _probe_row(pain="mucho"))
    assert str(error) == ("the bundle holds a zz_language_probe row (r1) that this store refuses: "
                          "pain must be a whole number. Nothing was imported from it")
    assert load_for_ui([]).error(error, "es") == (
        "el paquete trae una fila de zz_language_probe (r1) que este almacén rechaza: pain debe ser un número entero. "
        "No se importó nada de él")
