"""Benchmark of bulk work (issue 19): imports and exports of a year of data, each beside a plain reference.

The store: N patients (default 1,000) x D days (default 365), as a field laptop writes them
day after day: a diary entry per patient per day, a weekly session (15 % missed), two
homework tasks per attended session, a PHQ-9, GAD-7 and PEG-3 every 30 days, plus each
patient's registry row and consent. Every row has a UUIDv7 id, sync stamps and its
change-log row (the full row as JSON), exactly as `records.insert` writes them: 543 rows
and change-log rows per patient (543k at 1,000). It is built once with plain SQL into a
real SQLCipher store and cached under `bench-cache/<hash>/` (git-ignored), the hash
covering this builder's source, its parameters and the schema steps; the full bundle
and 1,000 one-week bundles are made once, with telecbt, into the same cache.

Rows (each command runs as a real process; wall time, and peak RSS and CPU time (user + system,
all processes of a pipeline) from GNU time; best of --runs, runs alternate between telecbt and
its reference; on a shared machine the CPU ratio varies less than the wall-time ratio, which is
the one the goals use):

| row | telecbt | reference |
| --- | --- | --- |
| import_full | `bundle import full.tcb` into a new hub | ref_import.py: age-decrypt, zstd, SHA-256 digest and Ed25519 signature, then one parse per line and `executemany` of each row and its change-log row into plain SQLite with the same schema (WAL, synchronous=FULL, foreign keys), one transaction |
| export_ndjson | `export ndjson --encrypt-to R` | per table `sqlite3 plain.db "SELECT json_object(…)" \\| zstd -3 \\| age -r R` |
| export_csv | `export csv --encrypt-to R` | per table `sqlite3 -csv -header plain.db "SELECT *" \\| zstd -3 \\| age -r R` |
| export_fhir | `export fhir --encrypt-to R` | the NDJSON pipeline (as in the issue) |
| bundle_export | `bundle export --to R --all` | `sqlite3 plain.db "SELECT json_object('change', …) FROM change_log" \\| zstd -3 \\| age -r R` |
| import_weekly | `bundle import FOLDER` of 1,000 one-week bundles (one patient each: 7 diary entries, a PHQ-9, a session with its reminder and homework, 2 messages) into a hub that has the patients | ref_import.py on the same files, one transaction per bundle |
| kiosk | `telecbt kiosk` to its first screen in an 80x24 pty | bare Textual app (scripts/bench_tui.py) |
| hostile | `bundle import` of a 96 KiB file expanding to 1 GiB (unsigned) and of a sparse 3 GiB file | none: refused with exit 6 in under 2 s and 200 MiB (issue 12.5, 12.8) |

`plain.db` is a plain SQLite copy of the store (sqlcipher_export). With --scale K (e.g. 10) the
same rows run on a store K times larger (K x N patients), to check that peak RSS stays flat
and time grows linearly. Goals (issue 19) are in GOALS; the script reports, it never asserts.

    .venv/bin/python scripts/bench_bulk.py [--patients 1000] [--days 365] [--runs 3]
        [--rows import_full,export_ndjson,...] [--scale 10] [--scale-rows ...] [--out PATH]

Results: bench-results/bulk-<UTC time>.json (git-ignored) unless --out. Needs sqlite3, zstd and age.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench-cache"
PASS = "bench passphrase"
ROWS = ("import_full", "export_ndjson", "export_csv", "export_fhir", "bundle_export", "import_weekly", "kiosk",
        "hostile")
SCALE_ROWS = ("import_full", "export_ndjson", "export_csv", "bundle_export")
#: row: (max ratio to the reference, max peak RSS MiB or None, max output bytes / NDJSON bytes or None)
GOALS = {"import_full": (1.5, 100, None), "export_ndjson": (1.5, None, 1 / 8), "export_csv": (1.5, None, None),
         "export_fhir": (3.0, None, None), "bundle_export": (1.5, 60, None), "import_weekly": (2.0, None, None),
         "kiosk": (1.3, None, None)}
EXPORT_TABLES = ("patients", "consents", "diary_entries", "measure_responses", "runs", "appointments", "homework",
                 "goals", "plans", "messages", "safety_alerts")
JSON_COLUMNS = {"diary_entries": ("locations", "triggers", "coping", "meds"), "measure_responses": ("answers", "subscales"),
                "runs": ("history", "answers"), "plans": ("sessions",), "goals": ("notes",), "homework": ("text",),
                "appointments": ("fidelity",)}

# --- the store ------------------------------------------------------------------------------------

SEED = r'''
import json, random, sys
import sqlcipher3
from telecbt_cli.core.store.ids import new_patient_code

db_path, patients, days, plain_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
key = sys.stdin.readline().strip()
rng = random.Random(19)
conn = sqlcipher3.connect(db_path, isolation_level=None)
conn.execute("PRAGMA cipher_log_level = NONE")
conn.execute(f"PRAGMA key = \"x'{key}'\"")
conn.execute("PRAGMA cipher_page_size = 16384")
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA cache_size = -65536")
device = conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()[0]
columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
           for t in ("patients", "consents", "diary_entries", "appointments", "homework", "measure_responses")}
DAY = 86_400_000
start_ms = (int(__import__("time").time() * 1000) // DAY - days - 1) * DAY
last = [0, 0]

def stamp(ms):
    if ms <= last[0]:
        ms = last[0] + 1
    last[0] = ms
    iso = __import__("datetime").datetime.fromtimestamp(ms / 1000, __import__("datetime").timezone.utc)
    return iso.isoformat(timespec="milliseconds").replace("+00:00", "Z"), ms

def uuid7(ms):
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    t = f"{value:032x}"
    return f"{t[:8]}-{t[8:12]}-{t[12:16]}-{t[16:20]}-{t[20:]}"

pending = {t: [] for t in columns}
log = []
total = 0

def add(table, ms, values):
    global total
    at, ms = stamp(ms)
    hlc = f"{ms:013d}.00000.{device}"
    row = {"id": uuid7(ms), **values, "created_at": at, "updated_at": at, "device_id": device, "hlc": hlc, "deleted": 0}
    ordered = [row[c] for c in columns[table]]
    pending[table].append(ordered)
    log.append((f"{table}:{row['id']}:{hlc}", table, row["id"], "insert", hlc, device, at,
                json.dumps(dict(zip(columns[table], ordered)), sort_keys=True, ensure_ascii=False)))
    total += 1
    if len(log) >= 20000:
        flush()
    return row

def flush():
    conn.execute("BEGIN")
    for table, rows in pending.items():
        if rows:
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns[table])}) VALUES "
                             f"({', '.join('?' for _ in columns[table])})", rows)
            rows.clear()
    conn.executemany("INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", log)
    log.clear()
    conn.execute("COMMIT")

REGIONS = ["lower_back", "neck", "knees", "shoulders", "hips", "head"]
NOTES = ["walked to the market", "bad night, woke at 3", "used the breathing exercise", "visited my sister",
         "pain worse after carrying water", "Caminé un poco por la tarde"]
people = []
codes = set()
for p in range(patients):
    code = new_patient_code()
    while code in codes:
        code = new_patient_code()
    codes.add(code)
    ms = start_ms + p * 50
    row = add("patients", ms, {"code": code, "display_name": f"Bench Patient {p:05d}", "birth_year": 1940 + p % 60,
                               "sex": ("female", "male")[p % 2], "language": ("en", "es")[p % 3 == 0],
                               "phone": f"+2547{p:08d}", "email": None, "caregiver_name": None,
                               "caregiver_contact": None, "notes": None, "status": "active",
                               "timezone": "Africa/Nairobi"})
    add("consents", ms + 1, {"patient_id": row["id"], "action": "given", "method": "verbal", "version": "2026-01",
                             "witness": None, "recorded_by": "admin", "recorded_at": row["created_at"]})
    people.append(row["id"])
for d in range(days):
    day_ms = start_ms + (d + 1) * DAY
    for p, pid in enumerate(people):
        ms = day_ms + 8 * 3_600_000 + p * 20
        entry_at = stamp(ms - 3_600_000)[0]
        add("diary_entries", ms, {
            "patient_id": pid, "entry_at": entry_at, "pain": rng.randint(2, 9),
            "locations": json.dumps(rng.sample(REGIONS, rng.randint(0, 2))), "mood": rng.randint(2, 9),
            "sleep_hours": round(rng.uniform(4, 8), 1), "sleep_quality": rng.randint(3, 8),
            "activity_min": rng.randint(5, 60), "steps": None if rng.random() < 0.5 else rng.randint(1000, 9000),
            "triggers": json.dumps(["stress"] if rng.random() < 0.2 else []), "coping": json.dumps(["breathing"] if rng.random() < 0.3 else []),
            "meds": json.dumps(["paracetamol"] if rng.random() < 0.25 else []),
            "note": rng.choice(NOTES) if rng.random() < 0.1 else None, "source": "manual", "supersedes": None,
            "recorded_by": "admin"})
        if d % 7 == p % 7 and d // 7 < days // 7:
            attended = rng.random() >= 0.15
            at = stamp(ms + 2 * 3_600_000)[0]
            module = f"cbt-{d // 7 % 12 + 1:02d}"
            add("appointments", ms + 5, {
                "patient_id": pid, "scheduled_at": at, "minutes": 50, "mode": "video", "module_id": module,
                "module_version": "1.0.0", "clinician": "admin", "link": "https://meet.example.org/telecbt",
                "status": "attended" if attended else "no_show", "recorded_at": at, "recorded_by": "admin",
                "notes": "went through the pacing plan" if attended and rng.random() < 0.3 else None,
                "feedback": rng.randint(3, 5) if attended else None,
                "fidelity": json.dumps(["agenda", "homework_review", "new_skill"]) if attended else None})
            if attended:
                for task in ("practice", "diary"):
                    add("homework", ms + 6, {
                        "patient_id": pid, "module_id": module, "task_id": task,
                        "text": json.dumps({"en": f"Practise the {task} for this week, once a day.",
                                            "es": f"Practique {task} esta semana, una vez al día."}, ensure_ascii=False),
                        "assigned_at": at, "due_date": at[:10], "status": "done" if rng.random() < 0.6 else "assigned",
                        "done_at": None, "note": None})
        if d % 30 == p % 30 and d // 30 < days // 30:
            for inst, items, top in (("phq9", 9, 3), ("gad7", 7, 3), ("peg3", 3, 10)):
                answers = {f"{inst}_{n}": rng.randint(0, top) for n in range(1, items + 1)}
                total_score = sum(answers.values()) / (3 if inst == "peg3" else 1)
                add("measure_responses", ms + 7, {
                    "patient_id": pid, "run_id": uuid7(ms), "instrument_id": inst, "instrument_version": "1.0.0",
                    "lang": "en", "answers": json.dumps(answers), "total": round(total_score, 2),
                    "band": None if inst == "peg3" else "moderate", "subscales": "{}", "responder": None,
                    "prorated": 0, "recorded_by": "admin", "completed_at": stamp(ms + 8)[0]})
flush()
conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (f"{last[0]:013d}.00000.{device}",))
conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('hlc', ?)", (f"{last[0]:013d}.00000.{device}",))
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute(f"ATTACH DATABASE '{plain_path}' AS plain KEY ''")
conn.execute("SELECT sqlcipher_export('plain')")
conn.execute("DETACH DATABASE plain")
conn.close()
print(total)
'''


def _site(path: Path):
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import create_store

    return create_store(path, "admin", PASS, KdfParams(10)).access


def _plain_schema(path: Path) -> None:
    """An empty plain-SQLite database with the store's schema (the references insert into it)."""
    import sqlite3

    from telecbt_cli.core.store import schema

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    schema.apply(conn)
    conn.close()


