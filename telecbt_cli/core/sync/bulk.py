"""What every bulk export shares: who may export, which patients and since when, one read
snapshot, batches of rows, the output folder, crash-safe and age-encrypted file writes, the audit entry.

Streaming. A table is read through its cursor in batches of `BATCH` rows and written as it
is read, so a table of any size costs one batch of memory. Every export reads inside one read
transaction (`snapshot`), or on several connections that took one snapshot together
(`shared_snapshot`), so all files show the store at the same moment, even if another telecbt
process writes meanwhile. `prefetched` reads the next rows on a helper thread while the file
is compressed (`compressed`, zstd on its own thread) and encrypted, as a shell pipeline would.

Crash safety. Each file is written to `<name>.tmp` in the output folder (mode 0600), flushed
with fsync and renamed into place; a failure removes the temporary file. Files already
renamed stay: they are complete, and the audit entry (written before the first file) records
the export.

Encryption (`recipients`). Each file is encrypted with age (pyrage) to the given X25519
recipients as it is produced: `pyrage.encrypt_io` pulls the plaintext from `_ChunkReader`, a
file-like object that formats the next batch of rows only when asked, and writes ciphertext
to the temporary file. So no plaintext is ever written to disk, not even briefly, and memory
stays at one batch plus age's 64 KiB chunk (measured: 300 MB through encrypt_io in 13 MB of
memory). The other designs were worse: buffering a table in memory does not scale; a
plaintext temporary file leaves patient data on disk (and in journaling or SSD blocks) even
after it is deleted; encrypting each batch as its own age file would not make one file that
`age -d` can read. An error raised while producing rows (or Ctrl-C) is kept by the reader and
raised again after pyrage gives up, so it is not hidden behind pyrage's EncryptError.

Who may export. Reading (`read`) is needed, and plaintext exports are refused to viewers:
they may only export encrypted files. Without `encrypt_to` the caller must say `plaintext=True`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import PermissionDenied, StorageError, UsageError
from telecbt_cli.core.store.fsutil import fsync_dir, restrict_mode, storage_error

BATCH = 1000
#: zstd level for compressed exports: about 8x smaller NDJSON at hundreds of MB/s (level 19: 12x, 400x slower).
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class Plan:
    """What an export will write, settled (and audited) before the first file."""

    recipients: list | None
    since: str | None
    patient_ids: list[str] | None
    out_dir: Path

    @property
    def encrypted(self) -> bool:
        return self.recipients is not None


def begin(access: Access, fmt: str, out_dir: Path, patient_codes: Sequence[str] | None, since: str | None,
          encrypt_to: str | Sequence[str] | None, plaintext: bool, force: bool, extra: dict | None = None) -> Plan:
    """The checks every export makes, in order, then its audit entry: recipients, role, period,
    patients, output folder. Nothing is written to the folder yet."""
    recipients = recipients_for(encrypt_to, plaintext)
    authorize(access, recipients)
    since = since_utc(since)
    patient_ids = patient_ids_for(access, patient_codes)
    out_dir = prepare_out_dir(access, out_dir, force)
    audit_export(access, fmt, patient_ids, since, recipients is not None, extra)
    return Plan(recipients, since, patient_ids, out_dir)


def recipients_for(encrypt_to: str | Sequence[str] | None, plaintext: bool) -> list | None:
    """Parsed age recipients, or None for a plaintext export the caller asked for explicitly."""
    targets = [encrypt_to] if isinstance(encrypt_to, str) else list(encrypt_to or [])
    targets = [t.strip() for t in targets if t and t.strip()]
    if targets and plaintext:
        raise UsageError("choose one of --plaintext and --encrypt-to", key="errors.export_run.one_of")
    if not targets:
        if not plaintext:
            raise UsageError("an export holds patient data: add --plaintext to write patient data unencrypted, "
                             "or --encrypt-to age1… to encrypt each file to an age recipient",
                             key="errors.export_run.plaintext_or_encrypt")
        return None
    import pyrage

    parsed = []
    for target in targets:
        try:
            if not target.startswith("age1"):
                raise ValueError(target)
            parsed.append(pyrage.x25519.Recipient.from_str(target))
        except Exception:
            raise UsageError("{target!r} is not an age recipient: it should look like age1… "
                             "(the output of `age-keygen -y`)", key="errors.export_run.not_age", target=target[:80]) from None
    return parsed


def authorize(access: Access, recipients: list | None) -> None:
    access.require("read")
    if recipients is None and access.role == "viewer":
        raise PermissionDenied("a viewer may only export encrypted files: add --encrypt-to age1… "
                               "({user} is signed in as viewer)", key="errors.sync_export.viewer", user=access.user)


def since_utc(since: str | None) -> str | None:
    if not since:
        return None
    from telecbt_cli.core.store.timeparse import parse_since

    return parse_since(since)


def patient_ids_for(access: Access, codes: Sequence[str] | None) -> list[str] | None:
    """Ids for the given codes, in order and without repeats; None means every patient."""
    if not codes:
        return None
    from telecbt_cli.core.clinical.patients import patient_id_for

    ids: list[str] = []
    for code in codes:
        ident = patient_id_for(access, code)
        if ident not in ids:
            ids.append(ident)
    return ids


def prepare_out_dir(access: Access, out_dir: Path, force: bool) -> Path:
    """The output folder: created (mode 0700) if missing; an existing one must be empty unless `force`."""
    out_dir = Path(out_dir).expanduser()
    store_dir = access.store.dir.resolve()
    target = out_dir.resolve()
    if target == store_dir or store_dir in target.parents:
        raise UsageError("the output folder is inside the store folder: choose a folder outside it",
                         key="errors.export_run.inside_store")
    try:
        if out_dir.exists():
            if not out_dir.is_dir():
                raise UsageError("{path} exists and is not a folder", key="errors.export_run.not_folder", path=str(out_dir))
            if not force and any(out_dir.iterdir()):
                raise UsageError("{path} is not empty: choose a new folder, or add --force to write into it "
                                 "(files of the same name are replaced, other files are left alone)",
                                 key="errors.export_run.not_empty", path=str(out_dir))
        else:
            out_dir.mkdir(parents=True, mode=0o700)
    except OSError as error:
        raise storage_error("create", out_dir, error) from None
    return out_dir


def audit_export(access: Access, fmt: str, patient_ids: list[str] | None, since: str | None, encrypted: bool,
           extra: dict | None = None) -> None:
    """One entry, written before any file: an export that fails half-way is on record too."""
    detail: dict[str, Any] = {"format": fmt, "encrypted": encrypted, "since": since,
                              "patients": "all" if patient_ids is None else len(patient_ids), **(extra or {})}
    if patient_ids is not None and len(patient_ids) > 1:
        detail["patient_ids"] = patient_ids
    single = patient_ids[0] if patient_ids is not None and len(patient_ids) == 1 else None
    audit.append(access.store, access.user, f"export.{fmt}", patient_id=single, detail=detail)


@contextlib.contextmanager
def snapshot(conn) -> Iterator[None]:
    """One read transaction: every file shows the same moment. Nothing is written in it."""
    if conn.in_transaction:  # the caller's transaction already gives one view
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


@contextlib.contextmanager
def shared_snapshot(access: Access, count: int) -> Iterator[list]:
    """`count` extra read connections that all see the store at one same moment, for exports that
    write several files at once. While they take their snapshots the store's own connection holds
    the write lock (a few milliseconds), so nothing can be committed in between; then it lets go,
    and writers carry on while the readers read. Rows come back as bytes (`text_factory`)."""
    conns: list = []
    try:
        for _ in range(count):
            conns.append(read_connection(access))
        gate = access.store.conn
        gate.execute("BEGIN IMMEDIATE")
        try:
            for conn in conns:
                begin_read(conn)
        finally:
            gate.execute("ROLLBACK")
        yield conns
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def read_connection(access: Access):
    """One more connection to the store for an export's reader (rows as bytes, a 2 MB cache)."""
    from telecbt_cli.core.store import db as dbmod
    from telecbt_cli.core.store.paths import db_file

    conn = dbmod.connect(db_file(access.store.dir), access.store.data_key)
    conn.execute("PRAGMA cache_size = -2048")  # each reads its tables once, in order
    conn.text_factory = bytes
    return conn


