"""Writing synchronised records: stamps, tombstones and the change log, in one transaction."""

from __future__ import annotations

import json

from telecbt_cli.core.clock import now_iso
from telecbt_cli.core.ids import uuid7
from telecbt_cli.core.store import Store


def _log_change(store: Store, table: str, row: dict, op: str) -> None:
    store.db["change_log"].insert(
        {
            "change_id": uuid7(),
            "table_name": table,
            "row_id": row["id"],
            "op": op,
            "hlc": row["hlc"],
            "device_id": store.device_id,
            "at": row["updated_at"],
            "data": json.dumps(row, sort_keys=True, ensure_ascii=False),
        }
    )


def _require_tx(store: Store) -> None:
    if not store.conn.in_transaction:
        raise RuntimeError("records are written inside Store.write()")


def insert(store: Store, table: str, values: dict) -> dict:
    """A new record with a UUIDv7 id, stamps and the device id; logged as a change."""
    _require_tx(store)
    now = now_iso()
    row = {
        "id": uuid7(),
        **values,
        "created_at": now,
        "updated_at": now,
        "device_id": store.device_id,
        "hlc": store.next_hlc(),
        "deleted": 0,
    }
    store.db[table].insert(row)
    row = store.db[table].get(row["id"])
    _log_change(store, table, row, "insert")
    return row


def update(store: Store, table: str, row_id: str, changes: dict) -> dict:
    """Change fields of a record; the full new row goes to the change log."""
    _require_tx(store)
    stamps = {"updated_at": now_iso(), "device_id": store.device_id, "hlc": store.next_hlc()}
    store.db[table].update(row_id, {**changes, **stamps})
    row = store.db[table].get(row_id)
    _log_change(store, table, row, "update")
    return row


def tombstone(store: Store, table: str, row_id: str) -> dict:
    """Mark a record deleted; the row stays so the deletion can travel to other devices."""
    _require_tx(store)
    stamps = {"updated_at": now_iso(), "device_id": store.device_id, "hlc": store.next_hlc(), "deleted": 1}
    store.db[table].update(row_id, stamps)
    row = store.db[table].get(row_id)
    _log_change(store, table, row, "delete")
    return row
