"""A whole-store FHIR export in one pass per table: rows merged by patient, diary Observations from templates.

`fhir.patient_resources` asks SQLite a dozen questions per patient and builds every resource as a
dict; on a year of data (2 million diary Observations for 1,000 patients) that cost 50 times the
NDJSON pipeline. Here each table is read once, through its patient index, in patient-id order
(`_Groups`), and each patient takes its rows as the merge reaches it: no per-patient query, and
memory holds one patient's rows at most. Resources are built by the same pure builders
(`fhir_care`, `fhir_questionnaires`) and serialised once each with orjson; diary Observations,
nine in ten of all resources, are formatted from text templates made by those same builders
(`DiaryRows`), so they cannot drift apart. The result is the same resources, in the same
order, as `patient_resources` (tests/core/sync/test_fhir_stream.py checks it field by field).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from telecbt_cli.content.catalog import pick
from telecbt_cli.core.clinical.engine import raised_flags
from telecbt_cli.core.sync import bulk, fhir_care
from telecbt_cli.core.sync.fhir_codes import DIARY_CODES, UUID_VARIANT, id_namespace, stable_id
from telecbt_cli.core.sync.fhir_questionnaires import Chosen, exportable, questionnaire_resource, response_resources

if TYPE_CHECKING:
    from telecbt_cli.content.catalog import Catalog


@dataclass(frozen=True)
class Entries:
    """Bundle entries already serialised: `count` entries of `kind`, joined by ",\\n"."""

    kind: str
    count: int
    data: bytes


def entry_bytes(resource: dict) -> bytes:
    """One transaction entry (a PUT at the resource's own id) as compact JSON."""
    ident, kind = resource["id"], resource["resourceType"]
    return orjson.dumps({"fullUrl": f"urn:uuid:{ident}", "resource": resource,
                         "request": {"method": "PUT", "url": f"{kind}/{ident}"}})


class StableIds:
    """`fhir_codes.stable_id(...)`, and the hash state after "Observation/" for the diary's hot loop."""

    VARIANT = UUID_VARIANT

    def __init__(self) -> None:
        self.observation_seed = hashlib.sha1(id_namespace().bytes)
        self.observation_seed.update(b"Observation/")

    def __call__(self, name: str) -> str:
        return stable_id(name)


_MARK = re.compile(r'"@(AT|V)@"|@(ID)@')


class DiaryRows:
    """Diary Observations from text templates that `fhir_care.diary_observations` itself produces
    (so the two cannot drift apart): per column and status, the entry with holes for its id, time
    and value, and this patient's reference filled in. SQLite gives the time as JSON text
    and each value as `number` would (`_number`); Python joins the pieces (measured: faster than SQLite's printf, and than `%`)."""

    COLUMNS = tuple(DIARY_CODES)

    def __init__(self) -> None:
        self._ids = StableIds()
        sample = {"id": "@ID@", "entry_at": "@AT@", **{c: 1 for c in self.COLUMNS}}
        self._forms: dict[bool, list[tuple[int, bytes, str]]] = {}
        for superseded in (False, True):
            built = fhir_care.diary_observations({**sample, "superseded": superseded}, {"reference": "@PATIENT@"})
            forms = []
            for n, (column, resource) in enumerate(zip(self.COLUMNS, built)):
                resource.update(id="@ID@", effectiveDateTime="@AT@")
                resource["valueQuantity"]["value"] = "@V@"
                text = entry_bytes(resource).decode("utf-8")
                order = [m.group(1) or m.group(2) for m in _MARK.finditer(text)]
                if order != ["ID", "ID", "AT", "V", "ID"]:
                    raise RuntimeError(f"the diary Observation changed shape: {order}")
                suffix = b"" if fhir_care.diary_id("x", column) == "x" else f"/{column}".encode()
                forms.append((n, suffix, tuple(_MARK.sub("\0", text).split("\0"))))
            self._forms[superseded] = forms

    def select(self, where: str) -> str:
        """(patient id, id, time as JSON text, superseded, each value) per entry, in bundle order."""
        values = ", ".join(_number(c) for c in self.COLUMNS)
        return (f"SELECT d.patient_id, d.id, json_quote(d.entry_at), EXISTS (SELECT 1 FROM diary_entries n "
                f"WHERE n.supersedes = d.id AND n.deleted = 0), {values} FROM diary_entries d WHERE {where} "
                "ORDER BY d.patient_id, d.entry_at, d.rowid")

    def entries(self, rows: list[tuple], patient_ref: str) -> Iterator[Entries]:
        """One patient's rows from `select` as serialised entries (the hot loop of the export: kept flat)."""
        quoted = orjson.dumps(patient_ref).decode("utf-8")[1:-1]
        forms = {s: [(n, suffix, tuple(piece.replace("@PATIENT@", quoted) for piece in pieces))
                     for n, suffix, pieces in f] for s, f in self._forms.items()}
        seed, variant, out = self._ids.observation_seed, StableIds.VARIANT, []
        for row in rows:
            eid, at, values = row[1], row[2], row[4:]
            entry_seed = seed.copy()  # the hash state after "Observation/<entry id>", shared by its columns
            entry_seed.update(eid.encode())
            for n, suffix, (p0, p1, p2, p3, p4, p5) in forms[row[3] == 1]:
                value = values[n]
                if value is None:
                    continue
                if suffix:  # fhir_codes.stable_id("Observation", eid, column), inlined
                    hasher = entry_seed.copy()
                    hasher.update(suffix)
                    h = hasher.hexdigest()
                    oid = f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}"
                else:
                    oid = eid
                out.append(f"{p0}{oid}{p1}{oid}{p2}{at}{p3}{value}{p4}{oid}{p5}")
            if len(out) >= 2000:
                yield Entries("Observation", len(out), ",\n".join(out).encode("utf-8"))
                out = []
        if out:
            yield Entries("Observation", len(out), ",\n".join(out).encode("utf-8"))


