"""Patient progress and program reports, aggregated in SQL so they stay fast on large stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.clinical import alerts, flags, measures
from telecbt_cli.core.clinical.patients import get_patient, zone_of
from telecbt_cli.core.clinical.scoring import band_label, change, score_range
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.localtime import day_bounds, local_day, parse_utc, sql_local_date
from telecbt_cli.core.store.localtime import today as local_today
from telecbt_cli.core.store.timeparse import zone_key
from telecbt_cli.core.store.zones import device_zone

METRICS = ("pain", "mood", "sleep_hours", "activity_min")
_CURRENT = "NOT EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id) AND d.deleted = 0"


def _today(zone: tzinfo) -> date:
    return local_today(zone)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def patient_report(access: Access, catalog: Catalog, code: str, lang: str = "en", weeks: int = 26,
                   with_suggestions: bool = False) -> dict:
    """Diary trends (weekly means), scores against bands, homework, diary completion, alerts (and suggestions).

    Days and weeks are the patient's calendar days, in their time zone (`timezone` in the report)."""
    with access.store.write():  # one commit for the audit entries of all the reads below
        return _patient_report(access, catalog, code, lang, weeks, with_suggestions)


def _patient_report(access: Access, catalog: Catalog, code: str, lang: str, weeks: int,
                    with_suggestions: bool) -> dict:
    patient = get_patient(access, code)
    pid = patient["id"]
    zone = zone_of(access, pid)
    today = _today(zone)
    conn = access.store.conn
    first_entry = conn.execute(f"SELECT min(entry_at) FROM diary_entries d WHERE patient_id = ? AND {_CURRENT}",
                               (pid,)).fetchone()[0]
    began = min(local_day(patient["created_at"], zone), local_day(first_entry or patient["created_at"], zone))
    start = max(today - timedelta(weeks=weeks) + timedelta(days=1), began)
    lo, hi = day_bounds(start, today, zone)
    day, day_params = sql_local_date("entry_at", zone, parse_utc(lo), parse_utc(hi))
    weekly = conn.execute(
        f"SELECT date({day}, 'weekday 0', '-6 days') AS week, "
        + ", ".join(f"avg({m})" for m in METRICS) +
        f" FROM diary_entries d WHERE patient_id = ? AND entry_at >= ? AND {_CURRENT} GROUP BY week ORDER BY week",
        (*day_params, pid, lo)).fetchall()
    series = {m: [{"week": row[0], "value": round(row[i + 1], 1)} for row in weekly if row[i + 1] is not None]
              for i, m in enumerate(METRICS)}
    days_with = conn.execute(
        f"SELECT count(DISTINCT {day}) FROM diary_entries d WHERE patient_id = ? "
        f"AND entry_at >= ? AND {_CURRENT}", (*day_params, pid, lo)).fetchone()[0]
    days = (today - start).days + 1
    history = measures.history(access, catalog, code)
    by_instrument: dict[str, list[dict]] = {}
    for row in history:
        by_instrument.setdefault(row["instrument_id"], []).append(row)
    scores = []
    for ident, rows in by_instrument.items():
        inst = catalog.entries["instrument"].get(ident, {})
        rules = inst.get("scoring", {})
        last_change = change(inst, rows[0]["total"], rows[-1]["total"]) if inst and len(rows) > 1 else None
        scores.append({
            "instrument": ident, "title": inst.get("short_title") or ident,
            "bands": [{"min": b["min"], "max": b["max"], "severity": b["severity"], "label": pick(b["label"], lang)}
                      for b in rules.get("bands", [])],
            "mic": rules.get("mic") or {},
            "range": list(score_range(inst)) if inst else None,
            "points": [{"date": local_day(r["completed_at"], zone).isoformat(), "total": r["total"], "band": r["band"],
                        "band_label": band_label(inst, r["band"], lang)} for r in rows],
            "baseline": rows[0]["total"], "latest": rows[-1]["total"], "change": last_change})
    homework = conn.execute("SELECT count(*), sum(status = 'done') FROM homework WHERE patient_id = ? AND deleted = 0",
                            (pid,)).fetchone()
    report = {
        "patient": {"code": patient["code"], "display_name": patient["display_name"], "language": patient["language"]},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "timezone": zone_key(zone),
        "period": {"from": start.isoformat(), "to": today.isoformat()},
        "diary": {"weekly": series, "days_with_entry": days_with, "days": days, "completion": _rate(days_with, days)},
        "measures": scores,
        "homework": {"assigned": homework[0], "done": homework[1] or 0, "rate": _rate(homework[1] or 0, homework[0])},
        "open_alerts": alerts.list_alerts(access, pid),
        "flags": [flags.describe(catalog, flag, lang) for flag in patient["flags"]],
        "suggestions": _suggestions(access, catalog, pid, lang, today) if with_suggestions else [],
    }
    audit.append(access.store, access.user, "report.patient", patient_id=pid)
    return report


