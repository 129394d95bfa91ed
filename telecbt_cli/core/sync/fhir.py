"""FHIR R4 export: one transaction Bundle per patient, plus the Questionnaires they answer.

`patient_resources` reads one patient's rows and yields resources built by the pure functions
in `fhir_questionnaires` and `fhir_care`; `export_fhir` writes them as files (streamed,
compressed, encrypted and audited through `bulk`), and `fhir_push` sends the same resources to
a server. A whole export (no `since`) reads each table once for all patients (`fhir_stream`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.content.catalog import pick
from telecbt_cli.core.clinical.engine import raised_flags
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.sync import bulk, fhir_care, fhir_stream, fhir_workers
from telecbt_cli.core.sync.fhir_stream import Entries, entry_bytes
from telecbt_cli.core.sync.fhir_questionnaires import (
    exportable,
    questionnaire_resource,
    response_resources,
)

if TYPE_CHECKING:
    from telecbt_cli.content.catalog import Catalog

#: Resource types in the order they appear in a bundle: anything referred to comes first.
TYPES = ("Patient", "Questionnaire", "Consent", "QuestionnaireResponse", "Observation", "Goal", "RelatedPerson",
         "CareTeam", "CarePlan", "Appointment", "Encounter", "Flag")
QUESTIONNAIRES_FILE = "questionnaires"
#: zstd (level, threads) for bundles: on these repetitive files level 1 is both faster and smaller than
#: level 3 (measured on a year of bundles: 8.3 vs 9.6 MB from 175 MB, a third of the CPU), and a
#: helper thread per patient file costs more than it gives.
ZSTD = (1, 0)
_DIARY_VALUES = " OR ".join(f"d.{c} IS NOT NULL" for c in fhir_care.DIARY_CODES)
_SUPERSEDED = "EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id AND n.deleted = 0{})"


def entry(resource: dict) -> dict:
    """A transaction entry: PUT the resource at its own id, so sending it again changes nothing."""
    ident, kind = resource["id"], resource["resourceType"]
    return {"fullUrl": f"urn:uuid:{ident}", "resource": resource, "request": {"method": "PUT", "url": f"{kind}/{ident}"}}


def questionnaire_resources(catalog: "Catalog") -> list[dict]:
    """Every Questionnaire that may be exported (free instruments, and licensed ones with a clinic's text)."""
    return [questionnaire_resource(i) for i in catalog.all("instrument") if exportable(i)]


def _rows(cursor) -> Iterator[dict]:
    names = [d[0] for d in cursor.description]
    for batch in bulk.batches(cursor):
        for row in batch:
            yield dict(zip(names, row))


def _query(conn, sql: str, patient_id: str, since: str | None, order: str, alias: str = "") -> Iterator[dict]:
    params: list = [patient_id]
    if since:
        sql += f" AND {alias}updated_at >= ?"
        params.append(since)
    return _rows(conn.execute(f"{sql} ORDER BY {order}", params))


def _changed(conn, table: str, patient_id: str, since: str) -> bool:
    return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE patient_id = ? AND updated_at >= ?)",
                             (patient_id, since)).fetchone()[0])


_TABLES = ("measure_responses", "diary_entries", "goals", "plans", "appointments", "safety_alerts", "consents",
           "runs")


def changed_since(conn, patient: dict, since: str) -> bool:
    """Whether anything exported for this patient changed at or after `since`."""
    return patient["updated_at"] >= since or any(_changed(conn, t, patient["id"], since) for t in _TABLES)


def _diary(conn, patient_id: str, since: str | None) -> Iterator[dict]:
    sql = (f"SELECT d.id, d.entry_at, d.pain, d.mood, d.sleep_hours, d.sleep_quality, d.activity_min, d.steps, "
           f"{_SUPERSEDED.format('')} AS superseded FROM diary_entries d "
           f"WHERE d.patient_id = ? AND d.deleted = 0 AND ({_DIARY_VALUES})")
    params: list = [patient_id]
    if since:
        # A correction made since then also re-sends the entry it replaced (now entered-in-error).
        sql += f" AND (d.updated_at >= ? OR {_SUPERSEDED.format(' AND n.updated_at >= ?')})"
        params += [since, since]
    return _rows(conn.execute(sql + " ORDER BY d.entry_at, d.rowid", params))


def _consents(conn, patient_id: str, since: str | None, ref: dict) -> Iterator[dict]:
    if since and not _changed(conn, "consents", patient_id, since):
        return
    rows = list(_query(conn, "SELECT * FROM consents WHERE patient_id = ? AND deleted = 0", patient_id, None,
                       "recorded_at, rowid"))
    for n, row in enumerate(rows):
        yield fhir_care.consent_resource(row, ref, current=n == len(rows) - 1)


