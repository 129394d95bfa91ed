"""Check-ins: scheduling sessions, recording what happened (with fidelity), reminders, iCalendar."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from telecbt_cli.content.catalog import Catalog, pick, zone_place
from telecbt_cli.core.care.plans import assign_homework, find_record
from telecbt_cli.core.clinical.patients import patient_id_for, require_active_consent, zone_of
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import Codes, NotFoundError, Term, UsageError
from telecbt_cli.core.store.textsafe import UNSAFE_CLASS
from telecbt_cli.core.store.localtime import day_bounds, in_zone, local_day, to_utc, today
from telecbt_cli.core.store.timeparse import iso_utc, parse_local, zone_key
from telecbt_cli.core.store.zones import check_zone, device_zone, load

MODES = ("video", "phone", "in-person", "kiosk")
OUTCOMES = ("attended", "no_show", "cancelled")
REMINDER_HOURS = 24
#: What a link never holds: spaces, line breaks, control, bidi and invisible characters.
_NOT_IN_LINK = re.compile(f"[\\s{UNSAFE_CLASS}]")
#: What iCalendar text must not carry (RFC 5545 allows no control characters but tab): stripped.
_NOT_IN_ICAL = re.compile(f"[{UNSAFE_CLASS}]")


def _status(status: str) -> Term:
    """A session's status inside an error message: "no-show" in English, translated by each UI."""
    return Term(f"values.session.{status}", status.replace("_", "-"))


def parse_future(text: str, now: datetime | None = None, zone: tzinfo | None = None) -> str:
    """A typed date/time, local to `zone` unless it has an offset, as ISO UTC; refuses the past."""
    moment = parse_local(text, zone)
    if moment < (now or datetime.now(timezone.utc)):
        raise UsageError("{text} is in the past: a session is scheduled for a time to come",
                         key="errors.session.in_the_past", text=text)
    return iso_utc(moment)


def default_session_time(zone: tzinfo, now: datetime | None = None) -> str:
    """What a new session's time starts as, typed as staff type it: tomorrow at 10:00 in `zone`
    (the device's). "Tomorrow" is the zone's next day, which near midnight is not UTC's."""
    return f"{today(zone, now) + timedelta(days=1):%Y-%m-%d} 10:00"


def booking_zone(access: Access, patient_id: str, tz: str | None) -> tzinfo:
    """The zone a typed session time is in: this device's (None), the patient's ('patient'), or a named one."""
    if tz is None:
        return device_zone(access.store)
    if tz.strip().lower() == "patient":
        return zone_of(access, patient_id)
    return ZoneInfo(check_zone(tz))


def weekly_times(first: str, weeks: int, zone: tzinfo) -> list[str]:
    """`weeks` sessions a week apart at the same local hour in `zone` as the first (ISO UTC), so a
    daylight-saving change moves the UTC time, not the hour on the clock. A week that lands on a
    time the clocks skip or repeat there is refused, naming its date."""
    if not 1 <= weeks <= 52:
        raise UsageError("--weeks is from 1 to 52", key="errors.appointments.weeks")
    local = in_zone(first, zone).replace(tzinfo=None)
    times = [first]
    for week in range(1, weeks):
        naive = local + timedelta(weeks=week)
        try:
            times.append(iso_utc(to_utc(naive, zone, zone_key(zone))))
        except UsageError as problem:
            raise UsageError("week {week} of the series: {problem}", key="errors.appointments.week_of_series",
                             week=week + 1, problem=problem) from None
    return times


def _check_link(link: str | None) -> str | None:
    if not link:
        return None
    parsed = urlparse(link.strip())
    if (parsed.scheme not in ("https", "http", "tel", "sip") or not (parsed.netloc or parsed.path)
            or _NOT_IN_LINK.search(link.strip())):
        raise UsageError("--link must be a call link such as https://meet.example.org/abc or tel:+254700000000 "
                         "(no spaces or line breaks)", key="errors.session.bad_link")
    return link.strip()


def check_stored(row: dict) -> None:
    """A stored session (as a bundle carries it) against the rules of `schedule` and `record`."""
    if row.get("mode") not in MODES:
        raise UsageError("mode must be one of {modes}", key="errors.stored_codes.mode", modes=Codes("mode", MODES))
    if row.get("status") not in ("scheduled", *OUTCOMES):
        raise UsageError("status must be {scheduled} or one of {outcomes}", key="errors.stored_codes.status",
                         scheduled=Codes("session", ("scheduled",)), outcomes=Codes("session", OUTCOMES))
    feedback = row.get("feedback")
    if feedback is not None and (isinstance(feedback, bool) or not isinstance(feedback, int) or not 1 <= feedback <= 5):
        raise UsageError("feedback is a rating from 1 to 5", key="errors.appointments.feedback")
    if row.get("link") is not None and (not isinstance(row["link"], str) or _check_link(row["link"]) != row["link"]):
        raise UsageError("the link is not a call link", key="errors.appointments.link")


