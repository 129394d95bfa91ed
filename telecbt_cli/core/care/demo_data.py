"""Synthetic care history for demo patients: diaries, questionnaires, sessions, homework, messages.

Everything is generated from a seeded random source, so two demo stores look alike.
Records are written with the same helpers as real ones (ids, stamps, change log),
with dates in the past, which the user-facing services rightly refuse.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from telecbt_cli.content.catalog import Catalog
from telecbt_cli.core.clinical.scoring import score
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access

TRIGGERS = ["housework", "long walk", "poor sleep", "stress", "cold weather", "sitting long"]
COPING = ["breathing", "pacing", "walk", "heat pack", "music", "prayer"]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _answers_for(instrument: dict, target: float, rng: random.Random) -> dict:
    """Item answers whose score lands near `target` (sum or mean scale)."""
    items = instrument["items"]
    ids = [i["id"] for i in items]
    if instrument["id"] == "phq9":
        ids = ids[:-1]  # item 9 stays 0 unless the demo asks for the alert
    answers = {i["id"]: 0 for i in items}
    high = 3 if instrument["id"] in ("phq9", "gad7") else 10
    if instrument["scoring"]["method"] == "mean":
        for ident in ids:
            answers[ident] = max(0, min(high, round(target + rng.uniform(-1, 1))))
        return answers
    left = int(round(target))
    while left > 0:
        ident = rng.choice(ids)
        if answers[ident] < high:
            answers[ident] += 1
            left -= 1
    return answers


def seed_history(access: Access, catalog: Catalog, patient_id: str, rng: random.Random, days: int = 120,
                 alert: bool = False, checkins: str = "upcoming") -> None:
    """Four months of care for one patient, in one transaction; `checkins` adds, besides the next
    check-in, one "today" or one "overdue" (scheduled, time passed, never recorded)."""
    store = access.store
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days)
    improving = rng.random() < 0.7
    base_pain = rng.uniform(5, 8)
    course = rng.choice(["standard", "brief"])
    sessions = catalog.get("course", course)["sessions"]
    with store.write():
        records.insert(store, "plans", {"patient_id": patient_id, "course": course, "sessions": json.dumps(sessions),
                                        "caregiver_involved": 0, "notes": None})
        records.insert(store, "goals", {"patient_id": patient_id, "text": rng.choice(
            ["Walk to the market three times a week", "Cook a family meal on Sundays", "Sleep 7 hours most nights",
             "Go back to church choir practice"]), "measure": "diary and check-ins",
            "target_date": (now + timedelta(days=30)).date().isoformat(), "status": "active",
            "progress": rng.choice([20, 40, 60]), "notes": "[]"})
        for day in range(days):
            if rng.random() > 0.8:
                continue
            when = start + timedelta(days=day, hours=rng.randint(7, 20))
            trend = -2.5 * day / days if improving else 0.5 * day / days
            pain = max(0, min(10, round(base_pain + trend + rng.uniform(-1.5, 1.5))))
            records.insert(store, "diary_entries", {
                "patient_id": patient_id, "entry_at": _iso(when), "pain": pain,
                "locations": json.dumps(rng.sample(["lower_back", "knees", "neck", "shoulders", "hips"], 2)),
                "mood": max(0, min(10, round(10 - pain + rng.uniform(-2, 2)))),
                "sleep_hours": round(rng.uniform(4, 8), 1), "sleep_quality": rng.randint(3, 8),
                "activity_min": rng.randint(5, 60), "steps": rng.randint(1500, 9000),
                "triggers": json.dumps(rng.sample(TRIGGERS, rng.randint(0, 2))),
                "coping": json.dumps(rng.sample(COPING, rng.randint(0, 2))), "meds": "[]", "note": None,
                "source": "manual", "supersedes": None, "recorded_by": access.user})
        delivered = sessions[: days // 7 + 2]
        _checkins(access, patient_id, sessions[min(len(delivered), len(sessions) - 1)], now, checkins, rng)
        for week, module in enumerate(delivered):
            at = start + timedelta(days=7 * week + 3, hours=10)
            past = at < now
            status = ("no_show" if rng.random() < 0.15 else "attended") if past else "scheduled"
            appt = records.insert(store, "appointments", {
                "patient_id": patient_id, "scheduled_at": _iso(at), "minutes": catalog.get("module", module)["minutes"],
                "mode": rng.choice(["video", "phone", "in-person"]), "module_id": module, "module_version": "1.0.0",
                "clinician": access.user, "link": None, "status": status,
                "recorded_at": _iso(at + timedelta(hours=1)) if past else None,
                "recorded_by": access.user if past else None, "notes": None,
                "feedback": rng.randint(3, 5) if status == "attended" else None,
                "fidelity": json.dumps([f["id"] for f in catalog.get("module", module)["fidelity"]]) if status == "attended" else None})
            if status == "attended":
                for task in catalog.get("module", module)["homework"]:
                    done = rng.random() < 0.65
                    records.insert(store, "homework", {
                        "patient_id": patient_id, "module_id": module, "task_id": task["id"],
                        "text": json.dumps(task["text"], ensure_ascii=False), "assigned_at": appt["scheduled_at"],
                        "due_date": (at + timedelta(days=7)).date().isoformat(), "status": "done" if done else "assigned",
                        "done_at": _iso(at + timedelta(days=5)) if done else None, "note": None})
        for n, weeks in enumerate(range(0, days // 7 + 1, 4)):
            taken = start + timedelta(weeks=weeks, days=1)
            for ident, first in (("phq9", rng.uniform(10, 18)), ("gad7", rng.uniform(8, 15)), ("peg3", base_pain)):
                instrument = catalog.get("instrument", ident)
                target = first * (1 - 0.12 * n) if improving else first
                answers = _answers_for(instrument, target, rng)
                if alert and ident == "phq9" and taken + timedelta(weeks=4) > now:
                    answers["phq9_9"] = 1
                result = score(instrument, answers)
                run = records.insert(store, "runs", {
                    "patient_id": patient_id, "kind": "instrument", "content_id": ident, "content_version": "1.0.0",
                    "lang": "en", "status": "completed", "position": None, "history": "[]",
                    "answers": json.dumps(answers), "started_by": access.user, "started_at": _iso(taken),
                    "completed_at": _iso(taken)})
                records.insert(store, "measure_responses", {
                    "patient_id": patient_id, "run_id": run["id"], "instrument_id": ident, "instrument_version": "1.0.0",
                    "lang": "en", "answers": json.dumps(answers), "total": result.total, "band": result.band,
                    "subscales": json.dumps(result.subscales), "responder": None, "prorated": 0,
                    "recorded_by": access.user, "completed_at": _iso(taken)})
                if answers.get("phq9_9"):
                    records.insert(store, "safety_alerts", {
                        "patient_id": patient_id, "rule_id": "phq9-self-harm", "content_id": "phq9",
                        "source_id": run["id"], "status": "open", "opened_at": _iso(taken), "opened_by": access.user,
                        "acknowledged_at": None, "acknowledged_by": None, "note": None})
        for text, direction in (("Please remember your diary this week.", "to_patient"),
                                ("The breathing exercise helps me sleep.", "from_patient")):
            records.insert(store, "messages", {
                "patient_id": patient_id, "direction": direction, "kind": "message",
                "sender": access.user if direction == "to_patient" else "patient", "body": text,
                "sent_at": _iso(now - timedelta(days=rng.randint(1, 20))), "read_at": None})
        audit.append(store, access.user, "demo.seed", patient_id=patient_id)


def _checkins(access: Access, patient_id: str, module: str, now: datetime, kind: str, rng: random.Random) -> None:
    """The check-ins a worker sees this week: the next one, and one later today or one overdue."""
    times = [now + timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 6))]
    if kind == "today":
        local = datetime.now().astimezone()
        later = local + timedelta(hours=1)
        times.append((later if later.date() == local.date() else local - timedelta(hours=1)).astimezone(timezone.utc))
    elif kind == "overdue":
        times.append(now - timedelta(days=rng.randint(1, 3)))
    for at in times:
        records.insert(access.store, "appointments", {
            "patient_id": patient_id, "scheduled_at": _iso(at.replace(microsecond=0)), "minutes": 30,
            "mode": rng.choice(["phone", "video"]), "module_id": module, "module_version": "1.0.0",
            "clinician": access.user, "link": None, "status": "scheduled", "recorded_at": None, "recorded_by": None,
            "notes": None, "feedback": None, "fidelity": None})
