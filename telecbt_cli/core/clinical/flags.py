"""Findings kept on a patient from an assessment: a red flag, "not suitable now".

A module's `[[flags]]` are judged when a run is completed. They are stored on the patient (and
travel in bundles like every clinical record) until the next completed run of the same module
replaces them, so they show wherever the patient is shown. A flag with `alert = true` also opens an
alert that stays open until a clinician acknowledges it with a note, like a safety alert.
"""

from __future__ import annotations

import json
from typing import Any

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.clinical import alerts
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso


def record(access: Access, patient_id: str, content: dict, run_id: str, answers: dict, raised: list[dict]) -> None:
    """Replace the patient's findings from `content` with `raised` (call inside the run's transaction)."""
    if not content.get("flags"):
        return
    store = access.store
    now = now_iso()
    for (ident,) in store.conn.execute(
            "SELECT id FROM patient_flags WHERE patient_id = ? AND content_id = ? AND status = 'active' "
            "AND deleted = 0", (patient_id, content["id"])).fetchall():
        records.update(store, "patient_flags", ident, {"status": "cleared", "cleared_at": now,
                                                       "cleared_by": access.user})
    for flag in raised:
        detail = {step: answers.get(step) for step in flag.get("keep") or [] if answers.get(step) is not None}
        records.insert(store, "patient_flags", {
            "patient_id": patient_id, "flag_id": flag["id"], "content_id": content["id"], "run_id": run_id,
            "detail": json.dumps(detail, ensure_ascii=False), "status": "active", "raised_at": now,
            "raised_by": access.user, "cleared_at": None, "cleared_by": None})
        if flag.get("alert"):
            alerts.open_alert(access, patient_id, flag["id"], content["id"], run_id)
    audit.append(store, access.user, "flags.record", patient_id=patient_id,
                 detail={"content": content["id"], "flags": [flag["id"] for flag in raised]})


def active_flags(access: Access, patient_id: str) -> list[dict]:
    """The patient's current findings, oldest first, each with its `detail` decoded."""
    access.require("read")
    rows = access.store.rows(
        "SELECT id, flag_id, content_id, run_id, detail, raised_at, raised_by FROM patient_flags "
        "WHERE patient_id = ? AND status = 'active' AND deleted = 0 ORDER BY raised_at, flag_id", (patient_id,))
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows


def _spec(catalog: Catalog, content_id: str, flag_id: str) -> tuple[dict, dict]:
    module = catalog.entries.get("module", {}).get(content_id) or {}
    return module, next((f for f in module.get("flags") or [] if f["id"] == flag_id), {})


def label(catalog: Catalog, content_id: str, flag_id: str, lang: str) -> str:
    """A finding's short name for lists (the content's `label`, else its id)."""
    return pick(_spec(catalog, content_id, flag_id)[1].get("label"), lang) or flag_id


def describe(catalog: Catalog, flag: dict, lang: str) -> dict[str, Any]:
    """A finding in words: its label, its message and what was found (option labels, typed text)."""
    module, spec = _spec(catalog, flag["content_id"], flag["flag_id"])
    steps = {step["id"]: step for step in module.get("steps") or []}
    details: list[str] = []
    for step_id, answer in flag["detail"].items():
        labels = {o["value"]: pick(o.get("label"), lang) for o in steps.get(step_id, {}).get("options") or []}
        for value in answer if isinstance(answer, list) else [answer]:
            details.append(labels.get(value) or str(value))
    return {"id": flag["flag_id"], "label": label(catalog, flag["content_id"], flag["flag_id"], lang),
            "message": pick(spec.get("message"), lang), "details": details, "content_id": flag["content_id"],
            "raised_at": flag["raised_at"], "raised_by": flag["raised_by"]}