def _suggestions(access: Access, catalog: Catalog, pid: str, lang: str, today: date) -> list[dict]:
    from telecbt_cli.core.clinical.suggest import suggestions

    return suggestions(access, catalog, pid, lang, today)


def _window(frm: str | None, to: str | None, zone: tzinfo) -> tuple[date, date]:
    try:
        end = date.fromisoformat(to) if to else _today(zone)
        start = date.fromisoformat(frm) if frm else end - timedelta(days=89)
    except ValueError:
        raise UsageError("--from and --to take dates as YYYY-MM-DD", key="errors.reports.dates") from None
    if start > end:
        raise UsageError("--from must not be after --to", key="errors.reports.order")
    return start, end


def program_report(access: Access, catalog: Catalog, frm: str | None = None, to: str | None = None,
                   clinician: str | None = None) -> dict:
    """Quality-improvement figures for a period; with --clinician, that clinician's patients only.

    The period's days are the program's calendar days: this device's time zone (`period.timezone`).

    Each table is read once, through a covering index, and counted in Python: on
    a year of daily diaries for 1,000 patients this is several times faster than
    one SQL aggregate per figure (scripts/bench_program.py).
    """
    access.require("read")
    zone = device_zone(access.store)
    start, end = _window(frm, to, zone)
    lo, hi = day_bounds(start, end, zone)
    conn = access.store.conn
    cohort: set[str] | None = None
    if clinician:
        cohort = {r[0] for r in conn.execute(
            "SELECT DISTINCT patient_id FROM appointments WHERE clinician = ? AND deleted = 0", (clinician,))}
    keep = (lambda pid: True) if cohort is None else cohort.__contains__
    in_scope = len(cohort) if cohort is not None else conn.execute(
        "SELECT count(*) FROM patients WHERE deleted = 0").fetchone()[0]
    enrolled = sum(1 for (pid,) in conn.execute(
        "SELECT id FROM patients WHERE deleted = 0 AND created_at >= ? AND created_at < ?", (lo, hi)) if keep(pid))

    status: dict[str, int] = {}
    feedback: list[int] = []
    load: dict[str, dict] = {}
    attended_patients: set[str] = set()
    for pid, state, who, score in conn.execute(
            "SELECT patient_id, status, clinician, feedback FROM appointments "
            "WHERE scheduled_at >= ? AND scheduled_at < ? AND deleted = 0", (lo, hi)):
        if not keep(pid) or (clinician and who != clinician):
            continue
        status[state] = status.get(state, 0) + 1
        entry = load.setdefault(who, {"patients": set(), "delivered": 0})
        entry["patients"].add(pid)
        if state == "attended":
            entry["delivered"] += 1
            attended_patients.add(pid)
            if score is not None:
                feedback.append(score)
    attended, no_show = status.get("attended", 0), status.get("no_show", 0)

    due = done = 0
    for pid, state in conn.execute("SELECT patient_id, status FROM homework WHERE due_date >= ? AND due_date < ? "
                                   "AND deleted = 0", (start.isoformat(), (end + timedelta(days=1)).isoformat())):
        if keep(pid):
            due += 1
            done += state == "done"

    diary_patients: set[str] = set()
    diary_days = 0
    last = (None, None)
    local_date, day_params = sql_local_date("entry_at", zone, parse_utc(lo), parse_utc(hi))
    for pid, day in conn.execute(f"SELECT patient_id, {local_date} FROM diary_entries "
                                 "WHERE entry_at >= ? AND entry_at < ? AND deleted = 0 ORDER BY patient_id, entry_at",
                                 (*day_params, lo, hi)):
        if not keep(pid):
            continue
        if (pid, day) != last:
            diary_days += 1
            last = (pid, day)
        diary_patients.add(pid)
    active = diary_patients | attended_patients
    days = (end - start).days + 1
    alert_counts = [0, 0, 0]
    for pid, opened, state, acked in conn.execute(
            "SELECT patient_id, opened_at, status, acknowledged_at FROM safety_alerts WHERE deleted = 0"):
        if keep(pid):
            alert_counts[0] += lo <= opened < hi
            alert_counts[1] += state == "open"
            alert_counts[2] += bool(acked) and lo <= acked < hi
    raised: dict[str, int] = {}
    active_flags: dict[str, int] = {}
    for pid, flag, state, at in conn.execute(
            "SELECT patient_id, flag_id, status, raised_at FROM patient_flags WHERE deleted = 0"):
        if keep(pid):
            if lo <= at < hi:
                raised[flag] = raised.get(flag, 0) + 1
            if state == "active":
                active_flags[flag] = active_flags.get(flag, 0) + 1
    report = {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": days, "timezone": zone_key(zone)},
        "clinician": clinician,
        "patients": {"in_scope": in_scope, "enrolled_in_period": enrolled, "active_in_period": len(active)},
        "sessions": {"scheduled": sum(status.values()), "delivered": attended, "no_show": no_show,
                     "cancelled": status.get("cancelled", 0), "still_scheduled": status.get("scheduled", 0),
                     "attendance_rate": _rate(attended, attended + no_show), "no_show_rate": _rate(no_show, attended + no_show)},
        "homework": {"due": due, "done": done, "adherence": _rate(done, due)},
        "diary": {"active_patients": len(diary_patients), "days_with_entry": diary_days,
                  "completion": _rate(diary_days, len(diary_patients) * days)},
        "improvement": _improvement(access, catalog, keep, hi),
        "workload": [{"clinician": who, "caseload": len(v["patients"]), "sessions_delivered": v["delivered"],
                      "sessions_per_week": round(v["delivered"] / (days / 7), 2)} for who, v in sorted(load.items())],
        "feedback": {"mean": round(sum(feedback) / len(feedback), 2) if feedback else None, "responses": len(feedback)},
        "safety_alerts": {"opened_in_period": alert_counts[0], "open_now": alert_counts[1],
                          "acknowledged_in_period": alert_counts[2]},
        "flags": {"raised_in_period": dict(sorted(raised.items())), "active_now": dict(sorted(active_flags.items()))},
    }
    audit.append(access.store, access.user, "report.program", detail={"from": report["period"]["from"],
                                                                     "to": report["period"]["to"]})
    return report


