"""Key slots: the file beside the database that lets each secret unwrap the data key.

Every slot holds an X25519 key pair. The private half is sealed with AES-256-GCM under
a key derived from the slot's secret (a staff passphrase or the recovery key) by
scrypt; the data key is wrapped to the public half. So an admin can rewrap a new data
key for every slot (`store rekey`) without knowing anyone's passphrase, while a removed
slot, or an old passphrase, never sees a key made after it was dropped.

The file is written three times, each atomically: the key file, a second copy, and a
recovery file holding only the recovery slot. Readers take the newest intact copy and
repair the others.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from telecbt_cli.core.store import crypto
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import (
    AuthError,
    IntegrityError,
    NotFoundError,
    Said,
    StoreVersionError,
    TelecbtError,
    Term,
)
from telecbt_cli.core.store.fsutil import atomic_write
from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.store.paths import keyfile_paths

FORMAT = "telecbt-keyfile"
FORMAT_VERSION = 1
RECOVERY_FILE_NAME = "telecbt.recovery"
KEY_SIZE = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class Slot:
    """One way into the store. `user` names the staff user for kind 'user'."""

    id: str
    kind: str
    label: str
    user: str | None
    kdf: crypto.KdfParams
    salt: bytes
    public_key: bytes
    key_nonce: bytes
    sealed_private: bytes
    wrapped: dict[str, bytes]
    created_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "user": self.user,
            "kdf": self.kdf.to_dict(),
            "salt": _b64(self.salt),
            "public_key": _b64(self.public_key),
            "key_nonce": _b64(self.key_nonce),
            "sealed_private": _b64(self.sealed_private),
            "wrapped": {k: _b64(v) for k, v in sorted(self.wrapped.items())},
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Slot":
        if data["kind"] not in ("user", "recovery"):
            raise ValueError(f"unknown slot kind {data['kind']!r}")
        return cls(
            id=str(data["id"]),
            kind=data["kind"],
            label=str(data["label"]),
            user=data.get("user"),
            kdf=crypto.KdfParams.from_dict(data["kdf"]),
            salt=_unb64(data["salt"]),
            public_key=_unb64(data["public_key"]),
            key_nonce=_unb64(data["key_nonce"]),
            sealed_private=_unb64(data["sealed_private"]),
            wrapped={k: _unb64(v) for k, v in data["wrapped"].items()},
            created_at=str(data["created_at"]),
        )

    def public_info(self) -> dict:
        """What `store info` may show: nothing that helps an attacker."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "user": self.user,
            "kdf": self.kdf.to_dict(),
            "created_at": self.created_at,
        }


@dataclass
class KeyFile:
    store_id: str
    generation: int = 0
    slots: list[Slot] = field(default_factory=list)
    #: The audit head and change counter last seen in the database, sealed (`anchor.py`); None before the first.
    anchor: dict | None = None

    def body(self) -> dict:
        body = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "store_id": self.store_id,
            "generation": self.generation,
            "slots": [slot.to_dict() for slot in self.slots],
        }
        if self.anchor is not None:
            body["anchor"] = self.anchor
        return body

    def user_slot(self, user: str) -> Slot | None:
        for slot in self.slots:
            if slot.kind == "user" and slot.user == user:
                return slot
        return None

    def recovery_slot(self) -> Slot | None:
        for slot in self.slots:
            if slot.kind == "recovery":
                return slot
        return None


def _aad(store_id: str, slot_id: str, purpose: str) -> bytes:
    return f"telecbt|{store_id}|{slot_id}|{purpose}".encode()


