"""Bulk exports: tables as CSV or NDJSON for analysts, FHIR R4 transaction bundles for health-record systems.

Streaming. A table is read through its cursor in batches of `BATCH` rows and written as it
is read, so a table of any size costs one batch of memory. A FHIR export writes one bundle
per patient, entry by entry. Every export reads inside one read transaction, so all files
show the store at the same moment, even if another telecbt process writes meanwhile.

Crash safety. Each file is written to `<name>.tmp` in the output folder (mode 0600), flushed
with fsync and renamed into place; a failure removes the temporary file. Files already
renamed stay: they are complete, and the audit entry (written before the first file) records
the export.

Encryption (`encrypt_to`). Each file is encrypted with age (pyrage) to the given X25519
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
import csv
import io
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.core import audit
from telecbt_cli.core.access import Access
from telecbt_cli.core.clock import now_iso
from telecbt_cli.core.errors import PermissionDenied, StorageError, UsageError
from telecbt_cli.core.fsutil import fsync_dir, restrict_mode, storage_error

if TYPE_CHECKING:
    from telecbt_cli.content.catalog import Catalog

#: Tables exported by `export_tables`, in this order.
TABLES = ("patients", "consents", "diary_entries", "measure_responses", "runs", "appointments", "homework",
          "goals", "plans", "messages", "safety_alerts")
#: Columns holding JSON text: kept as text in CSV, parsed into real JSON in NDJSON.
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
BATCH = 1000

PATIENT_CODE_SYSTEM = "urn:telecbt:patient-code"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: LOINC 72514-3 "Pain severity - 0-10 verbal numeric rating [Score] - Reported" (see docs/exports.md).
PAIN_LOINC = "72514-3"
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
#: Observations made from a questionnaire response get a stable id derived from the response id.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:telecbt:fhir")
#: Characters FHIR strings may not hold (C0 controls except tab, CR, LF; and DEL).
_FHIR_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURVEY = [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}]
_SCORE = {"unit": "{score}", "system": UCUM, "code": "{score}"}


# --- checks shared by every export ---------------------------------------------------------------

def recipients_for(encrypt_to: str | Sequence[str] | None, plaintext: bool) -> list | None:
    """Parsed age recipients, or None for a plaintext export the caller asked for explicitly."""
    targets = [encrypt_to] if isinstance(encrypt_to, str) else list(encrypt_to or [])
    targets = [t.strip() for t in targets if t and t.strip()]
    if targets and plaintext:
        raise UsageError("choose one of --plaintext and --encrypt-to")
    if not targets:
        if not plaintext:
            raise UsageError("an export holds patient data: add --plaintext to write patient data unencrypted, "
                             "or --encrypt-to age1… to encrypt each file to an age recipient")
        return None
    import pyrage

    parsed = []
    for target in targets:
        try:
            if not target.startswith("age1"):
                raise ValueError(target)
            parsed.append(pyrage.x25519.Recipient.from_str(target))
        except Exception:
            raise UsageError(f"{target[:80]!r} is not an age recipient: it should look like age1… "
                             "(the output of `age-keygen -y`)") from None
    return parsed


def _authorize(access: Access, recipients: list | None) -> None:
    access.require("read")
    if recipients is None and access.role == "viewer":
        raise PermissionDenied(f"a viewer may only export encrypted files: add --encrypt-to age1… "
                               f"({access.user} is signed in as viewer)")


def _since(since: str | None) -> str | None:
    if not since:
        return None
    from telecbt_cli.core.timeparse import parse_since

    return parse_since(since)


def _patient_ids(access: Access, codes: Sequence[str] | None) -> list[str] | None:
    """Ids for the given codes, in order and without repeats; None means every patient."""
    if not codes:
        return None
    from telecbt_cli.core.patients import patient_id_for

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
        raise UsageError("the output folder is inside the store folder: choose a folder outside it")
    try:
        if out_dir.exists():
            if not out_dir.is_dir():
                raise UsageError(f"{out_dir} exists and is not a folder")
            if not force and any(out_dir.iterdir()):
                raise UsageError(f"{out_dir} is not empty: choose a new folder, or add --force to write into it "
                                 "(files of the same name are replaced, other files are left alone)")
        else:
            out_dir.mkdir(parents=True, mode=0o700)
    except OSError as error:
        raise storage_error("create", out_dir, error) from None
    return out_dir


def _audit(access: Access, fmt: str, patient_ids: list[str] | None, since: str | None, encrypted: bool,
           extra: dict | None = None) -> None:
    """One entry, written before any file: an export that fails half-way is on record too."""
    detail: dict[str, Any] = {"format": fmt, "encrypted": encrypted, "since": since,
                              "patients": "all" if patient_ids is None else len(patient_ids), **(extra or {})}
    if patient_ids is not None and len(patient_ids) > 1:
        detail["patient_ids"] = patient_ids
    single = patient_ids[0] if patient_ids is not None and len(patient_ids) == 1 else None
    audit.append(access.store, access.user, f"export.{fmt}", patient_id=single, detail=detail)


@contextlib.contextmanager
def _snapshot(conn) -> Iterator[None]:
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


# --- writing files ---------------------------------------------------------------------------------

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
        raise StorageError("age encryption failed; nothing more was written") from None
    for kept in (reader.error, sink.error):
        if kept is not None:
            raise kept


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def write_stream(path: Path, chunks: Iterator[bytes], recipients: list | None) -> None:
    """Write `chunks` (encrypted if `recipients`) to `path` via `<name>.tmp`, fsync and rename."""
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
            os.fsync(handle.fileno())
        restrict_mode(tmp)
        os.replace(tmp, path)
    except OSError as error:
        _discard(tmp)
        raise storage_error("write", path, error) from None
    except BaseException:
        _discard(tmp)
        raise


def _finish(out_dir: Path) -> None:
    try:
        fsync_dir(out_dir)
    except OSError as error:
        raise storage_error("write", out_dir, error) from None


# --- tables: CSV and NDJSON ------------------------------------------------------------------------

def _batches(cursor) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(BATCH):
        yield batch


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Tally:
    rows = 0


def _csv_chunks(cursor, columns: list[str], tally: _Tally) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode("utf-8")
    for batch in _batches(cursor):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)  # None is written as an empty field
        tally.rows += len(batch)
        yield buffer.getvalue().encode("utf-8")


def _ndjson_chunks(cursor, columns: list[str], json_columns: tuple[str, ...], tally: _Tally) -> Iterator[bytes]:
    parse = [i for i, name in enumerate(columns) if name in json_columns]
    for batch in _batches(cursor):
        lines = []
        for row in batch:
            values = list(row)
            for i in parse:
                values[i] = _parse_json(values[i])
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
                  plaintext: bool = False, force: bool = False) -> dict:
    """One file per table (`TABLES`) of non-deleted rows, as CSV or NDJSON; counts and paths.

    `since` (ISO UTC) keeps rows changed at or after it (`updated_at`); `patient_codes`
    keeps those patients' rows.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}")
    recipients = recipients_for(encrypt_to, plaintext)
    _authorize(access, recipients)
    since = _since(since)
    patient_ids = _patient_ids(access, patient_codes)
    out_dir = prepare_out_dir(access, out_dir, force)
    _audit(access, fmt, patient_ids, since, recipients is not None, {"tables": list(TABLES)})
    suffix = f".{fmt}" + (".age" if recipients else "")
    counts: dict[str, int] = {}
    files: dict[str, str] = {}
    conn = access.store.conn
    with _snapshot(conn):
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
            write_stream(path, chunks, recipients)
            counts[table], files[table] = tally.rows, str(path)
    _finish(out_dir)
    return {"format": fmt, "out_dir": str(out_dir), "encrypted": recipients is not None, "since": since,
            "patients": None if patient_ids is None else len(patient_ids), "counts": counts, "files": files}


