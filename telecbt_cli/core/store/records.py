"""Writing synchronised records: stamps, tombstones and the change log, in one transaction.

Plain SQL rather than sqlite-utils here: these run on every write, and importing
sqlite-utils costs more than the write itself on an old laptop.
"""

from __future__ import annotations

import json

from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.store.vault import Store

#: Tables that stay on their device: staff users (each store has its own key slots and
#: passphrases), the email outbox (emails leave from the device that queued them) and kiosk
#: PINs (set and counted where the kiosk runs; written with plain SQL, never logged as changes).
LOCAL_TABLES = frozenset({"users", "outbox", "patient_pins"})

_TABLES = frozenset({"users", "patients", "consents", "runs", "measure_responses", "safety_alerts",
                     "diary_entries", "plans", "goals", "homework", "appointments", "messages", "outbox",
                     "patient_flags"})
#: Tables whose changes travel in bundles.
SYNCED_TABLES = _TABLES - LOCAL_TABLES


def _table(name: str) -> str:
    if name not in _TABLES:
        raise ValueError(f"{name} is not a synchronised table")
    return name


def get(store: Store, table: str, row_id: str) -> dict | None:
    return store.one(f"SELECT * FROM {_table(table)} WHERE id = ?", (row_id,))


def change_key(table: str, row_id: str, hlc: str) -> str:
    """A change's id: one version of one row. Derived, so bundles need not carry it."""
    return f"{table}:{row_id}:{hlc}"


def _log_change(store: Store, table: str, row: dict, op: str, base_hlc: str | None = None) -> None:
    store.conn.execute(
        "INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data, base_hlc) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (change_key(table, row["id"], row["hlc"]), table, row["id"], op, row["hlc"], store.device_id, row["updated_at"],
         json.dumps(row, sort_keys=True, ensure_ascii=False), base_hlc),
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
    columns = list(row)
    store.conn.execute(
        f"INSERT INTO {_table(table)} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    stored = get(store, table, row["id"])
    assert stored is not None
    _log_change(store, table, stored, "insert")
    return stored


def update(store: Store, table: str, row_id: str, changes: dict) -> dict:
    """Change fields of a record; the full new row goes to the change log."""
    _require_tx(store)
    values = {**changes, "updated_at": now_iso(), "device_id": store.device_id, "hlc": store.next_hlc()}
    return _apply(store, table, row_id, values, "update")


def tombstone(store: Store, table: str, row_id: str) -> dict:
    """Mark a record deleted; the row stays so the deletion can travel to other devices."""
    _require_tx(store)
    values = {"updated_at": now_iso(), "device_id": store.device_id, "hlc": store.next_hlc(), "deleted": 1}
    return _apply(store, table, row_id, values, "delete")


def _apply(store: Store, table: str, row_id: str, values: dict, op: str) -> dict:
    before = store.conn.execute(f"SELECT hlc FROM {_table(table)} WHERE id = ?", (row_id,)).fetchone()
    assignments = ", ".join(f"{column} = ?" for column in values)
    store.conn.execute(f"UPDATE {_table(table)} SET {assignments} WHERE id = ?", [*values.values(), row_id])
    row = get(store, table, row_id)
    if row is None:
        raise KeyError(row_id)
    _log_change(store, table, row, op, before[0] if before else None)
    return row


#: The fewest characters of an id a person may type instead of the whole id.
MIN_TYPED_ID = 6
_ID_TABLES = _TABLES | {"peers"}
_HEX = frozenset("0123456789abcdef")


def looks_like_id(typed: str) -> bool:
    """Whether text could be (part of) a record id that `resolve_id` would look up."""
    digits = typed.strip().lower().replace("-", "")
    return MIN_TYPED_ID <= len(digits) <= 32 and set(digits) <= _HEX


def resolve_id(store: Store, table: str, typed: str, noun: str, where: str = "deleted = 0") -> str:
    """The full id of the record a person means: the whole id, or a unique start or end of it
    (at least MIN_TYPED_ID characters; dashes and case do not matter). Tables show the end
    (`ids.short_id`); the start works too. The one place every command and screen resolves ids.

    Ambiguous: UsageError saying how many records match; none: NotFoundError."""
    from telecbt_cli.core.store.errors import NotFoundError, Term, UsageError

    if table not in _ID_TABLES:
        raise ValueError(f"{table} has no record ids")
    digits = typed.strip().lower().replace("-", "")
    if not digits or not set(digits) <= _HEX:
        raise UsageError("{typed!r} is not an id: ids are made of the digits 0-9 and the letters a-f",
                         key="errors.record_id.not_an_id", typed=typed)
    thing = Term(f"values.record.{noun.replace(' ', '_')}", noun)
    if len(digits) < MIN_TYPED_ID:
        raise UsageError("give at least {least} characters of the {noun} id", key="errors.record_id.too_short",
                         least=MIN_TYPED_ID, noun=thing)
    if len(digits) > 32:
        raise NotFoundError("no {noun} {typed}", key="errors.record_id.not_found", noun=thing, typed=typed)
    start = _dashed(digits)
    found = {row[0] for row in store.conn.execute(
        f"SELECT id FROM {table} WHERE id >= ? AND id < ? AND {where}", (start, start + "g"))}
    if len(digits) < 32:
        end = _dashed(digits, from_end=True)
        found |= {row[0] for row in store.conn.execute(
            f"SELECT id FROM {table} WHERE substr(id, ?) = ? AND {where}", (-len(end), end))}
    if not found:
        raise NotFoundError("no {noun} {typed}", key="errors.record_id.not_found", noun=thing, typed=typed)
    if len(found) > 1:
        raise UsageError("{typed} matches {count} {noun} ids: give more characters", key="errors.record_id.ambiguous",
                         typed=typed, count=len(found), noun=thing)
    return found.pop()


def _dashed(digits: str, from_end: bool = False) -> str:
    """Hex digits with a UUID's dashes (8-4-4-4-12) where they fall, read from the start or the end."""
    first = 32 - len(digits) if from_end else 0
    out = []
    for offset, digit in enumerate(digits):
        if offset and first + offset in (8, 12, 16, 20):
            out.append("-")
        out.append(digit)
    return "".join(out)
