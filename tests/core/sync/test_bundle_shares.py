"""A bundle that touches many patients is applied one share of the patients at a time (issue 19, import at
3x the data): same rows, versions, conflicts and change log as one pass; the file is read once, the later
shares come back from their spill files, and nothing is written if a spill file changes between shares."""

from __future__ import annotations

import json

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.sync import bundle_apply, bundle_read, bundles, spill
from tests.core.sync.sites import Site, link, linked
from tests.core.sync.test_bundle_stream import enrol, snapshot


@pytest.fixture
def trio(tmp_path):
    with linked(tmp_path, "field", "other", "hub") as made:
        yield made


def history(field: Site, other: Site) -> list[str]:
    """Five patients with entries, a correction and edits; one edit made concurrently on another device."""
    codes = [enrol(field, name) for name in ("Ana", "Ben", "Cleo", "Dan", "Eva")]
    for day in range(3):
        for n, code in enumerate(codes):
            entry = diary.add_entry(field.access, code, {"pain": (day + n) % 11})
            if day == 1 and n % 2:
                diary.correct_entry(field.access, entry["id"], {"pain": 2})
    for phone in ("111", "222"):
        patients.edit_patient(field.access, codes[1], PatientFields(phone=phone))
    other.import_(field.bundle_for(other))
    patients.edit_patient(other.access, codes[1], PatientFields(phone="999"))
    patients.edit_patient(field.access, codes[1], PatientFields(phone="444"))  # concurrent with other's edit
    diary.add_entry(field.access, codes[3], {"pain": 4})
    return codes


def in_shares(monkeypatch, per_pass: int) -> list[str]:
    """Make every bundle count its patients and split into shares of `per_pass` patients; returns what ran:
    "read" for each read of a bundle (which applies the first share), "spill" for each share read back."""
    monkeypatch.setattr(bundle_read, "SMALL_BYTES", 0)
    monkeypatch.setattr(bundle_apply, "MIN_CHANGES_FOR_PASSES", 0)
    monkeypatch.setattr(bundle_apply, "PATIENTS_PER_PASS", per_pass)
    monkeypatch.setattr(bundle_apply, "PATIENTS_ONE_PASS", per_pass)
    ran: list[str] = []
    read, lines = bundle_read.replay, spill.Spills.lines

    def counted_read(*args, **kwargs):
        ran.append("read")
        return read(*args, **kwargs)

    def counted_lines(self, number):
        ran.append("spill")
        return lines(self, number)

    monkeypatch.setattr(bundle_read, "replay", counted_read)
    monkeypatch.setattr(spill.Spills, "lines", counted_lines)
    return ran


