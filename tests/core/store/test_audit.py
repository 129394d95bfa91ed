"""The audit chain: every kind of tampering shows up in verify()."""

from __future__ import annotations

import pytest

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN, ADMIN_PASS, SENTINEL


@pytest.fixture
def busy(admin):
    """A store with a dozen audit entries, and triggers dropped so a test can tamper."""
    for i in range(4):
        p = patients.add_patient(admin, patients.PatientFields(display_name=f"P{i}", notes=SENTINEL))
        patients.get_patient(admin, p["code"])
    assert audit.verify(admin.store) == []
    admin.store.conn.execute("DROP TRIGGER audit_log_no_update")
    admin.store.conn.execute("DROP TRIGGER audit_log_no_delete")
    return admin


def test_intact_chain_verifies(busy):
    assert audit.verify(busy.store) == []


def test_edited_entry_is_found(busy):
    busy.store.conn.execute("UPDATE audit_log SET user_name = 'mallory' WHERE seq = 5")
    problems = audit.verify(busy.store)
    assert any("entry 5" in p and "changed" in p for p in problems)


def test_deleted_middle_entry_is_found(busy):
    busy.store.conn.execute("DELETE FROM audit_log WHERE seq = 4")
    assert any("entry 5" in p for p in audit.verify(busy.store))


def test_deleted_newest_entries_are_found(busy):
    busy.store.conn.execute("DELETE FROM audit_log WHERE seq >= (SELECT max(seq) - 1 FROM audit_log)")
    assert any("newest entries are missing" in p for p in audit.verify(busy.store))


def test_reordered_entries_are_found(busy):
    conn = busy.store.conn
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
    conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
    assert audit.verify(busy.store)


def test_recomputed_hash_of_an_edited_entry_still_breaks_the_chain(busy):
    """Re-hashing an edited entry is not enough: the next entry points at the old hash."""
    conn = busy.store.conn
    row = conn.execute("SELECT seq, at, user_name, device_id, action, patient_id, detail, prev_hash "
                       "FROM audit_log WHERE seq = 6").fetchone()
    forged = audit._digest(row[0], row[1], "mallory", row[3], row[4], row[5], row[6], row[7])
    conn.execute("UPDATE audit_log SET user_name = 'mallory', hash = ? WHERE seq = 6", (forged,))
    assert any("entry 7" in p for p in audit.verify(busy.store))


def test_reads_writes_and_unlocks_are_logged_without_clinical_content(admin, store_dir):
    p = patients.add_patient(admin, patients.PatientFields(display_name=f"Name {SENTINEL}", notes=SENTINEL))
    patients.get_patient(admin, p["code"])
    admin.close()
    with pytest.raises(Exception):
        unlock(store_dir, ADMIN, "wrong passphrase!")
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        entries = audit.entries(again.store)
        actions = [e.action for e in entries]
        for expected in ("store.init", "user.add", "patient.add", "patient.read", "unlock.failed", "unlock"):
            assert expected in actions
        assert all(SENTINEL not in repr(e) for e in entries)
        mine = audit.entries(again.store, patient_id=p["id"])
        assert {e.action for e in mine} == {"patient.add", "patient.read"}
        assert audit.verify(again.store) == []
    finally:
        again.close()


def test_failed_unlock_notes_hold_no_secret(admin, store_dir):
    admin.close()
    with pytest.raises(Exception):
        unlock(store_dir, ADMIN, "my-secret-guess-123")
    with pytest.raises(Exception):
        unlock(store_dir, "my-secret-guess-123", "whatever!!")
    raw = (store_dir / "failed-unlocks.jsonl").read_bytes()
    assert b"my-secret-guess-123" not in raw
