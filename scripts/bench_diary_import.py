"""Benchmark: `telecbt diary import` of a 1 GB Apple Health export.xml, peak memory and MB/s.

Generates (once; cached under bench-results/cache/, git-ignored) an export.xml in the
Health app's layout: a DTD, years of step counts from an iPhone and a Watch, heart rate
with metadata, active energy, distance, exercise minutes and nightly sleep stages. The
generator keeps the expected per-day values (steps: the larger source's sum; exercise:
the sum; sleep: time asleep), and the benchmark checks the import against them.

It then runs `telecbt diary import CODE export.xml --yes --json` as a real process on a
new store (cheap key derivation), for a small file and the full one, and records wall
time, CPU time and peak RSS of that process. Budget (issue 15): peak RSS <= 100 MiB and
>= 20 MB/s on the reference machine; the same peak for both sizes shows constant memory.

    .venv/bin/python scripts/bench_diary_import.py [--size-mb 1024] [--small-mb 64] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench-results" / "cache"
PASSPHRASE = "bench passphrase"
GENERATOR_VERSION = 1
DTD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate value CDATA #REQUIRED>
<!ELEMENT Me EMPTY>
<!ATTLIST Me HKCharacteristicTypeIdentifierBiologicalSex CDATA #REQUIRED>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED value CDATA #IMPLIED sourceName CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED device CDATA #IMPLIED creationDate CDATA #IMPLIED startDate CDATA #REQUIRED
  endDate CDATA #REQUIRED>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry key CDATA #REQUIRED value CDATA #REQUIRED>
]>
<HealthData locale="es_MX">
 <ExportDate value="2026-01-01 09:00:00 -0500"/>
 <Me HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexNotSet"/>
"""
PHONE = ('sourceName="Teléfono de Ana" sourceVersion="17.3" device="&lt;&lt;HKDevice: 0x2836b1e50&gt;, name:iPhone, '
         'manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,7, software:17.3&gt;"')
WATCH = ('sourceName="Reloj de Ana" sourceVersion="10.3" device="&lt;&lt;HKDevice: 0x2836b2a80&gt;, name:Apple Watch, '
         'manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:10.3&gt;"')


def _stamp(day: date, minute: int, offset: str) -> str:
    return f"{day.isoformat()} {minute // 60:02d}:{minute % 60:02d}:00 {offset}"


