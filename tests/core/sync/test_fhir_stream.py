"""Issue 19 (the FHIR row): the whole-store export reads each table once and formats diary Observations
from templates, shared between processes by ranges of patients; it must write the same resources, in
the same order, as the per-patient builders, and show one moment of the store."""

from __future__ import annotations

import json
import os
import uuid

import pyrage
import pytest
import zstandard

from telecbt_cli.core.care import diary
from telecbt_cli.core.store.errors import StorageError
from telecbt_cli.core.sync import fhir, fhir_codes, fhir_stream, fhir_workers
from telecbt_cli.core.sync.fhir_codes import id_namespace, stable_id
from tests.core.sync.fhir_data import CATALOG, full_patient


@pytest.fixture
def store(admin):
    """Two full patients, a third with odd diary numbers (a whole REAL, a long decimal), and one deleted."""
    ana, ben = full_patient(admin, "Ana"), full_patient(admin, "Ben")
    cleo = full_patient(admin, "Cleo")
    entry = diary.add_entry(admin, cleo["patient"]["code"], {"pain": 3, "sleep_hours": 7.3, "activity_min": 15,
                                                             "entry_at": "2026-02-01 08:00"})
    with admin.store.write():
        admin.store.conn.execute("UPDATE diary_entries SET sleep_hours = 6.0, steps = 0.1 + 0.2 WHERE id = ?",
                                 (entry["id"],))
        admin.store.conn.execute("UPDATE patients SET deleted = 1 WHERE id = ?", (ben["patient"]["id"],))
    return {"ana": ana, "ben": ben, "cleo": cleo, "odd": entry}


def per_patient(admin, patient_id: str) -> list[dict]:
    """What the per-patient builders (`patient_resources`, used by --since and --post) give, as parsed JSON."""
    conn = admin.store.conn
    [patient] = list(fhir.patients(conn, [patient_id]))
    return [json.loads(json.dumps(fhir.entry(r))) for r in fhir.patient_resources(conn, CATALOG, patient)]


@pytest.mark.parametrize("workers", [1, 2])
def test_streaming_export_writes_the_same_resources_as_the_per_patient_builders(admin, store, tmp_path, workers):
    """With workers=2 a forked helper process writes the second range of patients (issue 19, FHIR row)."""
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "out", plaintext=True, workers=workers)
    assert sorted(result["files"]) == sorted([store["ana"]["patient"]["code"], store["cleo"]["patient"]["code"]])
    total = 0
    for key in ("ana", "cleo"):
        patient = store[key]["patient"]
        bundle = json.loads((tmp_path / "out" / f"{patient['code']}.json").read_text(encoding="utf-8"))
        expected = per_patient(admin, patient["id"])
        assert [e["request"]["url"] for e in bundle["entry"]] == [e["request"]["url"] for e in expected]
        for got, want in zip(bundle["entry"], expected):
            assert got == want, got["request"]["url"]  # every field of every resource
        total += len(expected)
    assert sum(result["counts"].values()) == total


def test_diary_observations_keep_their_values_ids_and_status(admin, store, tmp_path):
    """Field by field on the diary templates: derived ids, numbers as `number()` gives them, corrections."""
    fhir.export_fhir(admin, CATALOG, tmp_path / "out", plaintext=True)
    code = store["cleo"]["patient"]["code"]
    text = (tmp_path / "out" / f"{code}.json").read_text(encoding="utf-8")
    found = {e["resource"]["id"]: e["resource"] for e in json.loads(text)["entry"]}
    odd = store["odd"]["id"]
    assert found[odd]["valueQuantity"] == {"value": 3, "unit": "{score}", "system": "http://unitsofmeasure.org",
                                           "code": "{score}"}
    sleep = found[stable_id("Observation", odd, "sleep_hours")]
    assert sleep["valueQuantity"]["value"] == 6 and '"value":6,' in text  # a whole REAL is written as an integer
    assert found[stable_id("Observation", odd, "steps")]["valueQuantity"]["value"] == 0.1 + 0.2
    assert found[stable_id("Observation", odd, "activity_min")]["code"]["coding"][0]["code"] == "55411-3"
    assert sleep["subject"] == {"reference": f"Patient/{store['cleo']['patient']['id']}"}
    assert sleep["effectiveDateTime"] == found[odd]["effectiveDateTime"] and sleep["status"] == "final"
    assert found[store["cleo"]["first"]["id"]]["status"] == "entered-in-error"  # corrected later


