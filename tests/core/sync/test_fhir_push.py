"""Issue 18, point 4: pushing the FHIR export to a real FHIR server (Medplum's router on loopback):
idempotent PUTs, retries after a dropped connection, refusals reported with the OperationOutcome,
a bearer token that is never stored or shown."""

from __future__ import annotations

import json

import pytest

from telecbt_cli.core.store import audit, users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import AuthError, PermissionDenied, StorageError, UsageError
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.sync import fhir, fhir_push
from tests.conftest import all_bytes_under
from tests.core.sync.fhir_data import CATALOG, full_patient

TOKEN = "tok-SECRET-4417"


@pytest.fixture
def server(medplum):
    """A fresh server (no data, no faults, no token) and a push target with instant back-off."""
    medplum.control(reset=True)
    waits: list[float] = []
    target = fhir_push.Server(medplum.base, backoff=0.01, sleep=waits.append)
    target.waits = waits
    yield target
    medplum.control(reset=True)


def versions(medplum, urls: list[str]) -> dict[str, str]:
    return {url: medplum.read(url)["meta"]["versionId"] for url in urls}


def test_push_stores_every_resource_and_resending_changes_nothing(admin, medplum, server):
    data = full_patient(admin)
    server.max_entries = 10  # several transactions per patient: references must still resolve
    result = fhir_push.push_fhir(admin, CATALOG, server)
    assert result["refused"] == 0 and result["patients"] == 1, result
    bundle = result["bundles"][1]
    assert bundle["patient"] == data["patient"]["code"] and bundle["accepted"] > 40
    expected = [fhir.entry(r)["request"]["url"]
                for r in fhir.patient_resources(admin.store.conn, CATALOG, data["patient"])]
    assert bundle["accepted"] == len(expected)
    assert medplum.read(f"Patient/{data['patient']['id']}")["identifier"][0]["value"] == data["patient"]["code"]
    before = versions(medplum, expected)
    again = fhir_push.push_fhir(admin, CATALOG, server)
    assert again["refused"] == 0 and again["accepted"] == result["accepted"]
    assert versions(medplum, expected) == before  # idempotent: nothing got a new version
    history = medplum.read(f"Observation/{data['first']['id']}/_history")
    assert len(history["entry"]) == 1


def test_a_dropped_connection_is_retried(admin, medplum, server):
    full_patient(admin)
    medplum.control(drop=1)  # the server closes the first request's connection without answering
    result = fhir_push.push_fhir(admin, CATALOG, server)
    assert medplum.stats()["dropped"] == 1
    assert result["refused"] == 0 and result["retries"] == 1 and server.waits == [0.01]


def test_busy_answers_are_retried_with_backoff_and_then_given_up(admin, medplum, server):
    full_patient(admin)
    medplum.control(fail=2, status=503)
    result = fhir_push.push_fhir(admin, CATALOG, server)
    assert result["retries"] == 2 and result["refused"] == 0
    assert server.waits == [0.0, 0.0]  # the server's Retry-After: 0 wins over the back-off
    medplum.control(drop=10)
    server.retries, server.waits[:] = 2, []
    with pytest.raises(StorageError, match="tried 3 times; sending again is safe"):
        fhir_push.push_fhir(admin, CATALOG, server)
    assert server.waits == [0.01, 0.02]


def test_a_refused_transaction_is_reported_with_the_operation_outcome(medplum, server):
    good = {"resourceType": "Patient", "id": "0190a9d2-0000-7000-8000-000000000001"}
    bad = {"resourceType": "Observation", "id": "0190a9d2-0000-7000-8000-000000000002", "status": "final"}
    report = fhir_push.push_resources(server, "X", [good, bad])
    assert report.accepted == [] and [r["url"] for r in report.refused] == ["Patient/" + good["id"],
                                                                           "Observation/" + bad["id"]]
    issues = [i for o in report.outcomes for i in o["issues"]]
    assert report.outcomes[0]["status"] == 400
    assert any("Observation.code" in " ".join(i.get("expression", [])) for i in issues)
    with pytest.raises(Exception):
        medplum.read("Patient/" + good["id"])  # the transaction was all or nothing


def test_bearer_token_is_sent_but_never_kept(admin, medplum, server, store_dir, tmp_path):
    data = full_patient(admin)
    medplum.control(token=TOKEN)
    with pytest.raises(AuthError, match="refused the request \\(401\\)") as refused:
        fhir_push.push_fhir(admin, CATALOG, server)
    server.token = fhir_push.Token(TOKEN + "\n")
    result = fhir_push.push_fhir(admin, CATALOG, server)
    assert result["refused"] == 0 and medplum.stats()["lastAuth"] == "Bearer"
    shown = json.dumps(result) + repr(server) + str(refused.value) + repr(server.token)
    assert TOKEN not in shown
    assert TOKEN.encode() not in all_bytes_under(store_dir, tmp_path)
    entries = [e for e in audit.entries(admin.store) if e.action == "export.fhir"]
    assert entries[-1].detail["post"] == server.url and TOKEN not in json.dumps(entries[-1].to_dict())
    assert data["patient"]["code"] in [b["patient"] for b in result["bundles"]]


def test_addresses_and_roles_are_checked_before_sending(admin, store_dir, medplum):
    for bad, why in (("ftp://x.org/fhir", "not a FHIR server"), ("http://fhir.example.org/r4", "https"),
                     ("https://me:pw@fhir.example.org/r4", "no user name"), ("https://x.org/fhir?a=1", "query")):
        with pytest.raises(UsageError, match=why):
            fhir_push.Server(bad)
    assert fhir_push.Server("https://fhir.example.org/r4/").url == "https://fhir.example.org/r4"
    users.add_user(admin, "vic", "viewer", "viewer passphrase", KdfParams(10))
    viewer = unlock(store_dir, "vic", "viewer passphrase")
    try:
        before = medplum.stats()["requests"]
        with pytest.raises(PermissionDenied, match="viewer"):
            fhir_push.push_fhir(viewer, CATALOG, fhir_push.Server(medplum.base))
        assert medplum.stats()["requests"] == before
    finally:
        viewer.close()
