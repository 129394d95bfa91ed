"""Kiosk PINs on a real store: sign-in, counted failures, lockout, audit, and nothing leaking."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from telecbt_cli.core.care import pins
from telecbt_cli.core.care.pins import MAX_FAILURES, PinLocked, PinRefused
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store import audit, users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import NotFoundError, PermissionDenied, UsageError
from telecbt_cli.core.store.ids import new_patient_code
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.sync import bundles, devices
from tests.conftest import ADMIN, ADMIN_PASS, all_bytes_under

PIN = "90817263"  # eight digits: will not turn up by chance in timestamps or hashes


def _enrol(access, name: str = "Ana", consent: bool = True) -> str:
    code = patients.add_patient(access, PatientFields(display_name=name, language="es"))["code"]
    if consent:
        patients.record_consent(access, code, "verbal", "v1")
    return code


def _actions(access, patient_id=None) -> list[str]:
    entries = audit.entries(access.store, patient_id=patient_id)
    return [e.action for e in entries if e.action.startswith(("kiosk.", "pin."))]


def _wrong(access, code: str) -> PinRefused | PinLocked:
    with pytest.raises((PinRefused, PinLocked)) as err:
        pins.check_pin(access, code, "11112222")
    return err.value


def test_right_pin_signs_in_and_resets_the_count(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    assert _wrong(admin, code).remaining == MAX_FAILURES - 1
    assert _wrong(admin, code).remaining == MAX_FAILURES - 2
    pid = pins.check_pin(admin, code.lower().replace("-", ""), PIN)
    assert pid == patients.patient_id_for(admin, code)
    assert pins.pin_status(admin, code)["failures"] == 0
    assert _wrong(admin, code).remaining == MAX_FAILURES - 1


def test_wrong_pins_count_down_lock_on_the_fifth_and_a_locked_pin_refuses_the_right_one(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    remaining = [_wrong(admin, code).remaining for _ in range(MAX_FAILURES - 1)]
    assert remaining == [4, 3, 2, 1]
    fifth = _wrong(admin, code)
    assert isinstance(fifth, PinLocked) and "ask the care team" in str(fifth)
    with pytest.raises(PinLocked):
        pins.check_pin(admin, code, PIN)
    status = pins.pin_status(admin, code)
    assert status["locked"] and status["failures"] == MAX_FAILURES and status["set"]
    pid = patients.patient_id_for(admin, code)
    assert _actions(admin, pid)[-4:] == ["kiosk.pin_failed", "kiosk.pin_locked", "kiosk.pin_failed", "pin.status"]


def test_unlock_and_a_new_pin_each_clear_the_lock(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    for _ in range(MAX_FAILURES):
        _wrong(admin, code)
    pins.unlock_pin(admin, code)
    assert pins.pin_status(admin, code) | {"set_at": None} == {"set": True, "failures": 0, "locked": False,
                                                              "set_at": None}
    assert pins.check_pin(admin, code, PIN)
    for _ in range(MAX_FAILURES):
        _wrong(admin, code)
    pins.set_pin(admin, code, "4321")
    assert not pins.pin_status(admin, code)["locked"]
    with pytest.raises(PinRefused):
        pins.check_pin(admin, code, PIN)  # the old PIN no longer works
    assert pins.check_pin(admin, code, "4321")
    assert _actions(admin, patients.patient_id_for(admin, code)).count("pin.unlock") == 1


def test_every_attempt_is_audited_without_the_pin_or_its_hash(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    pid = patients.patient_id_for(admin, code)
    _wrong(admin, code)
    pins.check_pin(admin, code, PIN)
    for _ in range(MAX_FAILURES):
        _wrong(admin, code)
    with pytest.raises(PinLocked):
        pins.check_pin(admin, code, PIN)
    actions = [a for a in _actions(admin, pid) if a.startswith("kiosk.")]
    assert actions == ["kiosk.pin_failed", "kiosk.sign_in", *["kiosk.pin_failed"] * 5, "kiosk.pin_locked",
                       "kiosk.pin_failed"]
    locked_try = [e for e in audit.entries(admin.store, patient_id=pid) if e.action == "kiosk.pin_failed"][-1]
    assert locked_try.detail == {"reason": "locked"}
    stored = admin.store.conn.execute("SELECT pin_hash, salt FROM patient_pins WHERE patient_id = ?", (pid,)).fetchone()
    text = json.dumps([e.to_dict() for e in audit.entries(admin.store)])
    for secret in (PIN, "11112222", stored[0].hex(), stored[1].hex()):
        assert secret not in text
    assert audit.verify(admin.store) == []


def test_unknown_codes_and_patients_without_a_pin_get_the_same_refusal(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    other = _enrol(admin, "Luis")
    refusals = []
    for typed, pin in ((code, "0000"), (new_patient_code(), PIN), ("hello", PIN), (other, PIN), ("", "")):
        with pytest.raises(PinRefused) as err:
            pins.check_pin(admin, typed, pin)
        refusals.append(err.value)
    assert len({str(e) for e in refusals}) == 1 and str(refusals[0]) == "That patient code or PIN is not right."
    assert [e.remaining for e in refusals] == [4, None, None, None, None]
    unknown = [e for e in audit.entries(admin.store) if e.action == "kiosk.pin_failed" and e.patient_id is None]
    assert [e.detail for e in unknown] == [{"reason": "unknown_code"}] * 3
    assert pins.pin_status(admin, other) == {"set": False, "failures": 0, "locked": False, "set_at": None}


def test_archived_or_unconsented_patients_cannot_sign_in_even_with_the_right_pin(admin):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    patients.withdraw_consent(admin, code)
    with pytest.raises(PinRefused) as err:
        pins.check_pin(admin, code, PIN)
    assert err.value.remaining is None
    patients.record_consent(admin, code, "verbal", "v2")
    assert pins.check_pin(admin, code, PIN)
    patients.archive_patient(admin, code)
    with pytest.raises(PinRefused):
        pins.check_pin(admin, code, PIN)
    assert pins.pin_status(admin, code)["failures"] == 0  # the right PIN is not a failure


@pytest.mark.parametrize("bad", ["123", "123456789", "12a4", "12 34", "\uff11\uff12\uff13\uff14", "١٢٣٤", "1234\n"])
def test_a_pin_is_four_to_eight_ascii_digits(admin, bad):
    code = _enrol(admin)
    with pytest.raises(UsageError, match="4 to 8 digits"):
        pins.set_pin(admin, code, bad)
    assert not pins.pin_status(admin, code)["set"]


def test_viewer_cannot_set_or_unlock_a_pin_but_can_see_the_status(admin, store_dir):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    users.add_user(admin, "vic", "viewer", "viewer passphrase 1", KdfParams(10))
    viewer = unlock(store_dir, "vic", "viewer passphrase 1")
    try:
        with pytest.raises(PermissionDenied):
            pins.set_pin(viewer, code, "4321")
        with pytest.raises(PermissionDenied):
            pins.unlock_pin(viewer, code)
        assert pins.pin_status(viewer, code)["set"]
    finally:
        viewer.close()
    assert pins.check_pin(admin, code, PIN)


def test_unlock_without_a_pin_is_not_found(admin):
    code = _enrol(admin)
    with pytest.raises(NotFoundError, match="no kiosk PIN"):
        pins.unlock_pin(admin, code)


def test_counts_survive_closing_and_reopening_the_store(created, store_dir):
    access = created.access
    code = _enrol(access)
    pins.set_pin(access, code, PIN)
    _wrong(access, code)
    _wrong(access, code)
    access.close()
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert pins.pin_status(again, code)["failures"] == 2
        assert _wrong(again, code).remaining == 2
    finally:
        again.close()


def test_a_killed_process_keeps_the_count(created, store_dir):
    """The failure is committed before the error reaches the kiosk: killing it then does not reset the count."""
    code = _enrol(created.access)
    pins.set_pin(created.access, code, PIN)
    created.access.close()
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from telecbt_cli.core.care import pins\n"
        "from telecbt_cli.core.store.unlock import unlock\n"
        f"access = unlock(Path(sys.argv[1]), {ADMIN!r}, {ADMIN_PASS!r})\n"
        "try:\n"
        f"    pins.check_pin(access, {code!r}, '11112222')\n"
        "except pins.PinRefused:\n"
        "    os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(store_dir)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    again = unlock(store_dir, ADMIN, ADMIN_PASS)
    try:
        assert pins.pin_status(again, code)["failures"] == 1
    finally:
        again.close()


def test_a_pin_set_under_one_cost_still_verifies_after_the_setting_changes(admin, monkeypatch):
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    monkeypatch.setenv("TELECBT_KDF_LOG2N", "11")
    assert pins.check_pin(admin, code, PIN)
    row = admin.store.conn.execute("SELECT kdf_log2n, kdf_r, kdf_p FROM patient_pins").fetchone()
    assert tuple(row) == (10, 8, 1)


def test_the_pin_never_appears_in_clear_under_the_store_folder(created, store_dir):
    access = created.access
    code = _enrol(access)
    pins.set_pin(access, code, PIN)
    pins.check_pin(access, code, PIN)
    with pytest.raises(PinRefused):
        pins.check_pin(access, code, "87654321")
    digest = access.store.conn.execute("SELECT pin_hash FROM patient_pins").fetchone()[0]
    access.close()
    data = all_bytes_under(store_dir)
    for secret in (PIN.encode(), b"87654321", PIN.encode("utf-16-le"), digest, digest.hex().encode()):
        assert secret not in data


def test_patient_pins_never_travel_in_a_bundle(tmp_path):
    from tests.core.sync.sites import Site, link

    field, hub = Site(tmp_path, "field"), Site(tmp_path, "hub")
    try:
        link(field, hub)
        code = _enrol(field.access)
        pins.set_pin(field.access, code, PIN)
        for _ in range(2):
            _wrong(field.access, code)
        assert field.access.store.conn.execute(
            "SELECT count(*) FROM change_log WHERE table_name = 'patient_pins'").fetchone()[0] == 0
        out = io.BytesIO()
        manifest = bundles.export_bundle(field.access, out, [devices.identity(hub.access)["recipient"]], hub.id,
                                         since_last=False)
        assert "patient_pins" not in manifest["counts"]
        import pyrage
        import zstandard

        compressed = pyrage.decrypt(out.getvalue(), [devices.age_identity(hub.access)])
        from telecbt_cli.core.sync import bundle_dict  # bundle format 2 (issue 14)

        lines = [json.loads(line) for line in zstandard.ZstdDecompressor(dict_data=bundle_dict.dictionary())
                 .decompressobj().decompress(compressed)
                 .splitlines()]
        tables = {line["change"]["table"] for line in lines if "change" in line}
        assert tables == {"patients", "consents"}
        assert PIN.encode() not in compressed
        hub.import_(out.getvalue())
        assert hub.access.store.conn.execute("SELECT count(*) FROM patient_pins").fetchone()[0] == 0
        assert patients.get_patient(hub.access, code)["code"] == code
        with pytest.raises(PinRefused) as err:
            pins.check_pin(hub.access, code, PIN)
        assert err.value.remaining is None  # the hub has the patient but no PIN for them
    finally:
        field.access.close()
        hub.access.close()


def test_check_pin_refuses_to_run_inside_a_transaction(admin):
    """Guards durability: a failure counted inside an outer transaction could be rolled back with it."""
    code = _enrol(admin)
    pins.set_pin(admin, code, PIN)
    with pytest.raises(RuntimeError), admin.store.write():
        pins.check_pin(admin, code, "11112222")
