"""A whole-store FHIR export shared between processes: each writes the bundles of one range of patients.

Formatting two million diary Observations is Python work that one process does on one CPU; the
reference pipeline (sqlite3 | zstd | age) keeps two busy. So the patients, in id order, are cut
into `workers` ranges of equal size; this process writes the first range and forked helper
processes the others, each through its own read connections (`bulk.read_connection`), and each
to its own files. Every file is one patient's bundle, whole, so the layout and the contents are
exactly those of a single-process export (tests/core/sync/test_fhir_workers.py compares them).

One snapshot for all. While the readers of every process begin their read transactions, this
process holds the store's write lock (`BEGIN IMMEDIATE`, as `bulk.shared_snapshot` does), so
nothing can be committed in between: every file shows the store at the same moment. Helpers start
reading only when told, after that lock is let go.

The helpers are forked (on Linux, with two CPUs or more: elsewhere one process writes all),
so the store's key reaches them in memory, never through a file or the command line. SQLite
says not to carry a connection across fork(): a helper never touches the connections it inherits,
only opens its own. Its lock bookkeeping is a copy of this process's, though, so SQLite may believe
it already holds the WAL read lock of its snapshot and not take it from the system: that lock is
held by this process's readers, which share the snapshot (same read mark) and stay open until
every helper is done, so a checkpoint by anyone cannot overwrite what a helper reads. age draws
each file's keys from the system's random source, so forked processes never share one (checked). They write
`<name>.tmp` files and report them; this process flushes and renames all of them at once
(`bulk.publish`). A helper's error is raised here; on any error the helpers are stopped and their
unfinished files removed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import StorageError
from telecbt_cli.core.sync import bulk, fhir_stream

#: At most this many processes (the reference pipeline's two busy stages; more only compete).
MAX_WORKERS = 2
#: Fewer patients than this per process are not worth a fork (about 20 ms).
MIN_PATIENTS = 50

Bounds = tuple[str | None, str | None]


@dataclass
class Written:
    """What was written: resource counts by type, files by patient code, files not yet published, and
    by how many processes."""

    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    pending: list[tuple[Path, Path]] = field(default_factory=list)
    processes: int = 1

    def add(self, other: "Written") -> None:
        for kind, count in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        self.files.update(other.files)
        self.pending.extend(other.pending)


#: part(main connection, diary connection or None, bounds, written, report(code)): write one range.
Part = Callable[[Any, Any, Bounds, Written, Callable[[str], None]], None]


def default_workers(patients: int) -> int:
    """How many processes to use for this many patients: 1 where forking is not possible or not worth it."""
    if not sys.platform.startswith("linux"):  # no fork on Windows; on macOS system libraries may not survive one
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, cpus, patients // MIN_PATIENTS))


def weighted_ids(conn, patient_ids: list[str] | None) -> list[tuple[str, int]]:
    """(patient id, its diary entries + 1) for every patient to export, in id order: the diary is most
    of the work, and older patients (lower ids) have more of it. Counted from the diary's patient index."""
    only, params = fhir_stream.id_filter(patient_ids, (None, None))
    sql = ("SELECT p.id, 1 + (SELECT count(*) FROM diary_entries d WHERE d.patient_id = p.id AND d.deleted = 0) "
           f"FROM patients p WHERE p.deleted = 0{only.replace('patient_id', 'p.id')} ORDER BY p.id")
    return [(row[0], row[1]) for batch in bulk.batches(conn.execute(sql, params)) for row in batch]


def ranges(ids: list[tuple[str, int]], workers: int) -> list[Bounds]:
    """`workers` ranges of patient ids (`weighted_ids`) holding about as much work each; together they
    cover every id, so a patient added meanwhile still falls in one of them."""
    total, running, cuts = sum(weight for _, weight in ids), 0, []
    for ident, weight in ids:
        # a cut before this patient if it would take the range further past its share than short of it
        if len(cuts) < workers - 1 and running and running + weight / 2 >= total * (len(cuts) + 1) / workers:
            cuts.append(ident)
        running += weight
    edges = [None, *cuts, None]
    return list(zip(edges[:-1], edges[1:]))


@contextlib.contextmanager
def _connections(access: Access) -> Iterator[tuple[Any, Any]]:
    """(connection, connection for the diary read-ahead or None), both on one snapshot."""
    conn = access.store.conn
    if conn.in_transaction:  # the caller's transaction is the snapshot: one connection
        yield conn, None
        return
    with bulk.shared_snapshot(access, 2) as conns:
        _tuned(conns, _cache_size(access))
        yield conns[0], conns[1]


def _tuned(conns: list, cache_size: int) -> list:
    # Tables are read in patient order, jumping around each table: the store connection's cache,
    # not the sequential CSV/NDJSON readers' 2 MB (which doubled the CPU time at 1,000 x 365).
    for conn in conns:
        conn.text_factory = str
        conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return conns


def _cache_size(access: Access) -> int:
    return access.store.conn.execute("PRAGMA cache_size").fetchone()[0]


