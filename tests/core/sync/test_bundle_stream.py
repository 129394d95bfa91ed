"""Streaming, batched bundle import (issue 19.1): files read as streams, changes applied in sets,
with the guarantees of the change-at-a-time import (digest before any write, idempotence, conflicts)."""

from __future__ import annotations

import io
import json
import time

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.sync import bundle_apply, bundle_read, bundles, devices
from tests.core.sync.sites import Site, link, linked

TABLES = ("patients", "consents", "diary_entries", "conflicts")


def enrol(site: Site, name: str) -> str:
    p = patients.add_patient(site.access, PatientFields(display_name=name))
    patients.record_consent(site.access, p["code"], "verbal", "v1")
    return p["code"]


def snapshot(site: Site) -> dict:
    conn = site.access.store.conn
    found = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in ("patients", "consents", "diary_entries")}
    found["conflicts"] = sorted(conn.execute("SELECT table_name, row_id, kept_hlc, lost_hlc, lost_data FROM conflicts"))
    found["log"] = sorted(conn.execute("SELECT change_id, table_name, row_id, op, hlc, device_id, at, base_hlc "
                                       "FROM change_log WHERE change_id NOT LIKE 'users:%'"))
    return found


@pytest.fixture
def trio(tmp_path):
    with linked(tmp_path, "field", "other", "hub") as made:
        yield made


def busy_history(field: Site, other: Site) -> None:
    """Inserts, several updates of one row, a correction, and a concurrent edit on another device."""
    code = enrol(field, "Ana")
    first = diary.add_entry(field.access, code, {"pain": 6})
    diary.correct_entry(field.access, first["id"], {"pain": 5})
    for phone in ("111", "222", "333"):
        patients.edit_patient(field.access, code, PatientFields(phone=phone))
    other.import_(field.bundle_for(other))
    patients.edit_patient(other.access, code, PatientFields(phone="999"))
    patients.edit_patient(field.access, code, PatientFields(phone="444"))  # concurrent with other's edit


def test_a_file_streams_in_and_gives_what_bytes_give(trio, tmp_path):
    field, other, hub = trio
    busy_history(field, other)
    path = tmp_path / "from-field.tcb"
    path.write_bytes(field.bundle_for(hub))
    result = bundles.import_file(hub.access, path)
    assert result["inserted"] == 4 and result["already"] == 0  # patient, consent, two diary entries
    assert json.loads(hub.access.store.conn.execute(
        "SELECT data FROM change_log WHERE table_name = 'diary_entries' ORDER BY seq LIMIT 1").fetchone()[0])["pain"] == 6
    assert bundles.import_file(hub.access, path)["seen_before"]


@pytest.mark.parametrize("batch", [1, 3])
def test_batches_decide_as_one_change_at_a_time_would(trio, tmp_path, monkeypatch, batch):
    """Several versions of one row and a conflict inside one batch and across batches: same result."""
    field, other, hub = trio
    busy_history(field, other)
    bundles_in = [field.bundle_for(hub), other.bundle_for(hub), field.bundle_for(hub, since_last=False)]
    for raw in bundles_in:
        hub.import_(raw)
    whole = snapshot(hub)
    assert len(whole["conflicts"]) == 1 and json.loads(whole["conflicts"][0][4])["phone"] == "999"  # the earlier edit lost
    again = Site(tmp_path, f"again-{batch}")
    link(again, field, other)
    try:
        monkeypatch.setattr(bundle_apply, "BATCH", batch)
        for raw in [field.bundle_for(again), other.bundle_for(again), field.bundle_for(again, since_last=False)]:
            again.import_(raw)
        assert snapshot(again) == whole
    finally:
        again.access.close()


