"""Creating a store and opening it with a passphrase, a recovery key or session keys."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from telecbt_cli.core.store import audit, records, throttle
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store.access import Access, access_for
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    AuthError,
    IntegrityError,
    NotFoundError,
    Term,
    UsageError,
    WrongPassphrase,
)
from telecbt_cli.core.store.fsutil import restrict_mode
from telecbt_cli.core.store.ids import (
    RECOVERY_PROBLEMS,
    RecoveryKeyError,
    format_recovery_key,
    parse_recovery_key,
    uuid7,
)
from telecbt_cli.core.store.paths import failed_unlocks_file, require_store_dir
from telecbt_cli.core.store.vault import (
    Store,
    check_new_location,
    create_database,
    open_with_keys,
    staging_dir,
)

MIN_PASSPHRASE = 8
#: zxcvbn's score (0-4) a new staff passphrase needs: 3 is "safely unguessable" (about 10^8
#: guesses or more), which with scrypt's cost per guess takes an offline attacker years.
MIN_STRENGTH = 3


def check_passphrase(passphrase: str, user: str | None = None, strength: bool = True) -> bytes:
    """A new staff passphrase: at least 8 characters, and hard to guess (zxcvbn, which knows common
    passwords, words, names, keyboard patterns and repeats); `user` counts as a known word.

    `strength=False` only for the demo store, whose passphrase is published anyway."""
    if len(passphrase) < MIN_PASSPHRASE or not passphrase.strip():
        raise UsageError("a passphrase needs at least {least} characters", key="errors.passphrase.short",
                         least=MIN_PASSPHRASE)
    if strength:
        from zxcvbn import zxcvbn

        result = zxcvbn(passphrase[:100], user_inputs=[w for w in (user, "telecbt") if w])
        if result["score"] < MIN_STRENGTH:
            kind = weak_kind(result["sequence"])
            raise UsageError("that passphrase is too easy to guess{hint}. Use four or more words that do not belong "
                             "together, or a long sentence only you would make up. A forgotten passphrase is reset "
                             "with the recovery key (`telecbt store recover`), so it need not be short.",
                             key="errors.passphrase.weak", hint=Term(f"values.weak_hint.{kind}", WEAK_HINTS[kind]))
    return passphrase.encode("utf-8")


#: Why zxcvbn finds a passphrase easy, in our own words (`values.weak_hint.…`): its own feedback is English only.
WEAK_HINTS = {
    "user": " (it holds the user name)",
    "password": " (it is a common password)",
    "names": " (it is made of common words or names)",
    "keyboard": " (it follows keys that sit together on the keyboard)",
    "repeat": " (it repeats letters or words)",
    "sequence": " (it is a sequence, like abc or 6543)",
    "date": " (it holds a date or a year)",
    "short": " (it is short)",
}


def weak_kind(matches: list[dict]) -> str:
    """The first reason zxcvbn's matches give for a weak passphrase (a key of WEAK_HINTS)."""
    for match in matches:
        pattern = match.get("pattern")
        if pattern == "dictionary":
            return {"user_inputs": "user", "passwords": "password"}.get(match.get("dictionary_name"), "names")
        found = {"spatial": "keyboard", "repeat": "repeat", "sequence": "sequence", "date": "date", "regex": "date"}
        if pattern in found:
            return found[pattern]
    return "short"


def check_user_name(name: str) -> str:
    clean = name.strip().lower()
    ok = 2 <= len(clean) <= 32 and all(ch.isalnum() or ch in "._-" for ch in clean) and clean.isascii()
    if not ok:
        raise UsageError("a user name is 2-32 letters, digits, '.', '_' or '-'", key="errors.user.name")
    return clean


@dataclass
class Created:
    access: Access
    recovery_key: str


def create_store(store_dir: Path, admin: str, passphrase: str, kdf: KdfParams, strength: bool = True) -> Created:
    """A new store with its first admin and a recovery slot; returns the recovery key once.

    The access returned is open on the store in its final place. `strength=False` is for the
    demo store only (see `check_passphrase`).
    """
    admin = check_user_name(admin)
    secret = check_passphrase(passphrase, admin, strength)
    check_new_location(store_dir)
    data_key = os.urandom(32)
    recovery = os.urandom(32)
    store_id = uuid7()
    slots = [
        kfmod.new_slot("user", admin, admin, secret, [data_key], store_id, kdf),
        kfmod.new_slot("recovery", "recovery key", None, recovery, [data_key], store_id, kdf),
    ]
    with staging_dir(store_dir) as tmp:
        keyfile = kfmod.save(tmp, kfmod.KeyFile(store_id, 0, slots))
        store = create_database(tmp, data_key, keyfile)
        try:
            with store.write():
                user = records.insert(store, "users", {"name": admin, "role": "admin", "disabled": 0})
                audit.append(store, admin, "store.init", detail={"store_id": store_id})
                audit.append(store, admin, "user.add", detail={"name": admin, "role": "admin"})
        finally:
            store.close()
    opened = open_with_keys(store_dir, [data_key], keyfile)
    from telecbt_cli.core.store import audit_queue

    audit_queue.reserve(store_dir)
    return Created(Access(opened, admin, "admin", user["id"]), format_recovery_key(recovery))