@pytest.mark.parametrize("per_pass", [1, 2])
def test_shares_decide_as_one_pass_does(trio, tmp_path, monkeypatch, per_pass):
    field, other, hub = trio
    history(field, other)
    sent = [field.bundle_for(hub), other.bundle_for(hub), field.bundle_for(hub, since_last=False)]
    one_pass = [hub.import_(raw) for raw in sent]
    whole = snapshot(hub)
    assert len(whole["conflicts"]) == 1 and json.loads(whole["conflicts"][0][4])["phone"] == "999"
    again = Site(tmp_path, f"again-{per_pass}")
    link(again, field, other)
    try:
        passes = in_shares(monkeypatch, per_pass)
        raws = [field.bundle_for(again), other.bundle_for(again), field.bundle_for(again, since_last=False)]
        shared = [again.import_(raw) for raw in raws]
        assert snapshot(again) == whole
        assert [{k: s[k] for k in ("inserted", "updated", "conflicts", "already", "waiting")} for s in shared] == \
               [{k: s[k] for k in ("inserted", "updated", "conflicts", "already", "waiting")} for s in one_pass]
        # each bundle names the 5 patients (other relays field's changes): ceil(5 / per_pass) shares each,
        # the first applied while the file is read (once), the others read back from their spill files
        assert passes == (["read"] + ["spill"] * (-(-5 // per_pass) - 1)) * 3
    finally:
        again.access.close()


def test_a_dry_run_in_shares_counts_as_the_import_does(trio, monkeypatch):
    field, other, hub = trio
    history(field, other)
    raw = field.bundle_for(hub)
    in_shares(monkeypatch, 2)
    before = snapshot(hub)
    dry = bundles.import_bundle(hub.access, raw, dry_run=True)
    assert snapshot(hub) == before
    real = hub.import_(raw)
    assert dry["inserted"] == real["inserted"] > 20 and dry["conflicts"] == real["conflicts"] == 0


def test_verify_counts_the_patients_a_large_file_names(trio, monkeypatch):
    field, other, hub = trio
    history(field, other)
    raw = field.bundle_for(hub)
    with bundle_read.Source.from_bytes(raw) as source:
        assert bundle_read.verify(hub.access, source).patients is None  # a small file is applied in one pass
    monkeypatch.setattr(bundle_read, "SMALL_BYTES", 0)
    with bundle_read.Source.from_bytes(raw) as source:
        verified = bundle_read.verify(hub.access, source)
    assert verified.patients == 5
    held = {row[0].encode() for row in field.access.store.conn.execute("SELECT id FROM patients")}
    assert verified.patient_ids == sorted(held)  # in index order: where the shares are cut


def test_a_spill_file_changed_between_shares_writes_nothing(trio, tmp_path, monkeypatch):
    """A spill file altered on disk after the bundle was read (by another program, a failing disk): the share
    read back from it is refused, and the import, one transaction, leaves nothing."""
    field, other, hub = trio
    history(field, other)
    path = tmp_path / "in.tcb"
    path.write_bytes(field.bundle_for(hub))
    ran = in_shares(monkeypatch, 2)
    monkeypatch.setattr(spill, "BLOCK", 100)  # blocks are sealed and written while the bundle is read
    lines = spill.Spills.lines

    altered = []

    def alter(self, number):
        handle = self.files[number]
        handle.flush()
        if not altered and handle.seek(0, 2) > 30:  # the first spill file that holds a block
            handle.seek(30)  # inside that block's sealed bytes (after its 17-byte head)
            byte = handle.read(1)
            handle.seek(30)
            handle.write(bytes([byte[0] ^ 0x01]))
            handle.seek(0, 2)
            altered.append(number)
        return lines(self, number)

    monkeypatch.setattr(spill.Spills, "lines", alter)
    before = snapshot(hub)
    with pytest.raises(IntegrityError, match="temporary file"):
        bundles.import_file(hub.access, path)
    assert snapshot(hub) == before
    conn = hub.access.store.conn
    assert altered and ran == ["read"] + ["spill"] * (altered[0] + 1)  # the shares before it were applied
    for table in ("patients", "diary_entries", "bundles_seen", "waiting_changes", "applied_ranges"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_each_line_has_one_share_by_its_patient():
    row = {"id": "0190a1b2-0000-7000-8000-000000000009", "patient_id": "0190a1b2-0000-7000-8000-000000000001",
           "hlc": "1795000000000.00000.dev", "note": 'a "patient_id": "someone-else" in the text'}
    spaced = b'{"change":{"base_hlc":null,"data":%s,"op":"insert","table":"diary_entries"}}' % json.dumps(
        row, sort_keys=True).encode()
    compact = json.dumps({"change": {"base_hlc": None, "data": row, "op": "insert", "table": "diary_entries"}},
                         sort_keys=True, separators=(",", ":")).encode()
    alone = json.dumps({"change": {"base_hlc": None, "data": {**row, "patient_id": None}, "op": "insert",
                                   "table": "diary_entries"}}).encode()
    patient = json.dumps({"change": {"base_hlc": None, "data": {"id": row["patient_id"]}, "op": "insert",
                                     "table": "patients"}}).encode()
    bare = b'{"data":{"patient_id":"%s"}}' % row["patient_id"].encode()
    decoy = b'{"data":{"patient_id":"someone-else"}}'  # sorts after every id below: the last share
    ids = sorted(b"0190a1b2-0000-7000-8000-%012d" % n for n in range(300))
    for shares in (2, 3, 7):
        bounds = bundle_apply.share_bounds(ids, shares)
        assert bundle_apply.share(bare, bounds) == 0 != bundle_apply.share(decoy, bounds) == shares - 1
        # the row's own patient, not the one quoted in its note
        assert bundle_apply.share(spaced, bounds) == bundle_apply.share(compact, bounds) == 0
        assert bundle_apply.share(alone, bounds) == 0 and bundle_apply.share(patient, bounds) == 0


def line_of(ident: bytes) -> bytes:
    return b'{"change":{"base_hlc":null,"data":{"id":"x","patient_id":"%s"},"op":"insert","table":"homework"}}' % ident


@pytest.mark.parametrize("shares", [2, 3, 7])
def test_a_share_is_a_run_of_neighbouring_patients(shares):
    """Each share holds patients whose ids sort next to each other, as many in each, so a later share's rows
    do not land between an earlier share's in the patient-ordered indexes; a patient pass 1 did not see falls
    in the run around its id."""
    ids = [b"%08x-0000-7000-8000-%012d" % (n * 7919 % 65536, n) for n in range(301)]  # not in sorted order
    seen = sorted(ids[::2])  # pass 1 samples the file
    bounds = bundle_apply.share_bounds(seen, shares)
    assert len(bounds) == shares - 1
    by_id = {ident: bundle_apply.share(line_of(ident), bounds) for ident in ids}
    in_order = [by_id[ident] for ident in sorted(ids)]
    assert in_order == sorted(in_order) and set(in_order) == set(range(shares))  # runs, every share used
    sampled = [by_id[ident] for ident in seen]
    sizes = [sampled.count(part) for part in range(shares)]
    assert max(sizes) - min(sizes) <= 1  # as many of the patients pass 1 saw in each
    assert all(abs(in_order.count(part) - len(ids) / shares) <= 0.1 * len(ids) / shares for part in range(shares))
    assert bundle_apply.share_bounds(None, shares) == [] and bundle_apply.share(line_of(ids[5]), []) == 0


def test_how_many_passes():
    one, per, least = bundle_apply.PATIENTS_ONE_PASS, bundle_apply.PATIENTS_PER_PASS, bundle_apply.MIN_CHANGES_FOR_PASSES
    assert per <= one  # a share never holds more patients than one pass would
    assert bundle_apply.passes(None, 10 * least) == 1  # not counted (a small file)
    assert bundle_apply.passes(3 * one, least - 1) == 1  # too few changes to be worth reading the file again
    assert bundle_apply.passes(one, least) == 1  # as many patients as fit one pass: one pass, the full cache
    assert bundle_apply.passes(one + 1, least) == -(-(one + 1) // per) >= 2  # then shares of at most `per`
    for count in (3 * one, 10 * one):
        shares = bundle_apply.passes(count, least)
        assert -(-count // shares) <= per < -(-count // (shares - 1))  # as few shares as fit
    assert bundle_apply.cache_kib(1) == bundle_apply.CACHE_KIB > bundle_apply.cache_kib(4) == bundle_apply.SHARED_CACHE_KIB
    # the cache gives back what the write-ahead log's index takes in a very large import, within a bound
    free, per_million = bundle_apply.WAL_FREE_CHANGES, bundle_apply.WAL_INDEX_KIB_PER_MILLION
    assert bundle_apply.cache_kib(4, free) == bundle_apply.SHARED_CACHE_KIB
    assert bundle_apply.cache_kib(4, free + 3_000_000) == bundle_apply.SHARED_CACHE_KIB - 3 * per_million
    assert bundle_apply.cache_kib(1, free + 1_000_000) == bundle_apply.CACHE_KIB - per_million  # one pass too
    lowest = bundle_apply.SHARED_CACHE_KIB - bundle_apply.MAX_WAL_ALLOWANCE_KIB
    assert bundle_apply.cache_kib(4, 100 * free) == lowest >= 16 * 1024


def test_bounded_id_caches_decide_the_same(trio, tmp_path, monkeypatch):
    """The patients known to be present and the ids known to be well formed are caches kept small (memory stays
    flat with 10,000 patients): when they start again, batch after batch, nothing is decided differently."""
    from telecbt_cli.core.sync import incoming

    field, other, hub = trio
    history(field, other)
    for raw in (field.bundle_for(hub), other.bundle_for(hub)):
        hub.import_(raw)
    whole = snapshot(hub)
    again = Site(tmp_path, "again-small-caches")
    link(again, field, other)
    try:
        monkeypatch.setattr(bundle_apply, "KNOWN_PATIENTS", 1)
        monkeypatch.setattr(incoming, "KNOWN_IDS", 1)
        monkeypatch.setattr(bundle_apply, "BATCH", 3)
        stats = [again.import_(raw) for raw in (field.bundle_for(again), other.bundle_for(again))]
        assert snapshot(again) == whole
        assert sum(s["waiting"] for s in stats) == 0  # every patient was found, in the cache or in the store
    finally:
        again.access.close()