# --- FHIR R4 transaction bundles -------------------------------------------------------------------

def _fhir_text(value: Any) -> str:
    """Text as FHIR allows it: no control characters other than tab, CR and LF, no outer spaces."""
    return _FHIR_BAD.sub("\ufffd", str(value)).strip() or "\ufffd"


def _number(value: float | int) -> float | int:
    return int(value) if float(value).is_integer() else value


def _entry(resource: dict) -> bytes:
    ident, kind = resource["id"], resource["resourceType"]
    entry = {"fullUrl": f"urn:uuid:{ident}", "resource": resource,
             "request": {"method": "PUT", "url": f"{kind}/{ident}"}}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _patient_resource(row: dict) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": row["id"],
        "identifier": [{"system": PATIENT_CODE_SYSTEM, "value": row["code"]}],
        "active": row["status"] == "active",
        "name": [{"text": _fhir_text(row["display_name"])}],
    }
    if row.get("sex") in ("female", "male", "other", "unknown"):
        resource["gender"] = row["sex"]
    if row.get("birth_year"):
        resource["birthDate"] = f"{int(row['birth_year']):04d}"  # a partial date: the year only
    if row.get("language"):
        resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": row["language"]}],
                                                   "text": row["language"]}, "preferred": True}]
    return resource


def _answer(value: Any) -> list[dict]:
    if isinstance(value, list):
        return [a for v in value for a in _answer(v)]
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float):
        return [{"valueInteger": int(value)}] if value.is_integer() else [{"valueDecimal": value}]
    if isinstance(value, str) and value.strip():
        return [{"valueString": _fhir_text(value)}]
    return []


