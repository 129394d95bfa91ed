"""The caseload: active patients one page at a time, each with the status a clinician scans for.

A page at a time so a list of thousands opens at once on an old laptop; the UI asks for
the next page as the cursor nears the end.
"""

from __future__ import annotations

from datetime import datetime, timezone

from telecbt_cli.core.clinical.patients import search_clause
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.timeparse import iso_utc

PAGE = 100

_STATUS = """
    (SELECT min(a.scheduled_at) FROM appointments a
      WHERE a.patient_id = p.id AND a.status = 'scheduled' AND a.deleted = 0 AND a.scheduled_at >= ?)
      AS next_checkin,
    (SELECT count(*) FROM appointments a
      WHERE a.patient_id = p.id AND a.status = 'scheduled' AND a.deleted = 0 AND a.scheduled_at < ?)
      AS overdue,
    (SELECT count(*) FROM safety_alerts s WHERE s.patient_id = p.id AND s.status = 'open' AND s.deleted = 0)
      AS open_alerts,
    (SELECT max(d.entry_at) FROM diary_entries d WHERE d.patient_id = p.id AND d.deleted = 0) AS last_diary,
    (SELECT count(*) FROM messages m WHERE m.patient_id = p.id AND m.direction = 'from_patient'
      AND m.read_at IS NULL AND m.deleted = 0) AS unread,
    (SELECT group_concat(f.content_id || ':' || f.flag_id, ' ') FROM patient_flags f
      WHERE f.patient_id = p.id AND f.status = 'active' AND f.deleted = 0) AS flags
"""


def _where(search: str | None) -> tuple[str, list]:
    sql = "p.deleted = 0 AND p.status = 'active'"
    if search and search.strip():
        clause, params = search_clause(search, "p.")
        return f"{sql} AND {clause}", params
    return sql, []


def count(access: Access, search: str | None = None) -> int:
    access.require("read")
    where, params = _where(search)
    return access.store.conn.execute(f"SELECT count(*) FROM patients p WHERE {where}", params).fetchone()[0]


def page(access: Access, search: str | None = None, offset: int = 0, limit: int = PAGE) -> list[dict]:
    """Patients sorted by name from `offset`, with next check-in, overdue sessions, open alerts,
    last diary entry, unread messages and findings kept from an assessment (`flags`). The first
    page of a listing is audited."""
    access.require("read")
    where, params = _where(search)
    now = iso_utc(datetime.now(timezone.utc))
    rows = access.store.rows(
        f"SELECT p.code, p.display_name, p.language, {_STATUS} FROM patients p WHERE {where} "
        "ORDER BY p.display_name COLLATE NOCASE, p.code LIMIT ? OFFSET ?", [now, now, *params, limit, offset])
    for row in rows:  # findings kept from an assessment, as {"content_id", "flag_id"}
        row["flags"] = [dict(zip(("content_id", "flag_id"), pair.split(":", 1))) for pair in sorted(
            (row["flags"] or "").split())]
    if offset == 0:
        audit.append(access.store, access.user, "patient.list", detail={"count": len(rows), "paged": True})
    return rows
