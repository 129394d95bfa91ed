"""Treatment plans: the course, SMART goals with progress notes, and homework per session."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.clinical.patients import (
    get_patient,
    patient_id_for,
    require_active_consent,
    zone_of,
)
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import Codes, UsageError
from telecbt_cli.core.store.localtime import today as local_today

GOAL_STATUSES = ("active", "achieved", "revised", "dropped")


def check_stored_goal(row: dict) -> None:
    """A stored goal (as a bundle carries it) against the rules of `add_goal` and `update_goal`."""
    if not isinstance(row.get("text"), str) or not row["text"].strip():
        raise UsageError("a goal needs its text", key="errors.plans.goal_text")
    if row.get("status") not in GOAL_STATUSES:
        raise UsageError("goal status must be one of {statuses}", key="errors.plan.goal_status",
                         statuses=Codes("goal", GOAL_STATUSES))
    progress = row.get("progress")
    if progress is not None and (isinstance(progress, bool) or not isinstance(progress, int) or not 0 <= progress <= 100):
        raise UsageError("progress is a percentage from 0 to 100", key="errors.plan.progress")


def parse_day(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise UsageError("{text!r} is not a date: use YYYY-MM-DD", key="errors.plan.not_a_day", text=text) from None


def set_plan(access: Access, catalog: Catalog, code: str, course: str | None = None,
             sessions: list[str] | None = None, caregiver_involved: bool | None = None,
             notes: str | None = None) -> dict:
    """Choose the course (standard, brief, or a custom order of modules) and plan details."""
    access.require("write")
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    if sessions:
        for module in sessions:
            catalog.get("module", module)
        course = "custom"
    elif course:
        sessions = list(catalog.get("course", course)["sessions"])
    existing = access.store.rows("SELECT * FROM plans WHERE patient_id = ? AND deleted = 0", (patient_id,))
    if not existing and not sessions:
        raise UsageError("a new plan needs a course: --course standard, --course brief or --sessions cbt-01,cbt-04,…",
                         key="errors.plan.course_needed")
    changes: dict = {}
    if sessions:
        changes.update(course=course, sessions=json.dumps(sessions))
    if caregiver_involved is not None:
        changes["caregiver_involved"] = int(caregiver_involved)
    if notes is not None:
        changes["notes"] = notes or None
    if not changes:
        raise UsageError("nothing to change: give --course, --sessions, --caregiver-involved or --notes",
                         key="errors.plan.nothing")
    store = access.store
    with store.write():
        if existing:
            records.update(store, "plans", existing[0]["id"], changes)
        else:
            records.insert(store, "plans", {"patient_id": patient_id, "caregiver_involved": 0, "notes": None, **changes})
        audit.append(store, access.user, "plan.set", patient_id=patient_id, detail={"fields": sorted(changes)})
    return show_plan(access, catalog, code)


def show_plan(access: Access, catalog: Catalog, code: str, lang: str = "en") -> dict:
    """Everything on the printed plan: course, sessions, goals, homework, caregiver."""
    patient = get_patient(access, code)
    pid = patient["id"]
    plan = access.store.rows("SELECT * FROM plans WHERE patient_id = ? AND deleted = 0", (pid,))
    done = {r["module_id"] for r in access.store.rows("SELECT module_id FROM appointments WHERE patient_id = ? "
                                                      "AND status = 'attended' AND deleted = 0", (pid,))}
    sessions = json.loads(plan[0]["sessions"]) if plan else []
    goals = access.store.rows("SELECT id, text, measure, target_date, status, progress, notes, updated_at "
                              "FROM goals WHERE patient_id = ? AND deleted = 0 ORDER BY created_at", (pid,))
    for goal in goals:
        goal["notes"] = json.loads(goal["notes"])
    involved = bool(plan and plan[0]["caregiver_involved"])
    return {
        "patient": {"code": patient["code"], "display_name": patient["display_name"]},
        "course": plan[0]["course"] if plan else None,
        "notes": plan[0]["notes"] if plan else None,
        "sessions": [{"n": n, "module": m, "title": pick(catalog.entries["module"].get(m, {}).get("title"), lang),
                      "attended": m in done} for n, m in enumerate(sessions, 1)],
        "goals": goals,
        "homework": list_homework(access, code, audit_read=False),
        "caregiver": {"name": patient["caregiver_name"], "contact": patient["caregiver_contact"],
                      "involved": involved} if involved else None,
    }


def next_module(plan: dict) -> str | None:
    """The module the next check-in most likely covers: the plan's first session not yet attended
    (None without a plan or once all are attended). `plan` is what show_plan returns."""
    return next((s["module"] for s in plan.get("sessions") or [] if not s["attended"]), None)


def upcoming_module(access: Access, catalog: Catalog, code: str) -> str | None:
    """next_module for a patient's plan as it is stored now."""
    return next_module(show_plan(access, catalog, code))