def run(access: Access, patient_ids: list[str] | None, part: Part, written: Written, progress: Any = None,
        workers: int | None = None, on_snapshot: Callable[[], None] | None = None) -> None:
    """Write every patient's bundle (all, or these ids; `part` per range of ids) on `workers` processes
    (None: `default_workers`), adding what was written to `written`. `on_snapshot` runs once every
    reader holds its snapshot, before any of them reads (for tests)."""
    conn = access.store.conn
    if workers is None:
        only, params = fhir_stream.id_filter(patient_ids, (None, None))
        count = conn.execute(f"SELECT count(*) FROM patients WHERE deleted = 0{only.replace('patient_id', 'id')}",
                             params).fetchone()[0]
        workers = default_workers(count)
    if conn.in_transaction or workers <= 1 or not hasattr(os, "fork"):
        with _connections(access) as (main, diary):
            if on_snapshot:
                on_snapshot()
            part(main, diary, (None, None), written, reporter(written, progress))
        return
    shares = ranges(weighted_ids(conn, patient_ids), workers)
    _parallel(access, shares, part, written, progress, on_snapshot)
    written.processes = len(shares)


def reporter(written: Written, progress: Any, others: Callable[[], int] = lambda: 0) -> Callable[[str], None]:
    """report(code): tell `progress` that this patient's file is written (and how many are, in all).
    `others` is asked even without `progress`: it reads the helpers' messages, which would otherwise
    fill the pipe and stop them until this process is done."""

    def report(code: str) -> None:
        done = len(written.files) + others()
        if progress:
            progress(code, done, None)
    return report


class _Helper:
    """One forked helper process writing one range, and its end of the pipe."""

    def __init__(self, access: Access, bounds: Bounds, part: Part, cache_size: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.pipe, theirs = context.Pipe(duplex=True)
        self.process = context.Process(target=_helper_main, args=(access, bounds, part, cache_size, theirs),
                                       daemon=True, name="telecbt-fhir-export")
        self.process.start()
        theirs.close()
        self.done = 0
        self.ready = False
        self.result: Written | None = None

    def handle(self, block: bool) -> str | None:
        """Take one message (waiting for it if `block`, else only if one is there); progress returns the code."""
        if not block and not self.pipe.poll():
            return None
        try:
            message = self.pipe.recv()
        except EOFError:
            raise StorageError("an export helper process stopped unexpectedly; its files were not kept",
                               key="errors.sync_export.helper_stopped") from None
        if message[0] == "error":
            raise message[1]
        if message[0] == "ready":
            self.ready = True
        elif message[0] == "done":
            self.result = message[1]
        elif message[0] == "patient":
            self.done += 1
            return message[1]
        return None

    def stop(self) -> None:
        """End the helper: at once if it is still writing (it removes its unfinished files first)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()


def _parallel(access: Access, shares: list[Bounds], part: Part, written: Written, progress: Any,
              on_snapshot: Callable[[], None] | None) -> None:
    helpers: list[_Helper] = []
    conns: list = []
    ok = False
    cache_size = _cache_size(access)
    try:
        gate = access.store.conn
        gate.execute("BEGIN IMMEDIATE")
        try:
            for bounds in shares[1:]:
                helpers.append(_Helper(access, bounds, part, cache_size))
            conns = _tuned([bulk.read_connection(access), bulk.read_connection(access)], cache_size)
            for conn in conns:
                bulk.begin_read(conn)
            for helper in helpers:
                while not helper.ready:
                    helper.handle(block=True)
        finally:
            gate.execute("ROLLBACK")
        if on_snapshot:
            on_snapshot()
        for helper in helpers:
            helper.pipe.send(("go",))

        def others() -> int:
            for helper in helpers:
                while helper.result is None and helper.handle(block=False) is not None:
                    pass
            return sum(h.done for h in helpers)

        own = Written()
        try:
            part(conns[0], conns[1], shares[0], own, reporter(own, progress, others))
        finally:
            written.add(own)
        for helper in helpers:
            while helper.result is None:
                code = helper.handle(block=True)
                if code is not None and progress:
                    progress(code, len(written.files) + sum(h.done for h in helpers), None)
            written.add(helper.result)
        ok = True
    finally:
        for helper in helpers:  # first: this process's readers hold the helpers' read lock (module docstring)
            helper.stop()
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        for helper in helpers:
            if not ok and helper.result is not None:  # finished but not taken: removed with the rest
                for tmp, _ in helper.result.pending:
                    with contextlib.suppress(OSError):
                        tmp.unlink()


def _helper_main(access: Access, bounds: Bounds, part: Part, cache_size: int, pipe) -> None:
    """In the helper: take the snapshot, wait for the word, write the range, report; errors go to the parent.
    It never touches the parent's own connection (`access.store.conn`), which it only inherited."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that its unfinished files are removed
    written = Written()
    try:
        conns = _tuned([bulk.read_connection(access), bulk.read_connection(access)], cache_size)
        for conn in conns:
            bulk.begin_read(conn)
        pipe.send(("ready",))
        if pipe.recv()[0] != "go":
            return
        try:
            part(conns[0], conns[1], bounds, written, lambda code: pipe.send(("patient", code)))
        except BaseException:
            for tmp, _ in written.pending:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        pipe.send(("done", written))
    except BaseException as error:  # every failure is the parent's to report
        with contextlib.suppress(Exception):
            pipe.send(("error", _portable(error)))
    finally:
        pipe.close()


def _portable(error: BaseException) -> BaseException:
    """`error` if it survives the pipe, else a StorageError naming only its type (never its text, which
    might hold patient data)."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return StorageError("the export failed in a helper process ({kind})", key="errors.sync_export.helper_failed",
                            kind=type(error).__name__)
