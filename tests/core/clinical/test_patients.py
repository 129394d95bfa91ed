"""The patient registry, consent, and what each role may do."""

from __future__ import annotations

import pytest

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store import users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    ConsentRequired,
    NotFoundError,
    PermissionDenied,
    StoreExistsError,
    UsageError,
)
from telecbt_cli.core.store.ids import parse_patient_code
from telecbt_cli.core.store.unlock import unlock

NASTY = "[/] [bold]x[/bold] [link=http://evil.example]click[/link] \x1b]52;c;aGVsbG8=\x07 \x1b[2J \u202eabc"


def test_add_gives_a_checked_code_and_keeps_text_as_typed(admin):
    p = patients.add_patient(admin, PatientFields(display_name=NASTY, birth_year=1971, sex="female",
                                                  language="es", caregiver_name="Rosa", notes=NASTY))
    assert parse_patient_code(p["code"]) == p["code"]
    shown = patients.get_patient(admin, p["code"].lower().replace("-", ""))
    assert shown["display_name"] == NASTY and shown["notes"] == NASTY
    assert shown["language"] == "es" and shown["caregiver_name"] == "Rosa"


def test_list_search_and_archive(admin):
    a = patients.add_patient(admin, PatientFields(display_name="Ana Mwangi", phone="0711"))
    patients.add_patient(admin, PatientFields(display_name="Luis Torres"))
    assert [p["display_name"] for p in patients.list_patients(admin)] == ["Ana Mwangi", "Luis Torres"]
    assert [p["code"] for p in patients.list_patients(admin, "mwan")] == [a["code"]]
    assert [p["code"] for p in patients.list_patients(admin, a["code"])] == [a["code"]]
    patients.archive_patient(admin, a["code"])
    assert [p["display_name"] for p in patients.list_patients(admin)] == ["Luis Torres"]
    assert len(patients.list_patients(admin, include_archived=True)) == 2
    assert patients.get_patient(admin, a["code"])["status"] == "archived"


def test_edit_and_clear_fields(admin):
    p = patients.add_patient(admin, PatientFields(display_name="Ana", phone="0711", email="a@example.org"))
    patients.edit_patient(admin, p["code"], PatientFields(phone="0722"), clear=["email"])
    shown = patients.get_patient(admin, p["code"])
    assert shown["phone"] == "0722" and shown["email"] is None
    with pytest.raises(UsageError, match="nothing to change"):
        patients.edit_patient(admin, p["code"], PatientFields())


@pytest.mark.parametrize("fields,message", [
    (PatientFields(display_name="  "), "name"),
    (PatientFields(display_name="A", birth_year=1850), "year of birth"),
    (PatientFields(display_name="A", sex="robot"), "sex"),
    (PatientFields(display_name="A", language="Spanish!"), "language"),
    (PatientFields(display_name="A", email="nope"), "@"),
    (PatientFields(display_name="A" * 3000), "longer than"),
])
def test_bad_registry_values_are_refused(admin, fields, message):
    with pytest.raises(UsageError, match=message):
        patients.add_patient(admin, fields)
    assert patients.list_patients(admin) == []


def test_typo_in_code_vs_unknown_code(admin):
    p = patients.add_patient(admin, PatientFields(display_name="Ana"))
    raw = p["code"].replace("-", "")
    typo = raw[:2] + ("Z" if raw[2] != "Z" else "Y") + raw[3:]
    with pytest.raises(UsageError, match="not a valid patient code"):
        patients.get_patient(admin, typo)
    from telecbt_cli.core.store.ids import new_patient_code

    other = new_patient_code()
    with pytest.raises(NotFoundError):
        patients.get_patient(admin, other)


def test_consent_history_and_the_clinical_gate(admin):
    p = patients.add_patient(admin, PatientFields(display_name="Ana"))
    with pytest.raises(ConsentRequired, match="no active consent"):
        patients.require_active_consent(admin, p["id"])
    patients.record_consent(admin, p["code"], "verbal", "v1", witness="Nurse Joy")
    patients.require_active_consent(admin, p["id"])
    state = patients.withdraw_consent(admin, p["code"])
    assert state["active"] is False
    with pytest.raises(ConsentRequired):
        patients.require_active_consent(admin, p["id"])
    state = patients.record_consent(admin, p["code"], "written", "v2")
    assert [h["action"] for h in state["history"]] == ["given", "withdrawn", "given"]
    assert state["history"][0]["witness"] == "Nurse Joy"
    assert state["current"]["version"] == "v2"


def test_consent_needs_a_known_method(admin):
    p = patients.add_patient(admin, PatientFields(display_name="Ana"))
    with pytest.raises(UsageError, match="method"):
        patients.record_consent(admin, p["code"], "telepathy", "v1")
    with pytest.raises(UsageError, match="no active consent"):
        patients.withdraw_consent(admin, p["code"])


def _as(store_dir, admin, name, role):
    users.add_user(admin, name, role, f"{name} passphrase", KdfParams(10))
    return unlock(store_dir, name, f"{name} passphrase")


def test_viewer_reads_but_cannot_write(admin, store_dir):
    p = patients.add_patient(admin, PatientFields(display_name="Ana"))
    viewer = _as(store_dir, admin, "vic", "viewer")
    try:
        assert patients.get_patient(viewer, p["code"])["display_name"] == "Ana"
        with pytest.raises(PermissionDenied):
            patients.add_patient(viewer, PatientFields(display_name="B"))
        with pytest.raises(PermissionDenied):
            patients.record_consent(viewer, p["code"], "verbal", "v1")
        with pytest.raises(PermissionDenied):
            patients.edit_patient(viewer, p["code"], PatientFields(phone="1"))
    finally:
        viewer.close()


def test_only_admin_manages_users(admin, store_dir):
    chw = _as(store_dir, admin, "cathy", "chw")
    try:
        patients.add_patient(chw, PatientFields(display_name="By a CHW"))
        with pytest.raises(PermissionDenied):
            users.add_user(chw, "eve", "admin", "eve passphrase", KdfParams(10))
        with pytest.raises(PermissionDenied):
            users.set_user_passphrase(chw, "alice", "taken over!!", KdfParams(10))
        users.set_user_passphrase(chw, "cathy", "cathy new passphrase", KdfParams(10), current="cathy passphrase")
    finally:
        chw.close()


def test_user_rules(admin, store_dir):
    users.add_user(admin, "zed", "admin", "zed passphrase", KdfParams(10))
    disabled = users.disable_user(admin, "zed")
    assert disabled.disabled and not disabled.can_unlock
    with pytest.raises(Exception, match="user name cannot unlock"):
        unlock(store_dir, "zed", "zed passphrase")
    with pytest.raises(StoreExistsError):
        users.add_user(admin, "zed", "chw", "zed passphrase", KdfParams(10))
    with pytest.raises(UsageError, match="role"):
        users.add_user(admin, "yan", "superuser", "yan passphrase", KdfParams(10))
    with pytest.raises(UsageError, match="yourself"):
        users.disable_user(admin, "alice")
