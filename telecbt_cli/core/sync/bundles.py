"""Bundles: signed, compressed, age-encrypted sets of changes that move data between devices.

Format (docs/bundle-format.md): the age plaintext is one zstd stream of NDJSON lines:
a header line, one line per change, and a last line holding the manifest (counts,
change range, payload digest, acknowledgements, audit-chain head) and its Ed25519
signature. Export streams (generator -> zstd -> age) in constant memory. Import
decrypts in memory (bounded), verifies signature, digest and version first, and only
then applies every change in one transaction; a bundle or a change seen before
changes nothing, and any order of the same bundles gives the same records.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import IntegrityError, UsageError
from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.sync import devices

FORMAT = "telecbt-bundle"
VERSION = 1
MAX_BUNDLE_BYTES = 512 * 2**20
MAX_PLAINTEXT_BYTES = 4 * 2**30
MAX_LINE_BYTES = 4 * 2**20
#: The highest scrypt work factor accepted in a passphrase-sealed bundle. pyrage calibrates its
#: own seal to about a second (19 or 20 here: 512 MiB-1 GiB); a hostile file could ask for 2^30
#: (minutes, many GiB), so the header is read and refused before decrypting.
MAX_WORK_FACTOR = 21
_ARMOR = re.compile(rb"-----BEGIN AGE ENCRYPTED FILE-----(.*?)-----END AGE ENCRYPTED FILE-----", re.S)
_SCRYPT = re.compile(rb"^age-encryption\.org/v1\n-> scrypt \S+ (\d+)\n")


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _line(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


CHUNK = 10_000


def _select(after: int, upto: int, origin_not: str | None, since: str | None,
            patients: set[str] | None) -> tuple[str, list]:
    local = sorted(records.LOCAL_TABLES)
    sql = ("SELECT seq, table_name, op, base_hlc, data FROM change_log WHERE seq > ? AND seq <= ? "
           f"AND table_name NOT IN ({', '.join('?' for _ in local)})")
    params: list = [after, upto, *local]
    if origin_not:
        sql += " AND device_id != ?"
        params.append(origin_not)
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
    try:
        cursor = conn.execute(*_select(after, upto, origin_not, since, patients))
        line = b'{"change":{"base_hlc":%s,"data":%s,"op":"%s","table":"%s"}}\n'
        while batch := cursor.fetchmany(CHUNK // 4):
            counts = Counter(row[1].decode() for row in batch)
            yield dict(counts), b"".join(
                [line % (b"null" if base is None else json.dumps(base.decode()).encode(), data, op, table)
                 for _, table, op, base, data in batch])
    finally:
        conn.close()


def _compact_head(head: str | None) -> str | None:
    """`seq:hexhash` of the audit chain as `seq:base64url`, a few bytes shorter on the wire."""
    if not head:
        return None
    seq, digest = head.split(":", 1)
    return f"{seq}:{_b64(bytes.fromhex(digest))}"


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
                  passphrase: str | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write one bundle of changes for `recipients` (or sealed to `passphrase`) to `out`; returns the manifest.

    `progress(done, total)` is called as changes are written (the CLI draws a bar on a terminal).
    """
    import pyrage
    import zstandard

    from telecbt_cli.core.clinical.patients import patient_id_for

    access.require("write")  # sending data on is a change to who holds it: not for viewers (docs/roles.md)
    try:
        parsed = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
    except Exception:
        raise UsageError("an age recipient looks like age1… (62 characters): check it") from None
    if passphrase is not None and len(passphrase) < 12:
        raise UsageError("a bundle passphrase needs at least 12 characters")
    after = 0
    if peer_id and since_last:
        after = access.store.conn.execute("SELECT acked_seq FROM peers WHERE id = ?", (peer_id,)).fetchone()[0]
    patients = {patient_id_for(access, code) for code in patient_codes} if patient_codes else None
    me = devices.identity(access)
    header = {"format": FORMAT, "version": VERSION, "bundle_id": uuid7(), "source_device": me["device_id"],
              "created": now_iso(), "recipients": recipients,
              "to_device": peer_id, "from_seq": after, "partial": bool(patients is not None or since)}
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
                   "changes": sum(state["counts"].values()), "payload_sha256": _b64(state["digest"].digest()),
                   "acks": _acks(access, peer_id), "audit_head": _compact_head(access.store.meta("audit_head"))}
        state["manifest"] = {**header, **trailer}
        yield _line({"manifest": trailer, "signature": devices.sign(access, _canonical(trailer))})

    upto = access.store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0]
    upto = max(upto, after)
    pending = upto - after
    level = 19 if pending <= 5000 else 3  # small bundles travel on poor links: squeeze them harder

    # Sized to the data, so level 19 on a small bundle does not allocate its full 8 MiB window.
    # Large bundles compress on zstd's own threads, alongside the Python that builds the lines.
    # Large bundles compress on zstd's own thread, alongside the Python that reads the store,
    # with a 1 MiB window and 2 MiB jobs so memory stays flat however big the export.
    if pending > 5000:
        params = zstandard.ZstdCompressionParameters.from_level(level, threads=1, window_log=20, job_size=2 << 20)
    else:
        params = zstandard.ZstdCompressionParameters.from_level(level, source_size=max(pending, 1) * 600)

    def compressed() -> Iterator[bytes]:
        compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
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

