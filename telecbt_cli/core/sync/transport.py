"""Putting bundles on disk or a USB stick: temporary name, fsync, rename, fsync the folder, verify."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import (
    IntegrityError,
    NotFoundError,
    StorageError,
    UsageError,
)
from telecbt_cli.core.store.fsutil import fsync_dir, storage_error
from telecbt_cli.core.sync import bundles

MIN_FREE_BYTES = 2 * 2**20
SUFFIX = ".tcb"


class _HashingWriter:
    def __init__(self, handle) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def _estimate(access: Access) -> int:
    count = access.store.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    return MIN_FREE_BYTES + count * 200


def write_bundle(access: Access, dest: Path, recipients: list[str], peer_id: str | None, since_last: bool = True,
                 since: str | None = None, patient_codes: list[str] | None = None, usb: bool = False,
                 passphrase: str | None = None, progress=None, overwrite: bool = False) -> dict:
    """Export to `dest` (a folder or a file name). Never leaves a partial file under the final name,
    and never replaces an existing file unless `overwrite`."""
    if not dest.is_dir() and dest.exists() and not overwrite:
        raise UsageError(f"{dest} already exists: give another name or a folder, or replace it on purpose (--force)")
    if usb and not dest.is_dir():
        raise UsageError(f"{dest} is not a mounted folder: plug in the stick and give its mount point")
    folder = dest if dest.is_dir() else dest.parent
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")
    try:
        free = shutil.disk_usage(folder).free
    except OSError as error:
        raise storage_error("check free space on", folder, error) from None
    if free < _estimate(access):
        raise StorageError(f"{folder} has only {free // 1024} KiB free: make room (or use another stick) and try again")
    for stale in folder.glob(".telecbt-*.partial"):  # left by an export killed halfway (encrypted)
        stale.unlink(missing_ok=True)
    tmp = folder / f".telecbt-{os.getpid()}.partial"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            writer = _HashingWriter(handle)
            manifest = bundles.export_bundle(access, writer, recipients, peer_id, since_last, since, patient_codes,
                                             passphrase, progress)
            handle.flush()
            os.fsync(handle.fileno())
        final = dest / f"{manifest['bundle_id']}{SUFFIX}" if dest.is_dir() else dest
        os.replace(tmp, final)
        fsync_dir(folder)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise storage_error("write the bundle to", folder, error) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if True:  # read back and compare: USB sticks may acknowledge writes they have not made
        try:
            with open(final, "rb") as check:
                if hashlib.sha256(check.read()).hexdigest() != writer.digest.hexdigest():
                    raise IntegrityError(f"{final} does not read back as written: the device may be failing. "
                                         "Try again, or use another stick")
        except OSError as error:
            raise storage_error("read back", final, error) from None
    return {"path": str(final), "bytes": writer.size, "sha256": writer.digest.hexdigest(),
            "bundle_id": manifest["bundle_id"], "changes": manifest["changes"], "counts": manifest["counts"],
            "to_seq": manifest["to_seq"], "verified": True}


def import_paths(access: Access, paths: list[Path], dry_run: bool = False,
                 passphrase: str | None = None) -> list[dict]:
    """Import bundle files and folders (whole `.tcb`/`.age` files and email parts `.tcbp`).

    Each bundle is applied whole or not at all; a bad one, or an incomplete set of parts,
    becomes a result with `ok: False` and the rest still import. Shared by every UI.
    """
    from telecbt_cli.core.sync import parts

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".tcb", ".age", ".tcbp"))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    if not files:
        raise NotFoundError(f"no bundles (.tcb, .age or .tcbp files) in {', '.join(map(str, paths))}: "
                            "nothing was imported")
    pieces = [f for f in files if f.suffix == ".tcbp"]
    assembled, problems = parts.assemble({f.name: f.read_bytes() for f in pieces}) if pieces else ([], [])
    results = [{"file": f"parts of bundle {p.get('bundle_id')}", "ok": False, "error": p["message"]}
               for p in problems]
    sources = [(f.name, f.read_bytes) for f in files if f.suffix != ".tcbp"]
    sources += [(f"assembled bundle {n}", (lambda data=data: data)) for n, data in enumerate(assembled, 1)]
    for name, read in sources:
        try:
            results.append({"file": name, "ok": True,
                            **bundles.import_bundle(access, read(), dry_run=dry_run, passphrase=passphrase)})
        except IntegrityError as error:
            results.append({"file": name, "ok": False, "error": str(error)})
    return results


def mail_bundle(access: Access, recipients: list[str], peer_id: str | None, since_last: bool, since: str | None,
                patient_codes: list[str] | None, passphrase: str | None, limit: int, address: str,
                eml_folder: Path | None = None) -> dict:
    """Build an email-sized bundle in memory; queue it in the outbox, or write .eml files to send by hand."""
    import io

    from telecbt_cli.core.sync import mailer

    buffer = io.BytesIO()
    manifest = bundles.export_bundle(access, buffer, recipients, peer_id, since_last, since, patient_codes, passphrase)
    data = buffer.getvalue()
    if eml_folder is None:
        rows = mailer.queue_bundle(access, data, manifest["bundle_id"], address, limit)
    else:
        eml_folder.mkdir(parents=True, exist_ok=True)
        rows = mailer.write_eml(access, data, manifest["bundle_id"], eml_folder, address, limit)
    return {"bundle_id": manifest["bundle_id"], "changes": manifest["changes"], "bytes": len(data),
            "parts": len(rows), "counts": manifest["counts"]}