def _band_label(instrument: dict, severity: str | None) -> str | None:
    if not severity:
        return None
    for band in (instrument.get("scoring") or {}).get("bands") or []:
        if band.get("severity") == severity:
            label = band.get("label")
            return (label.get("en") or severity) if isinstance(label, dict) else str(label or severity)
    return severity


def _measure_resources(row: dict, instrument: dict, patient_ref: dict) -> list[dict]:
    """A QuestionnaireResponse and, when scored, an Observation of the total derived from it."""
    loinc = instrument.get("loinc") or {}
    ident = row["instrument_id"]
    questionnaire = f"{LOINC}/q/{loinc['panel']}" if loinc.get("panel") else f"urn:telecbt:questionnaire:{ident}"
    answers = _parse_json(row["answers"])
    items = []
    for link_id, value in (answers.items() if isinstance(answers, dict) else []):
        answer = _answer(value)
        if answer:
            items.append({"linkId": str(link_id), "answer": answer})
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "id": row["id"],
                                "questionnaire": questionnaire, "status": "completed", "subject": patient_ref,
                                "authored": row["completed_at"]}
    if items:
        response["item"] = items
    if row["total"] is None:
        return [response]
    title = instrument.get("short_title") or ident
    code: dict[str, Any] = {"text": f"{title} total score"}
    if loinc.get("total"):
        code = {"coding": [{"system": LOINC, "code": loinc["total"]}], **code}
    observation: dict[str, Any] = {
        "resourceType": "Observation", "id": str(uuid.uuid5(_ID_NAMESPACE, f"Observation/{row['id']}")),
        "status": "final", "category": _SURVEY, "code": code, "subject": patient_ref,
        "effectiveDateTime": row["completed_at"], "valueQuantity": {"value": _number(row["total"]), **_SCORE},
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{row['id']}"}],
    }
    label = _band_label(instrument, row["band"])
    if label:
        observation["interpretation"] = [{"text": label}]
    return [response, observation]


def _pain_resource(row: dict, patient_ref: dict) -> dict:
    """A diary pain rating; an entry replaced by a correction is sent as entered-in-error."""
    return {
        "resourceType": "Observation", "id": row["id"],
        "status": "entered-in-error" if row["superseded"] else "final", "category": _SURVEY,
        "code": {"coding": [{"system": LOINC, "code": PAIN_LOINC, "display": PAIN_DISPLAY}],
                 "text": "Pain severity (0-10)"},
        "subject": patient_ref, "effectiveDateTime": row["entry_at"],
        "valueQuantity": {"value": _number(row["pain"]), **_SCORE},
    }


def _rows(cursor) -> Iterator[dict]:
    names = [d[0] for d in cursor.description]
    for batch in _batches(cursor):
        for row in batch:
            yield dict(zip(names, row))


_SUPERSEDED = "EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id AND n.deleted = 0{})"


