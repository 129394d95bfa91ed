"""The encrypted store on disk: encryption, pragmas, migrations and refusal of bad folders."""

from __future__ import annotations

import shutil

import pytest

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store import schema
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    IntegrityError,
    NotFoundError,
    StoreExistsError,
    StoreVersionError,
)
from telecbt_cli.core.store.unlock import create_store, unlock
from telecbt_cli.core.store.vault import backup, info, integrity_problems
from tests.conftest import ADMIN, ADMIN_PASS, SENTINEL, all_bytes_under


def test_database_is_encrypted_and_holds_no_clear_text(admin, store_dir):
    patients.add_patient(admin, patients.PatientFields(
        display_name=f"Name {SENTINEL}", notes=f"notes {SENTINEL}", phone="+254700111222"))
    admin.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    db = (store_dir / "telecbt.db").read_bytes()
    assert not db.startswith(b"SQLite format 3")
    everything = all_bytes_under(store_dir)
    assert SENTINEL.encode() not in everything
    assert SENTINEL.encode("utf-16-le") not in everything
    assert b"+254700111222" not in everything


def test_connection_pragmas(admin):
    conn = admin.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA cipher_log_level").fetchone()[0] == "NONE"


def test_store_files_are_owner_only(admin, store_dir):
    for name in ("telecbt.db", "telecbt.keys", "telecbt.keys.copy", "telecbt.recovery"):
        assert (store_dir / name).stat().st_mode & 0o077 == 0, name


def test_migrations_are_recorded_and_newer_schema_is_refused(admin, store_dir):
    assert schema.version(admin.store.conn) == len(schema.known_names())
    admin.store.db["_sqlite_migrations"].insert(
        {"migration_set": "telecbt", "name": "m999_from_the_future", "applied_at": "2030-01-01"})
    admin.close()
    with pytest.raises(StoreVersionError, match="newer telecbt"):
        unlock(store_dir, ADMIN, ADMIN_PASS)


def test_init_refuses_an_existing_store(admin, store_dir):
    before = all_bytes_under(store_dir)
    with pytest.raises(StoreExistsError, match="already exists"):
        create_store(store_dir, "other", "another passphrase", KdfParams(10))
    assert all_bytes_under(store_dir) == before


def test_init_refuses_a_non_empty_folder(tmp_path):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    with pytest.raises(StoreExistsError, match="not empty"):
        create_store(folder, ADMIN, ADMIN_PASS, KdfParams(10))
    assert (folder / "thesis.docx").read_text() == "precious"
    assert [p.name for p in folder.iterdir()] == ["thesis.docx"]


def test_init_into_an_existing_empty_folder(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = create_store(folder, ADMIN, ADMIN_PASS, KdfParams(10))
    result.access.close()
    unlock(folder, ADMIN, ADMIN_PASS).close()


def test_a_folder_that_is_not_a_store(tmp_path):
    folder = tmp_path / "random"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(NotFoundError, match="not a telecbt store"):
        unlock(folder, ADMIN, ADMIN_PASS)


def test_a_database_that_does_not_match_its_key_file(tmp_path):
    first = create_store(tmp_path / "a", ADMIN, ADMIN_PASS, KdfParams(10))
    second = create_store(tmp_path / "b", ADMIN, ADMIN_PASS, KdfParams(10))
    first.access.close()
    second.access.close()
    shutil.copy(tmp_path / "b" / "telecbt.db", tmp_path / "a" / "telecbt.db")
    with pytest.raises(IntegrityError, match="does not open"):
        unlock(tmp_path / "a", ADMIN, ADMIN_PASS)


def test_a_garbage_database_file_is_an_integrity_error(admin, store_dir):
    admin.close()
    (store_dir / "telecbt.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(IntegrityError):
        unlock(store_dir, ADMIN, ADMIN_PASS)


def test_info_lists_slots_without_secrets(admin):
    data = info(admin.store)
    assert data["schema_version"] == len(schema.known_names())
    assert {s["kind"] for s in data["slots"]} == {"user", "recovery"}
    text = repr(data)
    assert admin.store.data_key.hex() not in text
    for slot in admin.store.keyfile.slots:
        assert kfmod._b64(slot.sealed_private) not in text


def test_integrity_check_is_clean_on_a_fresh_store(admin):
    assert integrity_problems(admin.store) == []


def test_backup_while_in_use_opens_with_the_same_passphrase(admin, tmp_path):
    for i in range(30):
        patients.add_patient(admin, patients.PatientFields(display_name=f"P{i}"))
    dest = tmp_path / "copy"
    backup(admin.store, dest)
    patients.add_patient(admin, patients.PatientFields(display_name="after the backup"))
    copy = unlock(dest, ADMIN, ADMIN_PASS)
    try:
        names = [p["display_name"] for p in patients.list_patients(copy)]
        assert len(names) == 30 and "after the backup" not in names
        assert integrity_problems(copy.store) == []
        assert not (dest / "telecbt.db").read_bytes().startswith(b"SQLite format 3")
    finally:
        copy.close()


def test_backup_refuses_an_existing_destination(admin, tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("x")
    with pytest.raises(StoreExistsError):
        backup(admin.store, dest)
    assert (dest / "keep.txt").read_text() == "x"


def test_every_write_lands_in_the_change_log(admin):
    patient = patients.add_patient(admin, patients.PatientFields(display_name="Ana"))
    patients.edit_patient(admin, patient["code"], patients.PatientFields(phone="123"))
    rows = admin.store.conn.execute(
        "SELECT op, table_name, device_id FROM change_log WHERE row_id = ? ORDER BY seq", (patient["id"],)
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("insert", "patients"), ("update", "patients")]
    assert {r[2] for r in rows} == {admin.store.device_id}


def test_change_log_and_audit_log_refuse_updates(admin):
    import sqlcipher3

    for table in ("change_log", "audit_log"):
        with pytest.raises(sqlcipher3.DatabaseError, match="append-only"):
            admin.store.conn.execute(f"DELETE FROM {table}")


def test_records_carry_sync_stamps(admin):
    patient = patients.add_patient(admin, patients.PatientFields(display_name="Ana"))
    row = admin.store.db["patients"].get(patient["id"])
    assert row["device_id"] == admin.store.device_id
    assert row["hlc"].split(".")[2] == admin.store.device_id
    assert row["deleted"] == 0 and row["created_at"] and row["updated_at"]


def test_stores_with_the_older_4k_page_size_still_open(tmp_path):
    """Guards the fallback in db.connect: new stores use 16 KiB pages, older ones 4 KiB."""
    import os

    from telecbt_cli.core.store import db

    key = os.urandom(32)
    path = tmp_path / "old.db"
    old = db._open(path, key, 4096, create=True)
    old.execute("CREATE TABLE t (x)")
    old.execute("INSERT INTO t VALUES (42)")
    old.close()
    reopened = db.connect(path, key)
    try:
        assert reopened.execute("SELECT x FROM t").fetchone()[0] == 42
        assert reopened.execute("PRAGMA cipher_page_size").fetchone()[0] in ("4096", 4096)
    finally:
        reopened.close()
    with pytest.raises(db.WrongKey):
        db.connect(path, os.urandom(32))


def test_new_stores_use_16k_pages(admin):
    assert int(admin.store.conn.execute("PRAGMA cipher_page_size").fetchone()[0]) == 16384