def begin_read(conn) -> None:
    """Start `conn`'s read transaction now: its snapshot is the store as it is at this moment."""
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here


class _ChunkReader(io.RawIOBase):
    """A read-only stream over an iterator of byte chunks, produced only as they are read."""

    def __init__(self, chunks: Iterator[bytes]):
        super().__init__()
        self._chunks = chunks
        self._view = memoryview(b"")
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            while not self._view:
                self._view = memoryview(next(self._chunks))
        except StopIteration:
            return 0
        except BaseException as error:  # kept: pyrage turns it into an EncryptError
            self.error = error
            raise
        size = min(len(buffer), len(self._view))
        buffer[:size] = self._view[:size]
        self._view = self._view[size:]
        return size


class _Sink(io.RawIOBase):
    """The temporary file as pyrage sees it: keeps a write error so it can be reported plainly."""

    def __init__(self, handle):
        super().__init__()
        self._handle = handle
        self.error: BaseException | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except BaseException as error:
            self.error = error
            raise

    def flush(self) -> None:
        if not self.closed:
            self._handle.flush()


def _encrypt(chunks: Iterator[bytes], handle, recipients: list) -> None:
    import pyrage

    reader, sink = _ChunkReader(chunks), _Sink(handle)
    try:
        pyrage.encrypt_io(reader, sink, recipients)
    except Exception:
        for kept in (reader.error, sink.error):
            if kept is not None:
                raise kept from None
        raise StorageError("age encryption failed; nothing more was written", key="errors.sync_export.age_failed") from None
    for kept in (reader.error, sink.error):
        if kept is not None:
            raise kept


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(chunks: Iterator[bytes], depth: int = 4) -> Iterator[bytes]:
    """`chunks` produced on a helper thread, up to `depth` ahead: SQLite builds the next rows (it lets
    go of the GIL while it works) while this thread compresses and encrypts the last ones, as the
    stages of a shell pipeline run side by side. The helper has finished when this generator ends,
    so the caller may use the connection again."""
    import queue
    import threading

    box: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(done)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Failed(error))
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    helper = threading.Thread(target=run, name="telecbt-export-rows", daemon=True)
    helper.start()
    try:
        while (item := box.get()) is not done:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        helper.join()


