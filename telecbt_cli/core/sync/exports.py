"""Bulk exports of tables as CSV or NDJSON for analysts (FHIR R4 is in `fhir`).

One file per table, streamed in batches through the helpers in `bulk` (snapshot, age
encryption, crash-safe writes, audit): see that module for the guarantees.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.sync import bulk

#: Tables exported by `export_tables`, in this order.
TABLES = ("patients", "consents", "diary_entries", "measure_responses", "runs", "appointments", "homework",
          "goals", "plans", "messages", "safety_alerts", "patient_flags")
#: Columns holding JSON text: kept as text in CSV, parsed into real JSON in NDJSON.
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


class _Tally:
    rows = 0


def _csv_chunks(cursor, columns: list[str], tally: _Tally) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode("utf-8")
    for batch in bulk.batches(cursor):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)  # None is written as an empty field
        tally.rows += len(batch)
        yield buffer.getvalue().encode("utf-8")


def _ndjson_chunks(cursor, columns: list[str], json_columns: tuple[str, ...], tally: _Tally) -> Iterator[bytes]:
    parse = [i for i, name in enumerate(columns) if name in json_columns]
    for batch in bulk.batches(cursor):
        lines = []
        for row in batch:
            values = list(row)
            for i in parse:
                values[i] = bulk.parse_json(values[i])
            lines.append(json.dumps(dict(zip(columns, values)), ensure_ascii=False, separators=(",", ":")))
        tally.rows += len(batch)
        yield ("\n".join(lines) + "\n").encode("utf-8")


def _table_query(table: str, patient_ids: list[str] | None, since: str | None) -> tuple[str, list]:
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
    return f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY rowid", params


def export_tables(access: Access, out_dir: Path, fmt: str, patient_codes: Sequence[str] | None = None,
                  since: str | None = None, *, encrypt_to: str | Sequence[str] | None = None,
                  plaintext: bool = False, force: bool = False, progress: Any = None) -> dict:
    """One file per table (`TABLES`) of non-deleted rows, as CSV or NDJSON; counts and paths.

    `progress(label, done, total)` is called after each file (the CLI draws a bar on a terminal).

    `since` (ISO UTC) keeps rows changed at or after it (`updated_at`); `patient_codes`
    keeps those patients' rows.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}")
    plan = bulk.begin(access, fmt, out_dir, patient_codes, since, encrypt_to, plaintext, force,
                      {"tables": list(TABLES)})
    recipients, since, patient_ids, out_dir = plan.recipients, plan.since, plan.patient_ids, plan.out_dir
    suffix = f".{fmt}" + (".age" if recipients else "")
    counts: dict[str, int] = {}
    files: dict[str, str] = {}
    conn = access.store.conn
    with bulk.snapshot(conn):
        for table in TABLES:
            sql, params = _table_query(table, patient_ids, since)
            cursor = conn.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            tally = _Tally()
            if fmt == "csv":
                chunks = _csv_chunks(cursor, columns, tally)
            else:
                chunks = _ndjson_chunks(cursor, columns, JSON_COLUMNS.get(table, ()), tally)
            path = out_dir / f"{table}{suffix}"
            bulk.write_stream(path, chunks, recipients)
            counts[table], files[table] = tally.rows, str(path)
            if progress:
                progress(table, len(files), len(TABLES))
    bulk.finish(out_dir)
    return {"format": fmt, "out_dir": str(out_dir), "encrypted": recipients is not None, "since": since,
            "patients": None if patient_ids is None else len(patient_ids), "counts": counts, "files": files}