def add_goal(access: Access, code: str, text: str, measure: str | None = None, target: str | None = None) -> dict:
    access.require("write")
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    if not text.strip():
        raise UsageError("a goal needs its text: what exactly will the patient do?", key="errors.plan.goal_text")
    store = access.store
    with store.write():
        row = records.insert(store, "goals", {"patient_id": patient_id, "text": text.strip(), "measure": measure,
                                              "target_date": parse_day(target) if target else None,
                                              "status": "active", "progress": 0, "notes": "[]"})
        audit.append(store, access.user, "goal.add", patient_id=patient_id)
    return row


def update_goal(access: Access, goal_id: str, status: str | None = None, progress: int | None = None,
                note: str | None = None) -> dict:
    """Change status or progress, adding a dated progress note; earlier notes are kept."""
    access.require("write")
    goal = find_record(access, "goals", goal_id)
    if status is not None and status not in GOAL_STATUSES:
        raise UsageError("goal status must be one of {statuses}", key="errors.plan.goal_status",
                         statuses=Codes("goal", GOAL_STATUSES))
    if progress is not None and not 0 <= progress <= 100:
        raise UsageError("progress is a percentage from 0 to 100", key="errors.plan.progress")
    if status is None and progress is None and not note:
        raise UsageError("nothing to change: give --status, --progress or --note", key="errors.plan.goal_nothing")
    notes = json.loads(goal["notes"])
    if note:
        notes.append({"at": now_iso(), "by": access.user, "note": note})
    changes = {"notes": json.dumps(notes, ensure_ascii=False)}
    if status:
        changes["status"] = status
    if progress is not None:
        changes["progress"] = progress
    store = access.store
    with store.write():
        row = records.update(store, "goals", goal["id"], changes)
        audit.append(store, access.user, "goal.update", patient_id=goal["patient_id"])
    return row


_NOUNS = {"goals": "goal", "homework": "homework", "appointments": "session"}


def find_record(access: Access, table: str, ident: str) -> dict:
    """A goal, homework task or session by its id, or a unique start or end of it."""
    row = access.store.one(f"SELECT * FROM {table} WHERE id = ?",
                           (records.resolve_id(access.store, table, ident, _NOUNS[table]),))
    assert row is not None
    return row


def assign_homework(access: Access, catalog: Catalog, patient_id: str, module_id: str, due: str) -> list[dict]:
    """The module's homework tasks for this patient, due on `due` (call inside a write)."""
    module = catalog.get("module", module_id)
    made = []
    for task in module.get("homework", []):
        made.append(records.insert(access.store, "homework", {
            "patient_id": patient_id, "module_id": module_id, "task_id": task["id"],
            "text": json.dumps(task["text"], ensure_ascii=False), "assigned_at": now_iso(), "due_date": due,
            "status": "assigned", "done_at": None, "note": None}))
    return made


def list_homework(access: Access, code: str, status: str | None = None, audit_read: bool = True) -> list[dict]:
    access.require("read")
    patient_id = patient_id_for(access, code)
    sql = "SELECT id, module_id, task_id, text, due_date, status, done_at, note FROM homework WHERE patient_id = ? AND deleted = 0"
    params: tuple = (patient_id,)
    if status:
        sql += " AND status = ?"
        params += (status,)
    rows = access.store.rows(sql + " ORDER BY due_date, module_id", params)
    today = local_today(zone_of(access, patient_id)).isoformat()  # due dates are the patient's days
    for row in rows:
        row["text"] = json.loads(row["text"])
        row["overdue"] = row["status"] == "assigned" and row["due_date"] < today
    if audit_read:
        audit.append(access.store, access.user, "homework.read", patient_id=patient_id)
    return rows


def homework_done(access: Access, homework_id: str, note: str | None = None) -> dict:
    access.require("write")
    task = find_record(access, "homework", homework_id)
    if task["status"] == "done":
        raise UsageError("that homework is already marked done", key="errors.plan.homework_done")
    store = access.store
    with store.write():
        row = records.update(store, "homework", task["id"], {"status": "done", "done_at": now_iso(), "note": note})
        audit.append(store, access.user, "homework.done", patient_id=task["patient_id"])
    return row


def default_due(days: int = 7) -> str:
    return (datetime.now(timezone.utc).date() + timedelta(days=days)).isoformat()