def test_every_response_resolves_to_an_exported_questionnaire(admin, store, tmp_path):
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "out", plaintext=True)
    shared = json.loads((tmp_path / "out" / "questionnaires.json").read_text(encoding="utf-8"))
    published = {f"{e['resource']['url']}|{e['resource']['version']}" for e in shared["entry"]}
    responses = 0
    for path in result["files"].values():
        bundle = json.loads(open(path, encoding="utf-8").read())
        carried = {f"{e['resource']['url']}|{e['resource']['version']}" for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Questionnaire"}
        for e in bundle["entry"]:
            if e["resource"]["resourceType"] == "QuestionnaireResponse":
                responses += 1
                assert e["resource"]["questionnaire"] in published & carried
    assert responses == 10


def test_encrypted_export_is_compressed_and_reads_back(admin, store, tmp_path):
    identity = pyrage.x25519.Identity.generate()
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "enc", encrypt_to=str(identity.to_public()))
    assert result["compressed"] and all(p.endswith(".json.zst.age") for p in result["files"].values())
    assert not list((tmp_path / "enc").glob("*.tmp"))
    code = store["ana"]["patient"]["code"]
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(
        pyrage.decrypt((tmp_path / "enc" / f"{code}.json.zst.age").read_bytes(), [identity]))
    assert json.loads(plain)["entry"] == per_patient(admin, store["ana"]["patient"]["id"])
    unpacked = fhir.export_fhir(admin, CATALOG, tmp_path / "raw", encrypt_to=str(identity.to_public()),
                                compress=False)
    assert unpacked["files"][code].endswith(".json.age")


def test_patient_filter_reads_only_those_patients(admin, store, tmp_path):
    code = store["cleo"]["patient"]["code"]
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "one", [code], plaintext=True)
    assert list(result["files"]) == [code]
    bundle = json.loads((tmp_path / "one" / f"{code}.json").read_text(encoding="utf-8"))
    assert bundle["entry"] == per_patient(admin, store["cleo"]["patient"]["id"])


def test_fast_derived_ids_match_uuid5():
    """Resource ids are relied on by other systems: the fast path must give uuid.uuid5's exact values."""
    ids = fhir_stream.StableIds()
    for n in range(200):
        name = f"Observation/{uuid.uuid4()}/steps{n}"
        want = str(uuid.uuid5(id_namespace(), name))
        assert ids(name) == want and stable_id(*name.split("/")) == want


def _bundle(path) -> dict:
    return json.loads(open(path, encoding="utf-8").read())


def test_two_processes_write_what_one_writes(admin, store, tmp_path):
    one = fhir.export_fhir(admin, CATALOG, tmp_path / "one", plaintext=True, workers=1)
    two = fhir.export_fhir(admin, CATALOG, tmp_path / "two", plaintext=True, workers=2)
    assert (one["processes"], two["processes"]) == (1, 2)
    assert two["counts"] == one["counts"] and sorted(two["files"]) == sorted(one["files"])
    for code, path in one["files"].items():
        assert _bundle(two["files"][code])["entry"] == _bundle(path)["entry"]
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))  # no .tmp left


def test_every_process_reads_the_same_snapshot(admin, store, tmp_path):
    """Changes committed once the readers hold their snapshot (here: before any of them reads) are in no
    file, whichever process writes that patient: the export shows one moment of the store."""
    ana, cleo = store["ana"]["patient"], store["cleo"]["patient"]
    helper_side = max(ana["id"], cleo["id"])  # the second range, written by the forked helper
    before = {key: per_patient(admin, store[key]["patient"]["id"]) for key in ("ana", "cleo")}

    def meanwhile() -> None:
        for key in ("ana", "cleo"):
            diary.add_entry(admin, store[key]["patient"]["code"], {"pain": 9, "entry_at": "2026-03-01 08:00"})
        with admin.store.write():
            admin.store.conn.execute("UPDATE patients SET deleted = 1 WHERE id = ?", (helper_side,))

    result = fhir.export_fhir(admin, CATALOG, tmp_path / "out", plaintext=True, workers=2, on_snapshot=meanwhile)
    assert result["processes"] == 2
    assert sorted(result["files"]) == sorted([ana["code"], cleo["code"]])  # the deleted patient is still there
    for key in ("ana", "cleo"):
        assert _bundle(result["files"][store[key]["patient"]["code"]])["entry"] == before[key]