def _number(column: str) -> str:
    """A diary value as `fhir_codes.number` gives it: a whole REAL becomes an INTEGER. Python then
    writes it as `json` would (an int, or a float's shortest repr); the columns' CHECK constraints
    keep text out of them."""
    return (f"CASE WHEN typeof(d.{column}) = 'real' AND d.{column} = CAST(d.{column} AS INTEGER) "
            f"THEN CAST(d.{column} AS INTEGER) ELSE d.{column} END")


class _Groups:
    """A table's rows, patient after patient (the first column is the patient id, rows ordered by it)."""

    def __init__(self, cursor, ahead: bool = False) -> None:
        self._names = [d[0] for d in cursor.description]
        self._batches = bulk.prefetched(bulk.batches(cursor)) if ahead else bulk.batches(cursor)
        self._rows = (row for batch in self._batches for row in batch)
        self._next = next(self._rows, None)

    def close(self) -> None:
        """Stop reading (and the read-ahead thread, which must end before its connection closes)."""
        self._rows.close()
        self._batches.close()

    def take(self, patient_id: str, as_dicts: bool = True) -> list:
        """This patient's rows (dicts, or tuples); patients before it are skipped. Ask in patient-id order."""
        found = []
        while self._next is not None and self._next[0] < patient_id:
            self._next = next(self._rows, None)
        while self._next is not None and self._next[0] == patient_id:
            found.append(dict(zip(self._names, self._next)) if as_dicts else self._next)
            self._next = next(self._rows, None)
        return found


def id_filter(patient_ids: list[str] | None, bounds: tuple[str | None, str | None]) -> tuple[str, list]:
    """(" AND …" on `patient_id`, its parameters): these patients only, and ids from bounds[0] up to
    bounds[1] (excluded), where given: the share of one worker (`fhir_workers`)."""
    only, params = "", []
    if patient_ids is not None:
        only = f" AND patient_id IN ({', '.join('?' for _ in patient_ids)})"
        params = list(patient_ids)
    for bound, op in zip(bounds, (">=", "<")):
        if bound is not None:
            only += f" AND patient_id {op} ?"
            params.append(bound)
    return only, params


def _flagged(catalog: "Catalog") -> dict[str, dict]:
    return {ident: m for ident, m in catalog.entries.get("module", {}).items() if m.get("flags")}


