"""What the audit anchor in the key file costs (issue 14 point 4), one JSON result per run.

1. one audited write (a transaction with one audit entry, synchronous=FULL), median of N;
2. one anchor write (`anchor.flush`: both key-file copies, each fsynced and renamed), median of N;
3. a session of N audited writes in one process: how many anchor writes it made (one when it
   closes, one more per 30 s), and its time with the closing flush against without it.

    .venv/bin/python scripts/bench_anchor.py [--writes 200] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="telecbt-anchor-", dir=os.environ.get("BENCH_DIR")))
    os.environ["TELECBT_HOME"] = str(root / "home")
    from telecbt_cli.core.store import anchor, audit, keyfile
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import create_store

    try:
        access = create_store(root / "store", "admin", "bench passphrase for anchors", KdfParams(10)).access
        store = access.store
        writes, flushes = [], []
        for n in range(opts.writes):
            start = time.perf_counter()
            audit.append(store, "admin", "bench.write", detail={"n": n})
            writes.append(time.perf_counter() - start)
            if n % 4 == 0:
                start = time.perf_counter()
                anchor.flush(store)
                flushes.append(time.perf_counter() - start)
        store.anchor_due, store.anchor_at = False, time.monotonic()
        saves = []
        real_save = keyfile.save

        def counting_save(*args, **kwargs):
            saves.append(1)
            return real_save(*args, **kwargs)

        keyfile.save = counting_save
        start = time.perf_counter()
        for n in range(opts.writes):
            audit.append(store, "admin", "bench.session", detail={"n": n})
        session = time.perf_counter() - start
        start = time.perf_counter()
        store.flush_anchor()  # what closing adds: the one anchor write of the session
        closing = time.perf_counter() - start
        access.close()
        keyfile.save = real_save
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_ms, flush_ms = statistics.median(writes) * 1000, statistics.median(flushes) * 1000
    result = {
        "benchmark": "anchor", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "audited_write_median_ms": round(write_ms, 3), "anchor_write_median_ms": round(flush_ms, 3),
        "anchor_write_vs_audited_write": round(flush_ms / write_ms, 2),
        "session": {"writes": opts.writes, "seconds": round(session, 3), "anchor_writes": len(saves),
                    "closing_flush_ms": round(closing * 1000, 3),
                    "added_fraction": round(closing / session, 4)},
    }
    out = opts.out or ROOT / "bench-results" / f"anchor-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stderr.write(f"audited write {write_ms:.2f} ms, anchor write {flush_ms:.2f} ms; a session of "
                     f"{opts.writes} writes made {len(saves)} anchor write(s), +{closing * 1000:.1f} ms "
                     f"on {session:.2f} s\nresults: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
