"""Audit entries that a full disk refused, kept sealed in a reserved file until there is space again.

Reading must work on a full disk, and every read is audited. The store keeps a small
file of zeros (`audit-queue`, 64 KiB) made while there is space; on a full disk an
audit entry written on its own (a read, a sign-in) is sealed with a key derived from
the data key and written into that reserved space, which needs no new disk blocks. The
next sign-in that can write moves the entries into the audit chain (marked `queued`,
with the time they happened) and clears the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from telecbt_cli.core.store import crypto
from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.core.store.fsutil import restrict_mode

RESERVE_BYTES = 64 * 1024
NAME = "audit-queue"
_LENGTH = 4


def queue_file(store_dir: Path) -> Path:
    return store_dir / NAME


def _key(data_key: bytes) -> bytes:
    return crypto.hkdf(data_key, b"telecbt audit queue")


def reserve(store_dir: Path) -> None:
    """Make the reserved file if it is missing (best effort: only while there is space)."""
    path = queue_file(store_dir)
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * RESERVE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
        restrict_mode(path)
    except OSError:
        try:
            path.unlink()
        except OSError:
            pass


def _records(data: bytes) -> tuple[list[bytes], int]:
    """The sealed records in the file and the offset where the next one goes."""
    records, at = [], 0
    while at + _LENGTH <= len(data):
        size = int.from_bytes(data[at:at + _LENGTH], "big")
        if size == 0 or at + _LENGTH + size > len(data):
            break
        records.append(data[at + _LENGTH:at + _LENGTH + size])
        at += _LENGTH + size
    return records, at


def put(store_dir: Path, data_key: bytes, store_id: str, entry: dict) -> bool:
    """Write one entry into the reserved space; False if there is no reserve or no room left in it."""
    path = queue_file(store_dir)
    nonce, sealed = crypto.seal_light(_key(data_key), json.dumps(entry).encode(), store_id.encode())
    record = nonce + sealed
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        data = os.pread(fd, RESERVE_BYTES, 0)
        _, at = _records(data)
        if at + _LENGTH + len(record) + _LENGTH > len(data):  # keep a zero length after the last record
            return False
        os.pwrite(fd, len(record).to_bytes(_LENGTH, "big") + record, at)
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def take(store_dir: Path, data_key: bytes, store_id: str) -> list[dict]:
    """The queued entries (those that open with this store's key), oldest first; `clear` empties the file."""
    try:
        data = queue_file(store_dir).read_bytes()
    except OSError:
        return []
    entries = []
    for record in _records(data)[0]:
        try:
            plain = crypto.open_light(_key(data_key), record[:16], record[16:], store_id.encode())
            entries.append(json.loads(plain))
        except (crypto.DecryptError, ValueError):
            continue  # sealed under a key rotated since, or damaged: nothing can be read from it
    return entries


def clear(store_dir: Path) -> None:
    """Zero the reserved file in place (its blocks stay allocated for next time)."""
    try:
        fd = os.open(queue_file(store_dir), os.O_WRONLY)
    except OSError:
        return
    try:
        os.pwrite(fd, b"\0" * RESERVE_BYTES, 0)
        os.fsync(fd)
    except OSError as error:
        raise TelecbtError(f"could not clear the audit queue ({error.strerror})") from None
    finally:
        os.close(fd)
