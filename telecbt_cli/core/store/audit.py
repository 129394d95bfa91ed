"""The append-only audit log: who did what, when, chained by SHA-256 so edits show.

Entries name actions and patient ids, never clinical content. Each entry's hash
covers its own fields and the previous entry's hash; the newest (seq, hash) is also
kept in `meta`, so removing entries from the end shows too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import IntegrityError, StorageError, TelecbtError, recognise
from telecbt_cli.core.store.vault import FULL_DISK_NOTICE, Store

GENESIS = "0" * 64


def _digest(seq: int, at: str, user: str | None, device: str, action: str,
            patient_id: str | None, detail: str | None, prev_hash: str) -> str:
    payload = json.dumps(
        [seq, at, user, device, action, patient_id, detail, prev_hash],
        separators=(",", ":"), ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append(store: Store, user: str | None, action: str, patient_id: str | None = None,
           detail: dict | None = None) -> int:
    """Add one entry; runs in the caller's transaction, or its own.

    An entry on its own (a read, a sign-in) that a full disk refuses waits sealed in the
    reserved queue (`audit_queue`) and the read goes on, with a notice; returns 0 then. In
    the caller's transaction (a change) a refusal fails the change, as it should.
    """
    if store.conn.in_transaction:
        return _append(store, user, action, patient_id, detail)
    try:
        return _append(store, user, action, patient_id, detail)
    except StorageError:
        from telecbt_cli.core.store import audit_queue

        entry = {"at": now_iso(), "user": user, "action": action, "patient_id": patient_id, "detail": detail}
        if not audit_queue.put(store.dir, store.data_key, store.store_id, entry):
            raise
        if FULL_DISK_NOTICE not in store.notices:
            store.notices.append(FULL_DISK_NOTICE)
        return 0


def ingest_queued(store: Store) -> int:
    """Move entries a full disk kept waiting into the chain (marked `queued`); how many."""
    from telecbt_cli.core.store import audit_queue

    entries = audit_queue.take(store.dir, store.data_key, store.store_id)
    if entries:
        with store.write():
            for e in entries:
                _append(store, e.get("user"), e.get("action") or "unknown", e.get("patient_id"),
                        {**(e.get("detail") or {}), "queued": True, "happened_at": e.get("at")})
        audit_queue.clear(store.dir)
    return len(entries)


def _append(store: Store, user: str | None, action: str, patient_id: str | None, detail: dict | None) -> int:
    with store.write():
        head = store.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        at = now_iso()
        detail_text = json.dumps(detail, sort_keys=True, separators=(",", ":")) if detail else None
        digest = _digest(seq, at, user, store.device_id, action, patient_id, detail_text, prev)
        store.conn.execute(
            "INSERT INTO audit_log (seq, at, user_name, device_id, action, patient_id, detail, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, user, store.device_id, action, patient_id, detail_text, prev, digest),
        )
        store.set_meta("audit_head", f"{seq}:{digest}")
    store.anchor_due = True
    return seq


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    user: str | None
    device_id: str
    action: str
    patient_id: str | None
    detail: dict | None
    patient_code: str | None = None

    def to_dict(self) -> dict:
        return {
            "seq": self.seq, "at": self.at, "user": self.user, "device_id": self.device_id,
            "action": self.action, "patient_id": self.patient_id, "patient_code": self.patient_code,
            "detail": self.detail,
        }


def entries(store: Store, patient_id: str | None = None, since: str | None = None,
            limit: int | None = None) -> list[AuditEntry]:
    """Entries oldest first, optionally for one patient or from a time on."""
    where, params = [], []
    if patient_id:
        where.append("patient_id = ?")
        params.append(patient_id)
    if since:
        where.append("at >= ?")
        params.append(since)
    sql = ("SELECT a.seq, a.at, a.user_name, a.device_id, a.action, a.patient_id, a.detail, p.code "
           "FROM audit_log a LEFT JOIN patients p ON p.id = a.patient_id")
    if where:
        sql += " WHERE " + " AND ".join(f"a.{w}" for w in where)
    sql += " ORDER BY a.seq"
    rows = store.conn.execute(sql, params).fetchall()
    if limit:
        rows = rows[-limit:]
    return [
        AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None, r[7])
        for r in rows
    ]


def _as_stored(kind: str, raw: str) -> str:
    return raw


#: Detail fields whose values are stored words a UI can translate, and the kinds of word they are tried as
#: (`values.role.…`, then `values.device_role.…`); any other value of theirs (a zone name) reads as stored.
_WORD_FIELDS = {"role": ("role", "device_role"), "mode": ("mode",), "timezone": ("timezone",),
                "tables": ("export_table",), "patients": ("audit_word",), "kind": ("message",),
                "outcome": ("session",), "method": ("consent",), "fields": ("record_field",)}


def describe(detail: dict | None, zone: tzinfo | None = None, word: Callable[[str, str], str] = _as_stored) -> str:
    """An entry's detail in words for people (`expires: 2026-12-01 13:00:00 EAT; rebuilt keyfile: no`),
    not as Python or JSON would print it: yes/no, times in `zone` (default UTC) with its name, lists joined.

    `word(kind, raw)` puts the words in the reader's language: a field's name (kind `audit_field`), yes,
    no and none (`audit_word`), a role or a session mode; without it they read in English."""
    if not detail:
        return ""
    zone = zone or timezone.utc
    return "; ".join(f"{_label(key, word)}: {_in_words(key, value, zone, word)}" for key, value in detail.items())


def _label(key: str, word: Callable[[str, str], str]) -> str:
    return word("audit_field", key).replace("_", " ")


def _in_words(key: str, value: object, zone: tzinfo, word: Callable[[str, str], str]) -> str:
    from telecbt_cli.core.store.localtime import staff_time

    if isinstance(value, bool):
        return word("audit_word", "yes" if value else "no")
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and (key in ("expires", "at", "until") or key.endswith("_at")):
        return staff_time(datetime.fromtimestamp(value, timezone.utc).isoformat(), zone, seconds=True)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T" and value[13] == ":":
        return staff_time(value, zone, seconds=True)
    if isinstance(value, str) and key in _WORD_FIELDS:
        return next((shown for kind in _WORD_FIELDS[key] if (shown := word(kind, value)) != value), value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_in_words(key, item, zone, word) for item in value) or word("audit_word", "none")
    if isinstance(value, dict):
        return ", ".join(f"{_label(k, word)} {_in_words(k, v, zone, word)}" for k, v in value.items())
    return str(value)


def count(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


#: What a broken chain shows, in English (`errors.audit_chain.…` in the catalogs).
CHAIN_PROBLEMS = {
    "order": "entry {seq}: expected entry {expected} here (entries missing or out of order)",
    "link": "entry {seq}: does not follow the entry before it (deleted or reordered)",
    "changed": "entry {seq}: contents were changed after it was written",
    "head": "the newest entries are missing (the chain head does not match)",
}


def described(problem: str) -> TelecbtError | None:
    """A line of `verify` as a keyed error, for a UI to show in the reader's language; None if not ours."""
    from telecbt_cli.core.store.anchor import FINDINGS

    return (recognise(problem, CHAIN_PROBLEMS, "errors.audit_chain", IntegrityError)
            or recognise(problem, FINDINGS, "errors.anchor", IntegrityError))


