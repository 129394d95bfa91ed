"""Applying a verified bundle's changes in batches: one parse per line, set-based writes, same merge rules.

Changes are parsed as they stream in (`parse_change`), checked (`incoming.RowChecker`) and
collected; every `BATCH` changes one flush decides and writes them with a handful of
statements: which changes are known already (one `IN` query on the change log), which
versions this store holds (one query per table), then the winning versions as inserts and
updates (`executemany`), the change-log and conflict rows the same way, and the clock once; the
runs of change-log numbers each bundle applied (`applied_ranges`) are written at the end. The
decisions are those of a change-by-change apply, in bundle order:

- a change already in the change log (same `change_id`) changes nothing;
- a row this store does not have is inserted;
- a different version replaces the held one when its `hlc` is higher; when the two were made
  concurrently (`base_hlc` is not the held version) the loser is kept in `conflicts`;
- every applied change joins the change log, so a hub relays it onward.

A batch writes parents first (patients), then other tables in the order they appear. A
change whose parent row (its patient, or the diary entry it corrects) is in neither this store
nor the batch waits (`waiting`): it is kept, and applied by these same rules at the end of the
import that brings its parent. The caller runs everything in one transaction.

A bundle that touches many patients is applied one share of the patients at a time (`passes`,
`share`): the first share, with every change that names no patient (patients themselves, staff
tables), as the file streams by; every other share is kept in its own encrypted spill file
(`spill`) and applied from it afterwards, in bundle order. A share is a run of neighbouring patient ids
(`share_bounds`), so its rows sit together in the patient-ordered indexes. Each patient has its own insertion
point in every patient-ordered index (diary, appointments, homework, responses: about 25 KB of
pages per patient), so a year of data applied day by day across 3,000 patients keeps ~75 MB of
index pages hot; past the page cache, every insert decrypts a page and every spilled page is
encrypted again (measured: 397 s of CPU at 3,000 patients with a 32 MB cache, 264 s with 96 MB).
One share at a time keeps the hot pages within the cache, in constant memory. The decisions are
the same: all versions of a row name the same patient (no command moves a record to another
patient), so they are decided in bundle order within one share; a row whose versions named
different patients would still converge to the same winning version, as for bundles that arrive
out of order.

Measured (scripts/bench_bulk.py): every share still inserts between the rows of earlier shares in the
id-ordered indexes (row ids, change ids), but those inserts follow the ids in order, a page at a time. Shares
drawn by a hash of the patient id also landed between earlier shares' patients in the patient-ordered indexes,
so each later share cost more (3,000 x 365: 66, 74, 82 s of CPU for shares 2-4; 10,000 x 365: 1.62x the
reference's CPU); runs of neighbouring ids keep the shares level (60, 64, 64 s; 10,000 x 365: 0.92x).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator

from telecbt_cli.core.store import records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.sync import incoming, spill, waiting
from telecbt_cli.core.sync.bundle_read import PATIENT_ID

BATCH = 1000
#: SQLite's page cache while a bundle is applied (KiB): enough for the pages that inserts into patient-ordered
#: indexes keep touching at 1,000 patients; the default 8 MB makes each of them a decrypt and an encrypt.
CACHE_KIB = 32 * 1024
#: Patients whose index pages fit in CACHE_KIB together: a bundle that touches more is applied in shares.
PATIENTS_ONE_PASS = 1000
#: When shares are needed, each holds this many patients and the cache is SHARED_CACHE_KIB: the write-ahead log's
#: index grows with everything one import writes (measured: about 0.5 MiB per GB), so a large import leaves it
#: room within the same memory. Shares of neighbouring patients need less of it than shares drawn by a hash did
#: (3,000 x 365: 260 s of CPU in 26 MiB, 255 s in 28 MiB; 1,000 patients a share: 266 s), and 10,000 x 365 peaked at
#: 99.2 MiB with 28 MiB: 26 MiB keeps 2 MiB in hand.
PATIENTS_PER_PASS = 800
SHARED_CACHE_KIB = 26 * 1024
#: The write-ahead log's index grows about 0.5 MiB per GB of log, about 2 KB of log per change: 1 MiB per million
#: changes. Up to WAL_FREE_CHANGES changes it fits the memory left beside the cache; beyond, the cache makes room.
WAL_FREE_CHANGES = 2_000_000
WAL_INDEX_KIB_PER_MILLION = 1024
MAX_WAL_ALLOWANCE_KIB = 8 * 1024
#: A smaller bundle is applied in one pass whatever it touches (its extra reads would cost more than they save).
MIN_CHANGES_FOR_PASSES = 100_000
MAX_PASSES = 32
#: Patient ids remembered as present between batches (a cache: beyond this it starts again, so memory stays flat).
KNOWN_PATIENTS = 4096
#: Parameters per IN (...) query: far below SQLite's limit on any build.
_IN = 500
_OPS = ("insert", "update", "delete")
_PREFIX = '{"change":{"base_hlc":'
_BASE = re.compile(r'"(\d{13}\.\d{5}\.[0-9A-Za-z_-]{1,64})",')
_TAIL = re.compile(r',"op":"(insert|update|delete)","table":"([a-z_]{1,40})"}}\s*')
_HLC = re.compile(r"\d{13}\.\d{5}\.[0-9A-Za-z_-]{1,64}")
_CHANGE_LOG = ("INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data, base_hlc, via) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_APPLIED = "INSERT INTO applied_ranges (bundle_id, first_seq, last_seq, applied_at) VALUES (?, ?, ?, ?)"
_CONFLICT = ("INSERT OR IGNORE INTO conflicts (table_name, row_id, kept_hlc, lost_hlc, lost_data, bundle_id, "
             "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)")


def _malformed() -> IntegrityError:
    return IntegrityError("the bundle holds a malformed change", key="errors.sync_apply.malformed")


def _unique(pairs: list[tuple[str, object]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice")
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique, parse_constant=_no_constant)


def parse_change(line: bytes) -> tuple[dict, str]:
    """One change line as (change, its row's JSON text exactly as sent); IntegrityError if malformed.

    Lines as telecbt writes them (`{"change":{"base_hlc":…,"data":{…},"op":"…","table":"…"}}`)
    are parsed once, only the row object, and the row's text is kept as it came for the change
    log. Anything else is parsed whole and the row serialised again. Repeated keys, NaN,
    nesting beyond Python's recursion limit and numbers too long to convert are refused.
    """
    try:
        text = line.decode("utf-8")
        if text.startswith(_PREFIX):
            pos = len(_PREFIX)
            base = None
            if text.startswith("null,", pos):
                pos += 5
            elif (found := _BASE.match(text, pos)) is not None:
                base, pos = found.group(1), found.end()
            if text.startswith('"data":', pos):
                row, end = _DECODER.raw_decode(text, pos + 7)
                tail = _TAIL.fullmatch(text, end)
                if tail is not None and isinstance(row, dict):
                    change = {"base_hlc": base, "data": row, "op": tail.group(1), "table": tail.group(2)}
                    return change, text[pos + 7:end]
        obj = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise IntegrityError("the bundle's payload is corrupt (not valid JSON)", key="errors.sync_apply.not_json") from None
    change = obj.get("change") if isinstance(obj, dict) and len(obj) == 1 else None
    if not isinstance(change, dict) or not set(change) <= {"base_hlc", "data", "op", "table"} \
            or not isinstance(change.get("data"), dict):
        raise _malformed()
    base = change.get("base_hlc")
    if change.get("op") not in _OPS or not isinstance(change.get("table"), str) or \
            not (base is None or (isinstance(base, str) and _HLC.fullmatch(base))):
        raise _malformed()
    return change, json.dumps(change["data"], sort_keys=True, ensure_ascii=False)


def passes(patients: int | None, changes: int) -> int:
    """How many passes apply a bundle of `changes` changes naming `patients` patients (None: not counted)."""
    if patients is None or changes < MIN_CHANGES_FOR_PASSES or patients <= PATIENTS_ONE_PASS:
        return 1
    return max(1, min(MAX_PASSES, -(-patients // PATIENTS_PER_PASS)))


def cache_kib(shares: int, changes: int = 0) -> int:
    """SQLite's page cache while a bundle of `changes` changes is applied in this many passes.

    Beyond `WAL_FREE_CHANGES` changes the cache gives back what the write-ahead log's index takes as the
    one transaction grows (`WAL_INDEX_KIB_PER_MILLION`, at most `MAX_WAL_ALLOWANCE_KIB`), so memory stays
    flat at 10,000 patients (5.4M changes: 3.4 MiB less)."""
    allowance = max(0, changes - WAL_FREE_CHANGES) * WAL_INDEX_KIB_PER_MILLION // 1_000_000
    return (CACHE_KIB if shares == 1 else SHARED_CACHE_KIB) - min(allowance, MAX_WAL_ALLOWANCE_KIB)


def share_bounds(patient_ids: list[bytes] | None, shares: int) -> list[bytes]:
    """Where the shares part: the first patient id of each share but the first, cut from the sorted ids
    pass 1 saw so that each share holds as many of them (`share`)."""
    ids = patient_ids or []
    return [ids[len(ids) * part // shares] for part in range(1, shares)] if ids else []


def share(line: bytes, bounds: list[bytes]) -> int:
    """The pass (0 to len(bounds)) that applies this change line: by its patient's place among `bounds`
    (`share_bounds`), 0 if it names none. Each share is a run of neighbouring patient ids, so its patients'
    rows sit together in the patient-ordered indexes, between no other share's."""
    found = PATIENT_ID.search(line)
    return 0 if found is None else bisect_right(bounds, found.group(1))


def _values(columns: list[str], rows: list[dict]) -> list[tuple]:
    """Each row's values for `columns`, in order; a column a row lacks (an older sender's) is NULL."""
    values_of = incoming.values_of(columns)
    try:
        return list(map(values_of, rows))
    except KeyError:
        return [tuple(map(row.get, columns)) for row in rows]


def _chunks(values: list, size: int = _IN) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Applier:
    """Collects parsed changes of one bundle and applies them a batch at a time; `stats` is updated."""

    def __init__(self, access: Access, bundle_id: str, stats: dict, via: str | None = None) -> None:
        self.store, self.conn = access.store, access.store.conn
        self.bundle_id, self.stats, self.via = bundle_id, stats, via
        self.checker = incoming.RowChecker(self.conn)
        self.pending: list[tuple[str, dict, dict, str]] = []  # (table, row, change, row's JSON text)
        self.top_hlc = self.store.meta("hlc") or ""
        self.now = now_iso()
        self.patients: set[str] = set()  # patient ids known to exist (in the store or written by this bundle)
        self.ranges: list[list] = []  # [bundle id, first seq, last seq]: the change-log runs each bundle applied

    def add_line(self, line: bytes) -> None:
        self.add(*parse_change(line))

    def sorter(self, bounds: list[bytes], spills: "spill.Spills") -> Callable[[bytes], None]:
        """For the one read of a bundle applied in shares (`share_bounds`): the first share's lines are applied
        as they come, every other share's kept in its spill file (share n in file n - 1) for `apply_spilled`."""
        add_line, keep = self.add_line, spills.add

        def sort(line: bytes) -> None:
            part = share(line, bounds)
            if part:
                keep(part - 1, line)
            else:
                add_line(line)
        return sort

    def apply_spilled(self, spills: "spill.Spills", number: int) -> None:
        """The lines kept in spill file `number`, in bundle order (IntegrityError if the file was changed)."""
        add_line = self.add_line
        for line in spills.lines(number):
            add_line(line)

    def add(self, change: dict, text: str) -> None:
        """One change, checked now and written with its batch."""
        table, row = change.get("table"), change.get("data")
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("hlc"), str):
            raise _malformed()
        if table in records.LOCAL_TABLES:
            self.stats["already"] += 1  # never travels: a sender that sends it anyway changes nothing
            return
        if table not in records.SYNCED_TABLES:
            raise IntegrityError("the bundle holds a change for an unknown table ({table})",
                                 key="errors.sync_apply.unknown_table", table=str(table)[:30])
        self.checker.check(table, row)
        self.pending.append((table, row, change, text))
        if len(self.pending) >= BATCH:
            self.flush()

    def finish(self) -> None:
        """Write the last batch, then every waiting change whose parent is now here (from this or an
        earlier bundle), until none is left that can apply."""
        self.flush()
        while released := waiting.due(self.conn):
            counts = {"inserted": 0, "updated": 0, "conflicts": 0, "already": 0, "waiting": 0}
            self._apply([(c["table"], c["data"], c, text, bundle_id, via) for c, text, bundle_id, via in released],
                        counts)
            self.stats["released"] = (self.stats.get("released", 0) + len(released) - counts["waiting"]
                                      - counts["already"])  # a copy that arrived with its parent meanwhile
            self.stats["conflicts"] += counts["conflicts"]
        if self.top_hlc > (self.store.meta("hlc") or ""):
            self.store.set_meta("hlc", self.top_hlc)
        self.conn.executemany(_APPLIED, [(*run, self.now) for run in self.ranges])
        self.ranges = []

    # --- one batch ---------------------------------------------------------------------------------

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            self._apply([(table, row, change, text, self.bundle_id, self.via) for table, row, change, text in batch],
                        self.stats)

    def _apply(self, batch: list[tuple[str, dict, dict, str, str, str | None]], stats: dict) -> None:
        """Decide and write one batch of (table, row, change, row JSON, bundle id, via); count into `stats`."""
        keys = [records.change_key(table, row["id"], row["hlc"]) for table, row, *_ in batch]
        known = self._logged(keys)
        fresh_items = []
        for item, key in zip(batch, keys):
            if key in known:
                stats["already"] += 1
            else:
                known.add(key)
                fresh_items.append((key, item))
        held_back = self._held_back([item for _, item in fresh_items])
        if held_back:
            waiting.hold(self.conn, [(key, *item, held_back[n]) for n, (key, item) in enumerate(fresh_items)
                                     if n in held_back], self.now)
            stats["waiting"] = stats.get("waiting", 0) + len(held_back)
            fresh_items = [entry for n, entry in enumerate(fresh_items) if n not in held_back]
        held = self._held_versions([item for _, item in fresh_items])
        stored = set(held)  # rows this store held before the batch: updated; the others are inserted
        fresh: dict[tuple[str, str], dict] = {}  # versions decided in this batch: the held ones from now on
        writes: dict[tuple[str, str], dict] = {}
        log, applied, conflicts = [], [], []
        for key, (table, row, change, text, bundle_id, via) in fresh_items:
            where = (table, row["id"])
            current = held.get(where)
            if current is None:
                writes[where] = fresh[where] = row
                held[where] = row["hlc"]
                stats["inserted"] += 1
            elif row["hlc"] != current:
                wins = row["hlc"] > current
                if not wins or change.get("base_hlc") != current:  # made concurrently: keep the loser
                    existing = fresh.get(where) or records.get(self.store, table, row["id"])
                    columns = self.checker.columns(table)
                    kept, lost = (row, existing) if wins else (existing, row)
                    lost = {name: lost.get(name) for name in columns}  # the table's columns, not extra keys
                    conflicts.append((table, row["id"], kept["hlc"], lost["hlc"],
                                      json.dumps(lost, sort_keys=True, ensure_ascii=False), bundle_id, self.now))
                    stats["conflicts"] += 1
                if wins:
                    writes[where] = fresh[where] = row
                    held[where] = row["hlc"]
                    stats["updated"] += 1
            log.append((key, table, row["id"], change.get("op"), row["hlc"], row.get("device_id"), row.get("updated_at"),
                        text, change.get("base_hlc"), via))
            applied.append(bundle_id)
            self.top_hlc = max(self.top_hlc, row["hlc"])
        self._write(writes, stored)
        if log:
            self.conn.executemany(_CHANGE_LOG, log)
            self._note_runs(applied)
        if conflicts:
            self.conn.executemany(_CONFLICT, conflicts)

    def _note_runs(self, bundle_ids: list[str]) -> None:
        """The change-log rows just written (one per id, in order, the last one's `seq` the highest: a
        store's log numbers follow on without gaps in one transaction) joined to each bundle's runs."""
        seq = self.conn.execute("SELECT max(seq) FROM change_log").fetchone()[0] - len(bundle_ids)
        ranges = self.ranges
        for bundle_id in bundle_ids:
            seq += 1
            if ranges and ranges[-1][0] == bundle_id and ranges[-1][2] == seq - 1:
                ranges[-1][2] = seq
            else:
                ranges.append([bundle_id, seq, seq])

    def _held_back(self, items: list[tuple]) -> dict[int, tuple[str, str]]:
        """Index -> (parent table, id) for each change whose parent is neither here nor applied with it.

        A patient row in the batch is always here afterwards (inserted, or held already); a diary entry
        in the batch is here unless it waits itself, so a correction of a waiting entry waits too.
        """
        arriving = {(table, row["id"]) for table, row, *_ in items}
        wanted = [waiting.parents(table, row) for table, row, *_ in items]
        needed = {parent for parents in wanted for parent in parents} - arriving
        needed -= {("patients", ident) for ident in self.patients}
        present = self._present(needed)
        if len(self.patients) > KNOWN_PATIENTS:
            self.patients.clear()
        self.patients.update(ident for table, ident in present | arriving if table == "patients")
        absent = needed - present
        held_back: dict[int, tuple[str, str]] = {}
        while absent:  # nothing missing (the usual case): nothing waits
            more = {}
            for n, parents in enumerate(wanted):
                if n not in held_back:
                    for parent in parents:
                        if parent in absent:
                            more[n] = parent
                            break
            if not more:
                break
            held_back.update(more)
            absent = {(items[n][0], items[n][1]["id"]) for n in more}  # what waits now holds back its children
        return held_back

    def _present(self, wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (table, id) rows of `wanted` that this store holds."""
        found: set[tuple[str, str]] = set()
        for table in ("patients", "diary_entries"):
            ids = sorted(ident for t, ident in wanted if t == table)
            for part in _chunks(ids):
                marks = ", ".join("?" * len(part))
                found.update((table, r[0]) for r in self.conn.execute(f"SELECT id FROM {table} WHERE id IN ({marks})",
                                                                       part))
        return found

    def _logged(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(keys):
            marks = ", ".join("?" * len(part))
            found.update(r[0] for r in self.conn.execute(
                f"SELECT change_id FROM change_log WHERE change_id IN ({marks})", part))
        return found

    def _held_versions(self, batch: list) -> dict[tuple[str, str], str]:
        """(table, id) -> the hlc this store holds, for every row the batch touches."""
        wanted: dict[str, list[str]] = {}
        for table, row, *_ in batch:
            wanted.setdefault(table, []).append(row["id"])
        held: dict[tuple[str, str], str] = {}
        for table, ids in wanted.items():
            for part in _chunks(list(dict.fromkeys(ids))):
                marks = ", ".join("?" * len(part))
                for ident, hlc in self.conn.execute(f"SELECT id, hlc FROM {table} WHERE id IN ({marks})", part):
                    held[(table, ident)] = hlc
        return held

    def _write(self, writes: dict[tuple[str, str], dict], stored: set[tuple[str, str]]) -> None:
        """The winning versions: inserted, or updated where the store held the row; parents (patients)
        first, then tables in order of appearance, rows in the order they came."""
        from telecbt_cli.core.store import db as dbmod

        tables: dict[str, tuple[list[dict], list[dict]]] = {}
        for where, row in writes.items():
            tables.setdefault(where[0], ([], []))[where in stored].append(row)
        for table in sorted(tables, key=lambda t: t != "patients"):
            columns = self.checker.columns(table)
            new, held = tables[table]
            rest = [c for c in columns if c != "id"]
            try:
                if new:
                    self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                          f"({', '.join('?' * len(columns))})", _values(columns, new))
                if held:
                    self.conn.executemany(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in rest)} WHERE id = ?",
                                          _values([*rest, "id"], held))
            except dbmod.IntegrityConstraintError as error:
                raise IntegrityError("the bundle holds a {table} row that breaks a rule of this store ({why}); "
                                     "nothing was imported from it", key="errors.sync_apply.breaks_rule",
                                     table=table, why=str(error)[:120]) from None
