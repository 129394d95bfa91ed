"""Key slots: damaged copies, recovery, passphrase changes and rotating the data key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store import keys, users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import AuthError, IntegrityError, UsageError
from telecbt_cli.core.store.unlock import recover, unlock
from tests.conftest import ADMIN, ADMIN_PASS, all_bytes_under

CHEAP = KdfParams(10)


def _damage(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x55
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("name", ["telecbt.keys", "telecbt.keys.copy"])
def test_one_damaged_copy_still_opens_and_is_repaired(admin, store_dir, name):
    admin.close()
    good = (store_dir / "telecbt.keys").read_bytes()
    _damage(store_dir / name)
    unlock(store_dir, ADMIN, ADMIN_PASS).close()
    # The sign-in also moved the audit anchor (issue 14), so both copies are newer than `good`: same slots.
    other = "telecbt.keys.copy" if name == "telecbt.keys" else "telecbt.keys"
    assert (store_dir / name).read_bytes() == (store_dir / other).read_bytes()
    assert kfmod.decode((store_dir / name).read_bytes()).slots == kfmod.decode(good).slots


def test_one_missing_copy_is_rewritten(admin, store_dir):
    admin.close()
    (store_dir / "telecbt.keys").unlink()
    unlock(store_dir, ADMIN, ADMIN_PASS).close()
    assert kfmod.decode((store_dir / "telecbt.keys").read_bytes()).store_id == admin.store.store_id


def test_both_copies_damaged_fails_cleanly_and_points_to_recovery(admin, store_dir):
    admin.close()
    _damage(store_dir / "telecbt.keys")
    _damage(store_dir / "telecbt.keys.copy")
    with pytest.raises(IntegrityError, match="recovery key"):
        unlock(store_dir, ADMIN, ADMIN_PASS)


def test_recovery_key_rebuilds_a_lost_key_file(created, store_dir):
    access = created.access
    patients.add_patient(access, patients.PatientFields(display_name="kept"))
    access.close()
    _damage(store_dir / "telecbt.keys")
    _damage(store_dir / "telecbt.keys.copy")
    recover(store_dir, created.recovery_key, ADMIN, "brand new passphrase", CHEAP).close()
    again = unlock(store_dir, ADMIN, "brand new passphrase")
    try:
        assert [p["display_name"] for p in patients.list_patients(again)] == ["kept"]
    finally:
        again.close()
    with pytest.raises(AuthError):
        unlock(store_dir, ADMIN, ADMIN_PASS)


def test_recovery_key_resets_a_forgotten_passphrase(created, store_dir):
    created.access.close()
    typed = created.recovery_key.lower().replace("-", " ")
    recover(store_dir, typed, ADMIN, "remembered this time", CHEAP).close()
    unlock(store_dir, ADMIN, "remembered this time").close()


def test_a_mistyped_recovery_key_names_the_group(created, store_dir):
    created.access.close()
    key = created.recovery_key
    typo = key[:7] + ("X" if key[7] != "X" else "Y") + key[8:]
    with pytest.raises(UsageError, match="group 2"):
        recover(store_dir, typo, ADMIN, "remembered this time", CHEAP)


def test_wrong_passphrase_and_unknown_user(admin, store_dir):
    admin.close()
    with pytest.raises(AuthError, match="wrong passphrase"):
        unlock(store_dir, ADMIN, "not the passphrase")
    with pytest.raises(AuthError, match="user name cannot unlock"):
        unlock(store_dir, "mallory", ADMIN_PASS)


def test_passphrase_change_replaces_the_old_one(admin, store_dir):
    users.set_user_passphrase(admin, ADMIN, "a fresh passphrase", CHEAP, current=ADMIN_PASS)
    admin.close()
    with pytest.raises(AuthError):
        unlock(store_dir, ADMIN, ADMIN_PASS)
    unlock(store_dir, ADMIN, "a fresh passphrase").close()


def test_short_passphrases_are_refused(admin):
    with pytest.raises(UsageError, match="at least 8"):
        users.add_user(admin, "bob", "chw", "short", CHEAP)


def test_rekey_locks_out_a_removed_user_holding_an_old_key_file(admin, store_dir, tmp_path):
    users.add_user(admin, "bob", "chw", "bob passphrase", CHEAP)
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    for name in ("telecbt.keys", "telecbt.keys.copy"):
        shutil.copy(store_dir / name, stolen / name)
    users.disable_user(admin, "bob")
    old_key = admin.store.data_key
    keys.rekey(admin)
    assert admin.store.data_key != old_key
    patients.add_patient(admin, patients.PatientFields(display_name="after rekey"))
    admin.close()
    # bob with his own old copy of the key file: his slot still unwraps only the old key
    for name in ("telecbt.keys", "telecbt.keys.copy"):
        shutil.copy(stolen / name, store_dir / name)
    with pytest.raises(IntegrityError):
        unlock(store_dir, "bob", "bob passphrase")


def test_rekey_keeps_every_remaining_slot_working(created, store_dir):
    admin = created.access
    users.add_user(admin, "carol", "clinician", "carol passphrase", CHEAP)
    keys.rekey(admin)
    admin.close()
    unlock(store_dir, "carol", "carol passphrase").close()
    unlock(store_dir, ADMIN, ADMIN_PASS).close()
    recover(store_dir, created.recovery_key, ADMIN, "via recovery key", CHEAP).close()


def test_rekey_interrupted_after_staging_opens_with_the_old_key(admin, store_dir):
    old_key = admin.store.data_key
    keys.begin_rekey(admin)  # crash here: slots hold new + old, database still old
    admin.close()
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert again.store.data_key == old_key
        assert all(len(kfmod.open_slot(s, ADMIN_PASS.encode(), again.store.store_id)) == 1
                   for s in again.store.keyfile.slots if s.user == ADMIN)
    finally:
        again.close()


def test_rekey_interrupted_after_reencryption_opens_with_the_new_key(admin, store_dir):
    new_key = keys.begin_rekey(admin)
    keys.apply_rekey(admin, new_key)  # crash here: database new, slots still hold both
    admin.close()
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert again.store.data_key == new_key
    finally:
        again.close()


def test_secrets_never_reach_the_store_folder(created, store_dir, isolated_home):
    access = created.access
    data_key = access.store.data_key
    users.add_user(access, "bob", "chw", "bob passphrase xyz", CHEAP)
    from telecbt_cli.core.store import audit

    logged = repr([e.to_dict() for e in audit.entries(access.store)])
    changes = repr(access.store.conn.execute("SELECT data FROM change_log").fetchall())
    access.close()
    for text in (logged, changes):
        for secret in (data_key.hex(), ADMIN_PASS, "bob passphrase xyz", created.recovery_key):
            assert secret not in text
    blob = all_bytes_under(store_dir, isolated_home)
    for secret in (data_key, data_key.hex().encode(), ADMIN_PASS.encode(), b"bob passphrase xyz",
                   created.recovery_key.encode(), created.recovery_key.replace("-", "").encode()):
        assert secret not in blob


def test_our_hkdf_matches_the_reference_implementation():
    """Guards the standard-library HKDF used for session files against cryptography's."""
    import os

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from telecbt_cli.core.store.crypto import hkdf

    for salt in (None, os.urandom(32), os.urandom(64)):
        secret, info = os.urandom(32), b"telecbt test"
        expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)
        assert hkdf(secret, info, salt) == expected
