"""Bulk exports on a real store: CSV, NDJSON and FHIR bundles, filters, encryption, roles, audit."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time
from pathlib import Path

import pyrage
import pytest
import zstandard

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import diary, plans
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store import audit, users
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import PermissionDenied, UsageError
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.sync import bulk, export_rows, exports, fhir
from tests.conftest import SENTINEL, all_bytes_under

CATALOG, _ = cat.build([cat.BUILTIN_DIR])
PHQ9 = {f"phq9_{n}": 2 for n in range(1, 9)} | {"phq9_9": 0}  # total 16, moderately severe


def enrol(access, name: str, **fields) -> dict:
    patient = add_patient(access, PatientFields(display_name=name, language="en", **fields))
    record_consent(access, patient["code"], "verbal", "v1")
    return patient


@pytest.fixture
def data(admin):
    """Two patients: Ana (diary with a correction, PHQ-9, a goal) and Ben (one diary entry)."""
    ana = enrol(admin, f"Ana {SENTINEL}", birth_year=1968, sex="female")
    ben = enrol(admin, "Ben", sex="male")
    first = diary.add_entry(admin, ana["code"], {"pain": 7, "locations": "neck,knees", "note": SENTINEL,
                                                 "entry_at": "2026-01-05 08:00"})
    fixed = diary.correct_entry(admin, first["id"], {"pain": 5})
    diary.add_entry(admin, ana["code"], {"pain": 4, "mood": 6, "entry_at": "2026-01-06 08:00"})
    diary.add_entry(admin, ben["code"], {"pain": 2, "entry_at": "2026-01-06 09:00"})
    engine.run_all(admin, ana["code"], CATALOG.get("instrument", "phq9"), "en", PHQ9)
    plans.add_goal(admin, ana["code"], "Walk to the market")
    return {"ana": ana, "ben": ben, "first": first, "fixed": fixed}


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def read_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_csv_has_every_table_and_reads_back(admin, data, tmp_path):
    out = tmp_path / "csv"
    result = exports.export_tables(admin, out, "csv", plaintext=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv" for t in exports.TABLES)
    assert result["counts"]["patients"] == 2 and result["counts"]["diary_entries"] == 4
    assert result["counts"]["measure_responses"] == 1 and result["counts"]["goals"] == 1
    for table, count in result["counts"].items():
        assert len(read_csv(out / f"{table}.csv")) == count, table
    patients = {r["code"]: r for r in read_csv(out / "patients.csv")}
    assert patients[data["ana"]["code"]]["display_name"] == f"Ana {SENTINEL}"
    assert patients[data["ana"]["code"]]["birth_year"] == "1968" and patients[data["ben"]["code"]]["birth_year"] == ""
    entries = {r["id"]: r for r in read_csv(out / "diary_entries.csv")}
    assert json.loads(entries[data["first"]["id"]]["locations"]) == ["neck", "knees"]  # JSON text in CSV
    assert entries[data["fixed"]["id"]]["supersedes"] == data["first"]["id"]
    assert entries[data["fixed"]["id"]]["pain"] == "5"
    response = read_csv(out / "measure_responses.csv")[0]
    assert float(response["total"]) == 16 and json.loads(response["answers"]) == PHQ9
    assert not list(out.glob("*.tmp"))
    assert out.stat().st_mode & 0o077 == 0 and (out / "patients.csv").stat().st_mode & 0o077 == 0


def test_ndjson_parses_json_columns(admin, data, tmp_path):
    out = tmp_path / "nd"
    result = exports.export_tables(admin, out, "ndjson", plaintext=True)
    for table, count in result["counts"].items():
        assert len(read_ndjson(out / f"{table}.ndjson")) == count, table
    entries = {r["id"]: r for r in read_ndjson(out / "diary_entries.ndjson")}
    assert entries[data["first"]["id"]]["locations"] == ["neck", "knees"]
    assert entries[data["first"]["id"]]["triggers"] == [] and entries[data["first"]["id"]]["note"] == SENTINEL
    response = read_ndjson(out / "measure_responses.ndjson")[0]
    assert response["answers"] == PHQ9 and isinstance(response["subscales"], dict) and response["total"] == 16
    assert isinstance(read_ndjson(out / "goals.ndjson")[0]["notes"], list)
    assert isinstance(read_ndjson(out / "runs.ndjson")[0]["history"], list)


def test_small_batches_stream_the_same_rows(admin, data, tmp_path, monkeypatch):
    whole = exports.export_tables(admin, tmp_path / "a", "ndjson", plaintext=True)
    monkeypatch.setattr(export_rows, "BATCH", 1)
    small = exports.export_tables(admin, tmp_path / "b", "csv", plaintext=True)
    assert small["counts"] == whole["counts"]
    assert len(read_csv(tmp_path / "b" / "diary_entries.csv")) == 4


def test_patient_filter(admin, data, tmp_path):
    ana = data["ana"]
    result = exports.export_tables(admin, tmp_path / "one", "ndjson", [ana["code"].lower(), ana["code"]],
                                   plaintext=True)
    assert result["patients"] == 1 and result["counts"]["patients"] == 1 and result["counts"]["diary_entries"] == 3
    for table in exports.TABLES:
        for row in read_ndjson(tmp_path / "one" / f"{table}.ndjson"):
            assert row["id" if table == "patients" else "patient_id"] == ana["id"], table
    with pytest.raises(UsageError, match="not a valid patient code"):
        exports.export_tables(admin, tmp_path / "bad", "csv", ["NOPE"], plaintext=True)


def test_since_filters_on_updated_at(admin, data, tmp_path):
    mark = now_iso()
    time.sleep(0.01)
    late = diary.add_entry(admin, data["ben"]["code"], {"pain": 3})
    result = exports.export_tables(admin, tmp_path / "since", "csv", since=mark, plaintext=True)
    assert result["counts"]["diary_entries"] == 1 and result["counts"]["patients"] == 0
    assert [r["id"] for r in read_csv(tmp_path / "since" / "diary_entries.csv")] == [late["id"]]
    day = exports.export_tables(admin, tmp_path / "day", "csv", since="2000-01-01", plaintext=True)
    assert day["counts"]["diary_entries"] == 5


def test_plaintext_must_be_asked_for(admin, data, tmp_path):
    with pytest.raises(UsageError, match="--plaintext"):
        exports.export_tables(admin, tmp_path / "x", "csv")
    with pytest.raises(UsageError, match="--encrypt-to"):
        fhir.export_fhir(admin, CATALOG, tmp_path / "x")
    with pytest.raises(UsageError, match="not an age recipient"):
        exports.export_tables(admin, tmp_path / "x", "csv", encrypt_to="age1notakey")
    assert not (tmp_path / "x").exists()


def test_a_non_empty_folder_needs_force(admin, data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="--force"):
        exports.export_tables(admin, out, "csv", plaintext=True)
    exports.export_tables(admin, out, "csv", plaintext=True, force=True)
    assert (out / "keep.txt").read_text() == "mine" and (out / "patients.csv").exists()
    with pytest.raises(UsageError, match="inside the store"):
        exports.export_tables(admin, admin.store.dir / "exports", "csv", plaintext=True)


def test_encrypted_export_decrypts_and_leaves_no_plaintext(admin, data, tmp_path):
    identity = pyrage.x25519.Identity.generate()
    out = tmp_path / "enc"
    result = exports.export_tables(admin, out, "csv", encrypt_to=str(identity.to_public()))
    assert result["encrypted"] and result["compressed"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv.zst.age" for t in exports.TABLES)
    fhir_out = tmp_path / "enc-fhir"
    fhir.export_fhir(admin, CATALOG, fhir_out, encrypt_to=[str(identity.to_public())])
    assert SENTINEL.encode() not in all_bytes_under(out, fhir_out)
    patients = read_csv_bytes(unzstd(pyrage.decrypt((out / "patients.csv.zst.age").read_bytes(), [identity])))
    assert f"Ana {SENTINEL}" in {r["display_name"] for r in patients}
    for table, count in result["counts"].items():
        assert len(read_csv_bytes(unzstd(pyrage.decrypt((out / f"{table}.csv.zst.age").read_bytes(), [identity])))) \
            == count
    bundle = json.loads(unzstd(pyrage.decrypt((fhir_out / f"{data['ana']['code']}.json.zst.age").read_bytes(),
                                              [identity])))
    assert bundle["type"] == "transaction"


def unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def read_csv_bytes(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_encrypted_stream_failure_keeps_the_error_and_no_file(tmp_path):
    recipient = pyrage.x25519.Identity.generate().to_public()

    def chunks():
        yield b"a" * 100_000
        raise KeyError("row 7")

    target = tmp_path / "t.csv.age"
    with pytest.raises(KeyError, match="row 7"):
        bulk.write_stream(target, chunks(), [recipient])
    assert list(tmp_path.iterdir()) == []


def test_large_table_streams_through_encryption(admin, data, tmp_path):
    identity = pyrage.x25519.Identity.generate()
    from telecbt_cli.core.store import records

    patient_id = data["ben"]["id"]
    with admin.store.write():
        for n in range(2500):
            records.insert(admin.store, "messages", {"patient_id": patient_id, "direction": "to_patient",
                                                     "kind": "message", "sender": "alice", "body": f"m{n}",
                                                     "sent_at": now_iso(), "read_at": None})
    result = exports.export_tables(admin, tmp_path / "big", "ndjson", encrypt_to=str(identity.to_public()))
    assert result["counts"]["messages"] == 2500
    rows = unzstd(pyrage.decrypt((tmp_path / "big" / "messages.ndjson.zst.age").read_bytes(), [identity])).splitlines()
    assert [json.loads(r)["body"] for r in rows] == [f"m{n}" for n in range(2500)]


def test_viewer_exports_only_encrypted(admin, data, store_dir, tmp_path):
    users.add_user(admin, "vic", "viewer", "viewer passphrase", KdfParams(10))
    viewer = unlock(store_dir, "vic", "viewer passphrase")
    try:
        with pytest.raises(PermissionDenied, match="encrypted"):
            exports.export_tables(viewer, tmp_path / "v", "csv", plaintext=True)
        with pytest.raises(PermissionDenied):
            fhir.export_fhir(viewer, CATALOG, tmp_path / "v", plaintext=True)
        recipient = str(pyrage.x25519.Identity.generate().to_public())
        assert exports.export_tables(viewer, tmp_path / "v2", "csv", encrypt_to=recipient)["counts"]["patients"] == 2
    finally:
        viewer.close()


def test_exports_are_audited(admin, data, tmp_path):
    exports.export_tables(admin, tmp_path / "a", "csv", plaintext=True)
    exports.export_tables(admin, tmp_path / "b", "ndjson", [data["ana"]["code"]], plaintext=True)
    fhir.export_fhir(admin, CATALOG, tmp_path / "c", [data["ana"]["code"], data["ben"]["code"]], plaintext=True)
    found = {e.action: e for e in audit.entries(admin.store) if e.action.startswith("export.")}
    assert set(found) == {"export.csv", "export.ndjson", "export.fhir"}
    assert found["export.csv"].detail["tables"] == list(exports.TABLES)
    assert found["export.csv"].detail["patients"] == "all" and found["export.csv"].detail["encrypted"] is False
    assert found["export.ndjson"].patient_id == data["ana"]["id"]
    assert found["export.fhir"].detail["patient_ids"] == [data["ana"]["id"], data["ben"]["id"]]
    assert audit.verify(admin.store) == []
    assert SENTINEL not in json.dumps([e.to_dict() for e in audit.entries(admin.store)])


# --- FHIR ------------------------------------------------------------------------------------------

def validated(path: Path) -> tuple[dict, object]:
    from fhir.resources.R4B.bundle import Bundle

    raw = json.loads(path.read_text(encoding="utf-8"))
    return raw, Bundle.model_validate(raw)


def by_type(bundle: dict, kind: str) -> list[dict]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_fhir_bundles_validate_and_map_scores(admin, data, tmp_path):
    out = tmp_path / "fhir"
    result = fhir.export_fhir(admin, CATALOG, out, plaintext=True)
    assert sorted(result["files"]) == sorted([data["ana"]["code"], data["ben"]["code"]])
    # 4 pain ratings, Ana's mood, the PHQ-9 total and her goal's progress (0 %) are Observations
    assert result["counts"] == {"Patient": 2, "Questionnaire": 1, "Consent": 2, "QuestionnaireResponse": 1,
                                "Observation": 7, "Goal": 1}
    raw, model = validated(out / f"{data['ana']['code']}.json")
    assert model.type == "transaction" and raw["type"] == "transaction"
    full_urls = [e["fullUrl"] for e in raw["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    for entry in raw["entry"]:
        resource = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"

    [patient] = by_type(raw, "Patient")
    p = patient["resource"]
    assert p["id"] == data["ana"]["id"] and p["birthDate"] == "1968" and p["gender"] == "female"
    assert p["identifier"] == [{"system": "urn:telecbt:patient-code", "value": data["ana"]["code"]}]
    assert p["name"][0]["text"] == f"Ana {SENTINEL}"
    assert p["communication"][0]["language"]["coding"][0]["code"] == "en"

    [qr_entry] = by_type(raw, "QuestionnaireResponse")
    qr = qr_entry["resource"]
    assert qr["status"] == "completed" and qr["questionnaire"] == "https://telecbt.org/fhir/Questionnaire/phq9|1.0.0"
    assert qr["subject"] == {"reference": f"Patient/{data['ana']['id']}"}
    answers = {i["linkId"]: i["answer"][0]["valueCoding"] for i in qr["item"]}
    assert {k: v["extension"][0]["valueDecimal"] for k, v in answers.items()} == PHQ9
    assert answers["phq9_1"]["code"] == "LA6570-1" and answers["phq9_9"]["code"] == "LA6568-5"

    observations = [e["resource"] for e in by_type(raw, "Observation")]
    [score] = [o for o in observations if o["code"].get("coding", [{}])[0].get("code") == "44261-6"]
    assert score["code"]["coding"][0]["system"] == "http://loinc.org" and score["status"] == "final"
    assert score["valueQuantity"] == {"value": 16, "unit": "{score}", "system": "http://unitsofmeasure.org",
                                      "code": "{score}"}
    assert score["derivedFrom"] == [{"reference": qr_entry["request"]["url"]}]
    assert score["interpretation"] == [{"text": "Moderately severe"}]
    assert score["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey", "display": "Survey"}
    assert score["effectiveDateTime"] == qr["authored"]

    pain = {o["id"]: o for o in observations if o["code"]["coding"][0]["code"] == "72514-3"}
    assert len(pain) == 3 and {data["first"]["id"], data["fixed"]["id"]} <= set(pain)
    assert pain[data["first"]["id"]]["status"] == "entered-in-error"  # replaced by a correction
    assert pain[data["fixed"]["id"]]["status"] == "final" and pain[data["fixed"]["id"]]["valueQuantity"]["value"] == 5

    raw_ben, _ = validated(out / f"{data['ben']['code']}.json")
    assert "birthDate" not in by_type(raw_ben, "Patient")[0]["resource"]
    assert len(by_type(raw_ben, "Observation")) == 1


def test_fhir_ids_are_stable_across_exports(admin, data, tmp_path):
    fhir.export_fhir(admin, CATALOG, tmp_path / "one", plaintext=True)
    fhir.export_fhir(admin, CATALOG, tmp_path / "two", plaintext=True)
    name = f"{data['ana']['code']}.json"
    first = [e["request"]["url"] for e in json.loads((tmp_path / "one" / name).read_text())["entry"]]
    second = [e["request"]["url"] for e in json.loads((tmp_path / "two" / name).read_text())["entry"]]
    assert first == second


def test_fhir_patient_and_since_filters(admin, data, tmp_path):
    result = fhir.export_fhir(admin, CATALOG, tmp_path / "ben", [data["ben"]["code"]], plaintext=True)
    assert list(result["files"]) == [data["ben"]["code"]]
    mark = now_iso()
    time.sleep(0.01)
    fixed_again = diary.correct_entry(admin, data["fixed"]["id"], {"pain": 6})
    later = fhir.export_fhir(admin, CATALOG, tmp_path / "later", since=mark, plaintext=True)
    assert list(later["files"]) == [data["ana"]["code"]]
    raw, _ = validated(tmp_path / "later" / f"{data['ana']['code']}.json")
    statuses = {e["resource"]["id"]: e["resource"]["status"] for e in by_type(raw, "Observation")}
    # the new correction, and the version it replaced (now withdrawn) so a server holding it learns so
    assert statuses == {fixed_again["id"]: "final", data["fixed"]["id"]: "entered-in-error"}
    assert len(by_type(raw, "Patient")) == 1 and by_type(raw, "QuestionnaireResponse") == []


def test_fhir_score_without_loinc_gets_a_local_code(admin, data, tmp_path):
    """Issue 18 finding: a score without a LOINC code was exported with text alone."""
    engine.run_all(admin, data["ben"]["code"], CATALOG.get("instrument", "sleep-nrs"), "en", {"sleep_quality": 4})
    fhir.export_fhir(admin, CATALOG, tmp_path / "f", [data["ben"]["code"]], plaintext=True)
    raw, _ = validated(tmp_path / "f" / f"{data['ben']['code']}.json")
    [qr] = by_type(raw, "QuestionnaireResponse")
    assert qr["resource"]["questionnaire"] == "https://telecbt.org/fhir/Questionnaire/sleep-nrs|1.0.0"
    [score] = [e["resource"] for e in by_type(raw, "Observation") if "derivedFrom" in e["resource"]]
    assert score["code"]["coding"] == [{"system": "https://telecbt.org/fhir/CodeSystem/score", "code": "sleep-nrs",
                                        "display": "Sleep NRS score"}]
    assert score["valueQuantity"]["value"] == 4


def test_fhir_text_has_no_control_characters(admin, tmp_path):
    patient = enrol(admin, "Eve \x1b[31m\x00 ")
    fhir.export_fhir(admin, CATALOG, tmp_path / "f", [patient["code"]], plaintext=True)
    raw, _ = validated(tmp_path / "f" / f"{patient['code']}.json")
    assert by_type(raw, "Patient")[0]["resource"]["name"][0]["text"] == "Eve \ufffd[31m\ufffd"


# --- issue 19.2: rows serialised by SQLite, zstd before age -----------------------------------------

def test_ndjson_lines_made_by_sqlite_hold_the_stored_values(admin, data, tmp_path):
    """Each NDJSON object equals the stored row with its JSON columns parsed (text left as text when
    it is not JSON), whatever the values: non-ASCII, control characters, decimals, NULL."""
    odd = enrol(admin, "Zoë \u202e\x07 \U0001F600", birth_year=1950)
    diary.add_entry(admin, odd["code"], {"pain": 0, "sleep_hours": 6.25, "note": 'quote " and \\ and \n'})
    admin.store.conn.execute("UPDATE goals SET notes = 'not json [' WHERE patient_id = ?", (data["ana"]["id"],))
    exports.export_tables(admin, tmp_path / "nd", "ndjson", plaintext=True)
    conn = admin.store.conn
    for table in exports.TABLES:
        cursor = conn.execute(f"SELECT * FROM {table} WHERE deleted = 0 ORDER BY rowid")
        names = [d[0] for d in cursor.description]
        expected = [{n: bulk.parse_json(v) if n in exports.JSON_COLUMNS.get(table, ()) else v
                     for n, v in zip(names, row)} for row in cursor]
        assert read_ndjson(tmp_path / "nd" / f"{table}.ndjson") == expected, table
    goal = read_ndjson(tmp_path / "nd" / "goals.ndjson")[0]
    assert goal["notes"] == "not json ["


def test_compression_follows_encryption_unless_asked(admin, data, tmp_path):
    plain = exports.export_tables(admin, tmp_path / "p", "csv", plaintext=True)
    assert not plain["compressed"] and (tmp_path / "p" / "patients.csv").exists()
    packed = exports.export_tables(admin, tmp_path / "z", "ndjson", plaintext=True, compress=True)
    assert packed["compressed"]
    lines = unzstd((tmp_path / "z" / "diary_entries.ndjson.zst").read_bytes()).decode().splitlines()
    assert len(lines) == packed["counts"]["diary_entries"] == 4
    identity = pyrage.x25519.Identity.generate()
    loose = exports.export_tables(admin, tmp_path / "a", "csv", encrypt_to=str(identity.to_public()), compress=False)
    assert not loose["compressed"]
    assert len(read_csv_bytes(pyrage.decrypt((tmp_path / "a" / "patients.csv.age").read_bytes(), [identity]))) == 2


@pytest.mark.skipif(not shutil.which("age") or not shutil.which("zstd"), reason="needs the age and zstd tools")
def test_the_standard_tools_read_a_compressed_encrypted_export(admin, data, tmp_path):
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(str(identity) + "\n")
    exports.export_tables(admin, tmp_path / "e", "ndjson", encrypt_to=str(identity.to_public()))
    shown = subprocess.run(f"age -d -i {key} {tmp_path / 'e' / 'patients.ndjson.zst.age'} | zstd -d -q",
                           shell=True, capture_output=True, check=True)
    assert {json.loads(line)["display_name"] for line in shown.stdout.decode().splitlines()} == {f"Ana {SENTINEL}", "Ben"}


def test_csv_lines_made_by_sqlite_read_back_as_the_stored_values(admin, data, tmp_path):
    """Every cell parses back (csv module) to the stored value: quotes, commas, line breaks, CR, unicode,
    decimals; a row holding a formula-like cell is quoted the same way after its prefix is added."""
    tricky = enrol(admin, 'Quote " comma , line\nbreak\rcr ñ', phone="=1+2,\"x\"\n")
    diary.add_entry(admin, tricky["code"], {"pain": 1, "sleep_hours": 7.3, "note": "tab\tand ; semicolon"})
    for raw in (True, False):
        out = tmp_path / f"csv-{raw}"
        exports.export_tables(admin, out, "csv", plaintext=True, raw=raw)
        conn = admin.store.conn
        for table in exports.TABLES:
            cursor = conn.execute(f"SELECT * FROM {table} WHERE deleted = 0 ORDER BY rowid")
            names = [d[0] for d in cursor.description]
            stored = [["" if v is None else v for v in row] for row in cursor]
            with open(out / f"{table}.csv", encoding="utf-8", newline="") as handle:
                got = list(csv.reader(handle))
            assert got[0] == names, table
            assert len(got) - 1 == len(stored), table
            for row, values in zip(got[1:], stored):
                for cell, value in zip(row, values):
                    if isinstance(value, float):
                        assert float(cell) == value, table
                    elif isinstance(value, int):
                        assert int(cell) == value, table
                    elif raw or not value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell == value, table
                    else:
                        assert cell == "'" + value, table


def test_files_written_at_once_all_show_one_moment(admin, data, tmp_path):
    """The readers of a parallel export share one snapshot: a change committed after they took it is
    in none of them, though the store's own connection sees it (and may write while they read)."""
    with bulk.shared_snapshot(admin, 2) as readers:
        late = diary.add_entry(admin, data["ben"]["code"], {"pain": 9})
        seen = [{r[0] for r in conn.execute("SELECT id FROM diary_entries")} for conn in readers]
    assert seen[0] == seen[1] and late["id"].encode() not in seen[0] and len(seen[0]) == 4
    assert admin.store.conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0] == 5


def test_a_full_disk_stops_the_reading_threads_and_leaves_no_temporary_file(admin, data, tmp_path):
    """Two files are written at once: when the disk fills, both readers stop and nothing half-written stays."""
    import subprocess
    import threading

    from telecbt_cli.core.store import records
    from telecbt_cli.core.store.errors import StorageError

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with admin.store.write():
            for n in range(3000):
                records.insert(admin.store, "messages", {"patient_id": data["ben"]["id"], "direction": "to_patient",
                                                         "kind": "message", "sender": "alice", "body": f"m{n} " * 20,
                                                         "sent_at": now_iso(), "read_at": None})
        with pytest.raises(StorageError, match="full"):
            exports.export_tables(admin, disk / "out", "csv", plaintext=True)
        assert not [t for t in threading.enumerate() if t.name.startswith("telecbt-export")]
        assert not list((disk / "out").glob("*.tmp"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
