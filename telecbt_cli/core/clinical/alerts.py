"""Safety alerts: opened when a safety rule fires, open until a clinician acknowledges them."""

from __future__ import annotations

from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import UsageError


def open_alert(access: Access, patient_id: str, rule_id: str, content_id: str, source_id: str) -> dict | None:
    """Open an alert unless this rule already has one open for the same run."""
    store = access.store
    exists = store.conn.execute(
        "SELECT 1 FROM safety_alerts WHERE source_id = ? AND rule_id = ? AND status = 'open'", (source_id, rule_id)
    ).fetchone()
    if exists:
        return None
    with store.write():
        row = records.insert(store, "safety_alerts", {
            "patient_id": patient_id, "rule_id": rule_id, "content_id": content_id, "source_id": source_id,
            "status": "open", "opened_at": now_iso(), "opened_by": access.user,
            "acknowledged_at": None, "acknowledged_by": None, "note": None,
        })
        audit.append(store, access.user, "alert.open", patient_id=patient_id,
                     detail={"rule": rule_id, "content": content_id})
    return row


def list_alerts(access: Access, patient_id: str | None = None, include_closed: bool = False) -> list[dict]:
    access.require("read")
    sql = ("SELECT a.id, a.patient_id, p.code, a.rule_id, a.content_id, a.status, a.opened_at, a.opened_by, "
           "a.acknowledged_at, a.acknowledged_by, a.note FROM safety_alerts a JOIN patients p ON p.id = a.patient_id "
           "WHERE a.deleted = 0")
    params: list = []
    if patient_id:
        sql += " AND a.patient_id = ?"
        params.append(patient_id)
    if not include_closed:
        sql += " AND a.status = 'open'"
    return access.store.rows(sql + " ORDER BY a.opened_at", params)


def open_count(access: Access, patient_id: str) -> int:
    return access.store.conn.execute(
        "SELECT count(*) FROM safety_alerts WHERE patient_id = ? AND status = 'open' AND deleted = 0", (patient_id,)
    ).fetchone()[0]


def acknowledge(access: Access, alert_id: str, note: str) -> dict:
    """A clinician has followed up: record who, when and a short note (audited)."""
    access.require("review")
    if not note.strip():
        raise UsageError("say briefly what was done (--note), e.g. 'called patient, safe, plan agreed'",
                         key="errors.alert.note")
    ident = records.resolve_id(access.store, "safety_alerts", alert_id, "safety alert")
    patient_id, status = access.store.conn.execute(
        "SELECT patient_id, status FROM safety_alerts WHERE id = ?", (ident,)).fetchone()
    if status != "open":
        raise UsageError("that alert was already acknowledged", key="errors.alert.already")
    store = access.store
    with store.write():
        row = records.update(store, "safety_alerts", ident, {
            "status": "acknowledged", "acknowledged_at": now_iso(), "acknowledged_by": access.user,
            "note": note.strip()})
        audit.append(store, access.user, "alert.acknowledge", patient_id=patient_id, detail={"alert": ident})
    return row


def guidance(catalog: Catalog, rules: list[dict], lang: str) -> str:
    """What a person sees the moment safety rules fire: each rule's own words, then the crisis contacts.

    The contacts are the clinic's (program.toml `[crisis]`, in `lang`) or, when it set none, the
    built-in text; every interface shows this same text.
    """
    parts = [pick(rule.get("message"), lang).strip() for rule in rules] + [catalog.crisis(lang)]
    return "\n\n".join(dict.fromkeys(part for part in parts if part))