def compressed(chunks: Iterator[bytes], level: int = ZSTD_LEVEL, threads: int = 1) -> Iterator[bytes]:
    """`chunks` as one zstd frame, compressed on zstd's own thread (`threads`=1) while the caller
    reads rows, or on the caller's (0)."""
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(level, threads=threads, window_log=20, job_size=1 << 19)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    for chunk in chunks:
        part = compressor.compress(chunk)
        if part:
            yield part
    yield compressor.flush()


def write_stream(path: Path, chunks: Iterator[bytes], recipients: list | None, compress: bool = False,
                 pending: list | None = None, zstd: tuple[int, int] = (ZSTD_LEVEL, 1)) -> None:
    """Write `chunks` (zstd-compressed if `compress`, at `zstd` = (level, threads), then encrypted
    if `recipients`) to `path` via `<name>.tmp`, fsync and rename. With a `pending` list the file
    stays `<name>.tmp`, not yet flushed, and is added to the list: `publish` flushes them all at
    once and renames them."""
    if compress:
        chunks = compressed(chunks, *zstd)
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            if recipients is None:
                for chunk in chunks:
                    handle.write(chunk)
            else:
                _encrypt(chunks, handle, recipients)
            handle.flush()
            if pending is None:
                os.fsync(handle.fileno())
        restrict_mode(tmp)
        if pending is None:
            os.replace(tmp, path)
        else:
            pending.append((tmp, path))
    except OSError as error:
        _discard(tmp)
        raise storage_error("write", path, error) from None
    except BaseException:
        _discard(tmp)
        raise


def _sync_all(folder: Path) -> bool:
    """Flush the file system holding `folder` in one call (Linux `syncfs`, which reports write
    errors since Linux 5.8); False where there is no such call, or it failed."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs(fd) == 0
    except (OSError, AttributeError):
        return False
    finally:
        os.close(fd)


def publish(pending: list[tuple[Path, Path]]) -> None:
    """Make files written with `write_stream(…, pending=…)` durable, then rename each into place:
    one flush of the file system for all of them instead of one fsync per file (a FHIR export
    writes one file per patient). Where that flush is not to be had, each file is fsynced."""
    if not pending:
        return
    try:
        if not _sync_all(pending[0][0].parent):
            for tmp, _ in pending:
                fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows needs write access to flush
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        for tmp, path in pending:
            os.replace(tmp, path)
    except OSError as error:
        raise storage_error("write", pending[0][1].parent, error) from None
    finally:
        for tmp, _ in pending:
            _discard(tmp)
        pending.clear()


def finish(out_dir: Path) -> None:
    try:
        fsync_dir(out_dir)
    except OSError as error:
        raise storage_error("write", out_dir, error) from None


def batches(cursor) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(BATCH):
        yield batch


def parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
