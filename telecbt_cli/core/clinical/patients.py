"""The patient registry and consent: who is enrolled, and whether we may record their data."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import date, tzinfo

from telecbt_cli.core.clinical.alerts import open_count
from telecbt_cli.core.clinical.flags import active_flags
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import Codes, ConsentRequired, NotFoundError, Term, UsageError
from telecbt_cli.core.store.ids import new_patient_code, parse_patient_code
from telecbt_cli.core.store.textsafe import fold
from telecbt_cli.core.store.timeparse import zone_key
from telecbt_cli.core.store.zones import check_zone, device_zone, device_zone_name, load

SEXES = ("female", "male", "other", "unknown")
CONSENT_METHODS = ("verbal", "written", "kiosk")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TEXT_LIMIT = 2000


@dataclass
class PatientFields:
    """Registry fields a user may set; None means 'not given'."""

    display_name: str | None = None
    birth_year: int | None = None
    sex: str | None = None
    language: str | None = None
    phone: str | None = None
    email: str | None = None
    caregiver_name: str | None = None
    caregiver_contact: str | None = None
    notes: str | None = None
    timezone: str | None = None

    def given(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _clean(values: dict) -> dict:
    """Validate registry values; text is kept exactly as typed (rendered inert by UIs)."""
    out = dict(values)
    for key, value in values.items():
        if isinstance(value, str) and len(value) > _TEXT_LIMIT:
            raise UsageError("{field} is longer than {most} characters", key="errors.patient_fields.too_long",
                             field=Term(f"cli.patient.field_{key}", key.replace("_", " ")), most=_TEXT_LIMIT)
    if "display_name" in out and not str(out["display_name"]).strip():
        raise UsageError("a patient needs a name or alias", key="errors.patient_fields.name_needed")
    if out.get("birth_year") is not None:
        year = int(out["birth_year"])
        if not 1900 <= year <= date.today().year:
            raise UsageError("year of birth must be between 1900 and {year}", key="errors.patient_fields.birth_year_range",
                             year=date.today().year)
    if out.get("sex") is not None and out["sex"] not in SEXES:
        raise UsageError("sex must be one of {sexes}", key="errors.patient_fields.sex", sexes=Codes("sex", SEXES))
    if out.get("language") is not None:
        out["language"] = str(out["language"]).strip()
        if not _LANGUAGE.match(out["language"]):
            raise UsageError("language is a code such as en, es or pt-BR", key="errors.patient_fields.language")
    if out.get("email") and "@" not in out["email"]:
        raise UsageError("that email address has no @", key="errors.patient_fields.email")
    if out.get("timezone") is not None:
        out["timezone"] = check_zone(str(out["timezone"]))
    for key in ("phone", "email", "caregiver_name", "caregiver_contact", "notes"):
        if out.get(key) == "":
            out[key] = None
    return out


def check_field(name: str, typed: str) -> object:
    """One registry field as typed at a prompt, checked on its own so a form can ask again for it."""
    if name not in {f.name for f in fields(PatientFields)}:
        raise UsageError("unknown patient field {name!r}", key="errors.patients.unknown_field", name=name)
    value: object = typed
    if name == "birth_year":
        try:
            value = int(typed.strip())
        except ValueError:
            raise UsageError("year of birth must be a number such as 1968", key="errors.patient_fields.birth_year_number") from None
    return _clean({name: value})[name]


def _resolve(access: Access, code: str) -> dict:
    canonical = parse_patient_code(code)
    if canonical is None:
        raise UsageError(
            "{code!r} is not a valid patient code: check each character "
            "(codes look like 7K3M-9Q4M and the last character is a check)", key="errors.patient.bad_code", code=code
        )
    row = access.store.one("SELECT * FROM patients WHERE code = ? AND deleted = 0", (canonical,))
    if row is None:
        raise NotFoundError("no patient with code {code}", key="errors.patient.not_found", code=canonical)
    return row


def _public(row: dict) -> dict:
    keep = ["id", "code", *[f.name for f in fields(PatientFields)], "status", "created_at", "updated_at"]
    return {k: row[k] for k in keep}


def add_patient(access: Access, values: PatientFields) -> dict:
    access.require("write")
    data = _clean(values.given())
    if not data.get("display_name"):
        raise UsageError("a patient needs a name or alias", key="errors.patient_fields.name_needed")
    data.setdefault("language", "en")
    store = access.store
    data.setdefault("timezone", device_zone_name(store))  # the enrolling device's, until edited
    code = new_patient_code()
    while store.conn.execute("SELECT 1 FROM patients WHERE code = ?", (code,)).fetchone():
        code = new_patient_code()
    with store.write():
        row = records.insert(store, "patients", {"code": code, **data, "status": "active"})
        audit.append(store, access.user, "patient.add", patient_id=row["id"])
    return _public(row)


def search_clause(search: str, table: str = "") -> tuple[str, list]:
    """SQL matching a patient by part of name, code, phone or email, or exact code, as people type:
    case and accents do not matter on either side (`fold`, a function of every store connection).

    `table` is the alias the patients table has in the query (e.g. "p.")."""
    typed = search.strip()
    term = fold(typed)
    t = table
    return (f"(instr(fold({t}display_name), ?) > 0 OR instr(lower({t}code), ?) > 0 OR instr({t}phone, ?) > 0"
            f" OR instr(fold({t}email), ?) > 0 OR {t}code = ?)", [term, typed.lower(), typed, term,
                                                                  parse_patient_code(search) or ""])


def list_patients(access: Access, search: str | None = None, include_archived: bool = False) -> list[dict]:
    """Patients by name; `search` matches name, code, phone or email (case-insensitive)."""
    access.require("read")
    sql = "SELECT * FROM patients WHERE deleted = 0"
    params: list = []
    if not include_archived:
        sql += " AND status = 'active'"
    if search:
        clause, values = search_clause(search)
        sql += f" AND {clause}"
        params += values
    sql += " ORDER BY display_name COLLATE NOCASE, code"
    result = [_public(row) for row in access.store.rows(sql, params)]
    audit.append(access.store, access.user, "patient.list", detail={"count": len(result)})
    return result


def get_patient(access: Access, code: str) -> dict:
    """One patient with their consent state; the read is audited."""
    access.require("read")
    row = _resolve(access, code)
    patient = _public(row)
    patient["consent"] = _consent_state(access, row["id"])
    patient["open_safety_alerts"] = open_count(access, row["id"])
    patient["flags"] = active_flags(access, row["id"])
    audit.append(access.store, access.user, "patient.read", patient_id=row["id"])
    return patient


def edit_patient(access: Access, code: str, values: PatientFields, clear: list[str] | None = None) -> dict:
    access.require("write")
    row = _resolve(access, code)
    changes = _clean(values.given())
    for name in clear or []:
        if name == "display_name":
            raise UsageError("the name cannot be cleared", key="errors.patient_fields.name_not_cleared")
        if name == "timezone":
            raise UsageError("a patient's time zone cannot be cleared: set another with --timezone",
                             key="errors.patient_fields.zone_not_cleared")
        if name not in {f.name for f in fields(PatientFields)}:
            raise UsageError("unknown field {name!r}", key="errors.patient_fields.unknown", name=name)
        changes[name] = None
    if not changes:
        raise UsageError("nothing to change: give at least one field", key="errors.patient_fields.nothing")
    store = access.store
    with store.write():
        updated = records.update(store, "patients", row["id"], changes)
        audit.append(store, access.user, "patient.edit", patient_id=row["id"],
                     detail={"fields": sorted(changes)})
    return _public(updated)


def archive_patient(access: Access, code: str) -> dict:
    """Move out of the active list; nothing is deleted."""
    access.require("write")
    row = _resolve(access, code)
    if row["status"] == "archived":
        return _public(row)
    store = access.store
    with store.write():
        updated = records.update(store, "patients", row["id"], {"status": "archived"})
        audit.append(store, access.user, "patient.archive", patient_id=row["id"])
    return _public(updated)


def _consent_rows(access: Access, patient_id: str) -> list[dict]:
    return access.store.rows(
        "SELECT action, method, version, witness, recorded_by, recorded_at FROM consents "
        "WHERE patient_id = ? AND deleted = 0 ORDER BY recorded_at, hlc", (patient_id,))


def _consent_state(access: Access, patient_id: str) -> dict:
    history = _consent_rows(access, patient_id)
    latest = history[-1] if history else None
    active = bool(latest and latest["action"] == "given")
    return {"active": active, "current": latest if active else None, "history": history}


def record_consent(access: Access, code: str, method: str, version: str, witness: str | None = None) -> dict:
    access.require("write")
    if method not in CONSENT_METHODS:
        raise UsageError("consent method must be one of {methods}", key="errors.consent.method",
                         methods=Codes("consent", CONSENT_METHODS))
    if not version.strip():
        raise UsageError("give the version of the consent form (--version)", key="errors.consent.version")
    row = _resolve(access, code)
    store = access.store
    with store.write():
        records.insert(store, "consents", {
            "patient_id": row["id"], "action": "given", "method": method, "version": version.strip(),
            "witness": witness or None, "recorded_by": access.user, "recorded_at": now_iso(),
        })
        audit.append(store, access.user, "consent.given", patient_id=row["id"],
                     detail={"method": method, "version": version.strip()})
    return _consent_state(access, row["id"])


def withdraw_consent(access: Access, code: str) -> dict:
    access.require("write")
    row = _resolve(access, code)
    if not _consent_state(access, row["id"])["active"]:
        raise UsageError("{code} has no active consent to withdraw", key="errors.consent.none_to_withdraw", code=row["code"])
    store = access.store
    with store.write():
        records.insert(store, "consents", {
            "patient_id": row["id"], "action": "withdrawn", "method": None, "version": None,
            "witness": None, "recorded_by": access.user, "recorded_at": now_iso(),
        })
        audit.append(store, access.user, "consent.withdrawn", patient_id=row["id"])
    return _consent_state(access, row["id"])


def require_active_consent(access: Access, patient_id: str) -> None:
    """Every clinical write calls this first (diary, measures, sessions, ...)."""
    if not _consent_state(access, patient_id)["active"]:
        code = access.store.conn.execute("SELECT code FROM patients WHERE id = ?", (patient_id,)).fetchone()
        if code is None:
            raise ConsentRequired("this patient has no active consent, so no clinical data can be recorded",
                                  key="errors.patient.no_consent_unknown")
        raise ConsentRequired(
            "{code} has no active consent, so no clinical data can be recorded. "
            "Record consent first: telecbt patient consent {code} --method verbal --version V",
            key="errors.patient.no_consent", code=code[0])


def patient_id_for(access: Access, code: str) -> str:
    return _resolve(access, code)["id"]


def patient_language(access: Access, code: str) -> str:
    return _resolve(access, code)["language"]


def check_stored(row: dict) -> None:
    """A stored registry row (as a bundle carries it) against the rules of `add_patient`."""
    registry = {f.name: row.get(f.name) for f in fields(PatientFields)}
    if not isinstance(registry["display_name"], str) or not registry["display_name"].strip():
        raise UsageError("a patient needs a name or alias", key="errors.patient_fields.name_needed")
    if registry["birth_year"] is not None and (isinstance(registry["birth_year"], bool)
                                               or not isinstance(registry["birth_year"], int)):
        raise UsageError("year of birth must be a whole number", key="errors.patients.birth_year_whole")
    if not isinstance(registry["language"], str):
        raise UsageError("language is a code such as en, es or pt-BR", key="errors.patients.language_code")
    _clean(registry)
    if parse_patient_code(str(row.get("code"))) != row.get("code"):
        raise UsageError("the patient code is not a valid code", key="errors.patients.stored_code")
    if row.get("status") not in ("active", "archived"):
        raise UsageError("status must be {active} or {archived}", key="errors.stored_codes.patient_status",
                         active=Codes("patient", ("active",)), archived=Codes("patient", ("archived",)))


def check_stored_consent(row: dict) -> None:
    """A stored consent event against the rules of `record_consent` and `withdraw_consent`."""
    if row.get("action") == "given":
        if row.get("method") not in CONSENT_METHODS:
            raise UsageError("consent method must be one of {methods}", key="errors.consent.method",
                             methods=Codes("consent", CONSENT_METHODS))
        if not isinstance(row.get("version"), str) or not row["version"].strip():
            raise UsageError("a consent needs the version of its form", key="errors.patients.consent_version")
    elif row.get("action") != "withdrawn":
        raise UsageError("a consent event is given or withdrawn", key="errors.patients.consent_action")
    for key in ("version", "witness"):
        if isinstance(row.get(key), str) and len(row[key]) > _TEXT_LIMIT:
            raise UsageError("{field} is longer than {limit} characters", key="errors.patients.too_long",
                             field=Term(f"errors.patients.field_{key}", key), limit=_TEXT_LIMIT)

def zone_of(access: Access, patient_id: str) -> tzinfo:
    """The patient's time zone: theirs, or (for patients enrolled before zones were kept, or a zone
    this machine does not know) this device's."""
    row = access.store.conn.execute("SELECT timezone FROM patients WHERE id = ?", (patient_id,)).fetchone()
    return (load(row[0]) if row else None) or device_zone(access.store)


def zone_name_of(access: Access, patient_id: str) -> str:
    """The IANA name of `zone_of`."""
    return zone_key(zone_of(access, patient_id))