def test_a_failing_helper_fails_the_export_and_leaves_no_partial_file(admin, store, tmp_path):
    ana, cleo = store["ana"]["patient"], store["cleo"]["patient"]
    helper_code = max((ana["id"], ana["code"]), (cleo["id"], cleo["code"]))[1]
    out = tmp_path / "out"
    (out / f"{helper_code}.json.tmp").mkdir(parents=True)  # the helper cannot write its file
    with pytest.raises(StorageError, match="could not write"):
        fhir.export_fhir(admin, CATALOG, out, plaintext=True, workers=2, force=True)
    left = sorted(os.listdir(out))
    assert not [name for name in left if name.endswith(".tmp") and name != f"{helper_code}.json.tmp"]
    assert f"{helper_code}.json" not in left


def test_ranges_cover_every_id_in_shares_of_equal_work():
    even = [(f"{n:04d}", 10) for n in range(10)]
    assert fhir_workers.ranges(even, 2) == [(None, "0005"), ("0005", None)]
    assert fhir_workers.ranges(even, 3) == [(None, "0003"), ("0003", "0007"), ("0007", None)]
    older = [("a", 100), ("b", 100), ("c", 10), ("d", 10), ("e", 10), ("f", 10)]  # old patients have more diary
    assert fhir_workers.ranges(older, 2) == [(None, "b"), ("b", None)]
    assert fhir_workers.ranges([("a", 1)], 2) == [(None, None)]
    assert fhir_workers.ranges([], 2) == [(None, None)]


def test_work_is_counted_from_the_diary(admin, store):
    weights = dict(fhir_workers.weighted_ids(admin.store.conn, None))
    cleo = store["cleo"]["patient"]["id"]
    entries = admin.store.conn.execute("SELECT count(*) FROM diary_entries WHERE patient_id = ? AND deleted = 0",
                                       (cleo,)).fetchone()[0]
    assert weights[cleo] == entries + 1 and store["ben"]["patient"]["id"] not in weights  # deleted: not exported
    assert list(weights) == sorted(weights)


def test_forked_processes_never_encrypt_with_the_same_keys():
    """fhir_workers forks helpers that encrypt files: age must draw each file's keys from the system, not from
    random state copied by fork (two files under one key and nonce would leak both plaintexts)."""
    recipient = pyrage.x25519.Identity.generate().to_public()
    pyrage.encrypt(b"warm up", [recipient])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, pyrage.encrypt(b"x" * 64, [recipient]))
        os._exit(0)
    mine = pyrage.encrypt(b"x" * 64, [recipient])
    os.waitpid(pid, 0)
    theirs = os.read(read, 65536)
    os.close(read)
    os.close(write)
    share = [c.split(b"\n")[1] for c in (mine, theirs)]  # "-> X25519 <ephemeral share>"
    assert share[0].startswith(b"-> X25519 ") and share[0] != share[1] and theirs[-64:] != mine[-64:]


@pytest.mark.parametrize("start, minutes, end", [
    ("2026-11-27T08:30:00.000Z", 45, "2026-11-27T09:15:00.000Z"),
    ("2026-12-31T23:30:00.500Z", 45, "2027-01-01T00:15:00.500Z"),  # a new year, milliseconds kept
    ("2028-02-28T23:50:00.000Z", 20, "2028-02-29T00:10:00.000Z"),  # a leap day
    ("2026-03-29T00:30:00.000Z", 90, "2026-03-29T02:00:00.000Z"),  # UTC has no clock change
    ("2026-11-27T08:30:00+01:00", 30, "2026-11-27T08:00:00.000Z"),  # a start written with an offset
])
def test_an_appointments_end_is_its_start_plus_its_minutes_in_utc(start, minutes, end):
    """The Appointment's and Encounter's end (the store's form has a fast path; any other form is converted)."""
    assert fhir_codes.end_of(start, minutes) == end
