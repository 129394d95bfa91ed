"""The encrypted store: one SQLCipher database plus its key slots, in one folder."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.core.store import db as dbmod
from telecbt_cli.core.store import schema
from telecbt_cli.core.store.clock import next_hlc, now_iso
from telecbt_cli.core.store.errors import (
    IntegrityError,
    Said,
    StorageError,
    StoreExistsError,
    TelecbtError,
)
from telecbt_cli.core.store.fsutil import (
    fsync_dir,
    restrict_mode,
    storage_error,
    write_problem,
)
from telecbt_cli.core.store.paths import db_file, keyfile_paths

if TYPE_CHECKING:
    from sqlite_utils import Database

    from telecbt_cli.core.store import keyfile as kfmod


#: How often a long-lived store (the TUI) moves the anchor between writes; a command moves it when it closes.
ANCHOR_EVERY_SECONDS = 30.0


class WrongStoreKey(IntegrityError):
    """No key from the key file (or session) opens the database."""


@dataclass
class Store:
    """An open store. Use `write()` for every change: one IMMEDIATE transaction.

    `db` (sqlite-utils) and `keyfile` load on first use: a one-shot command such as
    `patient add` with a session token needs neither, and start-up time matters on
    old laptops.
    """

    dir: Path
    conn: dbmod.Connection
    store_id: str
    device_id: str
    data_key: bytes
    _keyfile: "kfmod.KeyFile | None" = None
    _db: Any = None
    #: Things the person should hear about (a full disk): each UI shows them once the command is done.
    notices: list[str] = field(default_factory=list)
    #: An audit entry was appended since the key file's anchor was last moved (`anchor.py`).
    anchor_due: bool = False
    anchor_at: float = field(default_factory=time.monotonic)

    @property
    def db(self) -> "Database":
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    @property
    def keyfile(self) -> "kfmod.KeyFile":
        if self._keyfile is None:
            from telecbt_cli.core.store import keyfile as kfmod

            self._keyfile = kfmod.load(self.dir).keyfile
        return self._keyfile

    @keyfile.setter
    def keyfile(self, value: "kfmod.KeyFile") -> None:
        self._keyfile = value

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        if self.conn.in_transaction:
            savepoint = "telecbt_nested"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO {savepoint}")
                    self.conn.execute(f"RELEASE {savepoint}")
                raise
            self.conn.execute(f"RELEASE {savepoint}")
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except dbmod.DatabaseError as error:
            raise _db_error(error, self.dir) from None
        try:
            yield
        except dbmod.DatabaseError as error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise _db_error(error, self.dir) from None
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except dbmod.DatabaseError as error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise _db_error(error, self.dir) from None
        if self.anchor_due and time.monotonic() - self.anchor_at > ANCHOR_EVERY_SECONDS:
            self.flush_anchor()

    def flush_anchor(self) -> None:
        """Move the key file's anchor up to this database (best effort: the change itself is saved)."""
        from telecbt_cli.core.store import anchor

        self.anchor_due, self.anchor_at = False, time.monotonic()
        with contextlib.suppress(TelecbtError, OSError, dbmod.DatabaseError):
            anchor.flush(self)

    def rows(self, sql: str, params: Any = ()) -> list[dict]:
        """Every row of a query as a dict keyed by column name."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Any = ()) -> dict | None:
        """The first row of a query as a dict, or None."""
        cursor = self.conn.execute(sql, params)
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row)) if row else None

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_hlc(self) -> str:
        """A fresh hybrid-logical-clock stamp; call inside `write()`."""
        stamp = next_hlc(self.meta("hlc"), self.device_id)
        self.set_meta("hlc", stamp)
        return stamp

    def close(self) -> None:
        if self.anchor_due:
            self.flush_anchor()
        with contextlib.suppress(Exception):
            self.conn.close()


def _db_error(error: Exception, store_dir: Path) -> TelecbtError:
    """A SQLite error as a message that says what to do; the last step was rolled back."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error).lower()
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        problem = write_problem(store_dir)
        if problem == "read-only":
            name = "SQLITE_READONLY"
        elif problem == "full":
            name = "SQLITE_FULL"
    if name == "SQLITE_FULL" or "full" in text:
        return StorageError("the disk holding {store} is full: free some space and try again "
                            "(the last change was not saved)", key="errors.store_disk.full", store=str(store_dir))
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return StorageError("{store} is read-only: nothing was changed", key="errors.store_disk.read_only",
                            store=str(store_dir))
    if name.startswith("SQLITE_IOERR") or name.startswith("SQLITE_CANTOPEN"):
        return StorageError("could not write to the disk holding {store}: it may be full, removed "
                            "or failing. Free space or reconnect it and try again (the last change was not saved)",
                            key="errors.store_disk.failing", store=str(store_dir))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return TelecbtError("the store is busy in another window or process: try again in a moment",
                            key="errors.store_disk.busy")
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "malformed" in text:
        return IntegrityError("the database in {store} is damaged: run `telecbt store check`",
                              key="errors.store_disk.damaged", store=str(store_dir))
    return TelecbtError("the store could not complete the operation ({name})", key="errors.store_open.operation_failed",
                        name=name or error.__class__.__name__)


