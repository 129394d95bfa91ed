"""Start-up benchmark: the telecbt CLI against a bare reference Typer app.

Measures wall time (``time.perf_counter`` around spawn + wait) and the child's peak RSS
(``os.wait4`` -> ``ru_maxrss``) for three cases, each a real subprocess that starts one
Python interpreter: ``help`` (``telecbt --help``), ``patient_list`` (``telecbt patient
list --json``) and ``patient_add`` (``telecbt patient add --name .. --birth-year ..``),
the last two with a session token on a store seeded with N patients. The reference is
a generated Typer app (``ref_app.py`` in a temporary folder) with the same number of
leaf commands, similar sub-groups, a lazy ``sqlcipher3`` import and a raw-keyed SQLCipher
database holding N patients. After two warm-up runs, telecbt and reference runs are
interleaved. Budget: telecbt median <= 1.3 x reference median per case; the script
reports figures and never asserts. RSS caveat: on Linux a child's ru_maxrss never drops
below the spawning process's own peak RSS (it survives fork/exec), so this process keeps
its imports light and records that floor as ``rss_floor_mib``; summary lines flag it.

Run from the repo root: ``.venv/bin/python scripts/bench.py [--runs 15] [--patients 200]
[--out PATH]``. Results go to ``bench-results/bench-<UTC timestamp>.json`` (git-ignored)
unless ``--out`` is given; one summary line per case is printed on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

BUDGET_RATIO = 1.3
WARMUP_RUNS = 2
PASSPHRASE = "bench passphrase"
REPO_ROOT = Path(__file__).resolve().parent.parent
CASES: dict[str, list[str]] = {
    "help": ["--help"],
    "patient_list": ["patient", "list", "--json"],
    "patient_add": ["patient", "add", "--name", "Bench Added", "--birth-year", "1980"],
    "diary_add": ["diary", "add", "BENCH_CODE", "--pain", "5", "--mood", "6"],
    "report_patient": ["report", "patient", "BENCH_CODE"],
}

COUNT_LEAVES = """
import typer
from telecbt_cli.cli import app
def leaves(cmd):
    if not hasattr(cmd, "list_commands"):
        return 1
    return sum(leaves(cmd.get_command(None, name)) for name in cmd.list_commands(None))
print(leaves(typer.main.get_command(app)))
"""

SEED_PATIENTS = """
import sys
from pathlib import Path
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.clinical.patients import PatientFields, add_patient
a = unlock(Path(sys.argv[1]), "admin", sys.argv[2])
for i in range(int(sys.argv[3])):
    add_patient(a, PatientFields(display_name=f"Bench Patient {i}", birth_year=1970, language="en"))
# one patient with two years of daily diary entries (issue 4 budget)
import json
from datetime import datetime, timedelta, timezone
from telecbt_cli.core.store import records
from telecbt_cli.core.clinical.patients import record_consent
p = add_patient(a, PatientFields(display_name="Bench Diary", birth_year=1970, language="en"))
record_consent(a, p["code"], "verbal", "v1")
now = datetime.now(timezone.utc)
with a.store.write():
    for d in range(730, 0, -1):
        when = (now - timedelta(days=d)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        records.insert(a.store, "diary_entries", {"patient_id": p["id"], "entry_at": when, "pain": d % 11,
            "locations": "[]", "mood": 5, "sleep_hours": 6.5, "sleep_quality": 6, "activity_min": 30, "steps": 4000,
            "triggers": "[]", "coping": "[]", "meds": "[]", "note": None, "source": "manual", "supersedes": None,
            "recorded_by": "admin"})
print(p["code"])
a.close()
"""

PATIENT_COLUMNS = """id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    birth_year INTEGER, sex TEXT, language TEXT NOT NULL, phone TEXT, email TEXT, caregiver_name TEXT,
    caregiver_contact TEXT, notes TEXT, status TEXT NOT NULL DEFAULT 'active', created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, device_id TEXT NOT NULL, hlc TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0"""

SEED_REFERENCE = """
import os, sys, uuid
import sqlcipher3
conn = sqlcipher3.connect(os.environ["REF_DB"], isolation_level=None)
conn.execute("PRAGMA cipher_log_level = NONE")
conn.execute(f"PRAGMA key = \\"x'{os.environ['REF_KEY']}'\\"")
conn.execute("PRAGMA journal_mode=WAL")
conn.execute(f"CREATE TABLE patients ({sys.argv[1]})")
conn.execute("CREATE TABLE diary (id TEXT PRIMARY KEY, patient_code TEXT, entry_at TEXT, pain INTEGER, mood INTEGER,"
             " sleep_hours REAL, activity_min INTEGER, note TEXT)")
conn.execute("CREATE INDEX diary_patient ON diary (patient_code, entry_at)")
conn.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT, action TEXT, patient TEXT)")
conn.execute("CREATE TABLE responses (patient_code TEXT, instrument TEXT, total REAL, completed_at TEXT)")
conn.execute("CREATE TABLE homework (patient_code TEXT, status TEXT)")
conn.execute("CREATE TABLE alerts (patient_code TEXT, status TEXT)")
conn.execute("BEGIN")
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc)
conn.executemany("INSERT INTO diary VALUES (?, 'DIARY', ?, ?, 5, 6.5, 30, NULL)",
                 [(str(uuid.uuid4()), (now - timedelta(days=d)).isoformat(), d % 11) for d in range(730, 0, -1)])
