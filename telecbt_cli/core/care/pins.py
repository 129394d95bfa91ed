"""Patient kiosk PINs: a slow salted hash per patient, counted failures and a lockout.

PINs are short, so the defence is the count, not the hash: after MAX_FAILURES wrong
tries in a row the PIN is locked until staff unlock it or set a new one. Each failure
is committed before the error is raised, so killing the kiosk does not reset the count.
Every refusal carries one message whatever the reason (unknown code, wrong PIN, no PIN,
archived patient), and an unknown code costs a hash too, so neither the words nor the
time taken tell a passer-by which codes are real. The table is device-local: PINs are
set where the kiosk runs and never travel in bundles.
"""

from __future__ import annotations

import hmac
import os
import re

from telecbt_cli.core.clinical.patients import patient_id_for, require_active_consent
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.crypto import KdfParams, derive_key
from telecbt_cli.core.store.errors import (
    AuthError,
    ConsentRequired,
    NotFoundError,
    UsageError,
)
from telecbt_cli.core.store.ids import parse_patient_code
from telecbt_cli.core.store.settings import kdf_params

MAX_FAILURES = 5
_PIN = re.compile(r"[0-9]{4,8}")
_SALT_BYTES = 16


class PinRefused(AuthError):
    """Sign-in refused; the same words for every reason, so they reveal nothing.

    `remaining` is the number of tries left when the code is real and has a PIN, else None.
    """

    def __init__(self, remaining: int | None = None) -> None:
        super().__init__("That patient code or PIN is not right.", key="errors.pins.refused")
        self.remaining = remaining


class PinLocked(AuthError):
    """Too many wrong PINs in a row: staff must unlock the PIN or set a new one."""

    def __init__(self) -> None:
        super().__init__("Too many wrong PINs. Please ask the care team to unlock your account.", key="errors.pins.locked")


def check_pin_format(pin: str) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise UsageError("a PIN is 4 to 8 digits (0-9)", key="errors.pin.format")
    return pin


def _hash(pin: str, salt: bytes, params: KdfParams) -> bytes:
    return derive_key(pin.encode("utf-8", "replace"), salt, params)


def _row(access: Access, patient_id: str) -> dict | None:
    return access.store.one(
        "SELECT pin_hash, salt, kdf_log2n, kdf_r, kdf_p, failures, locked_at, set_at, set_by "
        "FROM patient_pins WHERE patient_id = ?", (patient_id,))


def set_pin(access: Access, code: str, pin: str) -> None:
    """Set or replace a patient's PIN; clears failures and any lock."""
    access.require("write")
    check_pin_format(pin)
    patient_id = patient_id_for(access, code)
    params = kdf_params()
    salt = os.urandom(_SALT_BYTES)
    digest = _hash(pin, salt, params)
    store = access.store
    with store.write():
        store.conn.execute(
            "INSERT INTO patient_pins (patient_id, pin_hash, salt, kdf_log2n, kdf_r, kdf_p, failures, locked_at, "
            "set_at, set_by) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?) "
            "ON CONFLICT(patient_id) DO UPDATE SET pin_hash = excluded.pin_hash, salt = excluded.salt, "
            "kdf_log2n = excluded.kdf_log2n, kdf_r = excluded.kdf_r, kdf_p = excluded.kdf_p, failures = 0, "
            "locked_at = NULL, set_at = excluded.set_at, set_by = excluded.set_by",
            (patient_id, digest, salt, params.log2n, params.r, params.p, now_iso(), access.user))
        audit.append(store, access.user, "pin.set", patient_id=patient_id)


def unlock_pin(access: Access, code: str) -> None:
    """Clear the failure count and the lock; the PIN itself stays."""
    access.require("write")
    patient_id = patient_id_for(access, code)
    if _row(access, patient_id) is None:
        raise NotFoundError("{code} has no kiosk PIN: set one with telecbt patient pin set {code}",
                            key="errors.pin.none", code=parse_patient_code(code))
    store = access.store
    with store.write():
        store.conn.execute("UPDATE patient_pins SET failures = 0, locked_at = NULL WHERE patient_id = ?",
                           (patient_id,))
        audit.append(store, access.user, "pin.unlock", patient_id=patient_id)


