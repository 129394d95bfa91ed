"""Bundles: signed, compressed, age-encrypted sets of changes that move data between devices.

Format (docs/bundle-format.md): the age plaintext is one zstd stream of NDJSON lines:
a header line, one line per change, and a last line holding the manifest (counts,
change range, payload digest, acknowledgements, audit-chain head) and its Ed25519
signature. Export streams (generator -> zstd -> age) in constant memory. Import streams
the file twice (`bundle_read`): first to verify signature, digest and version with every
cost bounded, then to apply every change in batches (`bundle_apply`) in one transaction;
a bundle or a change seen before changes nothing, and any order of the same bundles gives
the same records.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.sync import bundle_dict, bundle_read, devices

FORMAT = bundle_read.FORMAT
VERSION = bundle_read.VERSION


def _line(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


#: Changes read and written per step of an export: small, so memory stays flat (1,000 x 365 bench store:
#: 500 a step peaked 1.4 MB higher than 200, at the same speed).
CHUNK = 200
#: A change line as SQLite builds it: the stored row's JSON spliced in, never parsed again.
_LINE = ("'{\"change\":{\"base_hlc\":' || coalesce(json_quote(base_hlc), 'null') || ',\"data\":' || data || "
         "',\"op\":\"' || op || '\",\"table\":\"' || table_name || '\"}}'")


def _select(after: int, upto: int, origin_not: str | None, since: str | None,
            patients: set[str] | None) -> tuple[str, list]:
    local = sorted(records.LOCAL_TABLES)
    sql = (f"SELECT table_name, {_LINE} FROM change_log WHERE seq > ? AND seq <= ? "
           f"AND table_name NOT IN ({', '.join('?' for _ in local)})")
    params: list = [after, upto, *local]
    if origin_not:  # neither the peer's own changes nor those it sent us (no echo)
        sql += " AND device_id != ? AND (via IS NULL OR via != ?)"
        params += [origin_not, origin_not]
    if since:
        sql += " AND at >= ?"
        params.append(since)
    if patients is not None:
        marks = ", ".join("?" for _ in patients)
        sql += (f" AND ((table_name = 'patients' AND row_id IN ({marks})) "
                f"OR json_extract(data, '$.patient_id') IN ({marks}))")
        params += list(patients) * 2
    return sql + " ORDER BY seq", params


def _change_chunks(access: Access, after: int, upto: int, origin_not: str | None, since: str | None,
                   patients: set[str] | None) -> Iterator[tuple[dict[str, int], bytes]]:
    """Changes after `after` up to `upto`, in order, as NDJSON bytes in chunks, with counts per table.

    `data` is JSON text written by json.dumps (here or on import) and is spliced into the line
    as it is, read as bytes: parsing and dumping it again, or even decoding and re-encoding
    it, costs more than the rest of the export. The change id, row id, hlc, device and time
    all follow from `data`, so they are not repeated. `op` and `table_name` are identifiers
    from our own code. Changes up to `upto` are append-only, so a separate read-only
    connection sees the same picture as the store.
    """
    from telecbt_cli.core.store import db as dbmod
    from telecbt_cli.core.store.paths import db_file

    conn = dbmod.connect(db_file(access.store.dir), access.store.data_key)
    conn.text_factory = bytes
    conn.execute("PRAGMA cache_size = -512")  # one pass in order: a large cache would only hold memory
    try:
        cursor = conn.execute(*_select(after, upto, origin_not, since, patients))
        while batch := cursor.fetchmany(CHUNK):
            counts = Counter(row[0] for row in batch)
            yield {table.decode(): count for table, count in counts.items()}, \
                b"\n".join([row[1] for row in batch]) + b"\n"
    finally:
        conn.close()


def _compact_head(head: str | None) -> str | None:
    """`seq:hexhash` of the audit chain as `seq:base64url`, a few bytes shorter on the wire."""
    if not head:
        return None
    seq, digest = head.split(":", 1)
    return f"{seq}:{bundle_read.b64(bytes.fromhex(digest))}"


def _acks(access: Access, peer_id: str | None) -> dict[str, int]:
    """What we received from the receiver (it only needs its own ack); every peer's for bare recipients."""
    acks = devices.acks_for(access)
    return {peer_id: acks.get(peer_id, 0)} if peer_id else acks


