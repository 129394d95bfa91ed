"""Tamper evidence to the end (issue 14 point 4): a cut audit tail, or an older telecbt.db put back,
is reported by `audit verify` and `store check` (exit 6) even after the next sign-in, through
the real commands on real store folders."""

from __future__ import annotations

import json
import shutil

import pytest

from telecbt_cli.core.store import db as dbmod
from telecbt_cli.core.store.paths import db_file
from telecbt_cli.core.store.unlock import unlock
from tests.commands.clirun import invoke
from tests.commands import test_bundle_cli
from tests.conftest import ADMIN_PASS

#: The bundle tests' fixture `pair`: a field store and a hub that trust each other.
pair = test_bundle_cli.pair

SIDE_FILES = ("-wal", "-shm")


@pytest.fixture
def store(tmp_path, pass_file, monkeypatch):
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    path = tmp_path / "store"
    assert invoke("init", "--store", str(path), "--passphrase-file", str(pass_file)).exit_code == 0
    for name in ("Ana Uno", "Ben Dos"):
        assert invoke("patient", "add", "--name", name, "--store", str(path)).exit_code == 0
    return path


def _key(path) -> bytes:
    access = unlock(path, None, ADMIN_PASS)
    key = access.store.data_key
    access.close()
    return key


def _verify(path):
    result = invoke("audit", "verify", "--json", "--store", str(path))
    return result.exit_code, result.stdout + result.stderr


def test_a_cut_audit_tail_is_still_found_after_the_next_sign_in(store):
    """Finding (a): deleting the newest entries (with the key, meta head rewritten to match) was caught
    only until the next sign-in chained onto the cut tail."""
    key = _key(store)
    conn = dbmod.connect(db_file(store), key)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
    seq, digest = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{seq}:{digest}",))
    conn.close()
    assert invoke("patient", "list", "--store", str(store)).exit_code == 0  # the next sign-in
    assert invoke("patient", "add", "--name", "Cy Tres", "--store", str(store)).exit_code == 0
    code, text = _verify(store)
    assert code == 6 and "key file" in text, text
    checked = invoke("store", "check", "--store", str(store))
    assert checked.exit_code == 6 and "restore the whole store folder" in checked.stderr


@pytest.mark.parametrize("with_wal", [False, True], ids=["db-only", "db-and-wal"])
def test_an_older_database_put_back_is_found(store, tmp_path, with_wal):
    """Finding (b): copying an older telecbt.db (with or without its WAL) back into the folder passed
    unlock, `store check` and `audit verify` with entries silently gone."""
    old = tmp_path / "old"
    old.mkdir()
    holder = unlock(store, None, ADMIN_PASS) if with_wal else None  # keeps the WAL file in place while copying
    for suffix in ("", *SIDE_FILES):
        source = store / f"telecbt.db{suffix}"
        if source.exists() and (with_wal or not suffix):
            shutil.copy2(source, old / source.name)
    if holder:
        holder.close()
    assert invoke("patient", "add", "--name", "Dee Cuatro", "--store", str(store)).exit_code == 0
    for suffix in ("", *SIDE_FILES):
        (store / f"telecbt.db{suffix}").unlink(missing_ok=True)
    for copied in old.iterdir():
        shutil.copy2(copied, store / copied.name)
    listed = invoke("patient", "list", "--json", "--store", str(store))
    assert listed.exit_code == 0  # it still opens (the key is the same): the check must say what happened
    assert "Dee Cuatro" not in listed.stdout
    code, text = _verify(store)
    assert code == 6 and "older copy of the database" in text, text
    checked = invoke("store", "check", "--json", "--store", str(store))
    assert checked.exit_code == 6 and json.loads(checked.stdout)["ok"] is False
    # An admin who put the old copy back on purpose accepts it; the acceptance is itself audited.
    accepted = invoke("store", "check", "--accept-rollback", "--yes", "--store", str(store))
    assert accepted.exit_code == 0, accepted.stderr
    assert _verify(store)[0] == 0
    log = json.loads(invoke("audit", "log", "--json", "--store", str(store)).stdout)
    assert any(e["action"] == "store.anchor_accepted" for e in log)


def test_normal_use_and_a_rekey_stay_clean(store):
    """The anchor follows every command and a data-key rotation without a false alarm."""
    for name in ("Eve Cinco", "Fay Seis"):
        assert invoke("patient", "add", "--name", name, "--store", str(store)).exit_code == 0
    assert invoke("store", "rekey", "--yes", "--store", str(store)).exit_code == 0
    assert invoke("patient", "list", "--store", str(store)).exit_code == 0
    assert _verify(store)[0] == 0
    keys = json.loads((store / "telecbt.keys").read_text())
    assert keys["anchor"]["audit_seq"] > 5 and keys["anchor"]["counter"] > 1
    assert invoke("store", "check", "--store", str(store)).exit_code == 0


def _send(field, hub, out):
    assert invoke("bundle", "export", "--to", "hub", "--out", str(out), "--store", str(field)).exit_code == 0
    return invoke("bundle", "import", str(out), "--store", str(hub))


def test_a_peer_notices_a_sender_that_went_backwards(pair, tmp_path):
    """Finding (c): a hub imported bundles from a rolled-back sender without a word."""
    field, hub = pair[0]["field"], pair[0]["hub"]
    assert invoke("patient", "add", "--name", "Gil Siete", "--store", str(field)).exit_code == 0
    assert _send(field, hub, tmp_path / "b1.tcb").exit_code == 0
    old = (field / "telecbt.db").read_bytes()
    for name in ("Hal Ocho", "Ivy Nueve"):
        assert invoke("patient", "add", "--name", name, "--store", str(field)).exit_code == 0
    second = _send(field, hub, tmp_path / "b2.tcb")
    assert second.exit_code == 0 and "warning" not in second.stderr
    for suffix in SIDE_FILES:
        (field / f"telecbt.db{suffix}").unlink(missing_ok=True)
    (field / "telecbt.db").write_bytes(old)  # the field laptop's database put back from an old copy
    assert invoke("patient", "add", "--name", "Jo Diez", "--store", str(field)).exit_code == 0
    third = _send(field, hub, tmp_path / "b3.tcb")
    assert third.exit_code == 0, third.stderr  # its changes are signed and intact: they still import
    assert "warning: the sending device went backwards" in third.stderr
    listed = json.loads(invoke("device", "list", "--json", "--store", str(hub)).stdout)
    assert "went backwards" in listed[0]["warning"]
    shown = invoke("device", "list", "--store", str(hub))
    assert "went backwards" in shown.stdout and "Warning: field" in shown.stderr
    log = json.loads(invoke("audit", "log", "--json", "--store", str(hub)).stdout)
    assert [e["detail"]["device"] for e in log if e["action"] == "device.rollback"]
