"""Bulk exports of tables as CSV or NDJSON for analysts (FHIR R4 is in `fhir`).

One file per table, streamed in batches through the helpers in `bulk` (snapshot, zstd and age,
crash-safe writes, audit): see that module for the guarantees. Each row's text is built by
SQLite (`export_rows`: NDJSON objects with `json_object`, CSV lines), never a Python value per cell.

Where each output goes decides what is done to text (docs/exports.md):
- CSV is opened in spreadsheets, which run a cell starting with `= + - @`, tab or CR as a
  formula: such cells get a leading `'` (`textsafe.spreadsheet_cell`, OWASP's advice) unless
  `raw`. SQLite flags the rows that hold one, so only those rows pass through Python.
- NDJSON is read by programs: values are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.sync import bulk, export_rows

#: Tables exported by `export_tables`, in this order.
TABLES = ("patients", "consents", "diary_entries", "measure_responses", "runs", "appointments", "homework",
          "goals", "plans", "messages", "safety_alerts", "patient_flags")
#: Columns holding JSON text: kept as text in CSV, real JSON in NDJSON.
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "diary_entries": ("locations", "triggers", "coping", "meds"),
    "measure_responses": ("answers", "subscales"),
    "runs": ("history", "answers"),
    "plans": ("sessions",),
    "goals": ("notes",),
    "homework": ("text",),
    "appointments": ("fidelity",),
    "patient_flags": ("detail",),
}
FORMATS = ("csv", "ndjson")


def _columns(conn, table: str) -> list[tuple[str, str, bool]]:
    """(name, declared type, not null) of each column, in the table's order."""
    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return [(text(row[1]), text(row[2]), bool(row[3])) for row in conn.execute(f"PRAGMA table_info({table})")]


def _rows(table: str, patient_ids: list[str] | None, since: str | None) -> export_rows.Rows:
    if table not in TABLES:
        raise ValueError(f"{table} is not exported")
    where, params = ["deleted = 0"], []
    if patient_ids is not None:
        column = "id" if table == "patients" else "patient_id"
        where.append(f"{column} IN ({', '.join('?' for _ in patient_ids)})")
        params += patient_ids
    if since:
        where.append("updated_at >= ?")
        params.append(since)
    # rowid order is insertion order and needs no sort.
    return export_rows.Rows(table, " AND ".join(where), tuple(params), whole=patient_ids is None and not since)


#: Files written at once: the largest table on one thread, the others on another (two cores).
WORKERS = 2


def _in_parallel(access: Access, tables: Sequence[str], write: Any, done: Any) -> None:
    """Each table's file written by one of `WORKERS` threads, each with its own connection, all
    connections on one snapshot; the largest tables start first. The first error is raised once
    the running files are finished (complete files stay, as in a one-at-a-time export)."""
    import queue
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    with bulk.shared_snapshot(access, WORKERS) as conns:
        sizes = {t: conns[0].execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0] for t in tables}
        free: queue.Queue = queue.Queue()
        for conn in conns:
            free.put(conn)

        def job(table: str) -> str:
            conn = free.get()
            try:
                return write(conn, table)
            finally:
                free.put(conn)

        with ThreadPoolExecutor(WORKERS, thread_name_prefix="telecbt-export") as pool:
            running = {pool.submit(job, t): t for t in sorted(tables, key=lambda t: -sizes[t])}
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        table = running.pop(future)
                        done(table, future.result())
            except BaseException:
                for future in running:
                    future.cancel()
                raise


def export_tables(access: Access, out_dir: Path, fmt: str, patient_codes: Sequence[str] | None = None,
                  since: str | None = None, *, encrypt_to: str | Sequence[str] | None = None,
                  plaintext: bool = False, force: bool = False, progress: Any = None,
                  compress: bool | None = None, raw: bool = False) -> dict:
    """One file per table (`TABLES`) of non-deleted rows, as CSV or NDJSON; counts and paths.

    `progress(label, done, total)` is called after each file (the CLI draws a bar on a terminal).

    `since` (ISO UTC) keeps rows changed at or after it (`updated_at`); `patient_codes`
    keeps those patients' rows. `compress` (zstd, `.zst`) defaults to on for encrypted
    exports, off for plaintext ones. `raw` leaves formula-like CSV cells as they are.
    """
    if fmt not in FORMATS:
        raise UsageError("format must be one of {formats}", key="errors.sync_export.format", formats=", ".join(FORMATS))
    plan = bulk.begin(access, fmt, out_dir, patient_codes, since, encrypt_to, plaintext, force,
                      {"tables": list(TABLES)})
    recipients, since, patient_ids, out_dir = plan.recipients, plan.since, plan.patient_ids, plan.out_dir
    compress = recipients is not None if compress is None else compress
    suffix = f".{fmt}" + (".zst" if compress else "") + (".age" if recipients else "")
    counts: dict[str, int] = {table: 0 for table in TABLES}
    files: dict[str, str] = {}

    def write(conn, table: str) -> str:
        declared = _columns(conn, table)

        def count(rows: int) -> None:
            counts[table] += rows

        rows = _rows(table, patient_ids, since)
        if fmt == "csv":
            chunks = export_rows.csv_chunks(conn, rows, declared, count, raw)
        else:
            chunks = export_rows.ndjson_chunks(conn, rows, [name for name, _, _ in declared],
                                               JSON_COLUMNS.get(table, ()), count)
        path = out_dir / f"{table}{suffix}"
        ahead = bulk.prefetched(chunks)
        try:
            bulk.write_stream(path, ahead, recipients, compress=compress)
        finally:
            ahead.close()  # a failed write stops the reading thread before its connection is closed
        return str(path)

    def done(table: str, path: str) -> None:
        files[table] = path
        if progress:
            progress(table, len(files), len(TABLES))

    if access.store.conn.in_transaction:  # the caller's transaction is the snapshot: one file at a time
        conn = access.store.conn
        factory, conn.text_factory = conn.text_factory, bytes
        try:
            for table in TABLES:
                done(table, write(conn, table))
        finally:
            conn.text_factory = factory
    else:
        _in_parallel(access, TABLES, write, done)
    bulk.finish(out_dir)
    files = {table: files[table] for table in TABLES if table in files}
    return {"format": fmt, "out_dir": str(out_dir), "encrypted": recipients is not None, "compressed": compress,
            "since": since, "patients": None if patient_ids is None else len(patient_ids), "counts": counts,
            "files": files}
