"""Benchmark: patient search that ignores case and accents, over thousands of patients.

Builds a store (cheap key derivation) with N patients whose names mix accented and plain
spellings, inserted in bulk through SQL. Then times, in one process on the open store:
the search the CLI and the TUI caseload run (`patients.search_clause`, which calls the
`fold` SQL function on each name and email), the same query with plain `lower() LIKE`
(what the search did before it folded accents, as the baseline), and one caseload page.
Also times `telecbt patient list --search jose --json` as a real process. Medians.

    .venv/bin/python scripts/bench_search.py [--patients 5000] [--runs 15] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "bench passphrase"
FIRST = ["José", "Jose", "María", "Maria", "Ana", "Lucía", "Joseph", "Ángel", "Inés", "Peter", "Zoë", "Renée"]
LAST = ["López", "Lopez", "Núñez", "García", "Pérez", "Smith", "Öztürk", "Dvořák", "Ndlovu", "Ouma"]


def _seed(store: Path, count: int) -> None:
    from telecbt_cli.core.store.ids import new_patient_code
    from telecbt_cli.core.store.unlock import unlock

    rng = random.Random(16)
    access = unlock(store, "admin", PASSPHRASE)
    conn, dev = access.store.conn, access.store.device_id
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = []
    for n in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}"
        rows.append((str(uuid.uuid4()), new_patient_code(), name, 1950 + n % 50, "unknown", "es", f"07{n:08d}",
                     f"p{n}@example.org", "active", stamp, stamp, dev, f"{n:013d}.00000.{dev}", 0))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO patients (id, code, display_name, birth_year, sex, language, phone, email, status, "
                     "created_at, updated_at, device_id, hlc, deleted) VALUES (" + ",".join("?" * 14) + ")", rows)
    conn.execute("COMMIT")
    access.close()


def _median_ms(run, runs: int) -> tuple[float, object]:
    result = run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    telecbt = str(Path(sys.executable).parent / "telecbt")
    with tempfile.TemporaryDirectory(prefix="telecbt-search-") as tmp:
        os.environ.update({"TELECBT_HOME": f"{tmp}/home", "TELECBT_KDF_LOG2N": "10", "TELECBT_STORE": f"{tmp}/store"})
        for name in ("TELECBT_SESSION", "TELECBT_USER", "TELECBT_PASSPHRASE"):
            os.environ.pop(name, None)
        pp = Path(tmp) / "pp"
        pp.write_text(PASSPHRASE + "\n")
        subprocess.run([telecbt, "init", "--admin", "admin", "--passphrase-file", str(pp), "--json"], check=True,
                       capture_output=True)
        _seed(Path(tmp) / "store", opts.patients)

        from telecbt_cli.core.care import caseload
        from telecbt_cli.core.clinical.patients import search_clause
        from telecbt_cli.core.store.unlock import unlock

        access = unlock(Path(tmp) / "store", "admin", PASSPHRASE)
        clause, params = search_clause("jose")
        folded_ms, found = _median_ms(
            lambda: access.store.conn.execute(f"SELECT id FROM patients WHERE deleted = 0 AND {clause}", params).fetchall(),
            opts.runs)
        plain_ms, plain = _median_ms(
            lambda: access.store.conn.execute(
                "SELECT id FROM patients WHERE deleted = 0 AND (lower(display_name) LIKE ? OR lower(code) LIKE ? "
                "OR phone LIKE ? OR lower(email) LIKE ?)", ["%jose%"] * 4).fetchall(), opts.runs)
        page_ms, _ = _median_ms(lambda: caseload.page(access, "lopez"), opts.runs)
        access.close()
        cli_ms, _ = _median_ms(lambda: subprocess.run(
            [telecbt, "patient", "list", "--search", "jose", "--json", "--passphrase-file", str(pp)],
            check=True, capture_output=True), max(3, opts.runs // 3))
    result = {"benchmark": "patient-search", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "patients": opts.patients, "runs": opts.runs,
              "folded_query_ms": folded_ms, "folded_matches": len(found),
              "plain_like_query_ms": plain_ms, "plain_like_matches": len(plain),
              "caseload_page_ms": page_ms, "cli_patient_list_search_ms": cli_ms}
    out = opts.out or ROOT / "bench-results" / f"search-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
