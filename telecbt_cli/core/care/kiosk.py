"""The kiosk service: everything the kiosk screens read or write, for one signed-in patient.

The kiosk runs under a staff `Access` opened before staff walk away. After a patient signs
in with code and PIN, the UI holds only a `KioskPatient`, and every function here takes
that object and works on that patient alone: no kiosk code path names another patient.
Writes go through the same core services as staff use (diary, messages, step engine), so
consent checks, the change log and the audit log apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone, tzinfo
from pathlib import Path

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.care import diary, pins
from telecbt_cli.core.care import messages as messages_mod
from telecbt_cli.core.clinical import engine, measures
from telecbt_cli.core.clinical.patients import zone_of
from telecbt_cli.core.clinical.scoring import band_label, round_half_up
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import NotFoundError, UsageError
from telecbt_cli.core.store.localtime import day_bounds, local_day
from telecbt_cli.core.store.localtime import today as local_today

#: Practice modules offered at the kiosk, in the order shown.
EXERCISES = ("practice-breathing", "practice-thought-record")
#: The course whose questionnaire schedule applies when a patient has no plan (or a custom one).
DEFAULT_COURSE = "standard"


@dataclass
class KioskPatient:
    """The signed-in patient; the only handle the kiosk UI keeps."""

    access: Access
    patient_id: str
    code: str
    name: str
    language: str
    zone: tzinfo = timezone.utc  # the patient's: their days, and every time the kiosk shows them


def _today(today: date | None, zone: tzinfo) -> date:
    return today or local_today(zone)


def sign_in(access: Access, code: str, pin: str) -> KioskPatient:
    """Check the code and PIN (PinRefused / PinLocked) and load the patient."""
    patient_id = pins.check_pin(access, code, pin)
    row = access.store.conn.execute(
        "SELECT code, display_name, language FROM patients WHERE id = ?", (patient_id,)).fetchone()
    return KioskPatient(access, patient_id, row[0], row[1], row[2], zone_of(access, patient_id))


def save_pain(kp: KioskPatient, pain: int, note: str | None = None) -> dict:
    """One diary entry with source 'kiosk' (the diary requires its pain rating, 0 to 10)."""
    if isinstance(pain, bool) or not isinstance(pain, int):  # the screen hands over the button's number
        raise UsageError("choose how much pain you have now, from 0 to 10", key="errors.kiosk_care.pain_choice")
    return diary.add_entry(kp.access, kp.code, {"pain": pain, "note": note}, source="kiosk")


def schedule(kp: KioskPatient, catalog: Catalog) -> dict[str, int]:
    """Questionnaire id -> every how many days, from the patient's course (else the standard course).

    A course without a `measures` table, a custom plan and a course missing from the
    content all fall back to the standard course's schedule.
    """
    row = kp.access.store.conn.execute(
        "SELECT course FROM plans WHERE patient_id = ? AND deleted = 0", (kp.patient_id,)).fetchone()
    courses = catalog.entries.get("course", {})
    course = courses.get(row[0]) if row else None
    if course is None or course.get("measures") is None:
        course = courses.get(DEFAULT_COURSE) or {}
    return dict(course.get("measures") or {})


def _runnable(catalog: Catalog, ident: str) -> dict | None:
    """The instrument if its item text ships (licensed stubs have none), else None."""
    instrument = catalog.entries.get("instrument", {}).get(ident)
    return instrument if instrument and engine.has_text(instrument) else None


def due_questionnaires(kp: KioskPatient, catalog: Catalog, lang: str, today: date | None = None) -> list[dict]:
    """Scheduled questionnaires never done, or last done `every_days` or more days ago."""
    day = _today(today, kp.zone)
    last: dict[str, str] = {}
    for row in measures.history(kp.access, catalog, kp.code):
        done_on = local_day(row["completed_at"], kp.zone).isoformat()
        last[row["instrument_id"]] = max(last.get(row["instrument_id"], ""), done_on)
    due = []
    for ident, every in schedule(kp, catalog).items():
        instrument = _runnable(catalog, ident)
        if instrument is None:
            continue
        done = last.get(ident)
        if done is None or (day - date.fromisoformat(done)).days >= every:
            due.append({"id": ident, "title": pick(instrument.get("title"), lang), "last": done,
                        "every_days": every})
    return due


def progress(kp: KioskPatient, catalog: Catalog, lang: str, days: int = 28, today: date | None = None) -> dict:
    """Daily mean pain for the last `days` days (None on days without an entry), the mean of those daily
    means for each 7-day stretch (`weeks`), and every questionnaire's scores.

    Days are the patient's calendar days, in their time zone, as in the patient report.
    Corrected entries count once, in their newest version.
    """
    if not 1 <= days <= 366:
        raise UsageError("show from 1 to 366 days of progress", key="errors.kiosk_care.days")
    day = _today(today, kp.zone)
    first = day - timedelta(days=days - 1)
    by_day: dict[str, list[int]] = {}
    for entry in diary.list_entries(kp.access, kp.code, since=day_bounds(first, day, kp.zone)[0]):
        if entry["pain"] is not None:
            by_day.setdefault(local_day(entry["entry_at"], kp.zone).isoformat(), []).append(entry["pain"])
    pain = []
    for n in range(days):
        iso = (first + timedelta(days=n)).isoformat()
        values = by_day.get(iso)
        pain.append({"date": iso, "value": round_half_up(sum(values) / len(values), 1) if values else None})
    order = list(schedule(kp, catalog))
    scores: dict[str, dict] = {}
    for row in measures.history(kp.access, catalog, kp.code):
        ident = row["instrument_id"]
        instrument = catalog.entries.get("instrument", {}).get(ident)
        entry = scores.setdefault(ident, {"instrument": ident, "title": pick((instrument or {}).get("title"), lang)
                                          or ident, "points": [], "latest_band": None})
        entry["points"].append({"date": local_day(row["completed_at"], kp.zone).isoformat(), "total": row["total"]})
        entry["latest_band"] = band_label(instrument, row["band"], lang)
    ranked = sorted(scores.values(), key=lambda s: (order.index(s["instrument"]) if s["instrument"] in order
                                                     else len(order), s["instrument"]))
    weeks = []
    for start in range(0, days, 7):  # oldest first; the last week may be shorter
        values = [d["value"] for d in pain[start:start + 7] if d["value"] is not None]
        weeks.append({"from": pain[start]["date"], "to": pain[min(start + 6, days - 1)]["date"],
                      "value": round_half_up(sum(values) / len(values), 1) if values else None})
    return {"pain": pain, "weeks": weeks, "scores": ranked}


def messages(kp: KioskPatient) -> list[dict]:
    """The conversation, oldest first; care-team messages are marked read by the patient.

    The patient's own messages are left unread: they are unread until the care team reads them.
    """
    rows = messages_mod.list_messages(kp.access, kp.code, mark_read=False)
    unread = [r["id"] for r in rows if r["direction"] == "to_patient" and r["read_at"] is None]
    if unread and kp.access.can("write"):
        store = kp.access.store
        with store.write():
            for ident in unread:
                records.update(store, "messages", ident, {"read_at": now_iso()})
    return [{"at": r["sent_at"], "from_patient": r["direction"] == "from_patient", "text": r["body"]} for r in rows]


def send_message(kp: KioskPatient, text: str) -> dict:
    """A message from the patient to the care team."""
    row = messages_mod.send(kp.access, kp.code, text, from_patient=True)
    return {"at": row["sent_at"], "from_patient": True, "text": row["body"]}


def exercises(catalog: Catalog) -> list[str]:
    """The practice modules the kiosk offers: the built-in ones in a fixed order, then a clinic's own."""
    modules = catalog.entries.get("module", {})
    clinic = sorted(ident for ident, module in modules.items()
                    if module.get("phase") == "practice" and ident not in EXERCISES)
    return [ident for ident in EXERCISES if ident in modules] + clinic