def _dearmor(raw: bytes) -> bytes:
    """ASCII-armored age (as email clients may deliver it, with stray whitespace) to binary."""
    import base64
    import binascii

    armored = _ARMOR.search(raw)
    if not armored:
        return raw
    try:
        return base64.b64decode(b"".join(armored.group(1).split()), validate=True)
    except binascii.Error:
        raise IntegrityError("the armored bundle is damaged (bad base64)") from None


def _plaintext(access: Access, raw: bytes, passphrase: str | None = None) -> bytes:
    """Decrypt in memory: pyrage's streaming decrypt emits plaintext before noticing corruption."""
    import pyrage

    if len(raw) > MAX_BUNDLE_BYTES:
        raise IntegrityError(f"the bundle is larger than {MAX_BUNDLE_BYTES // 2**20} MiB: refusing it")
    data = _dearmor(raw)
    scrypt = _SCRYPT.match(data)
    if scrypt:
        factor = int(scrypt.group(1))
        if factor > MAX_WORK_FACTOR:
            raise IntegrityError(f"the bundle's passphrase seal asks for scrypt work factor 2^{factor} (more than "
                                 f"2^{MAX_WORK_FACTOR}): it would take minutes and gigabytes; refusing it")
        if passphrase is None:
            raise UsageError("this bundle is sealed with a passphrase: give it with --bundle-passphrase-file "
                             "or TELECBT_BUNDLE_PASSPHRASE")
        try:
            return pyrage.passphrase.decrypt(data, passphrase)
        except Exception:
            raise IntegrityError("the bundle cannot be opened: wrong bundle passphrase, or the file is damaged") from None
    try:
        return pyrage.decrypt(data, [devices.age_identity(access)])
    except Exception:
        raise IntegrityError("the bundle cannot be decrypted: it is damaged, or it was sealed for another "
                             "device (check `telecbt device show`)") from None


def _lines(compressed: bytes) -> Iterator[tuple[bytes, dict]]:
    """Decompress and parse line by line, with bounds against decompression bombs."""
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(compressed, read_across_frames=True)
    total, pending = 0, b""
    try:
        while chunk := reader.read(1 << 20):
            total += len(chunk)
            if total > MAX_PLAINTEXT_BYTES:
                raise IntegrityError("the bundle expands to more than 4 GiB: refusing it (decompression bomb?)")
            pending += chunk
            *complete, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE_BYTES:
                raise IntegrityError("the bundle holds an oversized line: refusing it")
            for line in complete:
                if len(line) > MAX_LINE_BYTES:
                    raise IntegrityError("the bundle holds an oversized line: refusing it")
                yield line + b"\n", _decode(line)
    except zstandard.ZstdError:
        raise IntegrityError("the bundle's payload is corrupt (decompression failed)") from None
    if pending.strip():
        yield pending, _decode(pending)


def _decode(line: bytes) -> dict:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError("the bundle's payload is corrupt (not valid JSON)") from None
    if not isinstance(obj, dict):
        raise IntegrityError("the bundle's payload is corrupt")
    return obj


def _verify(access: Access, compressed: bytes) -> dict:
    """Check version, signature, digest and counts without applying anything; returns the manifest."""
    digest = hashlib.sha256()
    header = manifest = None
    changes = 0
    for raw_line, obj in _lines(compressed):
        if manifest is not None:
            raise IntegrityError("the bundle has data after its manifest")
        if header is None:
            header = obj.get("header")
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise IntegrityError("this is not a telecbt bundle")
            if not isinstance(header.get("version"), int) or header["version"] > VERSION:
                raise IntegrityError(f"the bundle uses format version {header.get('version')}, newer than this "
                                     f"telecbt understands ({VERSION}): upgrade telecbt")
            digest.update(raw_line)
        elif "change" in obj:
            digest.update(raw_line)
            changes += 1
        elif "manifest" in obj:
            trailer, signature = obj["manifest"], obj.get("signature", "")
            if not isinstance(trailer, dict):
                raise IntegrityError("the bundle's manifest is corrupt")
            signer = devices.trusted_signer(access, str(header.get("source_device")))
            if not devices.verify(signer["signing_public"], _canonical(trailer), str(signature)):
                raise IntegrityError("the bundle's signature is not valid: it was altered or forged")
            if trailer.get("payload_sha256") != _b64(digest.digest()) or trailer.get("changes") != changes \
                    or trailer.get("bundle_id") != header.get("bundle_id"):
                raise IntegrityError("the bundle's contents do not match its signed digest (altered or truncated)")
            manifest = {**header, **trailer}
        else:
            raise IntegrityError("the bundle's payload is corrupt (unknown line)")
    if manifest is None:
        raise IntegrityError("the bundle is truncated: its signed manifest is missing")
    if manifest.get("to_device") not in (None, access.store.device_id):
        raise IntegrityError("the bundle was made for another device")
    return manifest