#: What a read on a full disk says (the command still works); each UI says it in its reader's language.
FULL_DISK_NOTICE = Said("the disk holding the store is full: you can read, but nothing can be saved until some space "
                        "is freed. This read is recorded in the audit log when there is space again.",
                        "cli.store_notice.full_disk")


def _connect_any(path: Path, keys: list[bytes], store_dir: Path) -> tuple[dbmod.Connection, bytes, bool]:
    """(connection, key, opened on a full disk)."""
    if not path.exists():
        raise IntegrityError("{store} has a key file but no database: restore the folder from a backup",
                             key="errors.store_open.no_database", store=str(store_dir))
    for key in keys:
        try:
            return dbmod.connect(path, key), key, False
        except dbmod.WrongKey:
            continue
        except dbmod.DatabaseError as error:
            problem = _db_error(error, store_dir)
            if not (isinstance(problem, StorageError) and write_problem(store_dir) == "full"):
                raise problem from None
        try:  # a full disk cannot grow the shared-memory file: read with the WAL index in memory
            return dbmod.connect(path, key, exclusive=True), key, True
        except dbmod.WrongKey:
            continue
        except dbmod.DatabaseError as error:
            raise _db_error(error, store_dir) from None
    raise WrongStoreKey(
        "the database in {store} does not open with the key from its key file: "
        "it is damaged, or it is not the database this key file belongs to",
        key="errors.store_open.wrong_key", store=str(store_dir))


def open_with_keys(store_dir: Path, keys: list[bytes], keyfile: "kfmod.KeyFile | None",
                   store_id: str | None = None) -> Store:
    """Open the database with whichever of `keys` fits, and bring its schema up to date.

    `store_id` (from a session) stands in for the key file, which then loads only if needed.
    """
    expected_id = keyfile.store_id if keyfile else store_id
    conn, key, disk_full = _connect_any(db_file(store_dir), keys, store_dir)
    try:
        schema.apply(conn)
        found_id = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        device = conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
        if not found_id or found_id[0] != expected_id or not device:
            raise IntegrityError("the database and the key file belong to different stores",
                                 key="errors.store_open.db_stores_differ")
    except dbmod.DatabaseError as error:
        conn.close()
        raise _db_error(error, store_dir) from None
    except BaseException:
        conn.close()
        raise
    store = Store(store_dir, conn, found_id[0], device[0], key, keyfile)
    if disk_full:
        store.notices.append(FULL_DISK_NOTICE)
    _settle_interrupted_rekey(store, keys)
    return store


def _settle_interrupted_rekey(store: Store, keys: list[bytes]) -> None:
    """A rekey that stopped midway leaves two keys in each slot: keep the one that works."""
    if len(keys) < 2:
        return
    from telecbt_cli.core.store import keyfile as kfmod

    settled = kfmod.KeyFile(
        store.keyfile.store_id,
        store.keyfile.generation,
        [kfmod.rewrap(slot, [store.data_key], store.store_id) for slot in store.keyfile.slots],
    )
    with contextlib.suppress(TelecbtError):
        store.keyfile = kfmod.save(store.dir, settled, expected_generation=settled.generation)