def _care_plan(conn, catalog: "Catalog", patient_id: str, since: str | None, ref: dict,
               goal_ids: list[str]) -> Iterator[dict]:
    plan = next(_query(conn, "SELECT * FROM plans WHERE patient_id = ? AND deleted = 0", patient_id, None, "rowid"),
                None)
    if plan is None or (since and not any(_changed(conn, t, patient_id, since)
                                          for t in ("plans", "goals", "appointments"))):
        return
    attended = {r["module_id"] for r in _query(conn, "SELECT module_id FROM appointments WHERE patient_id = ? "
                                               "AND status = 'attended' AND deleted = 0", patient_id, None, "rowid")}
    modules = catalog.entries.get("module", {})
    titles = {m: pick(modules.get(m, {}).get("title"), "en") for m in json.loads(plan["sessions"])}
    yield from fhir_care.caregiver_resources(plan, ref)
    yield fhir_care.care_plan_resource(plan, ref, titles, attended, goal_ids)


def _intake_flags(conn, catalog: "Catalog", patient_id: str, since: str | None, ref: dict) -> Iterator[dict]:
    flagged = {ident: m for ident, m in catalog.entries.get("module", {}).items() if m.get("flags")}
    if not flagged:
        return
    marks = ", ".join("?" for _ in flagged)
    sql = (f"SELECT id, content_id, answers, completed_at, updated_at FROM runs WHERE patient_id = ? AND deleted = 0 "
           f"AND status = 'completed' AND kind = 'module' AND content_id IN ({marks}) ORDER BY completed_at, rowid")
    runs = list(_rows(conn.execute(sql, [patient_id, *flagged])))
    if since and not any(r["updated_at"] >= since for r in runs):
        return
    latest = {r["content_id"]: r["id"] for r in runs}
    for run in runs:
        answers = bulk.parse_json(run["answers"])
        for flag in raised_flags(flagged[run["content_id"]], answers if isinstance(answers, dict) else {}):
            yield fhir_care.intake_flag(run, flag, ref, current=latest[run["content_id"]] == run["id"])


def patient_resources(conn, catalog: "Catalog", patient: dict, since: str | None = None) -> Iterator[dict]:
    """One patient's resources in bundle order (see TYPES); with `since`, only what changed since then."""
    pid = patient["id"]
    ref = {"reference": f"Patient/{pid}"}
    yield fhir_care.patient_resource(patient)
    instruments = catalog.entries.get("instrument", {})
    responses = list(_query(conn, "SELECT id, instrument_id, instrument_version, answers, total, band, subscales, "
                                  "responder, completed_at FROM measure_responses WHERE patient_id = ? AND deleted = 0",
                            pid, since, "completed_at, rowid"))
    used = {(r["instrument_id"], r["instrument_version"]) for r in responses}
    for ident, version in sorted(used):
        instrument = instruments.get(ident)
        if instrument and instrument.get("version") == version and exportable(instrument):
            yield questionnaire_resource(instrument)
    yield from _consents(conn, pid, since, ref)
    for row in responses:
        yield from response_resources(row, instruments.get(row["instrument_id"]) or {}, ref)
    for row in _diary(conn, pid, since):
        yield from fhir_care.diary_observations(row, ref)
    goal_ids = []
    for row in _query(conn, "SELECT * FROM goals WHERE patient_id = ? AND deleted = 0", pid, None, "created_at, rowid"):
        goal_ids.append(row["id"])
        if not since or row["updated_at"] >= since:
            yield from fhir_care.goal_resources(row, ref)
    yield from _care_plan(conn, catalog, pid, since, ref, goal_ids)
    modules = catalog.entries.get("module", {})
    for row in _query(conn, "SELECT * FROM appointments WHERE patient_id = ? AND deleted = 0", pid, since,
                      "scheduled_at, rowid"):
        title = pick(modules.get(row["module_id"], {}).get("title"), "en") if row["module_id"] else None
        yield from fhir_care.appointment_resources(row, ref, title or row["module_id"])
    for row in _query(conn, "SELECT * FROM safety_alerts WHERE patient_id = ? AND deleted = 0", pid, since,
                      "opened_at, rowid"):
        yield fhir_care.alert_flag(row, ref)
    yield from _intake_flags(conn, catalog, pid, since, ref)


