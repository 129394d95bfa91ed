"""Issue 19 (the FHIR row): `telecbt export fhir` as a real process, on enough patients to share the
work with a forked helper process; every file whole, encrypted, and as the per-patient builders make it."""

from __future__ import annotations

import json
import os
import subprocess

import pyrage
import pytest
import zstandard

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.sync import fhir, fhir_workers
from tests.conftest import ADMIN_PASS, SENTINEL, all_bytes_under, telecbt_cmd
from tests.core.sync.fhir_data import CATALOG

PATIENTS = 2 * fhir_workers.MIN_PATIENTS


@pytest.mark.slow
@pytest.mark.skipif(fhir_workers.default_workers(PATIENTS) < 2, reason="helper processes need Linux and two CPUs")
def test_cli_export_shares_the_patients_with_a_helper_process(created, store_dir, tmp_path):
    admin = created.access
    for n in range(PATIENTS):
        patient = add_patient(admin, PatientFields(display_name=f"P{n} {SENTINEL}", language="en", birth_year=1970))
        record_consent(admin, patient["code"], "verbal", "v1")
        diary.add_entry(admin, patient["code"], {"pain": n % 11, "steps": 100 * n, "note": SENTINEL,
                                                 "entry_at": "2026-01-05 08:00"})
    identity = pyrage.x25519.Identity.generate()
    out = tmp_path / "out"
    done = subprocess.run([*telecbt_cmd(), "export", "fhir", "--out", str(out), "--encrypt-to",
                           str(identity.to_public()), "--store", str(store_dir), "--json"],
                          env={**os.environ, "TELECBT_PASSPHRASE": ADMIN_PASS}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["processes"] == 2 and result["patients"] == PATIENTS
    assert result["counts"]["Observation"] == 2 * PATIENTS  # pain and steps each (0 steps is a value too)
    names = sorted(os.listdir(out))
    assert len(names) == PATIENTS + 1 and all(n.endswith(".json.zst.age") for n in names)  # no .tmp left
    assert SENTINEL.encode() not in all_bytes_under(out)
    ids = sorted(p["id"] for p in fhir.patients(admin.store.conn, None))
    for pid in (ids[0], ids[-1]):  # one from each process's range
        [patient] = list(fhir.patients(admin.store.conn, [pid]))
        want = [json.loads(json.dumps(fhir.entry(r))) for r in fhir.patient_resources(admin.store.conn, CATALOG,
                                                                                        patient)]
        plain = zstandard.ZstdDecompressor().decompressobj().decompress(
            pyrage.decrypt((out / f"{patient['code']}.json.zst.age").read_bytes(), [identity]))
        assert json.loads(plain)["entry"] == want
