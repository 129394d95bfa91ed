"""Issue 12 point 10: reading works on a full disk; the read's audit entry waits in a reserved, sealed queue."""

from __future__ import annotations

import json

import pytest

from telecbt_cli.core.store import audit, audit_queue
from tests.conftest import ADMIN, fill_disk, run_telecbt
from tests.tui.helpers import check_store


@pytest.mark.slow
def test_reads_work_on_a_full_disk_and_their_audit_entries_arrive_later(small_disk, pass_file):
    """Guards the attack (or the accident): every unlock writes an audit entry, so on a full disk even
    `patient list` failed."""
    store = small_disk / "store"
    env = {"TELECBT_STORE": str(store)}
    assert run_telecbt("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file),
                       env=env).returncode == 0
    added = run_telecbt("patient", "add", "--name", "Ana Reads", "--json", "--passphrase-file", str(pass_file),
                        env=env)
    code = json.loads(added.stdout)["code"]
    filler = small_disk / "filler"
    fill_disk(filler)
    listed = run_telecbt("patient", "list", "--json", "--passphrase-file", str(pass_file), env=env)
    assert listed.returncode == 0, listed.stderr
    assert [p["display_name"] for p in json.loads(listed.stdout)] == ["Ana Reads"]
    assert "disk" in listed.stderr and "full" in listed.stderr  # the warning
    shown = run_telecbt("patient", "show", code, "--passphrase-file", str(pass_file), env=env)
    assert shown.returncode == 0 and "Ana Reads" in shown.stdout, shown.stderr
    refused = run_telecbt("patient", "add", "--name", "Not Saved", "--passphrase-file", str(pass_file), env=env)
    assert refused.returncode == 1 and "full" in refused.stderr  # writes still fail, cleanly
    raw = b"".join(p.read_bytes() for p in store.iterdir() if p.is_file())
    assert b"Ana Reads" not in raw and code.encode() not in raw  # nothing about the patient in clear
    filler.unlink()

    def entries(access) -> list[tuple]:
        return [(e.user, e.action, (e.detail or {}).get("queued")) for e in audit.entries(access.store)]

    logged = check_store(store, entries)
    assert (ADMIN, "patient.read", True) in logged  # the read while the disk was full, now in the chain
    assert [action for _, action, queued in logged if queued].count("unlock") >= 2
    assert check_store(store, lambda access: audit.verify(access.store)) == []
    queue = (store / audit_queue.NAME).read_bytes()
    assert len(queue) == audit_queue.RESERVE_BYTES and set(queue) == {0}  # emptied, still reserved
