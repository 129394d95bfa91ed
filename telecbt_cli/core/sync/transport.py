"""Putting bundles on disk or a USB stick: temporary name, fsync, rename, fsync the folder, verify."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import IntegrityError, Joined, NotFoundError, Said, StorageError, TelecbtError, UsageError
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


def read_back(path: Path, expected: str) -> None:
    """Read the written file again, a chunk at a time, and compare its SHA-256: USB sticks may
    acknowledge writes they have not made."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb", buffering=0) as check:
            while chunk := check.read(1 << 20):
                digest.update(chunk)
    except OSError as error:
        raise storage_error("read back", path, error) from None
    if digest.hexdigest() != expected:
        raise IntegrityError("{path} does not read back as written: the device may be failing. "
                             "Try again, or use another stick", key="errors.sync_transport.read_back", path=path)


def _estimate(access: Access) -> int:
    """Room a bundle may need: about 200 bytes a change. The highest change number bounds the count
    without reading the whole change log (which would cost time and fill the page cache)."""
    count = access.store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0]
    return MIN_FREE_BYTES + count * 200


def write_bundle(access: Access, dest: Path, recipients: list[str], peer_id: str | None, since_last: bool = True,
                 since: str | None = None, patient_codes: list[str] | None = None, usb: bool = False,
                 passphrase: str | None = None, progress=None, overwrite: bool = False) -> dict:
    """Export to `dest` (a folder or a file name). Never leaves a partial file under the final name,
    and never replaces an existing file unless `overwrite`."""
    if not dest.is_dir() and dest.exists() and not overwrite:
        raise UsageError("{dest} already exists: give another name or a folder, or replace it on purpose (--force)",
                         key="errors.sync_transport.exists", dest=dest)
    if usb and not dest.is_dir():
        raise UsageError("{dest} is not a mounted folder: plug in the stick and give its mount point",
                         key="errors.sync_transport.not_mounted", dest=dest)
    folder = dest if dest.is_dir() else dest.parent
    if not folder.is_dir():
        raise UsageError("folder {folder} does not exist", key="errors.sync_transport.no_folder", folder=folder)
    try:
        free = shutil.disk_usage(folder).free
    except OSError as error:
        raise storage_error("check free space on", folder, error) from None
    if free < _estimate(access):
        raise StorageError("{folder} has only {kib} KiB free: make room (or use another stick) and try again",
                           key="errors.sync_transport.no_room", folder=folder, kib=free // 1024)
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
    read_back(final, writer.digest.hexdigest())
    return {"path": str(final), "bytes": writer.size, "sha256": writer.digest.hexdigest(),
            "bundle_id": manifest["bundle_id"], "changes": manifest["changes"], "counts": manifest["counts"],
            "to_seq": manifest["to_seq"], "verified": True}


BUNDLE_SUFFIXES = (".tcb", ".age", ".tcbp")
#: Bundles of a folder committed together (each still whole or nothing, in its own savepoint): a hub
#: importing a stick of weekly bundles pays one disk flush per group instead of one per bundle.
GROUP = 100


def _folder_entries(folder: Path) -> tuple[list[Path], list[dict]]:
    """Bundle files in `folder`, and results for what was skipped: links (never followed), devices, pipes."""
    files, skipped = [], []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_symlink():
                why = IntegrityError("a symbolic link: not followed", key="errors.bundle_folder.link")
            elif entry.is_dir(follow_symlinks=False):
                continue
            elif not entry.is_file(follow_symlinks=False):
                why = IntegrityError("not a regular file (a device, pipe or socket): not opened",
                                     key="errors.bundle_folder.not_regular")
            elif Path(entry.name).suffix in BUNDLE_SUFFIXES or Path(entry.name).suffix.lower() == ".eml":
                files.append(Path(entry.path))
                continue
            else:
                continue
            skipped.append({"file": entry.name, "ok": False, "skipped": True, "error": str(why),
                            "exit_code": int(IntegrityError.exit_code), "cause": why})
    return files, skipped


def _read_parts(pieces: list[tuple[Path, bool]]) -> tuple[dict[str, bytes], list[dict]]:
    """Email parts are small: read whole, but each size checked with fstat first and the total bounded."""
    from telecbt_cli.core.sync.bundle_read import MAX_BUNDLE_BYTES, Source

    found, problems, total = {}, [], 0
    for piece, follow in pieces:
        try:
            with Source.from_path(piece, follow) as source:
                total += source.size
                if total > MAX_BUNDLE_BYTES:
                    raise IntegrityError("the parts add up to more than {mib} MiB: refusing them",
                                         key="errors.bundle_folder.parts_too_large", mib=MAX_BUNDLE_BYTES // 2**20)
                found[piece.name] = source.handle.read()
        except TelecbtError as error:
            problems.append({"file": piece.name, "ok": False, "error": str(error), "exit_code": int(error.exit_code),
                             "cause": error})
    return found, problems


def _read_mail(mail: list[Path]) -> tuple[list, list[str]]:
    """Bundle attachments of mail files and folders (each whole bundle once), and the messages without one."""
    from telecbt_cli.core.sync import mailfiles

    attachments, without, seen = [], [], set()
    for path in mail:
        found = mailfiles.read_mail(path)
        without += found.without
        for attachment in found.attachments:
            digest = hashlib.sha256(attachment.data).digest()
            if attachment.is_part or digest not in seen:  # a message delivered twice: its bundle once
                seen.add(digest)
                attachments.append(attachment)
    return attachments, without


def import_paths(access: Access, paths: list[Path], dry_run: bool = False,
                 passphrase: str | None = None) -> list[dict]:
    """Import bundle files and folders (whole `.tcb`/`.age` files and email parts `.tcbp`), and mail:
    saved `.eml` files, mbox files and Maildir folders, whose bundle attachments are imported
    (a message without one is reported with `no_bundle: True`, never silently passed over).

    Each bundle is applied whole or not at all; a bad one, an incomplete set of parts, or a
    link, device or pipe in a folder (skipped, never followed) becomes a result with
    `ok: False` and the rest still import. Up to `GROUP` bundles share one commit; if that
    commit fails (a full disk), none of them is imported and the error is raised. Shared by
    every UI.
    """
    from telecbt_cli.core.sync import mailfiles, parts

    files: list[tuple[Path, bool]] = []
    results: list[dict] = []
    mail: list[Path] = []
    for path in paths:
        if mailfiles.is_maildir(path) or (path.is_file() and mailfiles.is_mail_file(path)):
            mail.append(path)
        elif path.is_dir():
            found, skipped = _folder_entries(path)
            files += [(f, False) for f in found]
            results += skipped
        elif path.exists() or path.is_symlink():
            files.append((path, True))  # named by the user: a link is followed, a device or pipe is refused
        else:
            raise UsageError("{path} does not exist", key="errors.bundle_io.no_path", path=str(path))
    mail += [f for f, _ in files if f.suffix.lower() == ".eml"]
    files = [(f, follow) for f, follow in files if f.suffix.lower() != ".eml"]
    attachments, without = _read_mail(mail)
    if not files and not results and not attachments:
        if without:
            raise NotFoundError("no telecbt bundle attached to any of the {count} message(s) in {paths}: nothing "
                                "was imported", key="errors.bundle_io.no_attachment", count=len(without),
                                paths=", ".join(map(str, paths)))
        raise NotFoundError("no bundles (.tcb, .age or .tcbp files) in {paths}: nothing was imported",
                            key="errors.bundle_io.none_found", paths=", ".join(map(str, paths)))
    results += [{"file": origin, "ok": False, "skipped": True, "no_bundle": True, "error": mailfiles.NO_BUNDLE,
                 "note": mailfiles.NO_BUNDLE} for origin in without]
    pieces = [(f, follow) for f, follow in files if f.suffix == ".tcbp"]
    read, unreadable = _read_parts(pieces) if pieces else ({}, [])
    results += unreadable
    read.update({a.name: a.data for a in attachments if a.is_part})
    assembled, problems = parts.assemble(read) if read else ([], [])
    results += [{"file": Said("parts of bundle {bundle}", "cli.bundle_report.parts_of", bundle=str(p.get("bundle_id"))),
                 "ok": False, "error": p["message"], "exit_code": int(IntegrityError.exit_code), "cause": p["cause"]}
                for p in problems]
    # A dry run imports for real, each bundle after the ones before it, and rolls everything back at
    # the end: a bundle that needs an earlier one in the same batch is reported as it would really go.
    sources = [(f.name, lambda f=f, follow=follow: bundles.import_file(access, f, False, passphrase, follow))
               for f, follow in files if f.suffix != ".tcbp"]
    sources += [(Joined([a.origin, a.name], ": "), lambda data=a.data: bundles.import_bundle(access, data, False, passphrase))
                for a in attachments if not a.is_part]
    sources += [(Said("assembled bundle {number}", "cli.bundle_report.assembled", number=n),
                 lambda data=data: bundles.import_bundle(access, data, False, passphrase))
                for n, data in enumerate(assembled, 1)]
    try:
        with access.store.write() if dry_run else contextlib.nullcontext():
            _import_groups(access, sources, results)
            if dry_run:
                raise _RolledBack()
    except _RolledBack:
        for result in results:
            if result.get("ok"):
                result["dry_run"] = True
    return results


class _RolledBack(Exception):
    """Ends a dry run's transaction: everything it imported is rolled back."""


def _import_groups(access: Access, sources: list, results: list[dict]) -> None:
    for start in range(0, len(sources), GROUP):
        with access.store.write():  # one commit for a group of bundles; each bundle is its own savepoint
            for name, run in sources[start:start + GROUP]:
                named = {"file": name}  # a file's name, or core's words for it (`Said`: a UI says them its way)
                try:
                    results.append({**named, "ok": True, **run()})
                except TelecbtError as error:
                    results.append({**named, "ok": False, "error": str(error), "exit_code": int(error.exit_code),
                                    "cause": error})


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
