"""Train the zstd dictionary that format-2 bundles are compressed with, from synthetic demo data.

The samples are the lines of a real bundle exported from a demo store (synthetic patients with
diaries, questionnaires, sessions and messages, made by `telecbt demo`'s seeding), so the
dictionary holds the shape of change lines and no real person's data. The dictionary id is
fixed (`bundle_dict.DICT_ID`): a retrained dictionary must get a new id and a new format
version, or bundles made with the old one could not be read.

    .venv/bin/python scripts/train_bundle_dict.py [--patients 40] [--size 32768] [--out PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sample_lines(root: Path, patients: int) -> list[bytes]:
    """The lines of version-1 bundles from a demo store to a hub, shuffled with a fixed seed.

    One full bundle gives the change lines; one bundle per patient adds as many header and
    manifest lines, so the dictionary also knows their shape."""
    import pyrage
    import zstandard

    from telecbt_cli.content.catalog import load
    from telecbt_cli.core.care.demo import open_demo
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import create_store
    from telecbt_cli.core.sync import bundles, devices

    demo = open_demo(root / "demo", patients, KdfParams(10), catalog=load())
    hub = create_store(root / "hub", "admin", "hub passphrase for training", KdfParams(10)).access
    devices.trust(demo.access, devices.identity(hub)["card"], "hub", "hub")
    recipient = devices.identity(hub)["recipient"]
    identity = devices.age_identity(hub)
    codes = [row[0] for row in demo.access.store.conn.execute("SELECT code FROM patients ORDER BY code")]
    raws = []
    try:
        for selection in [None, *([code] for code in codes)]:
            out = io.BytesIO()
            bundles.export_bundle(demo.access, out, [recipient], hub.store.device_id, since_last=False,
                                  patient_codes=selection, version=1)
            raws.append(out.getvalue())
    finally:
        demo.access.close()
        hub.close()
    lines = []
    for raw in raws:
        plain = zstandard.ZstdDecompressor().decompressobj().decompress(pyrage.decrypt(raw, [identity]))
        lines += [line + b"\n" for line in plain.split(b"\n") if line]
    random.Random(14).shuffle(lines)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--size", type=int, default=32 * 1024, help="dictionary size in bytes")
    parser.add_argument("--out", type=Path, default=ROOT / "telecbt_cli" / "core" / "sync" / "bundle.dict")
    opts = parser.parse_args()
    import zstandard

    from telecbt_cli.core.sync.bundle_dict import DICT_ID

    root = Path(tempfile.mkdtemp(prefix="telecbt-dict-"))
    os.environ["TELECBT_HOME"] = str(root / "home")
    try:
        samples = sample_lines(root, opts.patients)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    trained = zstandard.train_dictionary(opts.size, samples, dict_id=DICT_ID, level=19, threads=0)
    opts.out.write_bytes(trained.as_bytes())
    sys.stderr.write(f"trained on {len(samples)} lines ({sum(map(len, samples))} bytes): "
                     f"{len(trained.as_bytes())} bytes, id {trained.dict_id()} -> {opts.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
