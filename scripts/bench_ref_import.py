"""The plain reference for `bundle import` in scripts/bench_bulk.py: what a short script would do.

For each bundle file: read it, age-decrypt it in memory, check the SHA-256 digest of every line
before the manifest and the Ed25519 signature of the manifest (one pass, no parsing), then one
`json.loads` per line and `executemany` (an upsert) of each row and its change-log row into a plain SQLite
database that has the store's schema (WAL, synchronous=FULL, foreign keys on: the durability
telecbt uses), one transaction per bundle. No duplicate or conflict checks, no validation: that
is the work telecbt adds, and the ratio shows what it costs.

    python scripts/bench_ref_import.py IDENTITY_FILE SIGNING_PUBLIC PLAIN_DB BUNDLE...
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pyrage
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BATCH = 5000
CHANGE_LOG = ("INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data, base_hlc) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def lines(compressed: bytes):
    from telecbt_cli.core.sync.bundle_dict import dictionary  # format 2 compresses with it; format 1 ignores it

    reader = zstandard.ZstdDecompressor(dict_data=dictionary()).stream_reader(compressed, read_across_frames=True)
    pending = b""
    while chunk := reader.read(1 << 20):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending


def verify(compressed: bytes, public: str) -> None:
    digest, last, count = hashlib.sha256(), None, 0
    for line in lines(compressed):
        if last is not None:
            digest.update(last + b"\n")
            count += 1
        last = line
    trailer = json.loads(last)
    manifest = trailer["manifest"]
    expected = base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")
    manifest.setdefault("payload_sha256", expected)  # format 2 signs the digest without sending it
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    Ed25519PublicKey.from_public_bytes(unb64(public)).verify(unb64(trailer["signature"]), canonical)
    if manifest["payload_sha256"] != expected or manifest["changes"] != count - 1:
        raise SystemExit("digest mismatch")


def apply(conn: sqlite3.Connection, compressed: bytes) -> int:
    columns: dict[str, list[str]] = {}
    rows: dict[str, list] = {}
    log: list[tuple] = []

    def flush() -> None:
        for table in sorted(rows, key=lambda t: t != "patients"):  # parents first
            if rows[table]:
                names = columns[table]
                updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "id")
                conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
                                 f"ON CONFLICT (id) DO UPDATE SET {updates}", rows[table])
                rows[table].clear()
        conn.executemany(CHANGE_LOG, log)
        log.clear()

    count = 0
    for line in lines(compressed):
        change = json.loads(line).get("change")
        if change is None:
            continue
        table, row = change["table"], change["data"]
        if table not in columns:
            columns[table] = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rows[table] = []
        rows[table].append([row.get(c) for c in columns[table]])
        log.append((f"{table}:{row['id']}:{row['hlc']}", table, row["id"], change["op"], row["hlc"], row["device_id"],
                    row["updated_at"], json.dumps(row, ensure_ascii=False), change["base_hlc"]))
        count += 1
        if len(log) >= BATCH:
            flush()
    flush()
    return count


def main() -> int:
    identity = pyrage.x25519.Identity.from_str(Path(sys.argv[1]).read_text().strip())
    public, target = sys.argv[2], sys.argv[3]
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    total = 0
    for path in sys.argv[4:]:
        compressed = pyrage.decrypt(Path(path).read_bytes(), [identity])
        verify(compressed, public)
        conn.execute("BEGIN")
        total += apply(conn, compressed)
        conn.execute("COMMIT")
    conn.close()
    print(total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
