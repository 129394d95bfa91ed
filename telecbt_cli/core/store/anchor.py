"""The audit head and change counter, anchored outside the database in the key file.

The audit chain shows edits inside the database, but not a database that is shorter than
it was: entries cut from the end (the next sign-in chains onto the cut tail) or an older
copy of `telecbt.db` put back. So the newest audit entry (its number and hash) and the
newest change number are also written into the key file, sealed with a MAC under a key
derived from the data key (so the record cannot be edited to match), and `audit.verify`
compares the database with it.

Writing the key file costs two fsyncs, so the anchor is not rewritten on every write: a
store marks it due when an audit entry is appended and writes it when it closes, or after
a write once `vault.ANCHOR_EVERY_SECONDS` have passed (a TUI left open). A crash before that leaves the
anchor behind the database, which is never mistaken for tampering; the database behind the
anchor always is. The anchor never moves forward from a database that no longer holds the
anchored entry, so the evidence stays until an admin accepts it (`accept`, `store check
--accept-rollback`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from telecbt_cli.core.store import crypto
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.core.store.vault import Store

if TYPE_CHECKING:
    from telecbt_cli.core.store.access import Access

#: What to do, said with every problem found.
ADVICE = ("If nobody restored telecbt.db on purpose, treat the store as tampered with: tell your supervisor, "
          "and restore the whole store folder from a recent backup (docs/store-format.md, 'Roll-back').")


def _mac(data_key: bytes, store_id: str, fields: dict) -> str:
    key = crypto.hkdf(data_key, b"telecbt audit anchor")
    payload = json.dumps({"store_id": store_id, **fields}, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode().rstrip("=")


def _sealed(store: Store, fields: dict, previous: dict | None) -> dict:
    """The anchor record: the head, a counter one above the previous record's, and their MAC."""
    counter = previous.get("counter", 0) + 1 if previous and isinstance(previous.get("counter"), int) else 1
    record = {**fields, "counter": counter}
    return {**record, "mac": _mac(store.data_key, store.store_id, record)}


def _fields(anchor: dict) -> dict:
    return {k: anchor.get(k) for k in ("audit_seq", "audit_hash", "changes")}


def _valid(store: Store, anchor: dict, data_key: bytes | None = None) -> bool:
    record = {**_fields(anchor), "counter": anchor.get("counter")}
    expected = _mac(data_key or store.data_key, store.store_id, record)
    return hmac.compare_digest(str(anchor.get("mac", "")), expected)


def current(store: Store) -> dict:
    """The database's own head: newest audit entry and newest change number."""
    head = store.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    changes = store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0]
    return {"audit_seq": head[0] if head else 0, "audit_hash": head[1] if head else None, "changes": changes}

#: What the anchor shows, in English (`errors.anchor.…` in the catalogs; `audit.described` keys them again).
FINDINGS = {
    "invalid": "the audit anchor in the key file does not verify: it was edited, or written under another key. "
               + ADVICE,
    "log_ends": "the audit log ends at entry {head}, but entry {seq} was written (recorded in the key file): the "
                "newest entries were removed, or an older copy of the database was put back. " + ADVICE,
    "entry_replaced": "audit entry {seq} is not the one recorded in the key file: entries were removed and the log "
                      "went on from there, or an older copy of the database was put back. " + ADVICE,
    "changes_end": "the change log ends at change {head}, but change {changes} was made: an older copy of the "
                   "database was put back. " + ADVICE,
}


def problems(store: Store) -> list[str]:
    """Where the database is behind (or beside) the anchor in the key file; empty when it is not."""
    anchored = kfmod.load(store.dir, repair=False).keyfile.anchor  # read before the database: it only grows
    if anchored is None:
        return []
    if not _valid(store, anchored):
        return [FINDINGS["invalid"]]
    return _findings(store, anchored, current(store))


def _findings(store: Store, anchored: dict, head: dict) -> list[str]:
    found: list[str] = []
    seq, changes = anchored["audit_seq"], anchored["changes"]
    if head["audit_seq"] < seq:
        found.append(FINDINGS["log_ends"].format(head=head["audit_seq"], seq=seq))
    else:
        row = store.conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        if seq and (row is None or row[0] != anchored["audit_hash"]):
            found.append(FINDINGS["entry_replaced"].format(seq=seq))
    if head["changes"] < changes:
        found.append(FINDINGS["changes_end"].format(head=head["changes"], changes=changes))
    return found


def flush(store: Store) -> bool:
    """Move the anchor up to the database's head; False when nothing moved (up to date, or a roll-back found)."""
    for _ in range(2):  # another process may write the key file between our read and our write
        kf = kfmod.load(store.dir, repair=False).keyfile
        anchored = kf.anchor
        head = current(store)
        if anchored is not None:
            if not _valid(store, anchored) or _findings(store, anchored, head):
                return False  # never cover a roll-back
            if _fields(anchored) == head:
                return False
        try:
            store.keyfile = kfmod.save(store.dir, replace(kf, anchor=_sealed(store, head, kf.anchor)), kf.generation,
                                       anchor_only=True)
            return True
        except TelecbtError:
            continue
    return False


def reseal(store: Store, old_key: bytes) -> None:
    """After `store rekey`: the anchor, checked under the old data key, sealed again under the new one."""
    kf = kfmod.load(store.dir, repair=False).keyfile
    if kf.anchor is None or not _valid(store, kf.anchor, old_key):
        return
    store.keyfile = kfmod.save(store.dir, replace(kf, anchor=_sealed(store, _fields(kf.anchor), kf.anchor)), kf.generation,
                               anchor_only=True)


def accept(access: "Access") -> dict:
    """Anchor the database as it is now, after an admin restored it on purpose (audited); old and new heads."""
    from telecbt_cli.core.store import audit

    access.require("manage")
    store = access.store
    kf = kfmod.load(store.dir, repair=False).keyfile
    head = current(store)
    store.keyfile = kfmod.save(store.dir, replace(kf, anchor=_sealed(store, head, kf.anchor)), kf.generation,
                               anchor_only=True)
    previous = _fields(kf.anchor) if kf.anchor else None
    audit.append(store, access.user, "store.anchor_accepted",
                 detail={"previous_entry": previous and previous["audit_seq"], "now_entry": head["audit_seq"],
                         "previous_change": previous and previous["changes"], "now_change": head["changes"]})
    return {"previous": previous, "now": head}
