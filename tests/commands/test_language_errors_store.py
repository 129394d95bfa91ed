"""Issue 17 point 4: the errors of core/store (the key file, the database, settings, daylight-saving times,
the disk) and the code lists checked on rows from other devices read in the reader's language. Commands run
with TELECBT_LANG=es fail with a few of them for real; the rest are built as core raises them and rendered
in Spanish. Both hold no English-only word (tests/commands/test_language_cli.py's finder) and no {placeholder}."""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from telecbt_cli.commands import i18n
from telecbt_cli.content.catalog import load_for_ui
from telecbt_cli.core.care import appointments, diary, plans
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store import crypto, keyfile, localtime, settings, vault
from telecbt_cli.core.store.errors import Codes, IntegrityError, StoreVersionError, TelecbtError, UsageError
from telecbt_cli.core.store.fsutil import storage_error
from telecbt_cli.core.store.paths import keyfile_paths
from tests.commands.clirun import invoke
from tests.commands.test_language_errors_core import shared  # noqa: F401  (the one store, a fixture)
from tests.commands.test_language_cli import english_only, words_of
from tests.conftest import ADMIN

PLACEHOLDER = re.compile(r"\{\w+(?:![rs])?\}")


@pytest.fixture
def spanish(shared, monkeypatch) -> dict:  # noqa: F811 (the fixture imported above)
    """The shared store (one for the module: admin alice, a consenting patient), an empty folder beside it."""
    folder = Path(shared["pw"][1]).parent
    (folder / "empty").mkdir(exist_ok=True)
    monkeypatch.setenv("TELECBT_LANG", "es")
    monkeypatch.setenv("TELECBT_HOME", str(folder / "home"))
    monkeypatch.setenv("TELECBT_KDF_LOG2N", "10")
    i18n.reset()
    yield {**shared, "store": shared["pw"][1], "passfile": shared["pw"][3], "empty": str(folder / "empty"),
           "none": str(folder / "nothing")}
    i18n.reset()


def _no_english(*texts: str) -> set[str]:
    return words_of(texts) & english_only()


#: (command line, exit code, words of the Spanish message): errors of core/store a user meets at the command line.
CLI_ERRORS = [
    (["patient", "list", "--store", "{empty}", "--passphrase-file", "{passfile}"], 4,
     "no es un almacén de telecbt (no tiene archivo de claves)"),  # keyfile.py: a folder without a key file
    (["session", "schedule", "{code}", "--at", "2099-03-15 01:30", "--mode", "phone", "--tz", "Europe/London",
      "--weeks", "3", "--store", "{store}", "--passphrase-file", "{passfile}"], 2,
     "semana 3 de la serie: 2099-03-29 01:30 no existe en Europe/London"),  # localtime.py, inside a series
    (["session", "ics", "--all", "--out", "/sys/telecbt-no-such-folder/", "--store", "{store}",
      "--passphrase-file", "{passfile}"], 1, "no se pudo crear"),  # fsutil.py: the disk refused
]


@pytest.mark.parametrize(("args", "exit_code", "spanish_words"), CLI_ERRORS, ids=[" ".join(c[0][:2]) for c in CLI_ERRORS])
def test_a_store_error_at_the_command_line_reads_in_spanish(spanish, args, exit_code, spanish_words):
    """Each store error a user reaches from the command line comes in the reader's language, same exit code."""
    result = invoke(*[a.format(**spanish) for a in args])
    assert (result.exit_code, spanish_words in result.stderr) == (exit_code, True), result.stderr
    assert not _no_english(result.stdout, result.stderr), _no_english(result.stdout, result.stderr)


def test_a_bad_kdf_setting_reads_in_spanish(spanish, monkeypatch):
    """settings.py: TELECBT_KDF_LOG2N that is not a whole number is refused in the reader's language."""
    monkeypatch.setenv("TELECBT_KDF_LOG2N", "diez")
    result = invoke("init", "--store", spanish["none"], "--passphrase-file", spanish["passfile"], "--admin", ADMIN)
    assert (result.exit_code, "debe ser un número entero" in result.stderr) == (2, True), result.stderr
    assert not _no_english(result.stdout, result.stderr)


def _raised(call) -> TelecbtError:
    with pytest.raises(TelecbtError) as caught:
        call()
    return caught.value


def _env(name: str, value: str, call):
    """`call` with one environment variable set for it alone."""
    def run():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(name, value)
            call()
    return run


def _keyfiles(tmp: Path, *contents: bytes) -> Path:
    """A store folder whose key-file copies hold `contents` (primary, copy)."""
    tmp.mkdir(parents=True, exist_ok=True)
    for path, data in zip(keyfile_paths(tmp), contents):
        path.write_bytes(data)
    return tmp


def _slot() -> keyfile.Slot:
    return keyfile.new_slot("passphrase", "alice", "alice", b"right", [os.urandom(32)], "s1", crypto.KdfParams(10))


def _os_error(number: int) -> OSError:
    return OSError(number, os.strerror(number))