def start_run(kp: KioskPatient, catalog: Catalog, kind: str, ident: str, lang: str) -> tuple[dict, engine.Run, bool]:
    """(content, run, resumed) for a kiosk exercise or a shipped questionnaire, for this patient only.

    Drive the run with engine.answer / engine.save / engine.complete and `kp.access`; only
    the practice modules and questionnaires with shipped text can be started here.
    """
    if kind == "module" and ident in exercises(catalog):
        content = catalog.get("module", ident)
    elif kind == "instrument" and _runnable(catalog, ident) is not None:
        content = catalog.get("instrument", ident)
    else:
        raise NotFoundError("{ident} is not offered at the kiosk", key="errors.kiosk_care.not_offered", ident=ident)
    run, resumed = engine.start(kp.access, kp.code, content, lang)
    return content, run, resumed


def end_kiosk(store_dir: Path, user: str | None, passphrase: str) -> str:
    """Check the passphrase of staff leaving kiosk mode; returns their user name.

    Only admins and clinicians may end it (PermissionDenied otherwise, audited): a CHW's
    or a viewer's passphrase, perhaps watched over a shoulder, must not open the
    terminal to a patient. Wrong passphrases are refused (and slowed) as at any sign-in.
    """
    from telecbt_cli.core.store.unlock import unlock

    access = unlock(store_dir, user, passphrase)
    try:
        if not access.can("end_kiosk"):
            audit.append(access.store, access.user, "kiosk.end_refused", detail={"role": access.role})
        access.require("end_kiosk")
        audit.append(access.store, access.user, "kiosk.end")
        return access.user
    finally:
        access.close()