conn.executemany("INSERT INTO patients (id, code, display_name, birth_year, language, created_at, updated_at,"
                 " device_id, hlc) VALUES (?, ?, ?, 1970, 'en', '2024-01-01T00:00:00Z',"
                 " '2024-01-01T00:00:00Z', 'ref', '0')",
                 [(str(uuid.uuid4()), f"REF-{i:05d}", f"Bench Patient {i}") for i in range(int(sys.argv[2]))])
conn.execute("COMMIT")
conn.close()
"""

REF_HEADER = '''"""Bare reference Typer app for scripts/bench.py (generated)."""
import json
import os
from typing import Annotated, Optional

import typer

app = typer.Typer(name="ref", no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
GROUPS = {name: typer.Typer(help=f"{name} commands.", no_args_is_help=True)
          for name in ("store", "user", "patient", "diary", "report", "audit")}
for _name, _sub in GROUPS.items():
    app.add_typer(_sub, name=_name)


def _audit(conn, action):
    """Telecbt writes an audit entry for every read of patient data; so does the reference."""
    from datetime import datetime, timezone

    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO audit (at, action, patient) VALUES (?, ?, 'x')", (datetime.now(timezone.utc).isoformat(), action))
    conn.execute("COMMIT")


def _open():
    import sqlcipher3

    conn = sqlcipher3.connect(os.environ["REF_DB"], isolation_level=None)
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = \\"x'{os.environ['REF_KEY']}'\\"")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@GROUPS["patient"].command("list")
def patient_list(json_out: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """List patients."""
    conn = _open()
    cur = conn.execute("SELECT * FROM patients")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row)) for row in cur.fetchall()]
    _audit(conn, "patient.list")
    conn.close()
    print(json.dumps(rows, ensure_ascii=False, indent=2))


@GROUPS["patient"].command("add")
def patient_add(name: Annotated[Optional[str], typer.Option("--name", help="Name.")] = None,
                birth_year: Annotated[Optional[int], typer.Option("--birth-year", help="Year.")] = None) -> None:
    """Add a patient."""
    import uuid
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).isoformat()
    code = uuid.uuid4().hex[:8].upper()
    conn = _open()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO patients (id, code, display_name, birth_year, language, created_at, updated_at,"
                 " device_id, hlc) VALUES (?, ?, ?, ?, 'en', ?, ?, 'ref', ?)",
                 (str(uuid.uuid4()), code, name or "?", birth_year, now, now, now))
    conn.execute("INSERT INTO audit (at, action, patient) VALUES (?, 'patient.add', 'x')", (now,))
    conn.execute("COMMIT")
    conn.close()
    print(f"Enrolled patient {code}.")


@GROUPS["diary"].command("add")
def diary_add(code: Annotated[str, typer.Argument(help="Code.")],
              pain: Annotated[Optional[int], typer.Option("--pain", help="Pain.")] = None,
              mood: Annotated[Optional[int], typer.Option("--mood", help="Mood.")] = None) -> None:
    """Add a diary entry."""
    import uuid
    from datetime import datetime, timezone

    conn = _open()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO diary VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)",
                 (str(uuid.uuid4()), "DIARY", datetime.now(timezone.utc).isoformat(), pain, mood))
    conn.execute("INSERT INTO audit (at, action, patient) VALUES (?, 'diary.add', 'x')", (datetime.now(timezone.utc).isoformat(),))
    conn.execute("COMMIT")
    conn.close()
    print("Saved diary entry.")


@GROUPS["report"].command("patient")
def report_patient(code: Annotated[str, typer.Argument(help="Code.")]) -> None:
    """Weekly diary means, like the real report's main query."""
    conn = _open()
    rows = conn.execute("SELECT date(substr(entry_at, 1, 10), 'weekday 0', '-6 days') AS week, avg(pain), avg(mood),"
                        " avg(sleep_hours), avg(activity_min) FROM diary WHERE patient_code = 'DIARY'"
                        " GROUP BY week ORDER BY week").fetchall()
    days = conn.execute("SELECT count(DISTINCT substr(entry_at, 1, 10)) FROM diary WHERE patient_code = 'DIARY'").fetchone()
    first = conn.execute("SELECT min(entry_at) FROM diary WHERE patient_code = 'DIARY'").fetchone()
    scores = conn.execute("SELECT * FROM responses WHERE patient_code = 'DIARY' ORDER BY completed_at").fetchall()
    done = conn.execute("SELECT count(*) FROM homework WHERE patient_code = 'DIARY'").fetchone()
    alerts = conn.execute("SELECT * FROM alerts WHERE patient_code = 'DIARY' AND status = 'open'").fetchall()
    _audit(conn, "report.patient")
    conn.close()
    print(first, len(scores), done, len(alerts))
    for row in rows[-26:]:
        print(*row)
    print(days[0])
