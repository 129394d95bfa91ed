"""Opening a SQLCipher database with a raw key and the pragmas the store relies on."""

from __future__ import annotations

from pathlib import Path

import sqlcipher3

from telecbt_cli.core.store.textsafe import fold

BUSY_TIMEOUT_MS = 5000
DatabaseError = sqlcipher3.DatabaseError
IntegrityConstraintError = sqlcipher3.IntegrityError
Connection = sqlcipher3.Connection


class WrongKey(Exception):
    """The key does not open this file (or the file is not a SQLCipher database)."""


#: 16 KiB pages: SQLCipher authenticates and decrypts per page, so bigger pages make scans
#: (reports, bundle exports) about 30 % faster. Stores made with the 4 KiB default still open.
PAGE_SIZES = (16384, 4096)


def connect(path: Path, key: bytes, *, create: bool = False, exclusive: bool = False) -> sqlcipher3.Connection:
    """An open, keyed connection in autocommit mode (transactions are explicit).

    A raw 256-bit key (`x'…'`) skips SQLCipher's own KDF: our key slots already did
    the slow derivation. SQLCipher's log is silenced before anything can go wrong,
    since it would otherwise print into the user's terminal. `exclusive` keeps the WAL index
    in memory instead of the `-shm` file, which a full disk cannot grow (other processes must
    wait until this connection closes).
    """
    if not create and not path.exists():
        raise FileNotFoundError(str(path))
    for page_size in PAGE_SIZES[:1] if create else PAGE_SIZES:
        try:
            return _open(path, key, page_size, create, exclusive)
        except WrongKey:
            continue
    raise WrongKey()


def _open(path: Path, key: bytes, page_size: int, create: bool, exclusive: bool = False) -> sqlcipher3.Connection:
    mode = "rwc" if create else "rw"
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    conn = sqlcipher3.connect(
        uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute(f"PRAGMA cipher_page_size = {page_size}")
        if exclusive:  # before the first read: SQLite then never touches the shared-memory file
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError as error:
            # Only "not a database" means the key is wrong; a full or failing disk is not.
            if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB" or "not a database" in str(error):
                raise WrongKey() from None
            raise
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.create_function("fold", 1, fold, deterministic=True)  # searches as people type (textsafe.fold)
    except BaseException:
        conn.close()
        raise
    return conn
