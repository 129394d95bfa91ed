"""Searching as people type (issue 16, point 6): case and accents do not matter, on both sides."""

from __future__ import annotations

from telecbt_cli.core.care import caseload
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, list_patients
from telecbt_cli.core.store.textsafe import fold


def test_fold_drops_case_accents_and_compatibility_forms():
    assert fold("José") == fold("JOSE") == fold("jose\u0301") == "jose"
    assert fold("López") == "lopez" and fold("Straße") == "strasse" and fold("ﬁona") == "fiona"
    assert fold(None) is None


def test_patient_search_folds_both_sides(admin):
    for name in ("José Núñez", "Ana López", "Fiona Ångström"):
        add_patient(admin, PatientFields(display_name=name, email=f"{name.split()[0].lower()}@example.org"))

    def found(search: str) -> list[str]:
        return [p["display_name"] for p in list_patients(admin, search)]

    assert found("jose") == ["José Núñez"] and found("NUNEZ") == ["José Núñez"]
    assert found("lopez") == ["Ana López"] and found("lópez") == ["Ana López"] and found("LÓPEZ") == ["Ana López"]
    assert found("angstrom") == ["Fiona Ångström"] and found("josé@") == ["José Núñez"]
    assert found("nobody") == []
    stored = [p["display_name"] for p in list_patients(admin)]
    assert "José Núñez" in stored, "names are kept exactly as typed"
    assert [r["display_name"] for r in caseload.page(admin, "jose")] == ["José Núñez"]
    assert caseload.count(admin, "lopez") == 1
