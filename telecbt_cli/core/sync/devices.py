"""This device's identity (Ed25519 signing key, age X25519 identity) and the peers it trusts.

The private keys live in the encrypted database (meta), created on first use. A peer
is enrolled from its device card, a one-line string, and shown with a short
fingerprint to compare over the phone before trusting it.
"""

from __future__ import annotations

import base64
import hashlib
import json

from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import Codes, IntegrityError, NotFoundError, TelecbtError, UsageError, recognise

CARD_PREFIX = "telecbt-device:v1"
ROLES = ("hub", "field")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _keys(access: Access) -> tuple[bytes, str]:
    """(Ed25519 private key bytes, age identity string), generated once per store."""
    store = access.store
    signing = store.meta("device_signing_key")
    identity = store.meta("device_age_identity")
    if signing and identity:
        return _unb64(signing), identity
    import pyrage
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate().private_bytes_raw()
    new_identity = str(pyrage.x25519.Identity.generate())
    with store.write():
        store.set_meta("device_signing_key", _b64(private))
        store.set_meta("device_age_identity", new_identity)
    return private, new_identity


def fingerprint(device_id: str, signing_public: str, recipient: str) -> str:
    digest = hashlib.sha256(f"{device_id}|{signing_public}|{recipient}".encode()).hexdigest()[:16].upper()
    return " ".join(digest[i:i + 4] for i in range(0, 16, 4))


def identity(access: Access) -> dict:
    """Public facts about this device (never the private keys)."""
    import pyrage
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, age_identity = _keys(access)
    public = _b64(Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw())
    recipient = str(pyrage.x25519.Identity.from_str(age_identity).to_public())
    device_id = access.store.device_id
    return {"device_id": device_id, "signing_public": public, "recipient": recipient,
            "fingerprint": fingerprint(device_id, public, recipient),
            "card": f"{CARD_PREFIX}:{device_id}:{public}:{recipient}"}


