"""Bundles between real stores: round trip, idempotence, acknowledgements, merges, tampering, age interop."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.errors import IntegrityError, UsageError
from telecbt_cli.core.sync import bundle_dict, bundle_read, bundles, devices
from tests.core.sync.sites import Site


def _enrol(site: Site, name="Ana") -> str:
    p = patients.add_patient(site.access, PatientFields(display_name=name))
    patients.record_consent(site.access, p["code"], "verbal", "v1")
    return p["code"]


def _rows(site: Site, table: str) -> list:
    order = "seq" if table == "change_log" else "id"
    return site.access.store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_round_trip_and_replay_change_nothing(sites):
    field, hub = sites
    code = _enrol(field)
    diary.add_entry(field.access, code, {"pain": 4, "note": "sentinel-XYZ"})
    raw = field.bundle_for(hub)
    assert b"sentinel-XYZ" not in raw and b"Ana" not in raw
    stats = hub.import_(raw)
    assert stats["inserted"] == 3  # patient, consent, diary entry (staff users never travel)
    assert _rows(hub, "patients") == _rows(field, "patients")
    assert _rows(hub, "diary_entries") == _rows(field, "diary_entries")
    before = _rows(hub, "change_log")
    again = hub.import_(raw)
    assert again.get("seen_before") and _rows(hub, "change_log") == before


def test_acknowledgements_make_the_next_bundle_incremental(sites):
    field, hub = sites
    code = _enrol(field)
    first = json.loads(json.dumps(hub.import_(field.bundle_for(hub))))
    assert first["changes"] == 2  # patient and consent
    field.import_(hub.bundle_for(field))  # carries hub's ack of field's changes
    diary.add_entry(field.access, code, {"pain": 2})
    out = io.BytesIO()
    manifest = bundles.export_bundle(field.access, out, [devices.identity(hub.access)["recipient"]], hub.id)
    assert manifest["changes"] == 1 and manifest["counts"] == {"diary_entries": 1}


def test_concurrent_edits_merge_last_writer_wins_and_keep_the_loser(sites):
    field, hub = sites
    code = _enrol(field)
    hub.import_(field.bundle_for(hub))
    patients.edit_patient(field.access, code, PatientFields(phone="111"))
    patients.edit_patient(hub.access, code, PatientFields(phone="222"))  # later HLC wins
    to_hub, to_field = field.bundle_for(hub), hub.bundle_for(field)
    hub.import_(to_hub)
    field.import_(to_field)
    phones = [site.access.store.conn.execute("SELECT phone FROM patients").fetchone()[0] for site in sites]
    assert phones == ["222", "222"]
    for site in sites:
        (conflict,) = bundles.conflicts(site.access)
        assert conflict["lost_data"]["phone"] == "111"


def test_a_sequential_update_is_not_a_conflict(sites):
    field, hub = sites
    code = _enrol(field)
    hub.import_(field.bundle_for(hub))
    patients.edit_patient(field.access, code, PatientFields(phone="333"))
    hub.import_(field.bundle_for(hub))
    assert hub.access.store.conn.execute("SELECT phone FROM patients").fetchone()[0] == "333"
    assert bundles.conflicts(hub.access) == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "junk"])
def test_damaged_bundles_are_refused_and_nothing_is_written(sites, damage):
    field, hub = sites
    _enrol(field)
    raw = bytearray(field.bundle_for(hub))
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) - 40]
    else:
        raw = bytearray(b"this is not a bundle at all" * 10)
    before = _rows(hub, "change_log")
    with pytest.raises(IntegrityError):
        hub.import_(bytes(raw))
    assert _rows(hub, "change_log") == before and _rows(hub, "patients") == []


def test_untrusted_revoked_and_misaddressed_bundles(tmp_path, sites):
    field, hub = sites
    _enrol(field)
    stranger = Site(tmp_path, "stranger")
    devices.trust(stranger.access, devices.identity(hub.access)["card"], "hub", "hub")
    try:
        with pytest.raises(IntegrityError, match="does not trust"):
            hub.import_(stranger.bundle_for(hub))
        with pytest.raises(IntegrityError, match="another device|cannot be decrypted"):
            stranger.import_(field.bundle_for(hub))
        devices.revoke(hub.access, "field")
        with pytest.raises(IntegrityError, match="revoked"):
            hub.import_(field.bundle_for(hub))
    finally:
        stranger.access.close()


def test_a_newer_format_version_is_refused(sites, monkeypatch):
    field, hub = sites
    _enrol(field)
    raw = field.bundle_for(hub)  # the current format, read by a telecbt that knows only format 1
    monkeypatch.setattr(bundle_read, "VERSION", 1)
    with pytest.raises(IntegrityError, match="newer than this telecbt"):
        hub.import_(raw)


def test_a_forged_manifest_is_refused(sites, monkeypatch):
    field, hub = sites
    _enrol(field)
    monkeypatch.setattr(devices, "sign", lambda access, data: devices._b64(b"\0" * 64))
    with pytest.raises(IntegrityError, match="signature"):
        hub.import_(field.bundle_for(hub))


@pytest.mark.skipif(not shutil.which("age") or not shutil.which("zstd"), reason="needs the age and zstd tools")
def test_the_standard_age_tool_opens_a_bundle(sites, tmp_path):
    field, hub = sites
    _enrol(field, "Readable Person")
    bundle = tmp_path / "b.tcb"
    bundle.write_bytes(field.bundle_for(hub))
    identity = tmp_path / "hub.key"
    identity.write_text(str(devices.age_identity(hub.access)) + "\n")
    dictionary = bundle_dict.PATH  # format 2: the dictionary shipped in the package (docs/bundle-format.md)
    plain = subprocess.run(f"age -d -i {identity} {bundle} | zstd -d -D {dictionary}", shell=True, capture_output=True,
                           check=True)
    lines = [json.loads(line) for line in plain.stdout.decode().splitlines()]
    assert lines[0]["header"]["format"] == "telecbt-bundle"
    assert "manifest" in lines[-1] and "signature" in lines[-1]
    names = [c["change"]["data"].get("display_name") for c in lines[1:-1] if c["change"]["table"] == "patients"]
    assert names == ["Readable Person"]


def test_armored_bundles_with_surrounding_whitespace_import(sites):
    """Email clients wrap attachments; pyrage rejects armor with whitespace around it."""
    import pyrage

    field, hub = sites
    _enrol(field)
    compressed = pyrage.decrypt(field.bundle_for(hub), [devices.age_identity(hub.access)])
    armored = pyrage.encrypt(compressed, [pyrage.x25519.Recipient.from_str(devices.identity(hub.access)["recipient"])],
                             armored=True)
    assert hub.import_(b"\n\n  " + armored + b"\n \n")["inserted"] == 2



def test_passphrase_sealed_bundles_and_the_work_factor_limit(sites):
    from telecbt_cli.core.store.errors import UsageError

    field, hub = sites
    _enrol(field)
    out = io.BytesIO()
    bundles.export_bundle(field.access, out, [], None, since_last=False, passphrase="a long bundle passphrase")
    raw = out.getvalue()
    assert raw.startswith(b"age-encryption.org/v1\n-> scrypt ")
    with pytest.raises(UsageError, match="sealed with a passphrase"):
        hub.import_(raw)
    with pytest.raises(IntegrityError, match="wrong bundle passphrase"):
        bundles.import_bundle(hub.access, raw, passphrase="not the right one!")
    assert bundles.import_bundle(hub.access, raw, passphrase="a long bundle passphrase")["inserted"] == 2
    import re

    greedy = re.sub(rb"^(age-encryption\.org/v1\n-> scrypt \S+) \d+\n", rb"\1 30\n", raw)
    assert greedy != raw
    with pytest.raises(IntegrityError, match="work factor 2\\^30"):
        bundles.import_bundle(hub.access, greedy, passphrase="a long bundle passphrase")


def test_a_decompression_bomb_is_refused(sites, monkeypatch):
    """Bounded output: a small bundle that expands past the limit is refused before anything is applied."""
    field, hub = sites
    _enrol(field)
    raw = field.bundle_for(hub)
    monkeypatch.setattr(bundle_read, "MAX_PLAINTEXT_BYTES", 200)
    with pytest.raises(IntegrityError, match="decompression bomb"):
        hub.import_(raw)
    assert _rows(hub, "patients") == []


def test_a_huge_line_is_refused(sites, monkeypatch):
    field, hub = sites
    _enrol(field)
    raw = field.bundle_for(hub)
    monkeypatch.setattr(bundle_read, "MAX_LINE_BYTES", 50)
    with pytest.raises(IntegrityError, match="oversized line"):
        hub.import_(raw)


def test_a_bundle_for_one_patient_does_not_acknowledge_the_others(sites):
    """Guards against a filtered bundle advancing the acknowledgement past changes it did not carry."""
    field, hub = sites
    first, second = _enrol(field, "First"), _enrol(field, "Second")
    out = io.BytesIO()
    recipient = devices.identity(hub.access)["recipient"]
    bundles.export_bundle(field.access, out, [recipient], hub.id, patient_codes=[second])
    hub.import_(out.getvalue())
    field.import_(hub.bundle_for(field))  # carries hub's acks back
    rest = io.BytesIO()
    manifest = bundles.export_bundle(field.access, rest, [recipient], hub.id)
    hub.import_(rest.getvalue())
    codes = sorted(r[0] for r in hub.access.store.conn.execute("SELECT code FROM patients"))
    assert codes == sorted([first, second]) and manifest["changes"] >= 2


def test_destination_from_a_label_an_age_key_or_a_sealed_export_and_revoked_is_refused(sites):
    field, hub = sites
    hub_recipient = devices.identity(hub.access)["recipient"]
    assert devices.destination(field.access, "hub") == (hub.id, [hub_recipient])
    assert devices.destination(field.access, hub.id, sealed=True) == (hub.id, [])  # the passphrase seals it
    assert devices.destination(field.access, hub_recipient) == (None, [hub_recipient])
    assert devices.destination(field.access, None) == (None, [])
    devices.revoke(field.access, "hub")
    with pytest.raises(UsageError, match="revoked"):
        devices.destination(field.access, "hub")
