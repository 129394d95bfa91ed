"""Tailoring suggestions: rules from content evaluated on the patient's diary and scores, with the evidence."""

from __future__ import annotations

from datetime import date, timedelta

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.clinical.patients import zone_of
from telecbt_cli.core.store.access import Access
from telecbt_cli.content.languages import DECIMAL
from telecbt_cli.core.store.errors import Figures, Term
from telecbt_cli.core.store.localtime import day_bounds, local_day, parse_utc, sql_local_date
from telecbt_cli.core.store.localtime import today as local_today

_CURRENT = "NOT EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id) AND d.deleted = 0"
_OPS = {"lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b}


def daily_means(access: Access, patient_id: str, metric: str, start: date, end: date) -> dict[str, float]:
    """Mean of a diary metric per day (the patient's calendar day) from `start` to `end` inclusive;
    days without data are absent."""
    zone = zone_of(access, patient_id)
    lo, hi = day_bounds(start, end, zone)
    day, params = sql_local_date("entry_at", zone, parse_utc(lo), parse_utc(hi))
    rows = access.store.conn.execute(
        f"SELECT {day} AS day, avg({metric}) FROM diary_entries d "
        f"WHERE patient_id = ? AND {metric} IS NOT NULL AND entry_at >= ? AND entry_at < ? AND {_CURRENT} "
        "GROUP BY day ORDER BY day", (*params, patient_id, lo, hi)).fetchall()
    return {day: round(value, 2) for day, value in rows}


def _fmt(value: float, lang: str = "en") -> str:
    """A figure for a message: whole, or with one decimal written `lang`'s way (4,5 in Spanish)."""
    text = str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", DECIMAL.get(lang, "."))


def _metric(name: str) -> Term:
    """A diary metric as a word the UI translates (`values.metric.…`)."""
    return Term(f"values.metric.{name}", name.replace("_", " "))


def _because(key: str, **values: object) -> dict:
    """Why a rule holds, as a locale key (`suggest.because.…`) and its values, for the UI to word."""
    return {"key": f"suggest.because.{key}", "values": values}


def _count(access: Access, pid: str, rule: dict, today: date) -> dict | None:
    window = rule["window_days"]
    series = daily_means(access, pid, rule["metric"], today - timedelta(days=window - 1), today)
    hits = {day: v for day, v in series.items() if _OPS[rule["op"]](v, rule["value"])}
    if len(hits) < rule["min_days"]:
        return None
    days = Figures([f"{d[5:]} {_fmt(v)}" for d, v in series.items()])
    return {"values": {"count": len(hits), "window": window}, "because": _because("count", metric=_metric(rule["metric"]), days=days)}


def _trend(access: Access, pid: str, rule: dict, today: date, lang: str = "en") -> dict | None:
    window = rule["window_days"]
    half = window // 2
    start = today - timedelta(days=window - 1)
    series = daily_means(access, pid, rule["metric"], start, today)
    first = [v for d, v in series.items() if d < (start + timedelta(days=half)).isoformat()]
    second = [v for d, v in series.items() if d >= (start + timedelta(days=half)).isoformat()]
    if len(first) < 3 or len(second) < 3:
        return None
    a, b = sum(first) / len(first), sum(second) / len(second)
    change = b - a if rule["direction"] == "up" else a - b
    if change < rule["min_change"]:
        return None
    because = _because("trend", metric=_metric(rule["metric"]), first=round(a, 1), second=round(b, 1), half=half,
                       after=half + 1, window=window, days=len(first) + len(second))
    return {"values": {"first": _fmt(a, lang), "second": _fmt(b, lang), "window": window}, "because": because}


def _measure(access: Access, pid: str, rule: dict, catalog: Catalog, lang: str) -> dict | None:
    row = access.store.conn.execute(
        "SELECT total, band, completed_at FROM measure_responses WHERE patient_id = ? AND instrument_id = ? "
        "AND deleted = 0 ORDER BY completed_at DESC LIMIT 1", (pid, rule["instrument"])).fetchone()
    if row is None or row[1] not in rule["bands"]:
        return None
    instrument = catalog.get("instrument", rule["instrument"])
    label = next((pick(b["label"], lang) for b in instrument["scoring"].get("bands", []) if b["severity"] == row[1]), row[1])
    return {"values": {"score": _fmt(row[0], lang), "band": label},
            "because": _because("measure", instrument=instrument.get("short_title", rule["instrument"]),
                                score=row[0], band=label, day=local_day(row[2], zone_of(access, pid)).isoformat())}


def _no_diary(access: Access, pid: str, rule: dict, today: date) -> dict | None:
    last = access.store.conn.execute(
        f"SELECT max(entry_at) FROM diary_entries d WHERE patient_id = ? AND {_CURRENT}", (pid,)).fetchone()[0]
    enrolled = access.store.conn.execute("SELECT created_at FROM patients WHERE id = ?", (pid,)).fetchone()[0]
    zone = zone_of(access, pid)
    since = last or enrolled
    gap = (today - local_day(since, zone)).days
    if gap < rule["days"]:
        return None
    enrolled_day = local_day(enrolled, zone).isoformat()
    because = (_because("no_diary", last=local_day(last, zone).isoformat(), enrolled=enrolled_day) if last
               else _because("no_diary_ever", enrolled=enrolled_day))
    return {"values": {"days": gap}, "because": because}


def suggestions(access: Access, catalog: Catalog, patient_id: str, lang: str = "en",
                today: date | None = None) -> list[dict]:
    """Every rule that holds now, with its explanation and the data behind it (days are the patient's)."""
    today = today or local_today(zone_of(access, patient_id))
    found = []
    for ruleset in catalog.all("rules"):
        for rule in ruleset["rules"]:
            kind = rule["kind"]
            if kind == "count":
                hit = _count(access, patient_id, rule, today)
            elif kind == "trend":
                hit = _trend(access, patient_id, rule, today, lang)
            elif kind == "measure":
                hit = _measure(access, patient_id, rule, catalog, lang)
            else:
                hit = _no_diary(access, patient_id, rule, today)
            if hit is None:
                continue
            module = rule.get("module")
            found.append({"id": rule["id"], "text": pick(rule["text"], lang).format(**hit["values"]),
                          "module": module,
                          "module_title": pick(catalog.entries["module"].get(module, {}).get("title"), lang) if module else None,
                          "evidence": catalog.phrase(hit["because"]["key"], "en", hit["because"]["values"]),
                          "because": hit["because"]})
    return found