def _weekly(root: Path, hub, hub_plain: Path, hub_key: Path, env: dict, count: int) -> None:
    """`count` one-week bundles, one patient each, after the hub (and its plain twin) has the patients."""
    from datetime import timedelta

    from telecbt_cli.content.catalog import load
    from telecbt_cli.core.care import appointments, diary, messages
    from telecbt_cli.core.clinical import engine, patients
    from telecbt_cli.core.store.clock import now_iso
    from telecbt_cli.core.sync import bundles, devices

    catalog = load()
    field = _site(root / "weekly-field")
    devices.trust(hub, devices.identity(field)["card"], "weekly field", "field")
    recipient = devices.identity(hub)["recipient"]
    codes = []
    for n in range(count):
        p = patients.add_patient(field, patients.PatientFields(display_name=f"Week Patient {n:05d}", language="en"))
        patients.record_consent(field, p["code"], "verbal", "2026-01")
        codes.append(p["code"])
    first = root / "weekly-initial.tcb"
    with open(first, "wb") as out:
        bundles.export_bundle(field, out, [recipient], None, since_last=False)
    bundles.import_bundle(hub, first.read_bytes())
    _reference_import(first, hub_key, hub_plain, devices.identity(field)["signing_public"], env)
    info = {"weekly_signing_public": devices.identity(field)["signing_public"]}
    (root / "weekly.json").write_text(json.dumps(info))
    folder = root / "weekly"
    folder.mkdir()
    now = datetime.now(timezone.utc)
    phq9 = catalog.get("instrument", "phq9")
    for n, code in enumerate(codes):
        mark = now_iso()
        time.sleep(0.002)
        for d in range(7):
            diary.add_entry(field, code, {"pain": 3 + d % 4, "mood": 6, "sleep_hours": 6.5, "note": "walked",
                                          "entry_at": (now - timedelta(days=d, hours=2)).isoformat()})
        engine.run_all(field, code, phq9, "en", {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_9": 0})
        appt = appointments.schedule(field, catalog, code, (now + timedelta(days=2)).isoformat(), "video", "cbt-04")
        appointments.record(field, catalog, appt["id"], "attended", feedback=4)
        messages.send(field, code, "See you on Tuesday at ten.")
        messages.send(field, code, "Thank you, the breathing helps.", from_patient=True)
        with open(folder / f"{n:05d}.tcb", "wb") as out:
            bundles.export_bundle(field, out, [recipient], None, since_last=False, since=mark)
    field.close()


def _reference_import(bundle: Path, identity: Path, target: Path, public: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ref_import.py"), str(identity), public, str(target),
                    str(bundle)], env=env, check=True, capture_output=True)


def build_key(patients: int, days: int, weekly: int) -> str:
    from telecbt_cli.core.store import schema

    text = SEED + inspect.getsource(_weekly) + inspect.getsource(build) + json.dumps(
        [patients, days, weekly, schema.known_names()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(patients: int, days: int, weekly: int, env: dict) -> Path:
    """The cached fixture folder for these parameters, built if missing."""
    from telecbt_cli.core.sync import devices

    folder = CACHE / f"{patients}x{days}-{build_key(patients, days, weekly)}"
    if (folder / "info.json").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    field = _site(tmp / "field")
    key = field.store.data_key.hex()
    field_identity = devices.identity(field)
    field.close()
    seeded = subprocess.run([sys.executable, "-c", SEED, str(tmp / "field" / "telecbt.db"), str(patients), str(days),
                             str(tmp / "plain.db")], input=key + "\n", env=env, check=True, capture_output=True, text=True)
    hub = _site(tmp / "full-hub")
    devices.trust(hub, field_identity["card"], "field", "field")
    (tmp / "full-hub.key").write_text(str(devices.age_identity(hub)) + "\n")
    full_recipient = devices.identity(hub)["recipient"]
    hub.close()
    _plain_schema(tmp / "plain-hub.db")
    shutil.copy(tmp / "plain-hub.db", tmp / "plain-weekly-hub.db")
    if weekly:
        hub = _site(tmp / "weekly-hub")
        (tmp / "weekly-hub.key").write_text(str(devices.age_identity(hub)) + "\n")
        _weekly(tmp, hub, tmp / "plain-weekly-hub.db", tmp / "weekly-hub.key", env, weekly)
        hub.close()
        shutil.rmtree(tmp / "weekly-field")
    subprocess.run([_cli(), "bundle", "export", "--to", full_recipient, "--all", "--out", str(tmp / "full.tcb"),
                    "--store", str(tmp / "field")], env={**env, "TELECBT_PASSPHRASE": PASS}, check=True,
                   capture_output=True)
    info = {"patients": patients, "days": days, "rows": int(seeded.stdout.split()[-1]), "weekly_bundles": weekly,
            "field_signing_public": field_identity["signing_public"],
            **(json.loads((tmp / "weekly.json").read_text()) if weekly else {}),
            "built_s": round(time.perf_counter() - started, 1), "built": datetime.now(timezone.utc).isoformat()}
    (tmp / "info.json").write_text(json.dumps(info, indent=2))
    tmp.rename(folder)
    return folder


# --- running --------------------------------------------------------------------------------------

def _cli() -> str:
    return str(Path(sys.executable).parent / "telecbt")


def timed(cmd: list[str] | str, env: dict, shell: bool = False) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB of the largest process, CPU seconds of all of them), measured by GNU time.

    Not by wait4 here: a child of this (large) process starts as a vfork of it, and the kernel
    keeps that inherited size as the child's peak; GNU time is small, so its children are not.
    CPU time (user + system, the command and every process it waited for) is reported beside
    wall time: on a shared machine it varies less."""
    argv = ["sh", "-c", cmd] if shell else list(map(str, cmd))
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"bench: {cmd if shell else ' '.join(map(str, cmd[:4]))} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace')[-400:]}")
        peak, user, system = rss.read().split()[-3:]
        return wall, int(peak) / 1024, float(user) + float(system)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pair(runs: int, telecbt: callable, reference: callable) -> dict:
    """Run both `runs` times, alternating; each callable prepares, runs and returns (s, MiB, bytes, cpu s)."""
    samples: dict[str, list] = {"telecbt": [], "reference": []}
    for i in range(runs):
        for name in (("telecbt", "reference") if i % 2 == 0 else ("reference", "telecbt")):
            samples[name].append((telecbt if name == "telecbt" else reference)())
    best = {name: min(values, key=lambda s: s[0]) for name, values in samples.items()}
    cpu = {name: min(s[3] for s in values) for name, values in samples.items()}
    return {"telecbt_s": round(best["telecbt"][0], 3), "reference_s": round(best["reference"][0], 3),
            "ratio": round(best["telecbt"][0] / best["reference"][0], 3),
            "telecbt_cpu_s": round(cpu["telecbt"], 2), "reference_cpu_s": round(cpu["reference"], 2),
            "cpu_ratio": round(cpu["telecbt"] / cpu["reference"], 3) if cpu["reference"] else None,
            "telecbt_rss_mib": round(max(s[1] for s in samples["telecbt"]), 1),
            "reference_rss_mib": round(max(s[1] for s in samples["reference"]), 1),
            "telecbt_bytes": best["telecbt"][2], "reference_bytes": best["reference"][2],
            "telecbt_all_s": [round(s[0], 3) for s in samples["telecbt"]],
            "reference_all_s": [round(s[0], 3) for s in samples["reference"]]}


def _columns(plain: Path, table: str) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(plain)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def _pipeline(plain: Path, out: Path, recipient: str, kind: str) -> str:
    """A shell script: every exported table through sqlite3 | zstd -3 | age, like the issue's reference."""
    lines = ["set -e"]
    for table in EXPORT_TABLES:
        if kind == "csv":
            query = f"SELECT * FROM {table} WHERE deleted = 0 ORDER BY rowid"
            lines.append(f"sqlite3 -csv -header {plain} \"{query}\" | zstd -3 -q -c | age -r {recipient} "
                         f"> {out}/{table}.csv.zst.age")
        else:
            fields = ", ".join(f"'{c}', " + (f"json({c})" if c in JSON_COLUMNS.get(table, ()) else c)
                               for c in _columns(plain, table))
            query = f"SELECT json_object({fields}) FROM {table} WHERE deleted = 0 ORDER BY rowid"
            lines.append(f"sqlite3 {plain} \"{query}\" | zstd -3 -q -c | age -r {recipient} "
                         f"> {out}/{table}.ndjson.zst.age")
    return "\n".join(lines)


def ndjson_bytes(plain: Path, tmp: Path) -> int:
    script = _pipeline(plain, tmp, "R", "ndjson").replace("| zstd -3 -q -c | age -r R", "")
    subprocess.run(script.replace(".ndjson.zst.age", ".ndjson"), shell=True, check=True)
    size = sum((tmp / f"{t}.ndjson").stat().st_size for t in EXPORT_TABLES)
    for t in EXPORT_TABLES:
        (tmp / f"{t}.ndjson").unlink()
    return size


class Bench:
    """One fixture and the commands run against it."""

    def __init__(self, fixture: Path, work: Path, env: dict, runs: int) -> None:
        self.fx, self.work, self.env, self.runs = fixture, work, env, runs
        self.info = json.loads((fixture / "info.json").read_text())
        self.tenv = {**env, "TELECBT_PASSPHRASE": PASS}
        import pyrage

        self.identity = pyrage.x25519.Identity.generate()
        self.recipient = str(self.identity.to_public())
        self.count = 0

    def fresh(self, name: str) -> Path:
        self.count += 1
        path = self.work / f"{name}-{self.count}"
        shutil.rmtree(path, ignore_errors=True)
        return path

    def export_row(self, kind: str) -> dict:
        def telecbt():
            out = self.fresh(f"t-{kind}")
            cmd = [_cli(), "export", kind, "--out", str(out), "--encrypt-to", self.recipient,
                   "--store", str(self.fx / "field")]
            wall, rss, cpu = timed(cmd, self.tenv)
            size = folder_bytes(out)
            shutil.rmtree(out)
            return wall, rss, size, cpu

        def reference():
            out = self.fresh(f"r-{kind}")
            out.mkdir()
            script = _pipeline(self.fx / "plain.db", out, self.recipient, "csv" if kind == "csv" else "ndjson")
            wall, rss, cpu = timed(script, self.env, shell=True)
            size = folder_bytes(out)
            shutil.rmtree(out)
            return wall, rss, size, cpu

        return pair(self.runs, telecbt, reference)

    def bundle_export(self) -> dict:
        local = "'users', 'outbox', 'patient_pins'"
        query = ("SELECT json_object('change', json_object('base_hlc', base_hlc, 'data', json(data), 'op', op, "
                 f"'table', table_name)) FROM change_log WHERE table_name NOT IN ({local}) ORDER BY seq")

        def telecbt():
            out = self.fresh("bundle").with_suffix(".tcb")
            wall, rss, cpu = timed([_cli(), "bundle", "export", "--to", self.recipient, "--all", "--out", str(out),
                                    "--store", str(self.fx / "field")], self.tenv)
            size = out.stat().st_size
            out.unlink()
            return wall, rss, size, cpu

        def reference():
            out = self.fresh("bundle-ref").with_suffix(".age")
            wall, rss, cpu = timed(f"sqlite3 {self.fx / 'plain.db'} \"{query}\" | zstd -3 -q -c | age -r "
                                   f"{self.recipient} > {out}", self.env, shell=True)
            size = out.stat().st_size
            out.unlink()
            return wall, rss, size, cpu

        return pair(self.runs, telecbt, reference)

    def _import(self, hub: str, plain: str, key: str, source: Path, runs: int, public: str) -> dict:
        def telecbt():
            store = self.fresh("hub")
            shutil.copytree(self.fx / hub, store)
            wall, rss, cpu = timed([_cli(), "bundle", "import", str(source), "--store", str(store)], self.tenv)
            size = folder_bytes(store)
            shutil.rmtree(store)
            return wall, rss, size, cpu

        def reference():
            target = self.fresh("plain-hub").with_suffix(".db")
            shutil.copy(self.fx / plain, target)
            files = [str(source)] if source.is_file() else sorted(str(p) for p in source.iterdir())
            wall, rss, cpu = timed([sys.executable, str(ROOT / "scripts" / "bench_ref_import.py"), str(self.fx / key),
                                    public, str(target), *files], self.env)
            size = sum(p.stat().st_size for p in target.parent.glob(target.name + "*"))
            for p in target.parent.glob(target.name + "*"):
                p.unlink()
            return wall, rss, size, cpu

        return pair(runs, telecbt, reference)

    def import_full(self) -> dict:
        result = self._import("full-hub", "plain-hub.db", "full-hub.key", self.fx / "full.tcb", self.runs,
                              self.info["field_signing_public"])
        result["bundle_bytes"] = (self.fx / "full.tcb").stat().st_size
        return result

    def import_weekly(self) -> dict:
        return self._import("weekly-hub", "plain-weekly-hub.db", "weekly-hub.key", self.fx / "weekly", self.runs,
                            self.info["weekly_signing_public"])

    def kiosk(self) -> dict:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_tui

        bare = self.work / "bare_app.py"
        bare.write_text(bench_tui.BARE_APP, encoding="utf-8")
        env = bench_tui.child_env(self.work / "kiosk-home", TELECBT_KDF_LOG2N="10", TELECBT_PASSPHRASE=PASS)
        store = self.fx / "full-hub"

        def telecbt():
            return bench_tui.time_to_marker([_cli(), "kiosk", "--store", str(store)], env, "Bienvenido", "kiosk"), 0, 0, 0

        def reference():
            return bench_tui.time_to_marker([sys.executable, str(bare)], env, bench_tui.BARE_MARKER, "bare"), 0, 0, 0

        for _ in range(2):  # warm-up
            telecbt(), reference()
        return pair(max(self.runs, 5), telecbt, reference)

    def run(self, rows: list[str]) -> dict:
        out: dict = {}
        for row in rows:
            sys.stderr.write(f"  {row} ...\n")
            started = time.perf_counter()
            if row == "hostile":
                out[row] = self.hostile()
                continue
            if row.startswith("export_"):
                out[row] = self.export_row(row.removeprefix("export_"))
            else:
                out[row] = getattr(self, row)()
            goal = GOALS[row]
            result = out[row]
            result["goal"] = {"ratio": goal[0], "rss_mib": goal[1], "bytes_vs_ndjson": goal[2]}
            ok = result["ratio"] <= goal[0] and (goal[1] is None or result["telecbt_rss_mib"] <= goal[1])
            if goal[2] is not None:
                result["ndjson_bytes"] = self.ndjson
                result["bytes_vs_ndjson"] = round(result["telecbt_bytes"] / self.ndjson, 4)
                ok = ok and result["bytes_vs_ndjson"] <= goal[2]
            result["meets_goal"] = ok
            sys.stderr.write(f"    telecbt {result['telecbt_s']} s ({result['telecbt_cpu_s']} s CPU) "
                             f"{result['telecbt_rss_mib']} MiB vs reference {result['reference_s']} s "
                             f"({result['reference_cpu_s']} s CPU) = {result['ratio']}x (CPU {result['cpu_ratio']}x) "
                             f"({'meets' if ok else 'MISSES'} goal; {time.perf_counter() - started:.0f} s)\n")
        return out

    def hostile(self) -> dict:
        """Issue 12.5 and 12.8, timed: bundles that must be refused (exit 6) in under 2 s and 200 MiB.

        `bomb`: a ~96 KiB file, sealed to the hub, whose header names a device the hub trusts,
        expanding to 1 GiB of tiny lines with no valid signature. `huge`: a sparse 3 GiB file."""
        import pyrage
        import zstandard

        from telecbt_cli.core.store.unlock import unlock
        from telecbt_cli.core.sync import devices

        field = unlock(self.fx / "field", None, PASS)
        hub = unlock(self.fx / "full-hub", None, PASS)
        header = {"header": {"format": "telecbt-bundle", "version": 1, "bundle_id": "0" * 36,
                             "source_device": field.store.device_id, "created": "2026-01-01T00:00:00.000Z",
                             "recipients": [], "to_device": None, "from_seq": 0, "partial": True}}
        recipient = pyrage.x25519.Recipient.from_str(devices.identity(hub)["recipient"])
        field.close()
        hub.close()
        compressor = zstandard.ZstdCompressor(level=1).compressobj()
        parts = [compressor.compress(json.dumps(header).encode() + b"\n")]
        filler = b"{}\n" * (1 << 20)
        parts += [compressor.compress(filler) for _ in range(342)] + [compressor.flush()]
        bomb = self.work / "bomb.tcb"
        bomb.write_bytes(pyrage.encrypt(b"".join(parts), [recipient]))
        huge = self.work / "huge.tcb"
        with open(huge, "wb") as out:
            out.truncate(3 * 2**30)
        result = {}
        for name, path in (("bomb", bomb), ("huge", huge)):
            store = self.fresh("hostile-hub")
            shutil.copytree(self.fx / "full-hub", store)
            argv = ["/usr/bin/time", "-f", "%e %M", "-o", str(self.work / "hostile.time"), _cli(), "bundle", "import",
                    str(path), "--store", str(store)]
            code = subprocess.run(argv, env=self.tenv, capture_output=True).returncode
            wall, peak = (self.work / "hostile.time").read_text().split()[-2:]
            result[name] = {"file_bytes": path.stat().st_size, "exit_code": code, "seconds": float(wall),
                            "peak_rss_mib": round(int(peak) / 1024, 1)}
            result[name]["meets_goal"] = code == 6 and float(wall) < 2 and int(peak) / 1024 < 200
            shutil.rmtree(store)
        huge.unlink()
        sys.stderr.write(f"    hostile: {json.dumps(result)}\n")
        return result

    @property
    def ndjson(self) -> int:
        if not hasattr(self, "_ndjson"):
            tmp = self.work / "ndjson-size"
            tmp.mkdir(exist_ok=True)
            self._ndjson = ndjson_bytes(self.fx / "plain.db", tmp)
        return self._ndjson


def table(results: dict) -> list[str]:
    lines = ["| row | telecbt | reference | ratio (CPU ratio) | telecbt peak RSS | telecbt bytes | goal |",
             "| --- " * 7 + "|"]
    for row, r in results.items():
        if row == "hostile":
            lines += [f"| hostile {name} ({h['file_bytes']} bytes) | {h['seconds']} s, exit {h['exit_code']} | - | - "
                      f"| {h['peak_rss_mib']} MiB | - | exit 6, < 2 s, < 200 MiB ({'met' if h['meets_goal'] else 'missed'}) |"
                      for name, h in r.items()]
            continue
        g = r["goal"]
        goal = f"<= {g['ratio']}x" + (f", <= {g['rss_mib']} MiB" if g["rss_mib"] else "") + (
            f", <= 1/{round(1 / g['bytes_vs_ndjson'])} NDJSON" if g["bytes_vs_ndjson"] else "")
        lines.append(f"| {row} | {r['telecbt_s']} s | {r['reference_s']} s | {r['ratio']}x ({r.get('cpu_ratio')}x) "
                     f"| {r['telecbt_rss_mib']} MiB | {r['telecbt_bytes']} | {goal} "
                     f"({'met' if r['meets_goal'] else 'missed'}) |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--weekly", type=int, default=1000, help="one-week bundles for import_weekly")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--scale", type=int, default=0, help="also run --scale-rows on a store this many times larger")
    parser.add_argument("--scale-rows", default=",".join(SCALE_ROWS))
    parser.add_argument("--scale-runs", type=int, default=1)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    for tool in ("sqlite3", "zstd", "age"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: needs the {tool} command")
    work = Path(tempfile.mkdtemp(prefix="telecbt-bulk-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TELECBT_")},
           "TELECBT_HOME": str(work / "home"), "TELECBT_KDF_LOG2N": "10"}
    os.environ.update(env)
    result: dict = {"benchmark": "bulk", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                             text=True).stdout.strip(), "runs": opts.runs}
    try:
        sys.stderr.write(f"fixture {opts.patients} x {opts.days} ...\n")
        fixture = build(opts.patients, opts.days, opts.weekly, env)
        bench = Bench(fixture, work, env, opts.runs)
        result["fixture"] = {**bench.info, "cache": str(fixture)}
        result["rows"] = bench.run([r for r in opts.rows.split(",") if r])
        if opts.scale:
            sys.stderr.write(f"fixture {opts.patients * opts.scale} x {opts.days} ...\n")
            big = build(opts.patients * opts.scale, opts.days, 0, env)
            large = Bench(big, work, env, opts.scale_runs)
            result["scaled"] = {"scale": opts.scale, "fixture": {**large.info, "cache": str(big)},
                                "rows": large.run([r for r in opts.scale_rows.split(",") if r])}
            growth = {}
            for row, r in result["scaled"]["rows"].items():
                if row in result["rows"]:
                    small = result["rows"][row]
                    growth[row] = {"rss_growth": round(r["telecbt_rss_mib"] / small["telecbt_rss_mib"], 3),
                                   "time_per_scale": round(r["telecbt_s"] / small["telecbt_s"] / opts.scale, 3)}
            result["scaled"]["growth"] = growth
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = opts.out or ROOT / "bench-results" / f"bulk-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lines = table(result.get("rows", {}))
    if "scaled" in result:
        lines += ["", f"at {opts.scale}x:"] + table(result["scaled"]["rows"])
        lines += [f"{row}: peak RSS x{g['rss_growth']}, time per unit of data x{g['time_per_scale']}"
                  for row, g in result["scaled"]["growth"].items()]
    sys.stdout.write("\n".join(lines) + f"\nresults: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