def _record_failure(store_dir: Path, user: str | None, reason: str, delay: float = 0) -> None:
    """Failed unlocks cannot reach the encrypted log yet: park them, with no secret, for the next unlock.

    `delay` is what the failure set for the next try under that name (throttle)."""
    path = failed_unlocks_file(store_dir)
    line = json.dumps({"at": now_iso(), "user": user, "reason": reason, "delay": delay}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        restrict_mode(path)
    except OSError:
        pass


def _ingest_failures(store: Store) -> None:
    path = failed_unlocks_file(store.dir)
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return
    with store.write():
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            audit.append(store, event.get("user"), "unlock.failed",
                         detail={"at": event.get("at"), "reason": event.get("reason"), "delay": event.get("delay", 0)})
    try:
        path.unlink()
    except OSError:
        pass


def _catch_up(store: Store) -> None:
    """At sign-in: failed sign-ins and audit entries a full disk kept waiting go into the audit log,
    and the reserve for the next full disk is made. On a full disk all of it waits."""
    from telecbt_cli.core.store import audit_queue
    from telecbt_cli.core.store.errors import StorageError

    try:
        _ingest_failures(store)
        audit.ingest_queued(store)
    except StorageError:
        return
    audit_queue.reserve(store.dir)


def unlock(store_dir: Path, user: str | None, passphrase: str,
           wait: Callable[[float], object] = time.sleep) -> Access:
    """Open the store with a staff passphrase; `user` narrows which slot is tried.

    Earlier failures under the same name make this wait first (`throttle`); `wait` is how
    (the CLI says why; tests record the delay instead of sleeping)."""
    require_store_dir(store_dir)
    keyfile = kfmod.load(store_dir).keyfile
    secret = passphrase.encode("utf-8")
    if user:
        user = user.strip().lower()
        slot = keyfile.user_slot(user)
        if slot is None:
            throttle.wait_turn(store_dir, throttle.UNKNOWN, wait)
            _record_failure(store_dir, None, "unknown user", throttle.failed(store_dir, throttle.UNKNOWN))
            # The name is not repeated: a passphrase typed into the wrong field must not be echoed.
            raise AuthError("that user name cannot unlock this store (unknown or disabled): check --user",
                            key="errors.unlock.user")
        candidates = [slot]
    else:
        candidates = [s for s in keyfile.slots if s.kind == "user"]
    throttle.wait_turn(store_dir, user, wait)
    for slot in candidates:
        try:
            keys = kfmod.open_slot(slot, secret, keyfile.store_id)
        except AuthError:
            continue
        store = open_with_keys(store_dir, keys, keyfile)
        try:
            access = access_for(store, slot.user or "")
            throttle.succeeded(store_dir, user)
            _catch_up(store)
            audit.append(store, access.user, "unlock")
        except BaseException:
            store.close()
            raise
        return access
    _record_failure(store_dir, user, "wrong passphrase", throttle.failed(store_dir, user))
    if user:
        raise WrongPassphrase("wrong passphrase for {user}: nothing was opened", key="errors.unlock.wrong_for", user=user)
    raise WrongPassphrase("wrong passphrase: nothing was opened", key="errors.unlock.wrong")


def recover(store_dir: Path, recovery_text: str, user: str, new_passphrase: str | Callable[[], str],
            kdf: KdfParams) -> Access:
    """Use the recovery key to give `user` a new passphrase; rebuilds a lost key file.

    `new_passphrase` may be a function that asks for it: it is called only once the key has
    opened the store and the user is known, so nobody types a new passphrase for nothing.
    """
    require_store_dir(store_dir)
    try:
        recovery = parse_recovery_key(recovery_text)
    except RecoveryKeyError as error:
        raise UsageError("recovery key: " + RECOVERY_PROBLEMS[error.kind], key=f"errors.recovery_key.{error.kind}",
                         **error.values) from None
    user = check_user_name(user)
    try:
        keyfile = kfmod.load(store_dir).keyfile
        rebuilt = False
    except IntegrityError:
        keyfile = kfmod.load_recovery_only(store_dir)
        rebuilt = True
    slot = keyfile.recovery_slot()
    if slot is None:
        raise NotFoundError("this store has no recovery slot", key="errors.unlock.no_recovery")
    try:
        keys = kfmod.open_slot(slot, recovery, keyfile.store_id)
    except AuthError:
        _record_failure(store_dir, None, "wrong recovery key")
        raise AuthError("that recovery key does not belong to this store", key="errors.unlock.other_recovery") from None
    store = open_with_keys(store_dir, keys, keyfile)
    try:
        access = access_for(store, user)
        secret = check_passphrase(new_passphrase() if callable(new_passphrase) else new_passphrase, user)
        new = kfmod.new_slot("user", user, user, secret, [store.data_key], keyfile.store_id, kdf)
        slots = [s for s in store.keyfile.slots if not (s.kind == "user" and s.user == user)] + [new]
        expected = None if rebuilt else store.keyfile.generation
        store.keyfile = kfmod.save(store_dir, kfmod.KeyFile(keyfile.store_id, store.keyfile.generation, slots), expected)
        audit.append(store, user, "store.recover", detail={"rebuilt_keyfile": rebuilt})
    except BaseException:
        store.close()
        raise
    return access
