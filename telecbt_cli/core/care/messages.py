"""Secure messages between a patient and the care team, kept in the store."""

from __future__ import annotations

from telecbt_cli.core.clinical.patients import patient_id_for, require_active_consent
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import UsageError

MAX_LENGTH = 2000


def check_stored(row: dict) -> None:
    """A stored message (as a bundle carries it) against the rules of `send`."""
    body = row.get("body")
    if not isinstance(body, str) or not body.strip():
        raise UsageError("the message is empty", key="errors.message.empty")
    if len(body) > MAX_LENGTH:
        raise UsageError("a message is at most {most} characters", key="errors.message.too_long", most=MAX_LENGTH)


def send(access: Access, code: str, text: str, from_patient: bool = False) -> dict:
    """A message to the patient (from staff), or one the patient wrote (at a kiosk, on paper)."""
    access.require("write")
    if not text.strip():
        raise UsageError("the message is empty", key="errors.message.empty")
    if len(text) > MAX_LENGTH:
        raise UsageError("a message is at most {most} characters", key="errors.message.too_long", most=MAX_LENGTH)
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    store = access.store
    with store.write():
        row = records.insert(store, "messages", {
            "patient_id": patient_id, "direction": "from_patient" if from_patient else "to_patient",
            "kind": "message", "sender": "patient" if from_patient else access.user, "body": text,
            "sent_at": now_iso(), "read_at": None})
        audit.append(store, access.user, "message.send", patient_id=patient_id)
    return row


def list_messages(access: Access, code: str, unread_only: bool = False, mark_read: bool = True) -> list[dict]:
    """The conversation, oldest first. Listing marks the patient's messages read by the team."""
    access.require("read")
    patient_id = patient_id_for(access, code)
    sql = ("SELECT id, direction, kind, sender, body, sent_at, read_at FROM messages "
           "WHERE patient_id = ? AND deleted = 0")
    if unread_only:
        sql += " AND read_at IS NULL AND direction = 'from_patient'"
    rows = access.store.rows(sql + " ORDER BY sent_at, hlc", (patient_id,))
    for row in rows:
        row["unread"] = row["read_at"] is None
    unread = [r["id"] for r in rows if r["unread"] and r["direction"] == "from_patient"]
    store = access.store
    if mark_read and unread and access.can("write"):
        with store.write():
            for ident in unread:
                records.update(store, "messages", ident, {"read_at": now_iso()})
    audit.append(store, access.user, "message.read", patient_id=patient_id)
    return rows


def unread_count(access: Access, patient_id: str) -> int:
    return access.store.conn.execute(
        "SELECT count(*) FROM messages WHERE patient_id = ? AND direction = 'from_patient' AND read_at IS NULL "
        "AND deleted = 0", (patient_id,)).fetchone()[0]