def pin_status(access: Access, code: str) -> dict:
    """Whether a PIN is set, the failures since the last success, and the lock (never the hash)."""
    access.require("read")
    patient_id = patient_id_for(access, code)
    row = _row(access, patient_id)
    audit.append(access.store, access.user, "pin.status", patient_id=patient_id)
    if row is None:
        return {"set": False, "failures": 0, "locked": False, "set_at": None}
    return {"set": True, "failures": row["failures"], "locked": row["locked_at"] is not None,
            "set_at": row["set_at"]}


def _refuse(access: Access, patient_id: str | None, reason: str) -> PinRefused:
    """Audit a refusal that counts no failure (no such code, no PIN, not allowed to sign in)."""
    audit.append(access.store, access.user, "kiosk.pin_failed", patient_id=patient_id, detail={"reason": reason})
    return PinRefused(None)


def check_pin(access: Access, code: str, pin: str) -> str:
    """The patient id when `code` and `pin` match an active, consenting patient; PinRefused or PinLocked if not.

    Call it outside any transaction: a failure is committed before the error is raised.
    """
    access.require("write")
    store = access.store
    if store.conn.in_transaction:
        raise RuntimeError("check_pin commits each failure itself: call it outside Store.write()")
    pin = pin if isinstance(pin, str) else ""
    canonical = parse_patient_code(code) if isinstance(code, str) else None
    patient = store.conn.execute("SELECT id, status FROM patients WHERE code = ? AND deleted = 0",
                                 (canonical,)).fetchone() if canonical else None
    row = _row(access, patient[0]) if patient else None
    if patient is None or row is None:
        _hash(pin, os.urandom(_SALT_BYTES), kdf_params())  # the same cost as a real check: no timing oracle
        raise _refuse(access, patient[0] if patient else None, "no_pin" if patient else "unknown_code")
    patient_id = patient[0]
    if row["locked_at"] is not None:
        audit.append(store, access.user, "kiosk.pin_failed", patient_id=patient_id, detail={"reason": "locked"})
        raise PinLocked()
    params = KdfParams(row["kdf_log2n"], row["kdf_r"], row["kdf_p"])
    matches = hmac.compare_digest(_hash(pin, row["salt"], params), row["pin_hash"]) and bool(_PIN.fullmatch(pin))
    if not matches:
        with store.write():
            store.conn.execute("UPDATE patient_pins SET failures = failures + 1 WHERE patient_id = ?", (patient_id,))
            failures = store.conn.execute("SELECT failures FROM patient_pins WHERE patient_id = ?",
                                          (patient_id,)).fetchone()[0]
            audit.append(store, access.user, "kiosk.pin_failed", patient_id=patient_id,
                         detail={"reason": "wrong_pin", "failures": failures})
            if failures >= MAX_FAILURES and store.conn.execute(
                    "UPDATE patient_pins SET locked_at = ? WHERE patient_id = ? AND locked_at IS NULL",
                    (now_iso(), patient_id)).rowcount:
                audit.append(store, access.user, "kiosk.pin_locked", patient_id=patient_id)
        if failures >= MAX_FAILURES:
            raise PinLocked()
        raise PinRefused(MAX_FAILURES - failures)
    if patient[1] != "active":
        raise _refuse(access, patient_id, "archived")
    try:
        require_active_consent(access, patient_id)
    except ConsentRequired:
        raise _refuse(access, patient_id, "no_consent") from None
    with store.write():
        locked = store.conn.execute("SELECT locked_at FROM patient_pins WHERE patient_id = ?",
                                    (patient_id,)).fetchone()[0]
        if locked is None:
            store.conn.execute("UPDATE patient_pins SET failures = 0 WHERE patient_id = ?", (patient_id,))
            audit.append(store, access.user, "kiosk.sign_in", patient_id=patient_id)
    if locked is not None:  # locked by another kiosk while this PIN was being checked
        audit.append(store, access.user, "kiosk.pin_failed", patient_id=patient_id, detail={"reason": "locked"})
        raise PinLocked()
    return patient_id