ROW = {"display_name": "Ana", "birth_year": None, "language": "es", "code": "7K3M-9Q4M", "status": "active"}
KF = keyfile.KeyFile(store_id="s1", generation=1, slots=[])
#: Errors met inside core or on rows from other devices: (what, how it is raised), cheap to call for real.
CORE_ERRORS = {
    "kdf not whole": _env("TELECBT_KDF_LOG2N", "x", settings.kdf_params),
    "kdf out of range": _env("TELECBT_KDF_LOG2N", "40", settings.kdf_params),
    "reader language unknown": _env("TELECBT_LANG", "xx", lambda: settings.reader_lang(("en", "es"))),
    "key file too new": lambda: keyfile.decode(json.dumps({"format": keyfile.FORMAT, "version": 999}).encode()),
    "both copies damaged": lambda tmp: keyfile.load(_keyfiles(tmp, b"{", b"x")),
    "copies of two stores": lambda tmp: keyfile.load(_keyfiles(
        tmp, keyfile.encode(KF), keyfile.encode(keyfile.KeyFile("s2", 1, [])))),
    "recovery missing": lambda tmp: keyfile.load_recovery_only(tmp),
    "recovery damaged": lambda tmp: (tmp.mkdir(), (tmp / keyfile.RECOVERY_FILE_NAME).write_bytes(b"{"),
                                     keyfile.load_recovery_only(tmp)),
    "key file changed": lambda tmp: keyfile.save(_keyfiles(tmp, keyfile.encode(KF), keyfile.encode(KF)), KF,
                                                 expected_generation=7),
    "wrong passphrase": lambda: keyfile.open_slot(_slot(), b"wrong", "s1"),
    "no database": lambda tmp: vault.open_with_keys(_keyfiles(tmp, keyfile.encode(KF)), [os.urandom(32)], KF),
    "gap in the clocks": lambda: localtime.to_utc(datetime(2099, 3, 29, 1, 30), ZoneInfo("Europe/London"),
                                                  "Europe/London"),
    "an hour twice": lambda: localtime.to_utc(datetime(2099, 10, 25, 1, 30), ZoneInfo("Europe/London"),
                                              "Europe/London"),
    "half an hour twice": lambda: localtime.to_utc(datetime(2027, 4, 4, 1, 45), ZoneInfo("Australia/Lord_Howe"),
                                                   "Australia/Lord_Howe"),
    "stored session mode": lambda: appointments.check_stored({"mode": "fax", "status": "scheduled"}),
    "stored session status": lambda: appointments.check_stored({"mode": "phone", "status": "maybe"}),
    "stored diary source": lambda: diary.check_stored_fully({"source": "fax"}),
    "stored goal status": lambda: plans.check_stored_goal({"text": "Caminar", "status": "maybe"}),
    "stored patient status": lambda: patients.check_stored({**ROW, "status": "maybe"}),
    "stored consent method": lambda: patients.check_stored_consent({"action": "given", "method": "fax"}),
}
#: Errors whose cause is costly or unsafe to bring about (a full disk, a newer schema): built as core builds them.
BUILT = {
    **{f"disk refused to {action}: {number}": storage_error(action, Path("/media/usb/telecbt"), _os_error(number))
       for action, number in [("write", errno.ENOSPC), ("create", errno.EROFS), ("read back", errno.EIO),
                              ("check free space on", errno.EACCES), ("write the bundle to", errno.ENODEV),
                              ("create the store in", errno.ENOSPC)]},
    "disk refused, no reason": storage_error("write", Path("/x"), OSError(errno.EINVAL, "")),
    "schema too new": StoreVersionError(
        "this store was written by a newer telecbt (schema step {step}): upgrade telecbt to open it; nothing was "
        "changed", key="errors.store_open.newer_schema", step="m099_zz"),
    "database of another store": IntegrityError("the database and the key file belong to different stores",
                                                key="errors.store_open.db_stores_differ"),
    "database refused": TelecbtError("the store could not complete the operation ({name})",
                                     key="errors.store_open.operation_failed", name="SQLITE_MISMATCH"),
    "wrong key for the database": vault.WrongStoreKey(
        "the database in {store} does not open with the key from its key file: it is damaged, or it is not the "
        "database this key file belongs to", key="errors.store_open.wrong_key", store="/media/usb/telecbt"),
    "outcome not known": UsageError(
        "outcome must be one of {outcomes}", key="errors.stored_codes.outcome",
        outcomes=Codes("session", appointments.OUTCOMES)),
}


@pytest.mark.parametrize("what", [*CORE_ERRORS, *BUILT])
def test_a_store_error_reads_in_spanish(what, tmp_path):
    """Errors of core/store and the code lists of rows from other devices have Spanish, with no value left out."""
    if what in BUILT:
        error = BUILT[what]
    else:
        call = CORE_ERRORS[what]
        error = _raised(lambda: call(tmp_path / "store") if call.__code__.co_argcount else call())
    assert error.key, f"{what}: {error} has no locale key"
    shown = load_for_ui([]).error(error, "es")
    assert shown != str(error) and not _no_english(shown), (shown, _no_english(shown))
    assert not PLACEHOLDER.search(shown), shown


def test_the_english_of_a_store_error_is_unchanged():
    """Keying kept the English: the daylight-saving reason and the disk's reason read as they did."""
    gap = _raised(CORE_ERRORS["gap in the clocks"])
    assert str(gap) == ("2099-03-29 01:30 does not exist in Europe/London: that night the clocks go forward from "
                        "01:00 to 02:00 (daylight saving time). Choose a time outside 01:00-02:00, e.g. 02:00.")
    twice = _raised(CORE_ERRORS["half an hour twice"])
    assert "the clocks go back 30 minutes" in str(twice)
    assert str(BUILT["disk refused to write: 28"]) == (
        "could not write /media/usb/telecbt: the disk is full: free some space and try again")
    recovery = load_for_ui([]).error(_raised(lambda: CORE_ERRORS["recovery missing"](Path("/nonexistent"))), "es")
    assert "(falta)" in recovery, recovery
    status = load_for_ui([]).error(_raised(CORE_ERRORS["stored session status"]), "es")
    assert "scheduled (agendada), attended (asistió)" in status, status
