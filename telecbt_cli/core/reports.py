"""Patient progress and program reports, aggregated in SQL so they stay fast on large stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core import alerts, audit, measures
from telecbt_cli.core.access import Access
from telecbt_cli.core.errors import UsageError
from telecbt_cli.core.patients import get_patient
from telecbt_cli.core.scoring import change

METRICS = ("pain", "mood", "sleep_hours", "activity_min")
_CURRENT = "NOT EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id) AND d.deleted = 0"


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def patient_report(access: Access, catalog: Catalog, code: str, lang: str = "en", weeks: int = 26,
                   with_suggestions: bool = False) -> dict:
    """Diary trends (weekly means), scores against bands, homework, diary completion, alerts (and suggestions)."""
    with access.store.write():  # one commit for the audit entries of all the reads below
        return _patient_report(access, catalog, code, lang, weeks, with_suggestions)


def _patient_report(access: Access, catalog: Catalog, code: str, lang: str, weeks: int,
                    with_suggestions: bool) -> dict:
    patient = get_patient(access, code)
    pid = patient["id"]
    today = _today()
    conn = access.store.conn
    first_entry = conn.execute(f"SELECT min(entry_at) FROM diary_entries d WHERE patient_id = ? AND {_CURRENT}",
                               (pid,)).fetchone()[0]
    began = min(patient["created_at"][:10], (first_entry or patient["created_at"])[:10])
    start = max(today - timedelta(weeks=weeks) + timedelta(days=1), date.fromisoformat(began))
    weekly = conn.execute(
        "SELECT date(substr(entry_at, 1, 10), 'weekday 0', '-6 days') AS week, "
        + ", ".join(f"avg({m})" for m in METRICS) +
        f" FROM diary_entries d WHERE patient_id = ? AND entry_at >= ? AND {_CURRENT} GROUP BY week ORDER BY week",
        (pid, start.isoformat())).fetchall()
    series = {m: [{"week": row[0], "value": round(row[i + 1], 1)} for row in weekly if row[i + 1] is not None]
              for i, m in enumerate(METRICS)}
    days_with = conn.execute(
        f"SELECT count(DISTINCT substr(entry_at, 1, 10)) FROM diary_entries d WHERE patient_id = ? "
        f"AND entry_at >= ? AND {_CURRENT}", (pid, start.isoformat())).fetchone()[0]
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
            "points": [{"date": r["completed_at"][:10], "total": r["total"], "band": r["band"]} for r in rows],
            "baseline": rows[0]["total"], "latest": rows[-1]["total"], "change": last_change})
    homework = conn.execute("SELECT count(*), sum(status = 'done') FROM homework WHERE patient_id = ? AND deleted = 0",
                            (pid,)).fetchone()
    report = {
        "patient": {"code": patient["code"], "display_name": patient["display_name"], "language": patient["language"]},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "period": {"from": start.isoformat(), "to": today.isoformat()},
        "diary": {"weekly": series, "days_with_entry": days_with, "days": days, "completion": _rate(days_with, days)},
        "measures": scores,
        "homework": {"assigned": homework[0], "done": homework[1] or 0, "rate": _rate(homework[1] or 0, homework[0])},
        "open_alerts": alerts.list_alerts(access, pid),
        "suggestions": _suggestions(access, catalog, pid, lang, today) if with_suggestions else [],
    }
    audit.append(access.store, access.user, "report.patient", patient_id=pid)
    return report


def _suggestions(access: Access, catalog: Catalog, pid: str, lang: str, today: date) -> list[dict]:
    from telecbt_cli.core.suggest import suggestions

    return suggestions(access, catalog, pid, lang, today)


def _window(frm: str | None, to: str | None) -> tuple[date, date]:
    try:
        end = date.fromisoformat(to) if to else _today()
        start = date.fromisoformat(frm) if frm else end - timedelta(days=89)
    except ValueError:
        raise UsageError("--from and --to take dates as YYYY-MM-DD") from None
    if start > end:
        raise UsageError("--from must not be after --to")
    return start, end


def program_report(access: Access, catalog: Catalog, frm: str | None = None, to: str | None = None,
                   clinician: str | None = None) -> dict:
    """Quality-improvement figures for a period; with --clinician, that clinician's patients only."""
    access.require("read")
    start, end = _window(frm, to)
    lo, hi = start.isoformat(), (end + timedelta(days=1)).isoformat()
    conn = access.store.conn
    conn.execute("DROP TABLE IF EXISTS temp.cohort")
    if clinician:
        conn.execute("CREATE TEMP TABLE cohort AS SELECT DISTINCT patient_id AS id FROM appointments "
                     "WHERE clinician = ? AND deleted = 0", (clinician,))
    else:
        conn.execute("CREATE TEMP TABLE cohort AS SELECT id FROM patients WHERE deleted = 0")
    in_cohort = "patient_id IN (SELECT id FROM temp.cohort)"
    appt_filter = " AND clinician = ?" if clinician else ""
    appt_params: tuple = (clinician,) if clinician else ()

    def one(sql: str, params: tuple = ()) -> tuple:
        return conn.execute(sql, params).fetchone()

    enrolled = one("SELECT count(*) FROM patients WHERE id IN (SELECT id FROM temp.cohort) AND created_at >= ? "
                   "AND created_at < ?", (lo, hi))[0]
    active_ids = [r[0] for r in conn.execute(
        f"SELECT DISTINCT patient_id FROM diary_entries WHERE {in_cohort} AND entry_at >= ? AND entry_at < ? AND deleted = 0 "
        f"UNION SELECT DISTINCT patient_id FROM appointments WHERE {in_cohort} AND scheduled_at >= ? AND scheduled_at < ? "
        "AND status = 'attended' AND deleted = 0", (lo, hi, lo, hi))]
    status = dict(conn.execute(
        f"SELECT status, count(*) FROM appointments WHERE {in_cohort} AND scheduled_at >= ? AND scheduled_at < ? "
        f"AND deleted = 0{appt_filter} GROUP BY status", (lo, hi, *appt_params)).fetchall())
    attended, no_show = status.get("attended", 0), status.get("no_show", 0)
    homework = one(f"SELECT count(*), sum(status = 'done') FROM homework WHERE {in_cohort} AND due_date >= ? "
                   "AND due_date < ? AND deleted = 0", (lo, hi))
    days = (end - start).days + 1
    diary_days = one(f"SELECT count(*) FROM (SELECT DISTINCT patient_id, substr(entry_at, 1, 10) FROM diary_entries "
                     f"WHERE {in_cohort} AND entry_at >= ? AND entry_at < ? AND deleted = 0)", (lo, hi))[0]
    feedback = one(f"SELECT avg(feedback), count(feedback) FROM appointments WHERE {in_cohort} AND scheduled_at >= ? "
                   f"AND scheduled_at < ? AND deleted = 0{appt_filter}", (lo, hi, *appt_params))
    workload = [{"clinician": r[0], "caseload": r[1], "sessions_delivered": r[2],
                 "sessions_per_week": round(r[2] / (days / 7), 2)} for r in conn.execute(
        f"SELECT clinician, count(DISTINCT patient_id), sum(status = 'attended') FROM appointments WHERE {in_cohort} "
        f"AND scheduled_at >= ? AND scheduled_at < ? AND deleted = 0{appt_filter} GROUP BY clinician ORDER BY clinician",
        (lo, hi, *appt_params))]
    alert_counts = one(f"SELECT sum(opened_at >= ? AND opened_at < ?), sum(status = 'open'), "
                       f"sum(acknowledged_at >= ? AND acknowledged_at < ?) FROM safety_alerts WHERE {in_cohort} AND deleted = 0",
                       (lo, hi, lo, hi))
    report = {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": days},
        "clinician": clinician,
        "patients": {"in_scope": one("SELECT count(*) FROM temp.cohort")[0], "enrolled_in_period": enrolled,
                     "active_in_period": len(active_ids)},
        "sessions": {"scheduled": sum(status.values()), "delivered": attended, "no_show": no_show,
                     "cancelled": status.get("cancelled", 0), "still_scheduled": status.get("scheduled", 0),
                     "attendance_rate": _rate(attended, attended + no_show), "no_show_rate": _rate(no_show, attended + no_show)},
        "homework": {"due": homework[0], "done": homework[1] or 0, "adherence": _rate(homework[1] or 0, homework[0])},
        "diary": {"active_patients": len(active_ids), "days_with_entry": diary_days,
                  "completion": _rate(diary_days, len(active_ids) * days)},
        "improvement": _improvement(access, catalog, in_cohort, hi),
        "workload": workload,
        "feedback": {"mean": round(feedback[0], 2) if feedback[0] is not None else None, "responses": feedback[1]},
        "safety_alerts": {"opened_in_period": alert_counts[0] or 0, "open_now": alert_counts[1] or 0,
                          "acknowledged_in_period": alert_counts[2] or 0},
    }
    conn.execute("DROP TABLE IF EXISTS temp.cohort")
    audit.append(access.store, access.user, "report.program", detail={"from": report["period"]["from"],
                                                                     "to": report["period"]["to"]})
    return report


