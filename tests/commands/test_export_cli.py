"""`telecbt export …` from the command line: options, exit codes, warnings, output files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyrage
import pytest
import zstandard
from typer.testing import CliRunner

from telecbt_cli.cli import app
from tests.conftest import ADMIN_PASS, SENTINEL, all_bytes_under

runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def codes(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--admin", "alice", "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    made = []
    for name in (f"Ana {SENTINEL}", "Ben"):
        code = json.loads(invoke("patient", "add", "--name", name, "--birth-year", "1970", "--json").stdout)["code"]
        assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
        made.append(code)
    assert invoke("diary", "add", made[0], "--pain", "6", "--locations", "neck,knees", "--note", SENTINEL).exit_code == 0
    assert invoke("diary", "add", made[1], "--pain", "3").exit_code == 0
    answers = tmp_path / "phq9.json"
    answers.write_text(json.dumps({f"phq9_{n}": 2 for n in range(1, 9)} | {"phq9_9": 0}))
    assert invoke("measure", "take", made[0], "phq9", "--answers", str(answers)).exit_code == 0
    return made


def test_plaintext_must_be_asked_for(codes, tmp_path):
    out = tmp_path / "out"
    for kind in ("csv", "ndjson", "fhir"):
        refused = invoke("export", kind, "--out", str(out))
        assert refused.exit_code == 2, refused.stderr
        assert "--plaintext" in refused.stderr and "--encrypt-to" in refused.stderr
    assert not out.exists()
    assert invoke("export", "csv", "--plaintext").exit_code == 2  # --out is required
    both = invoke("export", "csv", "--out", str(out), "--plaintext", "--encrypt-to",
                  str(pyrage.x25519.Identity.generate().to_public()))
    assert both.exit_code == 2 and "choose one" in both.stderr


def test_csv_export_with_summary_and_warning(codes, tmp_path):
    out = tmp_path / "csv"
    result = invoke("export", "csv", "--out", str(out), "--plaintext", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["patients"] == 2 and summary["counts"]["diary_entries"] == 2
    assert "files hold patient data in clear" in result.stderr
    rows = list(csv.DictReader(io.StringIO((out / "diary_entries.csv").read_text(encoding="utf-8"))))
    by_pain = {r["pain"]: r for r in rows}
    assert json.loads(by_pain["6"]["locations"]) == ["neck", "knees"] and by_pain["6"]["note"] == SENTINEL
    again = invoke("export", "csv", "--out", str(out), "--plaintext")
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = invoke("export", "csv", "--out", str(out), "--plaintext", "--force")
    assert forced.exit_code == 0 and "Wrote 12 file(s)" in forced.stderr


def test_ndjson_patient_and_since(codes, tmp_path):
    out = tmp_path / "nd"
    result = invoke("export", "ndjson", "--out", str(out), "--plaintext", "--patient", codes[1], "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["patients"] == 1
    lines = (out / "diary_entries.ndjson").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["pain"] for line in lines] == [3]
    assert isinstance(json.loads(lines[0])["locations"], list)
    later = invoke("export", "ndjson", "--out", str(tmp_path / "later"), "--plaintext", "--since", "2999-01-01",
                   "--json")
    assert later.exit_code == 0 and set(json.loads(later.stdout)["counts"].values()) == {0}
    assert invoke("export", "ndjson", "--out", str(tmp_path / "x"), "--plaintext", "--since", "soon").exit_code == 2
    assert invoke("export", "ndjson", "--out", str(tmp_path / "y"), "--plaintext", "--patient", "ZZZZ").exit_code == 2


def test_encrypted_export_holds_no_plaintext(codes, tmp_path):
    identity = pyrage.x25519.Identity.generate()
    out = tmp_path / "enc"
    result = invoke("export", "csv", "--out", str(out), "--encrypt-to", str(identity.to_public()))
    assert result.exit_code == 0, result.stderr
    assert "in clear" not in result.stderr and "age-encrypted" in result.stderr
    assert all(p.name.endswith(".csv.zst.age") for p in out.iterdir())  # compressed before age by default
    fhir_out = tmp_path / "enc-fhir"
    assert invoke("export", "fhir", "--out", str(fhir_out), "--encrypt-to", str(identity.to_public())).exit_code == 0
    assert SENTINEL.encode() not in all_bytes_under(out, fhir_out)
    text = zstandard.ZstdDecompressor().decompressobj().decompress(
        pyrage.decrypt((out / "patients.csv.zst.age").read_bytes(), [identity])).decode()
    assert f"Ana {SENTINEL}" in text
    plain_out = tmp_path / "enc-plain"
    assert invoke("export", "csv", "--out", str(plain_out), "--no-compress", "--encrypt-to",
                  str(identity.to_public())).exit_code == 0
    assert f"Ana {SENTINEL}" in pyrage.decrypt((plain_out / "patients.csv.age").read_bytes(), [identity]).decode()
    assert invoke("export", "csv", "--out", str(tmp_path / "bad"), "--encrypt-to", "age1xyz").exit_code == 2


def test_fhir_bundle_validates(codes, tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    out = tmp_path / "fhir"
    result = invoke("export", "fhir", "--out", str(out), "--plaintext", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"Patient": 2, "Questionnaire": 1, "Consent": 2, "QuestionnaireResponse": 1,
                                 "Observation": 3}
    assert summary["questionnaires"] == 8 and (out / "questionnaires.json").is_file()
    raw = json.loads((out / f"{codes[0]}.json").read_text(encoding="utf-8"))
    assert Bundle.model_validate(raw).type == "transaction"
    score = next(e["resource"] for e in raw["entry"]
                 if e["resource"]["resourceType"] == "Observation" and e["resource"].get("derivedFrom"))
    assert score["code"]["coding"][0]["code"] == "44261-6" and score["valueQuantity"]["code"] == "{score}"
    qr = next(e for e in raw["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    assert score["derivedFrom"][0]["reference"] == qr["request"]["url"]


def test_viewer_may_only_export_encrypted(codes, tmp_path):
    new_pass = tmp_path / "vic.pass"
    new_pass.write_text("viewer passphrase\n")
    assert invoke("user", "add", "vic", "--role", "viewer", "--new-passphrase-file", str(new_pass)).exit_code == 0
    env = {"TELECBT_PASSPHRASE": "viewer passphrase", "TELECBT_USER": "vic"}
    refused = invoke("export", "csv", "--out", str(tmp_path / "v"), "--plaintext", env=env)
    assert refused.exit_code == 5 and "encrypted" in refused.stderr
    assert not any((tmp_path / "v").glob("*.csv"))
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    allowed = invoke("export", "ndjson", "--out", str(tmp_path / "v2"), "--encrypt-to", recipient, env=env)
    assert allowed.exit_code == 0, allowed.stderr


def test_export_is_in_the_audit_log(codes, tmp_path):
    assert invoke("export", "fhir", "--out", str(tmp_path / "f"), "--plaintext", "--patient", codes[0]).exit_code == 0
    log = json.loads(invoke("audit", "log", "--json").stdout)
    entry = next(e for e in log if e["action"] == "export.fhir")
    assert entry["user"] == "alice" and entry["detail"]["patients"] == 1


def test_fhir_post_sends_to_a_server_as_a_real_process(codes, tmp_path, medplum):
    """Issue 18: `export fhir --post URL` with a token file, against Medplum on loopback."""
    from tests.conftest import run_telecbt

    medplum.control(reset=True, token="cli-token-991")
    token = tmp_path / "token.txt"
    token.write_text("cli-token-991\n")
    try:
        sent = run_telecbt("export", "fhir", "--post", medplum.base, "--token-file", str(token), "--json")
        assert sent.returncode == 0, sent.stderr
        summary = json.loads(sent.stdout)
        assert summary["patients"] == 2 and summary["refused"] == 0 and summary["accepted"] > 10
        assert "cli-token-991" not in sent.stdout + sent.stderr
        wrong = tmp_path / "wrong.txt"
        wrong.write_text("nope\n")
        refused = run_telecbt("export", "fhir", "--post", medplum.base, "--token-file", str(wrong))
        assert refused.returncode == 3 and "401" in refused.stderr
        asked = run_telecbt("export", "fhir", "--post", medplum.base, "--ask-token")
        assert asked.returncode == 3 and "--token-file" in asked.stderr
    finally:
        medplum.control(reset=True)


def test_fhir_post_and_out_are_exclusive(codes, tmp_path):
    both = invoke("export", "fhir", "--post", "https://fhir.example.org/r4", "--out", str(tmp_path / "o"))
    assert both.exit_code == 2 and "--post sends to a server" in both.stderr
    neither = invoke("export", "fhir", "--plaintext")
    assert neither.exit_code == 2 and "--out DIR" in neither.stderr
    plain = invoke("export", "fhir", "--post", "http://fhir.example.org/r4")
    assert plain.exit_code == 2 and "https" in plain.stderr