def read_bundle(access: Access, raw: bytes, passphrase: str | None = None) -> tuple[dict, bytes]:
    compressed = _plaintext(access, raw, passphrase)
    return _verify(access, compressed), compressed


def _apply_change(access: Access, change: dict, bundle_id: str, stats: dict) -> None:
    conn = access.store.conn
    row = change.get("data")
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("hlc"), str):
        raise IntegrityError("the bundle holds a malformed change")
    change_id = records.change_key(str(change.get("table")), row["id"], row["hlc"])
    if conn.execute("SELECT 1 FROM applied_changes WHERE change_id = ?", (change_id,)).fetchone() or \
            conn.execute("SELECT 1 FROM change_log WHERE change_id = ?", (change_id,)).fetchone():
        stats["already"] += 1
        return
    table = change.get("table")
    if table in records.LOCAL_TABLES:
        stats["already"] += 1
        return
    if table not in records._TABLES:
        raise IntegrityError(f"the bundle holds a change for an unknown table or row ({str(table)[:30]})")
    columns = [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
    clean = {k: row.get(k) for k in columns}
    existing = records.get(access.store, table, row["id"])
    if existing is None:
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                     [clean[c] for c in columns])
        stats["inserted"] += 1
    elif clean["hlc"] != existing["hlc"]:
        incoming_wins = clean["hlc"] > existing["hlc"]
        concurrent = change.get("base_hlc") != existing["hlc"] if incoming_wins else True
        if concurrent:
            lost = existing if incoming_wins else clean
            conn.execute("INSERT OR IGNORE INTO conflicts (table_name, row_id, kept_hlc, lost_hlc, lost_data, "
                         "bundle_id, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (table, row["id"], (clean if incoming_wins else existing)["hlc"], lost["hlc"],
                          json.dumps(lost, sort_keys=True, ensure_ascii=False), bundle_id, now_iso()))
            stats["conflicts"] += 1
        if incoming_wins:
            assignments = ", ".join(f"{c} = ?" for c in columns if c != "id")
            conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?",
                         [clean[c] for c in columns if c != "id"] + [row["id"]])
            stats["updated"] += 1
    conn.execute("INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data, base_hlc) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (change_id, table, row["id"], change.get("op"), clean["hlc"], row.get("device_id"),
                  row.get("updated_at"), json.dumps(row, sort_keys=True, ensure_ascii=False), change.get("base_hlc")))
    conn.execute("INSERT INTO applied_changes (change_id, bundle_id, applied_at) VALUES (?, ?, ?)",
                 (change_id, bundle_id, now_iso()))
    if clean["hlc"] > (access.store.meta("hlc") or ""):
        access.store.set_meta("hlc", clean["hlc"])


def import_bundle(access: Access, raw: bytes, dry_run: bool = False, passphrase: str | None = None) -> dict:
    """Verify, then apply every change in one transaction (or nothing). Seen before: changes nothing."""
    access.require("write")
    manifest, compressed = read_bundle(access, raw, passphrase)
    source = manifest["source_device"]
    stats = {"bundle_id": manifest["bundle_id"], "source_device": source, "changes": manifest["changes"],
             "inserted": 0, "updated": 0, "conflicts": 0, "already": 0, "dry_run": dry_run,
             "counts": manifest["counts"]}
    conn = access.store.conn
    if conn.execute("SELECT 1 FROM bundles_seen WHERE bundle_id = ?", (manifest["bundle_id"],)).fetchone():
        stats["already"] = manifest["changes"]
        stats["seen_before"] = True
        return stats
    if dry_run:
        return stats
    store = access.store
    with store.write():
        for _, obj in _lines(compressed):
            if "change" in obj:
                _apply_change(access, obj["change"], manifest["bundle_id"], stats)
        if not manifest.get("partial"):  # a filtered bundle does not cover its whole range
            devices.record_received(access, source, manifest["from_seq"], manifest["to_seq"])
        ack = (manifest.get("acks") or {}).get(store.device_id)
        if isinstance(ack, int):
            conn.execute("UPDATE peers SET acked_seq = max(acked_seq, ?) WHERE id = ?", (ack, source))
        conn.execute("INSERT INTO bundles_seen (bundle_id, source_device, imported_at, changes, applied) "
                     "VALUES (?, ?, ?, ?, ?)", (manifest["bundle_id"], source, now_iso(), manifest["changes"],
                                                stats["inserted"] + stats["updated"]))
        audit.append(store, access.user, "bundle.import",
                     detail={"bundle": manifest["bundle_id"], "from": source, "changes": manifest["changes"]})
    return stats


def conflicts(access: Access) -> list[dict]:
    access.require("read")
    rows = access.store.rows(
        "SELECT id, table_name, row_id, kept_hlc, lost_hlc, lost_data, bundle_id, detected_at FROM conflicts ORDER BY id")
    for row in rows:
        row["lost_data"] = json.loads(row["lost_data"])
    return rows