def _improvement(access: Access, catalog: Catalog, in_cohort: str, hi: str) -> list[dict]:
    """Per questionnaire: patients with two or more scores, and how many improved by at least the MIC."""
    rows = access.store.conn.execute(
        "SELECT instrument_id, patient_id, total FROM ("
        " SELECT instrument_id, patient_id, total, completed_at,"
        " row_number() OVER (PARTITION BY instrument_id, patient_id ORDER BY completed_at) AS first_rank,"
        " row_number() OVER (PARTITION BY instrument_id, patient_id ORDER BY completed_at DESC) AS last_rank,"
        " count(*) OVER (PARTITION BY instrument_id, patient_id) AS n"
        f" FROM measure_responses WHERE {in_cohort} AND completed_at < ? AND deleted = 0"
        ") WHERE n >= 2 AND (first_rank = 1 OR last_rank = 1) ORDER BY instrument_id, patient_id, completed_at",
        (hi,)).fetchall()
    pairs: dict[str, dict[str, list]] = {}
    for ident, pid, total in rows:
        pairs.setdefault(ident, {}).setdefault(pid, []).append(total)
    result = []
    for ident, patients in sorted(pairs.items()):
        inst = catalog.entries["instrument"].get(ident)
        if not inst:
            continue
        improved = sum(1 for totals in patients.values()
                       if (c := change(inst, totals[0], totals[-1])) and c["meaningful"] and c["direction"] == "better")
        result.append({"instrument": ident, "patients_with_followup": len(patients), "meaningfully_improved": improved,
                       "share": _rate(improved, len(patients))})
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
