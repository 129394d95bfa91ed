"""Benchmark: `telecbt report program` over 1,000 patients with a year of daily diaries.

Builds a store (cheap key derivation) with 1,000 consented patients, 365 daily diary
entries each (365,000 rows), weekly sessions, monthly PHQ-9/GAD-7/PEG scores and
homework, inserted in bulk through SQL for speed (the report reads the same tables
that the services write). Then runs `telecbt report program --json` as a real
process several times with a session token and records median wall time and peak
RSS. Budget (issue 4): <= 2 s and <= 100 MiB on the reference machine.

    .venv/bin/python scripts/bench_program.py [--patients 1000] [--days 365] [--runs 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "bench passphrase"

SEED = r"""
import json, random, sys, uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent

store, patients, days = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
a = unlock(store, "admin", sys.argv[4])
now = datetime.now(timezone.utc)
dev = a.store.device_id
def iso(m): return m.isoformat(timespec="milliseconds").replace("+00:00", "Z")
ids = []
for i in range(patients):
    p = add_patient(a, PatientFields(display_name=f"Bench {i}", birth_year=1970, language="en"))
    ids.append(p["id"])
conn = a.store.conn
stamp = iso(now)
def sync(n): return (stamp, stamp, dev, f"{n:013d}.00000.{dev}", 0)
n = 0
conn.execute("BEGIN")
for pid in ids:
    rows = []
    for d in range(days, 0, -1):
        n += 1
        rows.append((str(uuid.uuid4()), pid, iso(now - timedelta(days=d, hours=-8)), rng.randint(2, 9), "[]",
                     rng.randint(2, 9), round(rng.uniform(4, 8), 1), rng.randint(3, 8), rng.randint(5, 60),
                     rng.randint(1000, 9000), "[]", "[]", "[]", None, "manual", None, "admin") + sync(n))
    conn.executemany("INSERT INTO diary_entries (id, patient_id, entry_at, pain, locations, mood, sleep_hours, "
                     "sleep_quality, activity_min, steps, triggers, coping, meds, note, source, supersedes, recorded_by, "
                     "created_at, updated_at, device_id, hlc, deleted) VALUES (" + ",".join("?" * 22) + ")", rows)
    for w in range(0, days // 7):
        n += 1
        at = now - timedelta(days=days - 7 * w)
        status = "no_show" if rng.random() < 0.15 else "attended"
        conn.execute("INSERT INTO appointments (id, patient_id, scheduled_at, minutes, mode, module_id, module_version, "
                     "clinician, link, status, recorded_at, recorded_by, notes, feedback, fidelity, created_at, updated_at, "
                     "device_id, hlc, deleted) VALUES (?, ?, ?, 50, 'video', 'cbt-04', '1.0.0', 'admin', NULL, ?, ?, "
                     "'admin', NULL, ?, '[]', ?, ?, ?, ?, ?)",
                     (str(uuid.uuid4()), pid, iso(at), status, iso(at), rng.randint(3, 5) if status == "attended" else None)
                     + sync(n))
        if status == "attended":
            for task in ("practice", "diary"):
                n += 1
                conn.execute("INSERT INTO homework (id, patient_id, module_id, task_id, text, assigned_at, due_date, status, "
                             "done_at, note, created_at, updated_at, device_id, hlc, deleted) VALUES "
                             "(?, ?, 'cbt-04', ?, '{}', ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?)",
                             (str(uuid.uuid4()), pid, task, iso(at), (at + timedelta(days=7)).date().isoformat(),
                              "done" if rng.random() < 0.6 else "assigned") + sync(n))
    for m in range(0, days // 30):
        for inst, top in (("phq9", 27), ("gad7", 21), ("peg3", 10)):
            n += 1
            total = max(0, round(rng.uniform(0.3, 0.7) * top - m * 0.5))
            conn.execute("INSERT INTO measure_responses (id, patient_id, run_id, instrument_id, instrument_version, lang, "
                         "answers, total, band, subscales, responder, prorated, recorded_by, completed_at, created_at, "
                         "updated_at, device_id, hlc, deleted) VALUES (?, ?, 'bench', ?, '1.0.0', 'en', '{}', ?, NULL, '{}', "
                         "NULL, 0, 'admin', ?, ?, ?, ?, ?, ?)",
                         (str(uuid.uuid4()), pid, inst, total, iso(now - timedelta(days=days - 30 * m))) + sync(n))
conn.execute("COMMIT")
print(n)
a.close()
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd[1:])} exited {os.waitstatus_to_exitcode(status)}")
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, rss, out.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    telecbt = str(Path(sys.executable).parent / "telecbt")
    with tempfile.TemporaryDirectory(prefix="telecbt-program-") as tmp:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TELECBT_")},
               "TELECBT_HOME": f"{tmp}/home", "TELECBT_KDF_LOG2N": "10", "TELECBT_STORE": f"{tmp}/store"}
        pp = Path(tmp) / "pp"
        pp.write_text(PASSPHRASE + "\n")
        subprocess.run([telecbt, "init", "--admin", "admin", "--passphrase-file", str(pp), "--json"], env=env,
                       check=True, capture_output=True)
        started = time.perf_counter()
        seeded = subprocess.run([sys.executable, "-c", SEED, f"{tmp}/store", str(opts.patients), str(opts.days), PASSPHRASE],
                                env=env, check=True, capture_output=True, text=True)
        setup_s = time.perf_counter() - started
        token = subprocess.run([telecbt, "unlock", "--passphrase-file", str(pp), "--ttl", "2h"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        env["TELECBT_SESSION"] = token
        cmd = [telecbt, "report", "program", "--json", "--from",
               (datetime.now(timezone.utc).date() - timedelta(days=opts.days)).isoformat()]
        timed(cmd, env)
        samples = [timed(cmd, env) for _ in range(opts.runs)]
        report = json.loads(samples[-1][2])
        size = (Path(tmp) / "store" / "telecbt.db").stat().st_size
    walls, rss = [s[0] for s in samples], [s[1] for s in samples]
    result = {"benchmark": "report-program", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "patients": opts.patients, "days": opts.days, "rows_seeded": int(seeded.stdout.strip().splitlines()[-1]),
              "database_mib": round(size / 2**20, 1), "setup_s": round(setup_s, 1), "runs": opts.runs,
              "median_s": round(statistics.median(walls), 3), "max_s": round(max(walls), 3),
              "peak_rss_mib": round(max(rss), 1), "budget": {"seconds": 2.0, "rss_mib": 100},
              "diary_days_in_report": report["diary"]["days_with_entry"]}
    result["within_budget"] = result["median_s"] <= 2.0 and result["peak_rss_mib"] <= 100
    out = opts.out or ROOT / "bench-results" / f"program-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stderr.write(f"report program: {opts.patients} patients x {opts.days} days ({result['rows_seeded']} rows): "
                     f"median {result['median_s']} s, peak RSS {result['peak_rss_mib']} MiB "
                     f"(budget 2 s, 100 MiB)\nresults: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
