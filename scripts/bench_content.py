"""Benchmark: what loading clinical content adds to one command.

Each sample is a fresh interpreter that first imports the CLI (as every command has),
then times importing the catalog module and `load()`: once with an empty cache (parse and validate every TOML file, then
write the cache) and once with the cache in place (the normal case). The budget in
issue 3 is <= 30 ms added per command. Writes JSON to bench-results/.

    .venv/bin/python scripts/bench_content.py [--runs 15] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import time
import telecbt_cli.cli  # what every command has imported before it reads content
t0 = time.perf_counter()
from telecbt_cli.content import catalog
t1 = time.perf_counter()
built = catalog.load()
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, len(built.entries["module"]), len(built.entries["instrument"]))
"""


def sample(home: Path, cold: bool) -> tuple[float, float]:
    if cold:
        for cached in (home / "state" / "content-cache").glob("*.json"):
            cached.unlink()
    env = {**os.environ, "TELECBT_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    import_ms, load_ms, _, _ = out.stdout.split()
    return float(import_ms), float(load_ms)


def summary(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 2), "min_ms": round(min(values), 2),
            "samples_ms": [round(v, 2) for v in values]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="telecbt-content-") as tmp:
        home = Path(tmp)
        sample(home, cold=True)  # warm the OS file cache and bytecode
        cold = [sample(home, cold=True) for _ in range(opts.runs)]
        warm = [sample(home, cold=False) for _ in range(opts.runs)]
    result = {
        "benchmark": "content-load", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": opts.runs, "budget_ms": 30,
        "import_catalog": summary([c[0] for c in warm]),
        "load_cached": summary([w[1] for w in warm]),
        "load_uncached": summary([c[1] for c in cold]),
        "added_per_command_ms": round(statistics.median([w[0] + w[1] for w in warm]), 2),
    }
    result["within_budget"] = result["added_per_command_ms"] <= 30
    out = opts.out or ROOT / "bench-results" / f"content-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stderr.write(f"content load: import {result['import_catalog']['median_ms']} ms, cached load "
                     f"{result['load_cached']['median_ms']} ms, uncached {result['load_uncached']['median_ms']} ms; "
                     f"added per command {result['added_per_command_ms']} ms (budget 30)\nresults: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