def schedule(access: Access, catalog: Catalog, code: str, at: str, mode: str, module_id: str | None = None,
             clinician: str | None = None, link: str | None = None, minutes: int | None = None,
             tz: str | None = None) -> dict:
    """Book a session and queue its reminder in the email outbox (`schedule_series` for one)."""
    return schedule_series(access, catalog, code, at, mode, module_id, clinician, link, minutes, tz)[0]


def schedule_series(access: Access, catalog: Catalog, code: str, at: str, mode: str, module_id: str | None = None,
                    clinician: str | None = None, link: str | None = None, minutes: int | None = None,
                    tz: str | None = None, weeks: int = 1) -> list[dict]:
    """Book `weeks` weekly sessions from `at` (typed in `tz`: see booking_zone) at the same local
    hour, each with its reminder in the email outbox; all are booked or none."""
    access.require("write")
    if mode not in MODES:
        raise UsageError("--mode must be one of {modes}", key="errors.booking.mode", modes=Codes("mode", MODES))
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    zone = booking_zone(access, patient_id, tz)
    times = weekly_times(parse_future(at, zone=zone), weeks, zone)
    module = catalog.get("module", module_id) if module_id else None
    clinician = clinician or access.user
    staff = access.store.conn.execute("SELECT role, disabled FROM users WHERE name = ?", (clinician,)).fetchone()
    if staff is None or staff[1]:
        raise NotFoundError("no active staff user named {name}", key="errors.booking.no_staff", name=clinician)
    if staff[0] == "viewer":
        raise UsageError("{name} is a viewer and cannot run sessions", key="errors.booking.viewer", name=clinician)
    store = access.store
    link = _check_link(link)
    rows = []
    with store.write():
        for when in times:
            row = records.insert(store, "appointments", {
                "patient_id": patient_id, "scheduled_at": when,
                "minutes": minutes or (module["minutes"] if module else 30),
                "mode": mode, "module_id": module_id, "module_version": module["version"] if module else None,
                "clinician": clinician, "link": link, "status": "scheduled", "recorded_at": None,
                "recorded_by": None, "notes": None, "feedback": None, "fidelity": None})
            _queue_reminder(access, catalog, row)
            audit.append(store, access.user, "session.schedule", patient_id=patient_id, detail={"mode": mode})
            rows.append(row)
    return rows


def reminder_time(access: Access, catalog: Catalog, appointment: dict) -> str:
    """A session's time as its reminder tells the patient: in their language and zone, saying which."""
    row = access.store.conn.execute("SELECT language FROM patients WHERE id = ?",
                                    (appointment["patient_id"],)).fetchone()
    lang = row[0] if row and row[0] in catalog.locales else "en"
    return catalog.when(appointment["scheduled_at"], lang, zone_of(access, appointment["patient_id"]))