def check_new_location(store_dir: Path) -> None:
    if store_dir.is_file():
        raise StoreExistsError("{path} is a file; a store is a folder: choose another path",
                               key="errors.new_store.file", path=str(store_dir))
    if any(p.exists() for p in keyfile_paths(store_dir)) or db_file(store_dir).exists():
        raise StoreExistsError("a telecbt store already exists at {path}; refusing to overwrite it",
                               key="errors.new_store.exists", path=str(store_dir))
    if store_dir.is_dir() and any(store_dir.iterdir()):
        raise StoreExistsError("{path} is not empty: choose an empty or new folder", key="errors.new_store.not_empty",
                               path=str(store_dir))


@contextlib.contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """Build a new store folder beside `target`, then move it into place in one rename.

    An interruption leaves only a hidden `.NAME.init-*` folder (encrypted contents),
    which the next attempt removes; never a half-made store under the real name.
    """
    import shutil

    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for stale in parent.glob(f".{target.name}.init-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = parent / f".{target.name}.init-{os.getpid()}"
        tmp.mkdir(mode=0o700)
    except OSError as error:
        raise storage_error("create the store in", parent, error) from None
    try:
        yield tmp
        if target.is_dir():
            target.rmdir()
        os.rename(tmp, target)
        fsync_dir(parent)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise storage_error("create the store in", parent, error) from None
    except dbmod.DatabaseError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _db_error(error, target) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def create_database(folder: Path, data_key: bytes, keyfile: "kfmod.KeyFile") -> Store:
    """A fresh, migrated database keyed with `data_key`, with its ids in `meta`."""
    conn = dbmod.connect(db_file(folder), data_key, create=True)
    restrict_mode(db_file(folder))
    schema.apply(conn)
    store = Store(folder, conn, keyfile.store_id, "", data_key, keyfile)
    from telecbt_cli.core.store.ids import uuid7

    store.device_id = uuid7()
    with store.write():
        store.set_meta("store_id", keyfile.store_id)
        store.set_meta("device_id", store.device_id)
        store.set_meta("created_at", now_iso())
    return store


def info(store: Store) -> dict:
    """Sizes, versions and slots, with no secrets."""
    def size(path: Path) -> int:
        return path.stat().st_size if path.exists() else 0

    database = db_file(store.dir)
    counts = {
        table: store.conn.execute(f"SELECT count(*) FROM {table} WHERE deleted = 0").fetchone()[0]
        for table in ("users", "patients")
    }
    return {
        "path": str(store.dir),
        "store_id": store.store_id,
        "device_id": store.device_id,
        "created_at": store.meta("created_at"),
        "schema_version": schema.version(store.conn),
        "schema_steps": schema.applied_names(store.conn),
        "database_bytes": size(database),
        "wal_bytes": size(database.with_name(database.name + "-wal")),
        "keyfile_generation": store.keyfile.generation,
        "slots": [slot.public_info() for slot in store.keyfile.slots],
        "counts": counts,
        "audit_entries": store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0],
    }


def backup(store: Store, dest: Path) -> dict:
    """A consistent encrypted copy (SQLite backup API) that opens with the same secrets."""
    from telecbt_cli.core.store import keyfile as kfmod

    check_new_location(dest)
    with staging_dir(dest) as tmp:
        page_size = int(store.conn.execute("PRAGMA cipher_page_size").fetchone()[0])
        target = dbmod._open(db_file(tmp), store.data_key, page_size, create=True)
        restrict_mode(db_file(tmp))
        try:
            store.conn.backup(target)
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            target.close()
        kfmod.save(tmp, kfmod.KeyFile(store.keyfile.store_id, store.keyfile.generation, store.keyfile.slots))
    return {"path": str(dest), "database_bytes": db_file(dest).stat().st_size}


def integrity_problems(store: Store) -> list[str]:
    """SQLCipher page checks and SQLite's structural check; empty when healthy."""
    problems = [f"page check: {row[0]}" for row in store.conn.execute("PRAGMA cipher_integrity_check")]
    result = [row[0] for row in store.conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        problems.extend(f"structure: {line}" for line in result)
    return problems