def encode(keyfile: KeyFile) -> bytes:
    body = keyfile.body()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    body["checksum"] = hashlib.sha256(canonical).hexdigest()
    return (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()


def decode(raw: bytes) -> KeyFile:
    """Parse and check one copy; ValueError if damaged, StoreVersionError if too new."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not valid JSON ({error.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a telecbt key file")
    if not isinstance(data.get("version"), int) or data["version"] > FORMAT_VERSION:
        raise StoreVersionError(
            "this store's key file was written by a newer telecbt: upgrade telecbt to open it",
            key="errors.store_open.newer_keyfile")
    checksum = data.pop("checksum", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if checksum != hashlib.sha256(canonical).hexdigest():
        raise ValueError("checksum does not match")
    try:
        slots = [Slot.from_dict(s) for s in data["slots"]]
        anchor = data.get("anchor") if isinstance(data.get("anchor"), dict) else None
        return KeyFile(store_id=str(data["store_id"]), generation=int(data["generation"]), slots=slots, anchor=anchor)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"malformed slot ({error.__class__.__name__})") from None


def _recovery_path(store_dir: Path) -> Path:
    return store_dir / RECOVERY_FILE_NAME


@dataclass
class LoadReport:
    keyfile: KeyFile
    problems: list[str]
    repaired: list[str]
    #: each problem as a keyed error (`errors.keyfile_copy.…`), for a UI to word in the reader's language
    causes: list[IntegrityError] = field(default_factory=list)


#: What can be wrong inside a damaged copy (the start of decode's message) and its word key.
_DAMAGE = {"not valid JSON": "not_json", "not a telecbt key file": "not_keyfile", "checksum does not match": "checksum",
           "malformed slot": "malformed_slot", "unknown slot kind": "unknown_slot"}


def _copy_problem(name: str, problem: str | None) -> IntegrityError:
    """One copy's problem ("missing", "unreadable (…)", "damaged: …", or older) as a keyed error."""
    if problem == "missing":
        return IntegrityError("{name}: missing", key="errors.keyfile_copy.missing", name=name)
    if problem is None:
        return IntegrityError("{name}: older than the other copy", key="errors.keyfile_copy.older", name=name)
    if problem.startswith("damaged: "):
        detail = problem.removeprefix("damaged: ")
        kind = next((k for start, k in _DAMAGE.items() if detail.startswith(start)), None)
        return IntegrityError("{name}: damaged: {detail}", key="errors.keyfile_copy.damaged", name=name,
                              detail=Term(f"values.keyfile_damage.{kind}", detail) if kind else detail)
    return IntegrityError("{name}: {problem}", key="errors.keyfile_copy.unreadable", name=name, problem=problem)


def _problem_said(problem: str | None) -> str:
    """A copy's problem ("missing", "damaged: …", "unreadable (…)") as words a UI says in the reader's language."""
    if problem == "missing":
        return Term("errors.keyfile_problem.missing", problem)
    if problem and problem.startswith("damaged: "):
        return Said("damaged: {detail}", key="errors.keyfile_problem.damaged",
                    detail=_copy_problem("", problem).values["detail"])
    if problem and problem.startswith("unreadable (") and problem.endswith(")"):
        return Said("unreadable ({reason})", key="errors.keyfile_problem.unreadable",
                    reason=problem.removeprefix("unreadable (").removesuffix(")"))
    return problem or ""


def _read_copy(path: Path) -> tuple[KeyFile | None, str | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    try:
        return decode(raw), None
    except ValueError as error:
        return None, f"damaged: {error}"


def _age(keyfile: KeyFile) -> tuple[int, int]:
    """Which copy is newer: the generation (slot changes), then the anchor's own counter."""
    counter = (keyfile.anchor or {}).get("counter")
    return keyfile.generation, counter if isinstance(counter, int) else 0


def load(store_dir: Path, repair: bool = True) -> LoadReport:
    """The newest intact key file; damaged, missing or stale copies are rewritten."""
    primary, copy = keyfile_paths(store_dir)
    found = {path: _read_copy(path) for path in (primary, copy)}
    good = [kf for kf, _ in found.values() if kf is not None]
    if not good:
        if all(problem == "missing" for _, problem in found.values()):
            raise NotFoundError(
                "{store} is not a telecbt store (no key file). Create one with `telecbt init --store {store}`.",
                key="errors.store_open.no_keyfile", store=str(store_dir))
        raise IntegrityError(
            "both copies of the key file are damaged, so no passphrase can open the store. "
            "If you have the recovery key, run `telecbt store recover` to rebuild it; "
            "otherwise restore the store folder from a backup.", key="errors.store_open.keyfile_damaged")
    best = max(good, key=_age)
    if len({kf.store_id for kf in good}) > 1:
        raise IntegrityError("the two copies of the key file belong to different stores",
                             key="errors.store_open.keyfile_stores_differ")
    problems, repaired, causes = [], [], []
    for path, (kf, problem) in found.items():
        if kf is None or _age(kf) < _age(best):
            problems.append(f"{path.name}: {problem or 'older than the other copy'}")
            causes.append(_copy_problem(path.name, problem))
            if repair:
                try:
                    atomic_write(path, encode(best))
                    repaired.append(path.name)
                except TelecbtError:
                    pass
    return LoadReport(best, problems, repaired, causes)


def load_recovery_only(store_dir: Path) -> KeyFile:
    """The recovery file, for rebuilding when both key-file copies are lost."""
    kf, problem = _read_copy(_recovery_path(store_dir))
    if kf is None:
        raise IntegrityError(
            "the key file and its recovery copy are both unusable ({problem}): "
            "restore the store folder from a backup", key="errors.store_open.recovery_unusable",
            problem=_problem_said(problem))
    return kf


def save(store_dir: Path, keyfile: KeyFile, expected_generation: int | None = None,
         anchor_only: bool = False) -> KeyFile:
    """Write all copies with the next generation; refuses if another writer got there first.

    A key file given without an anchor keeps the one on disk (slot changes never drop it).
    `anchor_only` (slots unchanged) keeps the generation, so a process holding the key file
    can still change slots after another one moved the anchor, and leaves the recovery file."""
    current: KeyFile | None = None
    if expected_generation is not None or keyfile.anchor is None:
        try:
            current = load(store_dir, repair=False).keyfile
        except NotFoundError:
            current = None
        except IntegrityError:
            if expected_generation is not None:
                raise
            current = None  # rebuilding from the recovery file: no anchor survives
    if expected_generation is not None and current is not None and current.generation != expected_generation:
        raise TelecbtError("the key file was changed by another process: run the command again",
                           key="errors.store_open.keyfile_changed")
    anchor = keyfile.anchor if keyfile.anchor is not None else (current.anchor if current is not None else None)
    generation = keyfile.generation if anchor_only else keyfile.generation + 1
    updated = replace(keyfile, generation=generation, slots=list(keyfile.slots), anchor=anchor)
    data = encode(updated)
    primary, copy = keyfile_paths(store_dir)
    atomic_write(primary, data, sync_folder=not anchor_only)
    atomic_write(copy, data, sync_folder=not anchor_only)
    recovery = KeyFile(updated.store_id, updated.generation, [s for s in updated.slots if s.kind == "recovery"])
    if recovery.slots and not anchor_only:
        atomic_write(_recovery_path(store_dir), encode(recovery))
    return updated


def _pack_keys(data_keys: list[bytes]) -> bytes:
    if not data_keys or any(len(k) != KEY_SIZE for k in data_keys):
        raise ValueError("data keys are 32 bytes each")
    return b"".join(data_keys)


def new_slot(
    kind: str,
    label: str,
    user: str | None,
    secret: bytes,
    data_keys: list[bytes],
    store_id: str,
    kdf: crypto.KdfParams,
) -> Slot:
    """A slot whose secret is `secret`, wrapping `data_keys` (current key first)."""
    slot_id = uuid7()
    salt = os.urandom(16)
    kek = crypto.derive_key(secret, salt, kdf)
    private, public = crypto.new_keypair()
    key_nonce, sealed_private = crypto.seal(kek, private, _aad(store_id, slot_id, "private"))
    wrapped = crypto.wrap_to_public(public, _pack_keys(data_keys), _aad(store_id, slot_id, "data"))
    return Slot(slot_id, kind, label, user, kdf, salt, public, key_nonce, sealed_private, wrapped, now_iso())


def rewrap(slot: Slot, data_keys: list[bytes], store_id: str) -> Slot:
    """The same slot wrapping other data keys; needs no secret."""
    wrapped = crypto.wrap_to_public(slot.public_key, _pack_keys(data_keys), _aad(store_id, slot.id, "data"))
    return replace(slot, wrapped=wrapped)


def open_slot(slot: Slot, secret: bytes, store_id: str) -> list[bytes]:
    """The data keys this slot wraps, current first; AuthError if the secret is wrong."""
    kek = crypto.derive_key(secret, slot.salt, slot.kdf)
    try:
        private = crypto.open_sealed(kek, slot.key_nonce, slot.sealed_private, _aad(store_id, slot.id, "private"))
        packed = crypto.unwrap_with_private(private, slot.wrapped, _aad(store_id, slot.id, "data"))
    except crypto.DecryptError:
        raise AuthError("wrong passphrase", key="errors.store_open.wrong_passphrase") from None
    return [packed[i : i + KEY_SIZE] for i in range(0, len(packed), KEY_SIZE)]


def keyfile_exists(store_dir: Path) -> bool:
    return any(path.exists() for path in keyfile_paths(store_dir))