def _improvement(access: Access, catalog: Catalog, keep, hi: str) -> list[dict]:
    """Per questionnaire: patients with two or more scores, and how many improved by at least the MIC."""
    spans: dict[tuple[str, str], list] = {}
    for pid, ident, total in access.store.conn.execute(
            "SELECT patient_id, instrument_id, total FROM measure_responses WHERE completed_at < ? AND deleted = 0 "
            "ORDER BY patient_id, instrument_id, completed_at", (hi,)):
        if keep(pid):
            span = spans.setdefault((ident, pid), [total, total, 0])
            span[1], span[2] = total, span[2] + 1
    result = []
    for ident in sorted({i for i, _ in spans}):
        inst = catalog.entries["instrument"].get(ident)
        if not inst:
            continue
        followed = [span for (i, _), span in spans.items() if i == ident and span[2] >= 2]
        improved = sum(1 for first, last, _ in followed
                       if (c := change(inst, first, last)) and c["meaningful"] and c["direction"] == "better")
        result.append({"instrument": ident, "patients_with_followup": len(followed), "meaningfully_improved": improved,
                       "share": _rate(improved, len(followed))})
    return result


def flatten(report: dict, prefix: str = "") -> list[tuple[str, object]]:
    """key, value pairs for CSV output of a nested report."""
    pairs: list[tuple[str, object]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs += flatten(value, name + ".")
        elif isinstance(value, list):
            for item in value:
                label = item.get("instrument") or item.get("clinician") or ""
                pairs += flatten({k: v for k, v in item.items() if k not in ("instrument", "clinician")},
                                 f"{name}.{label}.")
        else:
            pairs.append((name, value))
    return pairs