def _queue_reminder(access: Access, catalog: Catalog, appointment: dict) -> None:
    patient = access.store.conn.execute("SELECT language, email FROM patients WHERE id = ?",
                                        (appointment["patient_id"],)).fetchone()
    lang = patient[0] if patient[0] in catalog.locales else "en"
    when = reminder_time(access, catalog, appointment)
    body = catalog.text("reminder.body", lang, when=when, mode=catalog.text(f"reminder.mode_{appointment['mode'].replace('-', '_')}", lang))
    if appointment["link"]:
        body += "\n" + catalog.text("reminder.link", lang, link=appointment["link"])
    store = access.store
    message = records.insert(store, "messages", {
        "patient_id": appointment["patient_id"], "direction": "to_patient", "kind": "reminder",
        "sender": access.user, "body": body, "sent_at": now_iso(), "read_at": None})
    send_after = (datetime.fromisoformat(appointment["scheduled_at"].replace("Z", "+00:00"))
                  - timedelta(hours=REMINDER_HOURS))
    records.insert(store, "outbox", {
        "patient_id": appointment["patient_id"], "message_id": message["id"], "appointment_id": appointment["id"],
        "channel": "email", "address": patient[1], "subject": catalog.text("reminder.subject", lang),
        "body": body, "send_after": max(send_after, datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "status": "queued" if patient[1] else "no_address", "attempts": 0})


def reschedule(access: Access, catalog: Catalog, appointment_id: str, at: str, mode: str | None = None,
               link: str | None = None) -> dict:
    """Move a session not yet recorded to a new time (and mode, or link: "" removes it); the old
    reminder is cancelled and a new one queued."""
    access.require("write")
    appt = find_record(access, "appointments", appointment_id)
    if appt["status"] != "scheduled":
        raise UsageError("this session was already recorded as {status}: schedule a new one instead",
                         key="errors.session.recorded_not_movable", status=_status(appt["status"]))
    if mode is not None and mode not in MODES:
        raise UsageError("--mode must be one of {modes}", key="errors.booking.mode", modes=Codes("mode", MODES))
    require_active_consent(access, appt["patient_id"])
    zone = booking_zone(access, appt["patient_id"], None)
    changes = {"scheduled_at": parse_future(at, zone=zone), "mode": mode or appt["mode"],
               "link": appt["link"] if link is None else _check_link(link)}
    store = access.store
    with store.write():
        store.conn.execute("UPDATE outbox SET status = 'cancelled' WHERE appointment_id = ? AND status = 'queued'",
                           (appt["id"],))
        row = records.update(store, "appointments", appt["id"], changes)
        _queue_reminder(access, catalog, row)
        audit.append(store, access.user, "session.reschedule", patient_id=appt["patient_id"],
                     detail={"mode": changes["mode"]})
    return row


def record(access: Access, catalog: Catalog, appointment_id: str, outcome: str, notes: str | None = None,
           feedback: int | None = None, fidelity: list[str] | None = None) -> dict:
    """What happened; an attended session assigns its module's homework. Recorded once only."""
    access.require("write")
    if outcome not in OUTCOMES:
        raise UsageError("outcome must be one of {outcomes}", key="errors.stored_codes.outcome",
                         outcomes=Codes("session", OUTCOMES))
    appt = find_record(access, "appointments", appointment_id)
    if appt["status"] != "scheduled":
        raise UsageError("this session was already recorded as {status} on {day}; a session is recorded once",
                         key="errors.session.recorded_once", status=_status(appt["status"]),
                         day=local_day(appt["recorded_at"], device_zone(access.store)))
    if feedback is not None and not 1 <= feedback <= 5:
        raise UsageError("--feedback is a rating from 1 to 5", key="errors.session.bad_feedback")
    if outcome != "attended" and (feedback is not None or fidelity):
        raise UsageError("feedback and the fidelity checklist apply to attended sessions only",
                         key="errors.session.feedback_if_attended")
    checked: list[str] = []
    if fidelity:
        if not appt["module_id"]:
            raise UsageError("this session has no module, so it has no fidelity checklist",
                             key="errors.booking.no_checklist")
        known = [item["id"] for item in catalog.get("module", appt["module_id"])["fidelity"]]
        unknown = [f for f in fidelity if f not in known]
        if unknown:
            raise UsageError("unknown checklist item(s) {unknown}; this module's are: {known}",
                             key="errors.booking.checklist_items", unknown=", ".join(unknown), known=", ".join(known))
        checked = [f for f in known if f in fidelity]
    store = access.store
    with store.write():
        row = records.update(store, "appointments", appt["id"], {
            "status": outcome, "recorded_at": now_iso(), "recorded_by": access.user, "notes": notes,
            "feedback": feedback, "fidelity": json.dumps(checked) if outcome == "attended" and appt["module_id"] else None})
        if outcome == "attended" and appt["module_id"]:
            nxt = store.conn.execute(
                "SELECT scheduled_at FROM appointments WHERE patient_id = ? AND status = 'scheduled' "
                "AND scheduled_at > ? AND deleted = 0 ORDER BY scheduled_at LIMIT 1",
                (appt["patient_id"], appt["scheduled_at"])).fetchone()
            zone = zone_of(access, appt["patient_id"])  # homework is due on the patient's calendar
            due = (local_day(nxt[0], zone) if nxt else today(zone) + timedelta(days=7)).isoformat()
            assign_homework(access, catalog, appt["patient_id"], appt["module_id"], due)
        if outcome == "cancelled":
            store.conn.execute("UPDATE outbox SET status = 'cancelled' WHERE appointment_id = ? AND status = 'queued'",
                               (appt["id"],))
        audit.append(store, access.user, "session.record", patient_id=appt["patient_id"], detail={"outcome": outcome})
    return row


def fidelity_checklist(access: Access, catalog: Catalog, appointment_id: str, lang: str = "en") -> list[dict]:
    appt = find_record(access, "appointments", appointment_id)
    if not appt["module_id"]:
        return []
    return [{"id": item["id"], "text": pick(item["text"], lang)}
            for item in catalog.get("module", appt["module_id"])["fidelity"]]


def list_sessions(access: Access, when: str | None = None, clinician: str | None = None,
                  code: str | None = None) -> list[dict]:
    """Sessions by time; `when` is today, due (scheduled, from now on) or overdue (scheduled, past, unrecorded)."""
    access.require("read")
    now = datetime.now(timezone.utc)
    sql = ("SELECT a.id, p.code, a.scheduled_at, a.minutes, a.mode, a.module_id, a.clinician, a.link, a.status, "
           "a.feedback, p.timezone AS patient_timezone FROM appointments a JOIN patients p ON p.id = a.patient_id "
           "WHERE a.deleted = 0")
    params: list = []
    if when == "today":  # this device's day: what the worker at it calls today
        day = today(device_zone(access.store), now)
        sql += " AND a.scheduled_at >= ? AND a.scheduled_at < ?"
        params += list(day_bounds(day, day, device_zone(access.store)))
    elif when == "due":
        sql += " AND a.status = 'scheduled' AND a.scheduled_at >= ?"
        params.append(iso_utc(now))
    elif when == "overdue":
        sql += " AND a.status = 'scheduled' AND a.scheduled_at < ?"
        params.append(iso_utc(now))
    elif when is not None:
        raise UsageError("choose one of --today, --due, --overdue", key="errors.appointments.choose_when")
    if clinician:
        sql += " AND a.clinician = ?"
        params.append(clinician)
    if code:
        sql += " AND a.patient_id = ?"
        params.append(patient_id_for(access, code))
    return access.store.rows(sql + " ORDER BY a.scheduled_at", tuple(params))


def checkins(access: Access) -> dict:
    """What a worker calls today: today's sessions and the scheduled ones whose time passed without a
    record, each once, in time order; `overdue` marks the second kind."""
    today = list_sessions(access, when="today")
    overdue = list_sessions(access, when="overdue")
    late = {row["id"] for row in overdue}
    rows = {row["id"]: row for row in today + overdue}
    listed = sorted(rows.values(), key=lambda r: r["scheduled_at"])
    for row in listed:
        row["overdue"] = row["id"] in late
    return {"sessions": listed, "today": len(today), "overdue": len(overdue)}


def _ical_text(value: str) -> str:
    """One line of iCalendar text: line breaks become spaces, other controls go (RFC 5545 TEXT).

    The icalendar package escapes `, ; \\` and folds long lines; it passes control characters on."""
    return _NOT_IN_ICAL.sub("", re.sub(r"[\r\n]+", " ", value))


def ics(access: Access, catalog: Catalog, code: str | None = None) -> bytes:
    """Scheduled sessions as an iCalendar file (patient codes only: calendars leak).

    Stored text may come from another device or an older version: it is made safe here, and a
    link that is not a clean URI any more is kept as text only (no URL property)."""
    from icalendar import Calendar, Event

    sessions = [s for s in list_sessions(access, code=code) if s["status"] == "scheduled"]
    here = device_zone(access.store)
    cal = Calendar()
    cal.add("prodid", "-//telecbt//sessions//EN")
    cal.add("version", "2.0")
    for s in sessions:
        zone = load(s["patient_timezone"]) or here  # the patient's clock: TZID plus its VTIMEZONE below
        start = in_zone(s["scheduled_at"], zone)
        event = Event()
        event.add("uid", f"{s['id']}@telecbt")
        event.add("dtstamp", datetime.now(timezone.utc))
        event.add("dtstart", start)
        event.add("dtend", (start + timedelta(minutes=s["minutes"])).astimezone(timezone.utc).astimezone(zone))
        title = pick(catalog.entries["module"].get(s["module_id"] or "", {}).get("title"), "en")
        event.add("summary", _ical_text(f"telecbt {s['mode']} session {s['code']}" + (f": {title}" if title else "")))
        if s["link"]:
            event.add("location", _ical_text(s["link"]))
            if s["link"].startswith("http") and not _NOT_IN_LINK.search(s["link"]):
                event.add("url", s["link"])
        event.add("description", _ical_text(
            f"Patient code {s['code']}. Clinician {s['clinician']}. {start:%H:%M} {zone_place(zone, start)} time "
            f"({start.astimezone(timezone.utc):%H:%M} UTC)."))
        cal.add_component(event)
    cal.add_missing_timezones(first_date=_first_day(sessions), last_date=_last_day(sessions))
    audit.append(access.store, access.user, "session.export_ics",
                 patient_id=patient_id_for(access, code) if code else None, detail={"events": len(sessions)})
    return cal.to_ical()


def _first_day(sessions: list[dict]) -> date:
    """A day before every session (the VTIMEZONE rules need only cover the calendar's span)."""
    return (local_day(min(s["scheduled_at"] for s in sessions), timezone.utc) if sessions
            else datetime.now(timezone.utc).date()) - timedelta(days=366)


def _last_day(sessions: list[dict]) -> date:
    return (local_day(max(s["scheduled_at"] for s in sessions), timezone.utc) if sessions
            else datetime.now(timezone.utc).date()) + timedelta(days=366)