def patients(conn, patient_ids: list[str] | None, by_id: bool = False,
             bounds: tuple[str | None, str | None] = (None, None)) -> Iterator[dict]:
    """Non-deleted patients (all, or these ids; between `bounds`, see `fhir_stream.id_filter`) in code
    order (or id order, for `fhir_stream`'s merge)."""
    only, params = fhir_stream.id_filter(patient_ids, bounds)
    sql = "SELECT * FROM patients WHERE deleted = 0" + only.replace("patient_id", "id")
    return _rows(conn.execute(sql + (" ORDER BY id" if by_id else " ORDER BY code"), params))


def _bundle_chunks(resources: Iterator[dict | Entries], counts: dict[str, int]) -> Iterator[bytes]:
    head = json.dumps({"resourceType": "Bundle", "type": "transaction", "timestamp": now_iso()})
    yield (head[:-1] + ', "entry": [\n').encode("utf-8")
    first = True
    for resource in resources:
        if isinstance(resource, Entries):
            kind, count, data = resource.kind, resource.count, resource.data
        else:
            kind, count, data = resource["resourceType"], 1, entry_bytes(resource)
        counts[kind] = counts.get(kind, 0) + count
        yield data if first else b",\n" + data
        first = False
    yield b"\n]}\n"


def export_fhir(access: Access, catalog: "Catalog", out_dir: Path, patient_codes: Sequence[str] | None = None,
                since: str | None = None, *, encrypt_to: str | Sequence[str] | None = None,
                plaintext: bool = False, force: bool = False, progress: Any = None,
                compress: bool | None = None, workers: int | None = None,
                on_snapshot: Callable[[], None] | None = None) -> dict:
    """`questionnaires.json` (every exportable Questionnaire) and one transaction bundle per patient
    (`<code>.json`), each entry a PUT of its own id (re-sending is idempotent).

    With `since`, a bundle is written only for patients with something changed since then,
    and holds the Patient plus the resources changed since then. Without it, every table is
    read once for all patients (`fhir_stream`). `compress` (zstd, `.zst`) defaults to on for
    encrypted exports, off for plaintext ones, as for CSV and NDJSON. A whole export is shared
    between `workers` processes (None: as many as help, see `fhir_workers`); `on_snapshot` runs
    once its readers hold their snapshot, before they read (for tests).
    """
    plan = bulk.begin(access, "fhir", out_dir, patient_codes, since, encrypt_to, plaintext, force)
    recipients, since, patient_ids, out_dir = plan.recipients, plan.since, plan.patient_ids, plan.out_dir
    compress = recipients is not None if compress is None else compress
    suffix = ".json" + (".zst" if compress else "") + (".age" if recipients else "")
    written = fhir_workers.Written()
    counts, files, pending = written.counts, written.files, written.pending
    conn = access.store.conn
    path = out_dir / f"{QUESTIONNAIRES_FILE}{suffix}"
    shared: dict[str, int] = {}
    try:
        bulk.write_stream(path, _bundle_chunks(iter(questionnaire_resources(catalog)), shared), recipients,
                          compress, pending, ZSTD)

        def write(found: Iterator[tuple[dict, Iterator]], out: fhir_workers.Written, report) -> None:
            for patient, resources in found:
                path = out_dir / f"{patient['code']}{suffix}"
                bulk.write_stream(path, _bundle_chunks(resources, out.counts), recipients, compress, out.pending,
                                  ZSTD)
                out.files[patient["code"]] = str(path)
                report(patient["code"])

        if since:
            with bulk.snapshot(conn):
                write(((p, patient_resources(conn, catalog, p, since)) for p in patients(conn, patient_ids)
                       if changed_since(conn, p, since)), written, fhir_workers.reporter(written, progress))
        else:
            def part(main, diary, bounds, out: fhir_workers.Written, report) -> None:
                rows = fhir_stream.StoreRows(main, catalog, patient_ids, diary, bounds)
                builder = fhir_stream.Builder(catalog)
                try:
                    write(((p, builder.patient_entries(rows, p)) for p in patients(main, patient_ids, True, bounds)),
                          out, report)
                finally:
                    rows.close()

            fhir_workers.run(access, patient_ids, part, written, progress, workers, on_snapshot)
    finally:
        bulk.publish(pending)  # the files written so far, complete, stay (as when each was renamed at once)
    bulk.finish(out_dir)
    ordered = {kind: counts[kind] for kind in TYPES if kind in counts}
    return {"format": "fhir", "out_dir": str(out_dir), "encrypted": recipients is not None, "compressed": compress,
            "since": since, "patients": len(files), "counts": ordered, "questionnaires": shared.get("Questionnaire", 0),
            "questionnaires_file": str(out_dir / f"{QUESTIONNAIRES_FILE}{suffix}"), "processes": written.processes,
            "files": {code: files[code] for code in sorted(files)}}