class StoreRows:
    """Every table the FHIR export reads, one cursor each, merged by patient id. With a second
    connection (`diary_conn`, on the same snapshot) the diary is read ahead on a helper thread:
    SQLite lets go of the GIL while it works, so it runs beside the Python that formats rows."""

    def __init__(self, conn, catalog: "Catalog", patient_ids: list[str] | None, diary_conn=None,
                 bounds: tuple[str | None, str | None] = (None, None)) -> None:
        only, params = id_filter(patient_ids, bounds)
        self.flagged = _flagged(catalog)

        def groups(sql: str, order: str, extra: list | None = None) -> _Groups:
            return _Groups(conn.execute(f"{sql}{only} ORDER BY patient_id, {order}", (*(extra or []), *params)))

        values = " OR ".join(f"d.{c} IS NOT NULL" for c in DiaryRows.COLUMNS)
        self.diary_rows = DiaryRows()
        self.diary = _Groups((diary_conn or conn).execute(self.diary_rows.select(
            f"d.deleted = 0 AND ({values}){only.replace('patient_id', 'd.patient_id')}"), params),
            ahead=diary_conn is not None)
        self.consents = groups("SELECT patient_id, * FROM consents WHERE deleted = 0", "recorded_at, rowid")
        self.responses = groups("SELECT patient_id, id, instrument_id, instrument_version, answers, total, band, "
                                "subscales, responder, completed_at FROM measure_responses WHERE deleted = 0",
                                "completed_at, rowid")
        self.goals = groups("SELECT patient_id, * FROM goals WHERE deleted = 0", "created_at, rowid")
        self.plans = groups("SELECT patient_id, * FROM plans WHERE deleted = 0", "rowid")
        self.appointments = groups("SELECT patient_id, * FROM appointments WHERE deleted = 0", "scheduled_at, rowid")
        self.alerts = groups("SELECT patient_id, * FROM safety_alerts WHERE deleted = 0", "opened_at, rowid")
        marks = ", ".join("?" for _ in self.flagged) or "NULL"
        self.runs = groups(f"SELECT patient_id, id, content_id, answers, completed_at, updated_at FROM runs "
                           f"WHERE deleted = 0 AND status = 'completed' AND kind = 'module' AND content_id IN ({marks})",
                           "completed_at, rowid", list(self.flagged))

    def close(self) -> None:
        self.diary.close()


class Builder:
    """One export's templates and caches: each patient's entries, in bundle order (`fhir.TYPES`)."""

    def __init__(self, catalog: "Catalog") -> None:
        self.catalog = catalog
        self.instruments = catalog.entries.get("instrument", {})
        self.modules = catalog.entries.get("module", {})
        self._questionnaires: dict[tuple[str, str], bytes] = {}
        self._titles: dict[str, str | None] = {}
        self._chosen: dict[tuple[str, str], Chosen] = {}

    def _title(self, module: str) -> str | None:
        if module not in self._titles:
            self._titles[module] = pick(self.modules.get(module, {}).get("title"), "en")
        return self._titles[module]

    def _questionnaire(self, key: tuple[str, str]) -> bytes | None:
        if key not in self._questionnaires:
            instrument = self.instruments.get(key[0])
            ok = instrument and instrument.get("version") == key[1] and exportable(instrument)
            self._questionnaires[key] = entry_bytes(questionnaire_resource(instrument)) if ok else b""
        return self._questionnaires[key] or None

    def patient_entries(self, rows: StoreRows, patient: dict) -> Iterator[dict | Entries]:
        """Like `fhir.patient_resources(…, since=None)`: resources as dicts, or `Entries` already serialised."""
        pid = patient["id"]
        ref = {"reference": f"Patient/{pid}"}
        yield fhir_care.patient_resource(patient)
        responses = rows.responses.take(pid)
        for key in sorted({(r["instrument_id"], r["instrument_version"]) for r in responses}):
            text = self._questionnaire(key)
            if text:
                yield Entries("Questionnaire", 1, text)
        consents = rows.consents.take(pid)
        for n, row in enumerate(consents):
            yield fhir_care.consent_resource(row, ref, current=n == len(consents) - 1)
        for row in responses:
            chosen = self._chosen.setdefault((row["instrument_id"], row["instrument_version"]), {})
            yield from response_resources(row, self.instruments.get(row["instrument_id"]) or {}, ref, chosen)
        yield from rows.diary_rows.entries(rows.diary.take(pid, as_dicts=False), ref["reference"])
        goals = rows.goals.take(pid)
        for row in goals:
            yield from fhir_care.goal_resources(row, ref)
        plans = rows.plans.take(pid)
        appointments = rows.appointments.take(pid)
        if plans:
            plan = plans[0]
            attended = {r["module_id"] for r in appointments if r["status"] == "attended"}
            titles = {m: self._title(m) for m in orjson.loads(plan["sessions"])}
            yield from fhir_care.caregiver_resources(plan, ref)
            yield fhir_care.care_plan_resource(plan, ref, titles, attended, [g["id"] for g in goals])
        for row in appointments:
            title = self._title(row["module_id"]) if row["module_id"] else None
            yield from fhir_care.appointment_resources(row, ref, title or row["module_id"])
        for row in rows.alerts.take(pid):
            yield fhir_care.alert_flag(row, ref)
        runs = rows.runs.take(pid)
        latest = {r["content_id"]: r["id"] for r in runs}
        for run in runs:
            answers = bulk.parse_json(run["answers"])
            for flag in raised_flags(rows.flagged[run["content_id"]], answers if isinstance(answers, dict) else {}):
                yield fhir_care.intake_flag(run, flag, ref, current=latest[run["content_id"]] == run["id"])
