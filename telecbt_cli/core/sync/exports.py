"""Bulk exports of tables as CSV or NDJSON for analysts (FHIR R4 is in `fhir`).

One file per table, streamed in batches through the helpers in `bulk` (snapshot, zstd and age,
crash-safe writes, audit): see that module for the guarantees. Rows are serialised without a
Python dict per row: NDJSON lines are built by SQLite (`json_object`, JSON columns through
`json()`), CSV rows go from the cursor to the C `csv` writer.

Where each output goes decides what is done to text (docs/exports.md):
- CSV is opened in spreadsheets, which run a cell starting with `= + - @`, tab or CR as a
  formula: such cells get a leading `'` (`textsafe.spreadsheet_cell`, OWASP's advice) unless
  `raw`. SQLite flags the rows that hold one, so only those rows pass through Python.
- NDJSON is read by programs: values are exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.textsafe import FORMULA_PREFIXES, spreadsheet_cell
from telecbt_cli.core.sync import bulk

#: Tables exported by `export_tables`, in this order.
TABLES = ("patients", "consents", "diary_entries", "measure_responses", "runs", "appointments", "homework",
          "goals", "plans", "messages", "safety_alerts")
#: Columns holding JSON text: kept as text in CSV, real JSON in NDJSON.
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "diary_entries": ("locations", "triggers", "coping", "meds"),
    "measure_responses": ("answers", "subscales"),
    "runs": ("history", "answers"),
    "plans": ("sessions",),
    "goals": ("notes",),
    "homework": ("text",),
    "appointments": ("fidelity",),
}
FORMATS = ("csv", "ndjson")


class _Tally:
    rows = 0


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _formula_flag(columns: list[str]) -> str:
    """SQL that is 1 when any text cell of the row starts with a formula prefix."""
    prefixes = ", ".join(_sql_text(p) for p in FORMULA_PREFIXES)
    return "(" + " OR ".join(f"(typeof({c}) = 'text' AND substr({c}, 1, 1) IN ({prefixes}))" for c in columns) + ")"


def _csv_chunks(cursor, columns: list[str], tally: _Tally, flagged: bool) -> Iterator[bytes]:
    """`flagged`: the cursor's first column says the row holds a formula-like cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode("utf-8")
    for batch in bulk.batches(cursor):
        buffer.seek(0)
        buffer.truncate()
        if flagged:
            writer.writerows([spreadsheet_cell(v) for v in row[1:]] if row[0] else row[1:] for row in batch)
        else:
            writer.writerows(batch)  # None is written as an empty field
        tally.rows += len(batch)
        yield buffer.getvalue().encode("utf-8")


def _ndjson_chunks(cursor, tally: _Tally) -> Iterator[bytes]:
    """Each row is one JSON text made by SQLite's json_object."""
    for batch in bulk.batches(cursor):
        tally.rows += len(batch)
        yield ("\n".join([row[0] for row in batch]) + "\n").encode("utf-8")


def _columns(conn, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _json_object(table: str, columns: list[str]) -> str:
    """json_object(...) of a row; JSON columns become JSON values when they parse, text otherwise."""
    def value(column: str) -> str:
        if column in JSON_COLUMNS.get(table, ()):
            return f"CASE WHEN json_valid({column}) THEN json({column}) ELSE {column} END"
        return column

    return "json_object(" + ", ".join(f"'{c}', {value(c)}" for c in columns) + ")"


def _table_query(table: str, patient_ids: list[str] | None, since: str | None,
                 select: str = "*") -> tuple[str, list]:
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
    # rowid order is insertion order and needs no sort on a full export.
    return f"SELECT {select} FROM {table} WHERE {' AND '.join(where)} ORDER BY rowid", params


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
        raise UsageError(f"format must be one of {', '.join(FORMATS)}")
    plan = bulk.begin(access, fmt, out_dir, patient_codes, since, encrypt_to, plaintext, force,
                      {"tables": list(TABLES)})
    recipients, since, patient_ids, out_dir = plan.recipients, plan.since, plan.patient_ids, plan.out_dir
    compress = recipients is not None if compress is None else compress
    suffix = f".{fmt}" + (".zst" if compress else "") + (".age" if recipients else "")
    counts: dict[str, int] = {}
    files: dict[str, str] = {}
    conn = access.store.conn
    with bulk.snapshot(conn):
        for table in TABLES:
            columns = _columns(conn, table)
            tally = _Tally()
            if fmt == "csv":
                select = "*" if raw else f"{_formula_flag(columns)}, *"
                chunks = _csv_chunks(conn.execute(*_table_query(table, patient_ids, since, select)), columns, tally,
                                     flagged=not raw)
            else:
                select = _json_object(table, columns)
                chunks = _ndjson_chunks(conn.execute(*_table_query(table, patient_ids, since, select)), tally)
            path = out_dir / f"{table}{suffix}"
            bulk.write_stream(path, chunks, recipients, compress=compress)
            counts[table], files[table] = tally.rows, str(path)
            if progress:
                progress(table, len(files), len(TABLES))
    bulk.finish(out_dir)
    return {"format": fmt, "out_dir": str(out_dir), "encrypted": recipients is not None, "compressed": compress,
            "since": since, "patients": None if patient_ids is None else len(patient_ids), "counts": counts,
            "files": files}