def sign(access: Access, data: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, _ = _keys(access)
    return _b64(Ed25519PrivateKey.from_private_bytes(private).sign(data))


def verify(signing_public: str, data: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(_unb64(signing_public)).verify(_unb64(signature), data)
        return True
    except (InvalidSignature, ValueError):
        return False


def age_identity(access: Access):
    """The pyrage identity object; its str() is the secret key: never print or log it."""
    import pyrage

    return pyrage.x25519.Identity.from_str(_keys(access)[1])


def parse_card(card: str) -> dict:
    parts = card.strip().split(":")
    if len(parts) != 5 or ":".join(parts[:2]) != CARD_PREFIX or not parts[4].startswith("age1"):
        raise UsageError("that is not a telecbt device card (it starts with telecbt-device:v1: — "
                         "run `telecbt device show --card` on the other device)", key="errors.device.not_a_card")
    _, _, device_id, public, recipient = parts
    try:
        import pyrage

        pyrage.x25519.Recipient.from_str(recipient)
        if len(_unb64(public)) != 32:
            raise ValueError
    except Exception:
        raise UsageError("the device card is damaged: copy it again", key="errors.device.damaged") from None
    return {"device_id": device_id, "signing_public": public, "recipient": recipient,
            "fingerprint": fingerprint(device_id, public, recipient)}


def trust(access: Access, card: str, label: str, role: str) -> dict:
    access.require("manage")
    if role not in ROLES:
        raise UsageError("--role must be one of {roles}", key="errors.device.role", roles=Codes("device_role", ROLES))
    peer = parse_card(card)
    if peer["device_id"] == access.store.device_id:
        raise UsageError("that is this device's own card", key="errors.device.own_card")
    store = access.store
    existing = store.conn.execute("SELECT signing_public, revoked_at FROM peers WHERE id = ?",
                                  (peer["device_id"],)).fetchone()
    with store.write():
        if existing:
            store.conn.execute("UPDATE peers SET label = ?, role = ?, signing_public = ?, recipient = ?, "
                               "trusted_at = ?, revoked_at = NULL, seen_head = NULL, rollback = NULL WHERE id = ?",
                               (label, role, peer["signing_public"], peer["recipient"], now_iso(), peer["device_id"]))
        else:
            store.conn.execute("INSERT INTO peers (id, label, role, signing_public, recipient, trusted_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (peer["device_id"], label, role, peer["signing_public"], peer["recipient"], now_iso()))
        audit.append(store, access.user, "device.trust", detail={"device": peer["device_id"], "role": role})
    return {**peer, "label": label, "role": role}


def peers(access: Access) -> list[dict]:
    access.require("read")
    rows = access.store.rows(
        "SELECT id, label, role, signing_public, recipient, trusted_at, revoked_at, acked_seq, sent_seq, rollback "
        "FROM peers ORDER BY label")
    for row in rows:
        row["fingerprint"] = fingerprint(row["id"], row["signing_public"], row["recipient"])
        row["warning"] = rollback_warning(row)
        del row["rollback"]
    return rows


def peer(access: Access, ident: str) -> dict:
    """A trusted device by label, id, or a unique start or end of its id."""
    known = peers(access)
    for row in known:
        if row["id"] == ident or row["label"] == ident:
            return row
    if not records.looks_like_id(ident):
        raise NotFoundError("no trusted device {ident!r}: see `telecbt device list`", key="errors.device.not_found",
                            ident=ident)
    full = records.resolve_id(access.store, "peers", ident, "trusted device", where="1")
    return next(row for row in known if row["id"] == full)


def destination(access: Access, to: str | None, sealed: bool = False) -> tuple[str | None, list[str]]:
    """Where a bundle goes, from what a person typed: (peer id or None, age recipients).

    `to` is a trusted device (id or label) or a bare `age1…` recipient; a revoked device is
    refused. With `sealed` (a passphrase seals the bundle) a device only names the peer, for
    acknowledgements, and gets no recipient."""
    if not to:
        return None, []
    if to.startswith("age1"):
        return None, [to]
    row = peer(access, to)
    if row["revoked_at"]:
        raise UsageError("{to} is revoked: trust it again (telecbt device trust) before sending to it",
                         key="errors.device.revoked", to=to)
    return row["id"], [] if sealed else [row["recipient"]]


def revoke(access: Access, ident: str) -> dict:
    access.require("manage")
    row = peer(access, ident)
    store = access.store
    with store.write():
        store.conn.execute("UPDATE peers SET revoked_at = ? WHERE id = ?", (now_iso(), row["id"]))
        audit.append(store, access.user, "device.revoke", detail={"device": row["id"]})
    return {**row, "revoked_at": now_iso()}


def trusted_signer(access: Access, device_id: str) -> dict:
    row = access.store.conn.execute("SELECT signing_public, revoked_at, label FROM peers WHERE id = ?",
                                    (device_id,)).fetchone()
    if row is None:
        raise IntegrityError("the bundle comes from device {device}, which this store does not trust: "
                             "enrol it first with `telecbt device trust`", key="errors.device.untrusted",
                             device=device_id)
    if row[1]:
        raise IntegrityError("the bundle comes from device {label} ({device}), which was revoked",
                             key="errors.device.from_revoked", label=row[2], device=device_id)
    return {"signing_public": row[0], "label": row[2]}


def record_received(access: Access, device_id: str, low: int, high: int) -> None:
    """Remember which of the peer's change numbers arrived; the ack is the contiguous prefix."""
    row = access.store.conn.execute("SELECT received FROM peers WHERE id = ?", (device_id,)).fetchone()
    ranges = sorted(json.loads(row[0]) + [[low, high]])
    merged: list[list[int]] = []
    for a, b in ranges:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    access.store.conn.execute("UPDATE peers SET received = ? WHERE id = ?", (json.dumps(merged), device_id))


def acks_for(access: Access) -> dict[str, int]:
    """For each peer, the highest change number of theirs received without gaps."""
    acks = {}
    for device_id, received in access.store.conn.execute("SELECT id, received FROM peers"):
        ranges = json.loads(received)
        acks[device_id] = ranges[0][1] if ranges and ranges[0][0] <= 0 else 0
    return acks


def note_head(access: Access, device_id: str, manifest: dict) -> dict | None:
    """Compare a bundle's audit head and change counter with the highest seen from its sender.

    A bundle made later (its signed `created`) whose audit head or change counter is lower
    than one already seen, or whose audit entry at the same number has another hash, comes
    from a store that was rolled back (an older telecbt.db put back, or its newest entries
    cut). It still imports (its changes are signed and intact), but the device carries a
    warning (`device list`, the import's report) and the audit log says so. An older bundle
    arriving late is not a roll-back: it was made earlier. Returns the warning, if any.
    """
    head = manifest.get("audit_head")
    seq, digest = (int(head.split(":", 1)[0]), head.split(":", 1)[1]) if isinstance(head, str) and ":" in head \
        else (0, None)
    now = {"audit_seq": seq, "audit_hash": digest, "to_seq": int(manifest.get("to_seq") or 0),
           "created": str(manifest.get("created") or "")}
    store = access.store
    row = store.conn.execute("SELECT seen_head, rollback FROM peers WHERE id = ?", (device_id,)).fetchone()
    if row is None:
        return None
    seen = json.loads(row[0]) if row[0] else None
    warning = None
    if seen:
        forked = digest is not None and seq == seen["audit_seq"] and digest != seen["audit_hash"]
        later = now["created"] > seen["created"]
        if forked or (later and (seq < seen["audit_seq"] or now["to_seq"] < seen["to_seq"])):
            warning = {"bundle": manifest.get("bundle_id"), "detected_at": now_iso(), "seen": seen, "now": now}
    if warning:
        if not row[1]:
            store.conn.execute("UPDATE peers SET rollback = ? WHERE id = ?", (json.dumps(warning), device_id))
        audit.append(store, access.user, "device.rollback",
                     detail={"device": device_id, "bundle": warning["bundle"], "seen_audit": seen["audit_seq"],
                             "now_audit": seq, "seen_changes": seen["to_seq"], "now_changes": now["to_seq"]})
        return warning
    if not seen or (seq, now["to_seq"]) >= (seen["audit_seq"], seen["to_seq"]):
        store.conn.execute("UPDATE peers SET seen_head = ? WHERE id = ?", (json.dumps(now), device_id))
    return None


#: A peer's roll-back warning in English (`errors.peer_rollback.backwards`; `rollback_described` keys it again).
ROLLBACK = ("went backwards: a bundle made after one showing audit entry {seen_audit} and change {seen_changes} showed "
            "entry {now_audit} and change {now_changes} (its store was rolled back or cut). Check that device's store "
            "(`telecbt store check` there).")


def rollback_warning(row: dict) -> str | None:
    """A peer row's roll-back warning in words, for `device list` and imports."""
    if not row.get("rollback"):
        return None
    found = json.loads(row["rollback"])
    return ROLLBACK.format(seen_audit=found["seen"]["audit_seq"], seen_changes=found["seen"]["to_seq"],
                           now_audit=found["now"]["audit_seq"], now_changes=found["now"]["to_seq"])


def rollback_described(warning: str) -> TelecbtError | None:
    """A roll-back warning as a keyed error, for a UI to show in the reader's language."""
    return recognise(warning, {"backwards": ROLLBACK}, "errors.peer_rollback", IntegrityError)