def verify(store: Store) -> list[str]:
    """Problems in the chain (edited, deleted, inserted or reordered entries); empty if intact."""
    problems: list[str] = []
    prev_hash, expected_seq = GENESIS, 1
    rows = store.conn.execute(
        "SELECT seq, at, user_name, device_id, action, patient_id, detail, prev_hash, hash "
        "FROM audit_log ORDER BY rowid"
    )
    last_seq, last_hash = 0, GENESIS
    for seq, at, user, device, action, patient_id, detail, stored_prev, stored_hash in rows:
        if seq != expected_seq:
            problems.append(CHAIN_PROBLEMS["order"].format(seq=seq, expected=expected_seq))
        if stored_prev != prev_hash:
            problems.append(CHAIN_PROBLEMS["link"].format(seq=seq))
        if _digest(seq, at, user, device, action, patient_id, detail, stored_prev) != stored_hash:
            problems.append(CHAIN_PROBLEMS["changed"].format(seq=seq))
        prev_hash, expected_seq = stored_hash, seq + 1
        last_seq, last_hash = seq, stored_hash
    head = store.meta("audit_head")
    if head != (f"{last_seq}:{last_hash}" if last_seq else None):
        problems.append(CHAIN_PROBLEMS["head"])
    from telecbt_cli.core.store import anchor

    return problems + anchor.problems(store)
