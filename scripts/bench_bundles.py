"""Benchmarks for sync bundles (issue 5 budgets), one JSON result per run.

1. size: a one-week incremental bundle for one patient (7 diary entries, a PEG, a PHQ-9,
   one session booked with its reminder, one message) must be <= 1,500 bytes on disk (format 2;
   format 1 is measured beside it), with the bytes each table adds.
2. export: N patients x 365 days of diary rows exported to one signed, encrypted bundle,
   against the shell pipeline `sqlite3 plain.db "SELECT json_object(...)" | zstd -3 |
   age -r …` over a plain SQLite copy of the same rows, in the same run; telecbt must
   take <= 1.5x the pipeline. Peak RSS is measured at two sizes (--small and --patients)
   to show memory stays flat (budget: <= 100 MiB, and <= 1.2x from 1x to 10x data).
3. import: 1,000 small bundles imported in one `bundle import FOLDER` in <= 10 s.

    .venv/bin/python scripts/bench_bundles.py [--patients 1000] [--small 100] [--bundles 1000] [--out PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASS = "bench passphrase"


def _cli() -> str:
    return str(Path(sys.executable).parent / "telecbt")


def _timed(cmd: list[str] | str, env: dict, shell: bool = False) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {cmd if shell else ' '.join(cmd[:4])} failed: {proc.stderr.read().decode()[-300:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def _site(root: Path, name: str):
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import create_store

    return create_store(root / name, "admin", PASS, KdfParams(10)).access


def size_case(root: Path) -> dict:
    """One patient-week (7 diary entries, a PEG, a PHQ-9, one session booked, one message) as a bundle
    to the hub, in format 2 (budget 1,500 bytes) and format 1, with the bytes each table costs."""
    from telecbt_cli.content.catalog import load
    from telecbt_cli.core.care import appointments, diary, messages
    from telecbt_cli.core.clinical import engine, patients
    from telecbt_cli.core.sync import bundles, devices

    catalog = load()
    field, hub = _site(root, "size-field"), _site(root, "size-hub")
    devices.trust(field, devices.identity(hub)["card"], "hub", "hub")
    devices.trust(hub, devices.identity(field)["card"], "field", "field")
    p = patients.add_patient(field, patients.PatientFields(display_name="Week Patient", language="en"))
    patients.record_consent(field, p["code"], "verbal", "v1")
    for sender, receiver in ((field, hub), (hub, field)):  # first sync and its acknowledgement
        out = io.BytesIO()
        bundles.export_bundle(sender, out, [devices.identity(receiver)["recipient"]], receiver.store.device_id)
        bundles.import_bundle(receiver, out.getvalue())
    now = datetime.now(timezone.utc)
    for d in range(7):
        diary.add_entry(field, p["code"], {"pain": 3 + d % 4, "mood": 6, "sleep_hours": 6.5, "note": "walked",
                                           "entry_at": (now - timedelta(days=d, hours=2)).isoformat()})
    engine.run_all(field, p["code"], catalog.get("instrument", "peg3"), "en",
                   {"peg3_pain": 5, "peg3_enjoyment": 4, "peg3_activity": 6})
    engine.run_all(field, p["code"], catalog.get("instrument", "phq9"), "en",
                   {f"phq9_{n}": 1 for n in range(1, 10)} | {"phq9_9": 0})
    appointments.schedule(field, catalog, p["code"], (now + timedelta(days=2)).isoformat(), "video", "cbt-04")
    messages.send(field, p["code"], "See you on Tuesday at ten.")
    result = {}
    for version in (2, 1):
        out = io.BytesIO()
        manifest = bundles.export_bundle(field, out, [devices.identity(hub)["recipient"]], hub.store.device_id,
                                         version=version)
        raw = out.getvalue()
        result[f"v{version}"] = {"bytes": len(raw), "counts": manifest["counts"],
                                 "bytes_per_table": _bytes_per_table(raw, devices.age_identity(hub))}
    for access in (field, hub):
        access.close()
    result.update({"bytes": result["v2"]["bytes"], "budget_bytes": 1500,
                   "within_budget": result["v2"]["bytes"] <= 1500})
    return result


def _bytes_per_table(raw: bytes, identity) -> dict[str, int]:
    """What each table's lines add to the compressed size (compressed line by line, in order), plus the
    header, the manifest and age's own envelope; the parts add up to the file's size."""
    import pyrage
    import zstandard

    from telecbt_cli.core.sync import bundle_dict

    compressed = pyrage.decrypt(raw, [identity])
    dict_id = zstandard.get_frame_parameters(compressed).dict_id
    dictionary = bundle_dict.dictionary() if dict_id else None
    lines = zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj().decompress(compressed).split(b"\n")[:-1]
    params = zstandard.ZstdCompressionParameters.from_level(19, write_dict_id=True)
    parts: dict[str, int] = {"age envelope": len(raw) - len(compressed)}
    done = len(zstandard.ZstdCompressor(compression_params=params, dict_data=dictionary).compress(b""))
    parts["zstd frame"] = done
    for n, line in enumerate(lines, 1):
        obj = json.loads(line)
        name = "header" if "header" in obj else "manifest" if "manifest" in obj else obj["change"]["table"]
        size = len(zstandard.ZstdCompressor(compression_params=params, dict_data=dictionary)
                   .compress(b"\n".join(lines[:n]) + b"\n"))
        parts[name] = parts.get(name, 0) + size - done
        done = size
    parts["zstd frame"] += len(compressed) - done  # the streamed frame against the one-shot estimate
    return parts


def _seed(store: Path, patients: int, env: dict) -> None:
    seed = (ROOT / "scripts" / "bench_program.py").read_text().split('SEED = r"""')[1].split('"""')[0]
    subprocess.run([sys.executable, "-c", seed, str(store), str(patients), "365", PASS], env=env, check=True,
                   capture_output=True)


def export_case(root: Path, patients: int, env: dict) -> dict:
    import pyrage

    store = root / f"export-{patients}"
    subprocess.run([_cli(), "init", "--store", str(store), "--admin", "admin", "--passphrase-file", str(root / "pp"),
                    "--json"], env=env, check=True, capture_output=True)
    _seed(store, patients, env)
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    plain = root / f"plain-{patients}.db"
    # The bulk seed writes rows directly; give them change-log entries as the services would.
    log = ("INSERT INTO change_log (change_id, table_name, row_id, op, hlc, device_id, at, data) "
           "SELECT 'diary_entries:' || id || ':' || hlc, 'diary_entries', id, 'insert', hlc, device_id, updated_at, "
           "json_object('id', id, 'patient_id', patient_id, 'entry_at', entry_at, 'pain', pain, 'locations', locations, "
           "'mood', mood, 'sleep_hours', sleep_hours, 'sleep_quality', sleep_quality, 'activity_min', activity_min, "
           "'steps', steps, 'triggers', triggers, 'coping', coping, 'meds', meds, 'note', note, 'source', source, "
           "'supersedes', supersedes, 'recorded_by', recorded_by, 'created_at', created_at, 'updated_at', updated_at, "
           "'device_id', device_id, 'hlc', hlc, 'deleted', deleted) FROM diary_entries")
    dump = (f"import sys; from pathlib import Path; from telecbt_cli.core.store.unlock import unlock; "
            f"a = unlock(Path({str(store)!r}), 'admin', {PASS!r}); "
            f"a.store.conn.execute({log!r}); "
            f"a.store.conn.execute(\"ATTACH DATABASE {str(plain)!r} AS plain KEY ''\"); "
            f"a.store.conn.execute('SELECT sqlcipher_export(\\'plain\\')'); a.close()")
    subprocess.run([sys.executable, "-c", dump], env=env, check=True, capture_output=True)
    query = ("SELECT json_object('change_id', change_id, 'table', table_name, 'op', op, 'base_hlc', base_hlc, "
             "'data', json(data)) FROM change_log")
    pipeline = f"sqlite3 {plain} \"{query}\" | zstd -3 -q -c | age -r {recipient} > {root}/pipeline.age"
    out = root / f"bundle-{patients}.tcb"
    cmd = [_cli(), "bundle", "export", "--to", recipient, "--all", "--out", str(out), "--store", str(store)]
    runs = {"pipeline": [], "telecbt": []}
    for _ in range(3):
        runs["pipeline"].append(_timed(pipeline, env, shell=True))
        runs["telecbt"].append(_timed(cmd, {**env, "TELECBT_PASSPHRASE": PASS}))
    best = {k: min(v, key=lambda r: r[0]) for k, v in runs.items()}
    rows = int(subprocess.run(["sqlite3", str(plain), "SELECT count(*) FROM diary_entries"], capture_output=True,
                              text=True, check=True).stdout)
    return {"patients": patients, "diary_rows": rows, "bundle_bytes": out.stat().st_size,
            "telecbt_s": round(best["telecbt"][0], 3), "pipeline_s": round(best["pipeline"][0], 3),
            "ratio": round(best["telecbt"][0] / best["pipeline"][0], 3), "telecbt_peak_rss_mib": round(best["telecbt"][1], 1)}


def import_case(root: Path, count: int, env: dict) -> dict:
    from telecbt_cli.core.care import diary
    from telecbt_cli.core.clinical import patients
    from telecbt_cli.core.sync import bundles, devices

    field, hub = _site(root, "many-field"), _site(root, "many-hub")
    devices.trust(field, devices.identity(hub)["card"], "hub", "hub")
    devices.trust(hub, devices.identity(field)["card"], "field", "field")
    p = patients.add_patient(field, patients.PatientFields(display_name="Many", language="en"))
    patients.record_consent(field, p["code"], "verbal", "v1")
    folder = root / "many"
    folder.mkdir()
    recipient = devices.identity(hub)["recipient"]
    for n in range(count):
        diary.add_entry(field, p["code"], {"pain": n % 11})
        with open(folder / f"{n:05d}.tcb", "wb") as out:
            bundles.export_bundle(field, out, [recipient], None, since_last=False,
                                  since=(datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat())
    hub_dir = hub.store.dir
    field.close()
    hub.close()
    wall, rss = _timed([_cli(), "bundle", "import", str(folder), "--store", str(hub_dir)], {**env, "TELECBT_PASSPHRASE": PASS})
    return {"bundles": count, "seconds": round(wall, 2), "peak_rss_mib": round(rss, 1), "budget_s": 10,
            "within_budget": wall <= 10}


def _write(result: dict, out: Path | None) -> int:
    out = out or ROOT / "bench-results" / f"bundles-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    size = result["size"]
    sys.stderr.write(f"one-week bundle: {size['bytes']} bytes (budget 1500; format 1: {size['v1']['bytes']})\n"
                     f"bytes per table: {size['v2']['bytes_per_table']}\nresults: {out}\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--size-only", action="store_true", help="only the one-week bundle size")
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="telecbt-bundles-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TELECBT_")},
           "TELECBT_HOME": str(root / "home"), "TELECBT_KDF_LOG2N": "10"}
    os.environ.update(env)
    (root / "pp").write_text(PASS + "\n")
    try:
        result = {"benchmark": "bundles", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "size": size_case(root)}
        if opts.size_only:
            return _write(result, opts.out)
        result |= {"import": import_case(root, opts.bundles, env),
                  "export_small": export_case(root, opts.small, env), "export": export_case(root, opts.patients, env)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    big, small = result["export"], result["export_small"]
    result["export"]["within_budget"] = big["ratio"] <= 1.5 and big["telecbt_peak_rss_mib"] <= 100
    result["memory_growth"] = round(big["telecbt_peak_rss_mib"] / small["telecbt_peak_rss_mib"], 3)
    _write(result, opts.out)
    sys.stderr.write(
        f"import {result['import']['bundles']} bundles: {result['import']['seconds']} s (budget 10)\n"
        f"export {big['diary_rows']} diary rows: telecbt {big['telecbt_s']} s vs pipeline {big['pipeline_s']} s "
        f"= {big['ratio']}x (budget 1.5x); peak RSS {big['telecbt_peak_rss_mib']} MiB at {big['patients']} patients, "
        f"{small['telecbt_peak_rss_mib']} MiB at {small['patients']} ({result['memory_growth']}x)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