def test_change_lines_as_any_writer_sends_them_parse_alike():
    row = {"id": "0190a1b2-0000-7000-8000-000000000001", "display_name": "Ana ñ", "hlc": "1795000000000.00000.dev"}
    spaced = json.dumps(row, sort_keys=True, ensure_ascii=False).encode()
    current = b'{"change":{"base_hlc":"1794000000000.00001.dev","data":%s,"op":"update","table":"patients"}}' % spaced
    compact = json.dumps({"change": {"base_hlc": None, "data": row, "op": "insert", "table": "patients"}},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    reordered = json.dumps({"change": {"table": "patients", "op": "insert", "data": row, "base_hlc": None}}).encode()
    for line, base in ((current, "1794000000000.00001.dev"), (compact, None), (reordered, None)):
        change, text = bundle_apply.parse_change(line)
        assert change["data"] == row and change["base_hlc"] == base and json.loads(text) == row
    assert bundle_apply.parse_change(current)[1] == spaced.decode()  # kept as sent: relayed unchanged
    for bad in (b'{"change":{"base_hlc":null,"data":{"id":"a","id":"b"},"op":"insert","table":"patients"}}',
                b'{"change":{"base_hlc":null,"data":{"id":"a"},"op":"drop","table":"patients"}}',
                b'{"change":{"base_hlc":"x\\",","data":{"id":"a"},"op":"insert","table":"patients"}}',
                b'{"change":{"base_hlc":null,"data":[1],"op":"insert","table":"patients"}}', b"\xff\xfe"):
        with pytest.raises(IntegrityError):
            bundle_apply.parse_change(bad)


def test_a_bundle_changed_between_the_two_passes_writes_nothing(trio):
    field, _, hub = trio
    enrol(field, "First")
    first = field.bundle_for(hub)
    enrol(field, "Second")
    second = field.bundle_for(hub, since_last=False)
    with bundle_read.Source.from_bytes(first) as source:
        verified = bundle_read.verify(hub.access, source)
    seen = []
    with bundle_read.Source.from_bytes(second) as swapped, pytest.raises(IntegrityError, match="changed while"):
        bundle_read.replay(hub.access, swapped, verified, seen.append)
    conn = hub.access.store.conn
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 0


def test_a_change_whose_patient_is_missing_waits(trio):
    """Issue 14 point 1: such a change was refused (exit 6); now the bundle imports and the change waits."""
    field, _, hub = trio
    code = enrol(field, "Ana")
    time.sleep(0.01)  # the mark falls strictly between the consent and the entry
    mark = now_iso()
    time.sleep(0.01)
    diary.add_entry(field.access, code, {"pain": 3})
    out = io.BytesIO()
    bundles.export_bundle(field.access, out, [devices.identity(hub.access)["recipient"]], None, since=mark)
    stats = hub.import_(out.getvalue())
    assert stats["waiting"] == 1 and stats["inserted"] == 0
    assert hub.access.store.conn.execute("SELECT count(*) FROM change_log WHERE table_name = 'diary_entries'"
                                         ).fetchone()[0] == 0
    assert hub.access.store.conn.execute("SELECT count(*) FROM waiting_changes").fetchone()[0] == 1


def test_a_dry_run_counts_for_real_and_changes_nothing(trio):
    field, _, hub = trio
    enrol(field, "Ana")
    raw = field.bundle_for(hub)
    before = snapshot(hub)
    dry = bundles.import_bundle(hub.access, raw, dry_run=True)
    assert dry["dry_run"] and dry["inserted"] == 2 and snapshot(hub) == before
    assert hub.access.store.conn.execute("SELECT count(*) FROM bundles_seen").fetchone()[0] == 0
    assert hub.import_(raw)["inserted"] == 2


def test_an_armored_file_with_mail_text_around_it_streams_in(trio, tmp_path):
    import pyrage

    field, _, hub = trio
    enrol(field, "Ana")
    compressed = pyrage.decrypt(field.bundle_for(hub), [devices.age_identity(hub.access)])
    armored = pyrage.encrypt(compressed, [pyrage.x25519.Recipient.from_str(devices.identity(hub.access)["recipient"])],
                             armored=True)
    path = tmp_path / "mail.age"
    path.write_bytes(b"From the field laptop, see below.\r\n\r\n  " + armored.replace(b"\n", b"\r\n") + b"\r\n-- \r\n")
    assert bundles.import_file(hub.access, path)["inserted"] == 2
    damaged = tmp_path / "damaged.age"
    damaged.write_bytes(armored.replace(b"-----END AGE ENCRYPTED FILE-----", b""))
    with pytest.raises(IntegrityError):
        bundles.import_file(hub.access, damaged)


def test_a_written_bundle_is_read_back_in_chunks_and_a_changed_byte_is_caught(trio, tmp_path):
    """Issue 19.3: the read-back after a write hashes the file 1 MiB at a time (it read it whole)."""
    import hashlib

    from telecbt_cli.core.sync import transport

    field, _, hub = trio
    enrol(field, "Ana")
    written = transport.write_bundle(field.access, tmp_path, [devices.identity(hub.access)["recipient"]], hub.id)
    path = tmp_path / f"{written['bundle_id']}.tcb"
    assert written["verified"] and hashlib.sha256(path.read_bytes()).hexdigest() == written["sha256"]
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        out.truncate(3 * 2**20 + 5)
    transport.read_back(big, hashlib.sha256(b"\0" * (3 * 2**20 + 5)).hexdigest())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not read back as written"):
        transport.read_back(path, written["sha256"])


def test_bundles_of_a_folder_share_a_commit_but_each_is_whole_or_nothing(trio, tmp_path):
    """A folder is committed in groups (one disk flush per group); a bundle that fails after writing
    some rows (a patient code this store already has) is rolled back alone."""
    from telecbt_cli.core.store.ids import new_patient_code
    from telecbt_cli.core.sync.transport import import_paths
    from tests.security import hostile

    field, _, hub = trio
    taken = patients.add_patient(hub.access, PatientFields(display_name="Already Here"))["code"]
    folder = tmp_path / "inbox"
    folder.mkdir()
    recipient = devices.identity(hub.access)["recipient"]
    for name, who in (("a.tcb", "Before"), ("c.tcb", "After")):
        code = enrol(field, who)
        out = io.BytesIO()
        bundles.export_bundle(field.access, out, [recipient], None, patient_codes=[code])
        (folder / name).write_bytes(out.getvalue())

    def registry(display_name: str, code: str) -> dict:
        return hostile.row(field.access, "patients", display_name=display_name, code=code, birth_year=None, sex=None,
                           language="en", phone=None, email=None, caregiver_name=None, caregiver_contact=None,
                           notes=None, status="active")

    lines = [hostile.change_line("patients", registry("Half Written", new_patient_code())),
             hostile.change_line("patients", registry("Clash", taken))]
    (folder / "b.tcb").write_bytes(hostile.seal(hub.access, hostile.signed_payload(
        field.access, hostile.header(field.access), lines)))
    results = {r["file"]: r for r in import_paths(hub.access, [folder])}
    assert results["a.tcb"]["ok"] and results["c.tcb"]["ok"]
    assert not results["b.tcb"]["ok"] and "breaks a rule of this store" in results["b.tcb"]["error"]
    names = sorted(r[0] for r in hub.access.store.conn.execute("SELECT display_name FROM patients"))
    assert names == ["After", "Already Here", "Before"]
    assert hub.access.store.conn.execute(
        "SELECT count(*) FROM change_log WHERE data LIKE '%Half Written%'").fetchone()[0] == 0


def test_an_armored_passphrase_bundle_streams_in(trio, tmp_path):
    """The scrypt header of an armored bundle is found (its first bytes come a line at a time)."""
    import pyrage

    field, _, hub = trio
    enrol(field, "Ana")
    out = io.BytesIO()
    bundles.export_bundle(field.access, out, [], None, since_last=False, passphrase="a long bundle passphrase")
    compressed = pyrage.passphrase.decrypt(out.getvalue(), "a long bundle passphrase")
    path = tmp_path / "sealed.age"
    path.write_bytes(b"see attached\n" + pyrage.passphrase.encrypt(compressed, "a long bundle passphrase", armored=True))
    assert bundles.import_file(hub.access, path, passphrase="a long bundle passphrase")["inserted"] == 2
