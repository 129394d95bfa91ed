"""Changes that wait for a parent row this store does not have yet, kept until the bundle with it arrives.

Bundles travel by stick and email and arrive in any order: a diary entry can come before the
bundle that enrolled its patient, a correction before the entry it corrects. Such a change is
kept in `waiting_changes` (inside the encrypted store, never sent on: it is not in the change
log) with the parent it needs, and applied by the usual merge rules as soon as an import brings
that parent (`due`). A change that needs two missing parents waits for one, then for the other.
"""

from __future__ import annotations

from telecbt_cli.core.store.access import Access

#: The parent tables, and the words used for them in messages and `bundle status`.
NOUNS = {"patients": "patient", "diary_entries": "diary entry"}
_HOLD = ("INSERT OR IGNORE INTO waiting_changes (change_id, table_name, row_id, op, hlc, base_hlc, data, "
         "needs_table, needs_id, bundle_id, via, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_DUE = ("SELECT change_id, table_name, op, base_hlc, data, bundle_id, via FROM waiting_changes w WHERE "
        "(needs_table = 'patients' AND EXISTS (SELECT 1 FROM patients p WHERE p.id = w.needs_id)) OR "
        "(needs_table = 'diary_entries' AND EXISTS (SELECT 1 FROM diary_entries d WHERE d.id = w.needs_id)) "
        "ORDER BY hlc, change_id")


def parents(table: str, row: dict) -> list[tuple[str, str]]:
    """(parent table, id) for each row this one refers to: its patient, the diary entry it corrects."""
    found = []
    if table != "patients" and isinstance(row.get("patient_id"), str):
        found.append(("patients", row["patient_id"]))
    if table == "diary_entries" and isinstance(row.get("supersedes"), str):
        found.append(("diary_entries", row["supersedes"]))
    return found


def hold(conn, held: list[tuple[str, str, dict, dict, str, str, str | None, tuple[str, str]]], now: str) -> None:
    """Keep changes back: (change id, table, row, change, row JSON text, bundle id, via, (parent table, id))."""
    conn.executemany(_HOLD, [(key, table, row["id"], change.get("op"), row["hlc"], change.get("base_hlc"), text,
                              need[0], need[1], bundle_id, via, now)
                             for key, table, row, change, text, bundle_id, via, need in held])


def due(conn) -> list[tuple[dict, str, str, str | None]]:
    """Take out the waiting changes whose parent is now here: (change, row JSON text, bundle id, via), oldest first."""
    import json

    rows = conn.execute(_DUE).fetchall()
    if rows:
        conn.executemany("DELETE FROM waiting_changes WHERE change_id = ?", [(r[0],) for r in rows])
    return [({"table": table, "op": op, "base_hlc": base, "data": json.loads(data)}, data, bundle_id, via)
            for _, table, op, base, data, bundle_id, via in rows]


def status(access: Access) -> dict:
    """How many changes wait, and for each: its table and row, what it needs, where it came from (ids only)."""
    access.require("read")
    rows = access.store.rows(
        "SELECT table_name, row_id, needs_table, needs_id, via, bundle_id, received_at FROM waiting_changes "
        "ORDER BY received_at, hlc")
    changes = [{"table": r["table_name"], "row_id": r["row_id"], "needs": NOUNS.get(r["needs_table"], r["needs_table"]),
                "needs_id": r["needs_id"], "from_device": r["via"], "bundle_id": r["bundle_id"],
                "received_at": r["received_at"]} for r in rows]
    return {"waiting": len(changes), "changes": changes}