class _StreamReader:
    """A file-like reader that pulls compressed bytes from a generator, for pyrage.encrypt_io."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buffer = chunks, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        if size < 0:
            out, self.buffer = self.buffer, b""
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def export_bundle(access: Access, out: BinaryIO, recipients: list[str], peer_id: str | None = None,
                  since_last: bool = True, since: str | None = None, patient_codes: list[str] | None = None,
                  passphrase: str | None = None, progress: Callable[[int, int], None] | None = None,
                  version: int = VERSION) -> dict:
    """Write one bundle of changes for `recipients` (or sealed to `passphrase`) to `out`; returns the manifest.

    `progress(done, total)` is called as changes are written (the CLI draws a bar on a terminal).
    `version=1` writes the older format (no dictionary), for tests that old bundles still import
    and for training the dictionary.
    """
    import pyrage
    import zstandard

    from telecbt_cli.core.clinical.patients import patient_id_for

    access.require("write")  # sending data on is a change to who holds it: not for viewers (docs/roles.md)
    try:
        parsed = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
    except Exception:
        raise UsageError("an age recipient looks like age1… (62 characters): check it",
                         key="errors.sync_bundle.recipient") from None
    if passphrase is not None and len(passphrase) < 12:
        raise UsageError("a bundle passphrase needs at least 12 characters", key="errors.sync_bundle.passphrase")
    after = 0
    if peer_id and since_last:
        after = access.store.conn.execute("SELECT acked_seq FROM peers WHERE id = ?", (peer_id,)).fetchone()[0]
    patients = {patient_id_for(access, code) for code in patient_codes} if patient_codes else None
    me = devices.identity(access)
    if version not in (1, VERSION):
        raise UsageError("bundle format version {version} cannot be written", key="errors.sync_bundle.version",
                         version=version)
    header = {"format": FORMAT, "version": version, "bundle_id": uuid7(), "source_device": me["device_id"],
              "created": now_iso(), "recipients": recipients,
              "to_device": peer_id, "from_seq": after, "partial": bool(patients is not None or since)}
    if version >= 2:  # the recipients are in age's own header: not repeated (a bare key costs 40 bytes)
        header["dict"] = bundle_dict.DICT_ID
        del header["recipients"]
    state: dict[str, Any] = {"counts": {}, "to_seq": after, "digest": hashlib.sha256(), "bytes": 0}

    def lines() -> Iterator[bytes]:
        first = _line({"header": header})
        state["digest"].update(first)
        yield first
        counts, digest = state["counts"], state["digest"]
        for chunk_counts, data in _change_chunks(access, after, upto, peer_id, since, patients):
            digest.update(data)
            for table, count in chunk_counts.items():
                counts[table] = counts.get(table, 0) + count
            yield data
            if progress:
                progress(sum(counts.values()), pending)
        # `to_seq` is the range asked for, not the last change sent: filtered-out changes count as covered.
        state["to_seq"] = upto
        # The header line is covered by the digest, so the signed trailer need not repeat it.
        trailer = {"bundle_id": header["bundle_id"], "to_seq": state["to_seq"], "counts": state["counts"],
                   "changes": sum(state["counts"].values()), "payload_sha256": bundle_read.b64(state["digest"].digest()),
                   "acks": _acks(access, peer_id), "audit_head": _compact_head(access.store.meta("audit_head"))}
        state["manifest"] = {**header, "recipients": recipients, **trailer}
        signature = devices.sign(access, bundle_read.canonical(trailer))
        if version >= 2:  # the receiver computes the digest itself and puts it back before checking the signature
            trailer = {k: v for k, v in trailer.items() if k != "payload_sha256"}
        yield _line({"manifest": trailer, "signature": signature})

    upto = access.store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0]
    upto = max(upto, after)
    pending = upto - after
    level = 19 if pending <= 5000 else 3  # small bundles travel on poor links: squeeze them harder

    # Sized to the data, so level 19 on a small bundle does not allocate its full 8 MiB window.
    # Large bundles compress on zstd's own thread, alongside the Python that reads the store,
    # with a 1 MiB window and 512 KiB jobs so memory stays flat however big the export.
    if pending > 5000:
        params = zstandard.ZstdCompressionParameters.from_level(level, threads=1, window_log=20, job_size=1 << 19,
                                                                 write_dict_id=True)
    else:
        params = zstandard.ZstdCompressionParameters.from_level(level, source_size=max(pending, 1) * 600,
                                                                 write_dict_id=True)
    dictionary = bundle_dict.dictionary() if version >= 2 else None

    def compressed() -> Iterator[bytes]:
        compressor = zstandard.ZstdCompressor(compression_params=params, dict_data=dictionary).compressobj()
        for chunk in lines():
            part = compressor.compress(chunk)
            if part:
                yield part
        yield compressor.flush()

    if passphrase is not None:
        # age's passphrase mode has no streaming API in pyrage: such bundles are built in memory.
        out.write(pyrage.passphrase.encrypt(b"".join(compressed()), passphrase))
    else:
        pyrage.encrypt_io(_StreamReader(compressed()), out, parsed)
    manifest = state["manifest"]
    store = access.store
    with store.write():
        if peer_id:
            store.conn.execute("UPDATE peers SET sent_seq = max(sent_seq, ?) WHERE id = ?", (manifest["to_seq"], peer_id))
        audit.append(store, access.user, "bundle.export",
                     detail={"bundle": manifest["bundle_id"], "changes": manifest["changes"], "to": peer_id})
    return manifest


# --- reading ---------------------------------------------------------------------

class _DryRun(Exception):
    """Raised inside the transaction of a dry run, so everything it applied is rolled back."""


def _import(access: Access, source: bundle_read.Source, dry_run: bool, passphrase: str | None) -> dict:
    """Verify (pass 1), then apply every change in one transaction or nothing (pass 2, or one pass per share
    of the patients for a large bundle: `bundle_apply.passes`)."""
    from telecbt_cli.core.sync import bundle_apply, spill  # an export does not load them (0.8 MB of peak memory)

    access.require("write")
    verified = bundle_read.verify(access, source, passphrase)
    manifest = verified.manifest
    sender = manifest["source_device"]
    stats = {"bundle_id": manifest["bundle_id"], "source_device": sender, "changes": manifest["changes"],
             "inserted": 0, "updated": 0, "conflicts": 0, "already": 0, "waiting": 0, "released": 0,
             "dry_run": dry_run,
             "counts": manifest["counts"]}
    store = access.store
    conn = store.conn
    if conn.execute("SELECT 1 FROM bundles_seen WHERE bundle_id = ?", (manifest["bundle_id"],)).fetchone():
        stats["already"] = manifest["changes"]
        stats["seen_before"] = True
        return stats
    shares = bundle_apply.passes(verified.patients, manifest["changes"])
    cache = conn.execute("PRAGMA cache_size").fetchone()[0] if manifest["changes"] > bundle_apply.BATCH else None
    if cache is not None:
        conn.execute(f"PRAGMA cache_size = -{bundle_apply.cache_kib(shares, manifest['changes'])}")
    try:
        with store.write():
            applier = bundle_apply.Applier(access, manifest["bundle_id"], stats, via=sender)
            if shares == 1:
                bundle_read.replay(access, source, verified, applier.add_line, passphrase)
            else:  # one share of the patients at a time (bundle_apply's docstring says why), the file read once
                with spill.Spills(store.dir, shares - 1) as spills:
                    bounds = bundle_apply.share_bounds(verified.take_patient_ids(), shares)
                    bundle_read.replay(access, source, verified, applier.sorter(bounds, spills), passphrase)
                    for number in range(shares - 1):
                        applier.apply_spilled(spills, number)
            applier.finish()
            if dry_run:
                raise _DryRun()
            if not manifest.get("partial"):  # a filtered bundle does not cover its whole range
                devices.record_received(access, sender, manifest["from_seq"], manifest["to_seq"])
            ack = (manifest.get("acks") or {}).get(store.device_id)
            if isinstance(ack, int):
                conn.execute("UPDATE peers SET acked_seq = max(acked_seq, ?) WHERE id = ?", (ack, sender))
            conn.execute("INSERT INTO bundles_seen (bundle_id, source_device, imported_at, changes, applied) "
                         "VALUES (?, ?, ?, ?, ?)", (manifest["bundle_id"], sender, now_iso(), manifest["changes"],
                                                    stats["inserted"] + stats["updated"]))
            audit.append(store, access.user, "bundle.import",
                         detail={"bundle": manifest["bundle_id"], "from": sender, "changes": manifest["changes"]})
            if devices.note_head(access, sender, manifest):  # issue 14: a sender that went backwards
                stats["warning"] = devices.rollback_warning(
                    store.one("SELECT rollback FROM peers WHERE id = ?", (sender,)) or {})
    except _DryRun:
        pass
    finally:
        if cache is not None:
            conn.execute(f"PRAGMA cache_size = {int(cache)}")
    return stats


def import_bundle(access: Access, raw: bytes, dry_run: bool = False, passphrase: str | None = None) -> dict:
    """Import a bundle held in memory (an email's parts put together, a test). Seen before: changes nothing.

    A dry run applies everything inside the transaction, so its counts are real, then rolls back."""
    with bundle_read.Source.from_bytes(raw) as source:
        return _import(access, source, dry_run, passphrase)


def import_file(access: Access, path: Path, dry_run: bool = False, passphrase: str | None = None,
                follow: bool = True) -> dict:
    """Import a bundle file, streamed twice (verify, apply): memory does not grow with its size.

    The file is opened once and its size checked before any read; `follow=False` refuses a link."""
    with bundle_read.Source.from_path(path, follow) as source:
        return _import(access, source, dry_run, passphrase)


def conflicts(access: Access) -> list[dict]:
    access.require("read")
    rows = access.store.rows(
        "SELECT id, table_name, row_id, kept_hlc, lost_hlc, lost_data, bundle_id, detected_at FROM conflicts ORDER BY id")
    for row in rows:
        row["lost_data"] = json.loads(row["lost_data"])
    return rows