def _day_records(day: date, rng: random.Random) -> tuple[list[str], dict]:
    """One day's records (in file order) and the values expected from them."""
    off = "-0400" if 3 <= day.month <= 10 else "-0500"
    out: list[str] = []
    sums = {"phone": 0, "watch": 0}
    for source, attrs, count in (("phone", PHONE, 60), ("watch", WATCH, 100)):
        for i in range(count):
            minute = 360 + i * (960 // count)
            value = rng.randint(5, 120)
            sums[source] += value
            s, e = _stamp(day, minute, off), _stamp(day, minute + 5, off)
            out.append(f' <Record type="HKQuantityTypeIdentifierStepCount" {attrs} unit="count" creationDate="{e}" '
                       f'startDate="{s}" endDate="{e}" value="{value}"/>\n')
    for i in range(300):
        s = _stamp(day, i * 4, off)
        meta = '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n' if i % 4 == 0 else ""
        close = f">\n{meta} </Record>\n" if meta else "/>\n"
        out.append(f' <Record type="HKQuantityTypeIdentifierHeartRate" {WATCH} unit="count/min" creationDate="{s}" '
                   f'startDate="{s}" endDate="{s}" value="{rng.randint(55, 130)}"{close}')
    for kind, unit, count in (("ActiveEnergyBurned", "Cal", 300), ("DistanceWalkingRunning", "km", 150)):
        for i in range(count):
            s, e = _stamp(day, i * (1440 // count), off), _stamp(day, i * (1440 // count) + 1, off)
            out.append(f' <Record type="HKQuantityTypeIdentifier{kind}" {WATCH} unit="{unit}" creationDate="{e}" '
                       f'startDate="{s}" endDate="{e}" value="{rng.uniform(0.01, 2):.3f}"/>\n')
    exercise = 0
    for i in range(30):
        s, e = _stamp(day, 420 + i, off), _stamp(day, 421 + i, off)
        exercise += 1
        out.append(f' <Record type="HKQuantityTypeIdentifierAppleExerciseTime" {WATCH} unit="min" creationDate="{e}" '
                   f'startDate="{s}" endDate="{e}" value="1"/>\n')
    asleep_min = 0
    minute = 30  # a night that ends on this day: stages from 00:30, after an hour in bed from 23:30 the day before
    before = day - timedelta(days=1)
    out.append(f' <Record type="HKCategoryTypeIdentifierSleepAnalysis" {WATCH} creationDate="{_stamp(day, 420, off)}" '
               f'startDate="{_stamp(before, 1410, off)}" endDate="{_stamp(day, 420, off)}" '
               'value="HKCategoryValueSleepAnalysisInBed"/>\n')
    for stage in ("Core", "Deep", "REM", "Core", "Awake", "Core", "REM", "Core"):
        length = rng.randint(20, 60)
        if stage != "Awake":
            asleep_min += length
        out.append(f' <Record type="HKCategoryTypeIdentifierSleepAnalysis" {WATCH} creationDate="{_stamp(day, 420, off)}" '
                   f'startDate="{_stamp(day, minute, off)}" endDate="{_stamp(day, minute + length, off)}" '
                   f'value="HKCategoryValueSleepAnalysis{"Awake" if stage == "Awake" else "Asleep" + stage}"/>\n')
        minute += length
    return out, {"steps": max(sums.values()), "activity_min": exercise, "sleep_hours": round(asleep_min / 60, 2)}


def generate(size_mb: int) -> tuple[Path, Path]:
    """The cached export.xml of about `size_mb` MB and its expected values (made once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"apple-export-v{GENERATOR_VERSION}-{size_mb}mb.xml"
    expected = path.with_suffix(".expected.json")
    if path.exists() and expected.exists():
        return path, expected
    rng = random.Random(size_mb)
    values: dict[str, dict] = {}
    target = size_mb * 1_000_000
    day = date(2016, 1, 1)
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        out.write(DTD)
        while out.tell() < target:
            records, values[day.isoformat()] = _day_records(day, rng)
            out.write("".join(records))
            day += timedelta(days=1)
        out.write("</HealthData>\n")
    expected.write_text(json.dumps(values))
    partial.rename(path)
    return path, expected


def _run(cmd: list[str], env: dict) -> tuple[float, float, float, str]:
    """(wall s, cpu s, peak RSS MiB, stdout) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd[1:3])} exited {os.waitstatus_to_exitcode(status)}")
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, usage.ru_utime + usage.ru_stime, rss, out.decode()


def measure(xml: Path, expected: Path) -> dict:
    """Import `xml` into a new store; timings, memory, and whether every day matches what was generated."""
    telecbt = str(Path(sys.executable).parent / "telecbt")
    with tempfile.TemporaryDirectory(prefix="telecbt-diary-import-") as tmp:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TELECBT_")},
               "TELECBT_HOME": f"{tmp}/home", "TELECBT_KDF_LOG2N": "10", "TELECBT_STORE": f"{tmp}/store",
               "TELECBT_PASSPHRASE": PASSPHRASE}
        pp = Path(tmp) / "pp"
        pp.write_text(PASSPHRASE + "\n")
        subprocess.run([telecbt, "init", "--admin", "admin", "--passphrase-file", str(pp)], env=env, check=True,
                       capture_output=True)
        code = json.loads(subprocess.run([telecbt, "patient", "add", "--name", "Bench", "--json"], env=env,
                                         check=True, capture_output=True, text=True).stdout)["code"]
        subprocess.run([telecbt, "patient", "consent", code, "--method", "verbal", "--version", "v1"], env=env,
                       check=True, capture_output=True)
        wall, cpu, rss, out = _run([telecbt, "diary", "import", code, str(xml), "--yes", "--json"], env)
        report = json.loads(out)
        listed = json.loads(subprocess.run([telecbt, "diary", "list", code, "--json"], env=env, check=True,
                                           capture_output=True, text=True).stdout)
    want = json.loads(expected.read_text())
    got = {e["entry_at"][:10]: {k: e[k] for k in ("steps", "activity_min", "sleep_hours")} for e in listed}
    size_mb = xml.stat().st_size / 1_000_000
    return {"file_mb": round(size_mb, 1), "records": report["rows_read"], "days": report["days"],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "mb_per_s": round(size_mb / wall, 1),
            "mb_per_cpu_s": round(size_mb / cpu, 1), "peak_rss_mib": round(rss, 1),
            "values_match": got == want, "load_average_1min": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the big export (MB, 10^6 bytes)")
    parser.add_argument("--small-mb", type=int, default=64, help="size of the small export, to compare memory")
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    started = time.perf_counter()
    files = [generate(opts.small_mb), generate(opts.size_mb)]
    generate_s = time.perf_counter() - started
    small, big = (measure(xml, expected) for xml, expected in files)
    result = {"benchmark": "diary-import-apple-xml", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "generate_s": round(generate_s, 1), "small": small, "big": big,
              "budget": {"peak_rss_mib": 100, "mb_per_s": 20}}
    result["within_budget"] = big["peak_rss_mib"] <= 100 and big["mb_per_s"] >= 20 and big["values_match"]
    out = opts.out or ROOT / "bench-results" / f"diary-import-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, run in (("small", small), ("big", big)):
        sys.stderr.write(f"{name}: {run['file_mb']} MB, {run['records']:,} records, {run['days']} days: "
                         f"{run['wall_s']} s ({run['mb_per_s']} MB/s wall, {run['mb_per_cpu_s']} MB/s CPU), "
                         f"peak RSS {run['peak_rss_mib']} MiB, values match: {run['values_match']}\n")
    sys.stderr.write(f"budget: <= 100 MiB, >= 20 MB/s; within budget: {result['within_budget']}\nresults: {out}\n")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