def _responses_query(patient_id: str, since: str | None) -> tuple[str, list]:
    sql = ("SELECT id, instrument_id, instrument_version, lang, answers, total, band, completed_at "
           "FROM measure_responses WHERE patient_id = ? AND deleted = 0")
    params: list = [patient_id]
    if since:
        sql += " AND updated_at >= ?"
        params.append(since)
    return sql + " ORDER BY completed_at, rowid", params


def _pain_query(patient_id: str, since: str | None) -> tuple[str, list]:
    sql = (f"SELECT d.id, d.entry_at, d.pain, {_SUPERSEDED.format('')} AS superseded FROM diary_entries d "
           "WHERE d.patient_id = ? AND d.deleted = 0 AND d.pain IS NOT NULL")
    params: list = [patient_id]
    if since:
        # A correction made since then also re-sends the entry it replaced (now entered-in-error).
        sql += f" AND (d.updated_at >= ? OR {_SUPERSEDED.format(' AND n.updated_at >= ?')})"
        params += [since, since]
    return sql + " ORDER BY d.entry_at, d.rowid", params


def _changed_since(conn, patient: dict, since: str) -> bool:
    if patient["updated_at"] >= since:
        return True
    for sql, params in (_responses_query(patient["id"], since), _pain_query(patient["id"], since)):
        if conn.execute(f"SELECT EXISTS ({sql})", params).fetchone()[0]:
            return True
    return False


def _bundle_chunks(conn, catalog: "Catalog", patient: dict, since: str | None,
                   counts: dict[str, int]) -> Iterator[bytes]:
    head = json.dumps({"resourceType": "Bundle", "type": "transaction", "timestamp": now_iso()})
    yield (head[:-1] + ', "entry": [\n').encode("utf-8")
    yield _entry(_patient_resource(patient))
    counts["Patient"] += 1
    ref = {"reference": f"Patient/{patient['id']}"}
    instruments = catalog.entries.get("instrument", {})
    for row in _rows(conn.execute(*_responses_query(patient["id"], since))):
        for resource in _measure_resources(row, instruments.get(row["instrument_id"]) or {}, ref):
            counts[resource["resourceType"]] += 1
            yield b",\n" + _entry(resource)
    for row in _rows(conn.execute(*_pain_query(patient["id"], since))):
        counts["Observation"] += 1
        yield b",\n" + _entry(_pain_resource(row, ref))
    yield b"\n]}\n"


def export_fhir(access: Access, catalog: "Catalog", out_dir: Path, patient_codes: Sequence[str] | None = None,
                since: str | None = None, *, encrypt_to: str | Sequence[str] | None = None,
                plaintext: bool = False, force: bool = False) -> dict:
    """One FHIR R4 transaction bundle per patient (`<code>.json`): Patient, QuestionnaireResponses,
    score Observations and diary pain Observations, each a PUT of its own id (re-sending is idempotent).

    With `since`, a bundle is written only for patients with something changed since then,
    and holds the Patient plus the resources changed since then.
    """
    recipients = recipients_for(encrypt_to, plaintext)
    _authorize(access, recipients)
    since = _since(since)
    patient_ids = _patient_ids(access, patient_codes)
    out_dir = prepare_out_dir(access, out_dir, force)
    _audit(access, "fhir", patient_ids, since, recipients is not None)
    suffix = ".json" + (".age" if recipients else "")
    counts = {"Patient": 0, "QuestionnaireResponse": 0, "Observation": 0}
    files: dict[str, str] = {}
    conn = access.store.conn
    sql, params = "SELECT * FROM patients WHERE deleted = 0", []
    if patient_ids is not None:
        sql += f" AND id IN ({', '.join('?' for _ in patient_ids)})"
        params = list(patient_ids)
    with _snapshot(conn):
        for patient in _rows(conn.execute(sql + " ORDER BY code", params)):
            if since and not _changed_since(conn, patient, since):
                continue
            path = out_dir / f"{patient['code']}{suffix}"
            write_stream(path, _bundle_chunks(conn, catalog, patient, since, counts), recipients)
            files[patient["code"]] = str(path)
    _finish(out_dir)
    return {"format": "fhir", "out_dir": str(out_dir), "encrypted": recipients is not None, "since": since,
            "patients": len(files), "counts": counts, "files": files}
