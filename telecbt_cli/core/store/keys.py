"""Changing what opens the store: passphrases, removed slots, and rotating the data key."""

from __future__ import annotations

import os

from telecbt_cli.core.store import audit
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.unlock import check_passphrase


def _save_slots(access: Access, slots: list[kfmod.Slot]) -> None:
    store = access.store
    current = store.keyfile
    store.keyfile = kfmod.save(
        store.dir, kfmod.KeyFile(current.store_id, current.generation, slots), current.generation
    )


def set_passphrase(access: Access, user: str, passphrase: str, kdf: KdfParams) -> None:
    """Give `user` a new slot (new key pair), replacing the old one.

    A new key pair, not just a resealed one, so that the old passphrase with an old
    copy of the key file opens nothing wrapped from now on (after `store rekey`).
    """
    if user != access.user:
        access.require("manage")
    secret = check_passphrase(passphrase, user)
    store = access.store
    new = kfmod.new_slot("user", user, user, secret, [store.data_key], store.store_id, kdf)
    slots = [s for s in store.keyfile.slots if not (s.kind == "user" and s.user == user)] + [new]
    _save_slots(access, slots)
    audit.append(store, access.user, "key.passwd", detail={"user": user})


def remove_user_slot(access: Access, user: str) -> bool:
    access.require("manage")
    slots = [s for s in access.store.keyfile.slots if not (s.kind == "user" and s.user == user)]
    if len(slots) == len(access.store.keyfile.slots):
        return False
    _save_slots(access, slots)
    return True


def begin_rekey(access: Access) -> bytes:
    """Step 1: every slot wraps the new key and the old one. Returns the new key."""
    access.require("manage")
    store = access.store
    new_key = os.urandom(32)
    staged = [kfmod.rewrap(s, [new_key, store.data_key], store.store_id) for s in store.keyfile.slots]
    _save_slots(access, staged)
    return new_key


def apply_rekey(access: Access, new_key: bytes) -> None:
    """Step 2: SQLCipher re-encrypts every page in one transaction."""
    from telecbt_cli.core.store import anchor

    store = access.store
    old_key = store.data_key
    store.conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
    store.data_key = new_key
    anchor.reseal(store, old_key)  # its MAC key follows the data key


def finish_rekey(access: Access) -> None:
    """Step 3: slots forget the old key."""
    store = access.store
    final = [kfmod.rewrap(s, [store.data_key], store.store_id) for s in store.keyfile.slots]
    _save_slots(access, final)


def rekey(access: Access) -> dict:
    """Rotate the data key and rewrap it for every remaining slot.

    Each step leaves a store that opens: with the old key, or with the new one.
    """
    new_key = begin_rekey(access)
    apply_rekey(access, new_key)
    finish_rekey(access)
    audit.append(access.store, access.user, "key.rekey", detail={"slots": len(access.store.keyfile.slots)})
    return {"slots": len(access.store.keyfile.slots), "generation": access.store.keyfile.generation}


def slot_users(access: Access) -> set[str]:
    return {s.user for s in access.store.keyfile.slots if s.kind == "user" and s.user}