'''

REF_FILLER = '''

@{owner}.command("cmd{i}")
def cmd{i}(name: Annotated[str, typer.Option("--name", help="A name.")] = "",
           json_out: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Reference command {i}."""
    typer.echo(name)
'''


def telecbt_argv() -> list[str]:
    """The console script next to this interpreter, else `python -m telecbt_cli`."""
    script = Path(sys.executable).parent / "telecbt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "telecbt_cli"]


def fail(message: str) -> NoReturn:
    """Stop the benchmark loudly."""
    sys.stderr.write(f"bench: {message}\n")
    raise SystemExit(1)


def run_checked(argv: list[str], env: dict[str, str], what: str) -> str:
    """Run once with captured output; fail on a non-zero exit. Returns stdout."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{what} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def render_ref_app(leaves: int) -> str:
    """Reference app source: patient list/add plus fillers spread over root and groups."""
    owners = ["app", 'GROUPS["store"]', 'GROUPS["user"]', 'GROUPS["patient"]', 'GROUPS["audit"]']
    fillers = [REF_FILLER.format(owner=owners[i % len(owners)], i=i) for i in range(max(leaves - 4, 0))]
    return REF_HEADER + "".join(fillers) + '\n\nif __name__ == "__main__":\n    app()\n'


def setup_telecbt(tmp: Path, patients: int, base: dict[str, str]) -> dict[str, str]:
    """Create and seed a store; returns the env (with TELECBT_SESSION) for measured runs."""
    env = dict(base, TELECBT_HOME=str(tmp / "home"), TELECBT_KDF_LOG2N="10",
               TELECBT_STORE=str(tmp / "store"), NO_COLOR="1")
    pp, cli = tmp / "pp", telecbt_argv()
    pp.write_text(f"{PASSPHRASE}\n", encoding="utf-8")
    run_checked(cli + ["init", "--store", str(tmp / "store"), "--admin", "admin",
                       "--passphrase-file", str(pp), "--json"], env, "telecbt init")
    code = run_checked([sys.executable, "-c", SEED_PATIENTS, str(tmp / "store"), PASSPHRASE, str(patients)],
                       env, "seeding patients").strip().splitlines()[-1]
    for args in CASES.values():
        args[:] = [code if a == "BENCH_CODE" else a for a in args]
    token = run_checked(cli + ["unlock", "--passphrase-file", str(pp), "--ttl", "1h"], env, "telecbt unlock").strip()
    if not token:
        fail("telecbt unlock printed no session token")
    return dict(env, TELECBT_SESSION=token)


def setup_reference(tmp: Path, patients: int, base: dict[str, str]) -> dict[str, str]:
    """Create the raw-keyed reference database (in a child process); returns the reference env."""
    env = dict(base, REF_KEY=os.urandom(32).hex(), REF_DB=str(tmp / "ref.db"), NO_COLOR="1")
    run_checked([sys.executable, "-c", SEED_REFERENCE, PATIENT_COLUMNS, str(patients)], env, "seeding reference")
    return env


def timed_run(argv: list[str], env: dict[str, str], what: str) -> tuple[float, float]:
    """One run with output discarded: (wall seconds, peak RSS MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        fail(f"{what} exited {proc.returncode} during a timed run")
    return wall, to_mib(usage.ru_maxrss)


def to_mib(maxrss: int) -> float:
    """ru_maxrss is KiB on Linux, bytes on macOS."""
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def summarise(samples: list[tuple[float, float]]) -> dict:
    """Median/min wall time, every sample, median peak RSS."""
    walls = [w for w, _ in samples]
    return {"median_s": round(statistics.median(walls), 6), "min_s": round(min(walls), 6),
            "samples_s": [round(w, 6) for w in walls],
            "peak_rss_mib": round(statistics.median(r for _, r in samples), 2)}


def measure(sides: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict:
    """Check each case once, then warm up and time both sides interleaved."""
    cases: dict = {}
    for case, args in CASES.items():
        for side, (argv, env) in sides.items():
            out = run_checked(argv + args, env, f"{side} {case}")
            if case == "patient_list":
                try:
                    json.loads(out)
                except json.JSONDecodeError:
                    fail(f"{side} {case} did not print JSON")
        samples: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for i in range(WARMUP_RUNS + runs):
            for side, (argv, env) in sides.items():
                result = timed_run(argv + args, env, f"{side} {case}")
                if i >= WARMUP_RUNS:
                    samples[side].append(result)
        entry = {side: summarise(s) for side, s in samples.items()}
        ratio = entry["telecbt"]["median_s"] / entry["reference"]["median_s"]
        entry.update(ratio=round(ratio, 3), within_budget=round(ratio, 3) <= BUDGET_RATIO)
        cases[case] = entry
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description="CLI start-up benchmark: telecbt vs a bare Typer app.")
    parser.add_argument("--runs", type=int, default=15, help="measured runs per case and side (default 15)")
    parser.add_argument("--patients", type=int, default=200, help="patients in each store (default 200)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    opts = parser.parse_args()
    if opts.runs < 1 or opts.patients < 0:
        parser.error("--runs must be >= 1 and --patients >= 0")
    now = datetime.now(timezone.utc)
    out = opts.out or REPO_ROOT / "bench-results" / f"bench-{now:%Y%m%dT%H%M%SZ}.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith("TELECBT_")}

    with tempfile.TemporaryDirectory(prefix="telecbt-bench-") as tmpdir:
        tmp = Path(tmpdir)
        leaves = int(run_checked([sys.executable, "-c", COUNT_LEAVES], base, "counting leaf commands"))
        ref_app = tmp / "ref_app.py"
        ref_app.write_text(render_ref_app(leaves), encoding="utf-8")
        sides = {"telecbt": (telecbt_argv(), setup_telecbt(tmp, opts.patients, base)),
                 "reference": ([sys.executable, str(ref_app)], setup_reference(tmp, opts.patients, base))}
        floor = to_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        cases = measure(sides, opts.runs)

    result = {"benchmark": "cli-startup", "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "python": platform.python_version(), "platform": platform.platform(),
              "cpu_count": os.cpu_count(), "runs": opts.runs, "patients": opts.patients,
              "leaf_commands": leaves, "budget_ratio": BUDGET_RATIO,
              "rss_floor_mib": round(floor, 2), "cases": cases,
              "all_within_budget": all(c["within_budget"] for c in cases.values())}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    for case, c in cases.items():
        t, r = c["telecbt"], c["reference"]
        sys.stderr.write(f"{case:<13} telecbt {t['median_s'] * 1000:7.1f} ms  reference {r['median_s'] * 1000:7.1f} ms"
                         f"  ratio {c['ratio']:.3f}{'' if c['within_budget'] else ' OVER BUDGET'}"
                         f"  RSS {t['peak_rss_mib']:.1f} / {r['peak_rss_mib']:.1f} MiB"
                         f"{'  (RSS at floor)' if min(t['peak_rss_mib'], r['peak_rss_mib']) <= floor + 0.1 else ''}\n")
    sys.stderr.write(f"results: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
