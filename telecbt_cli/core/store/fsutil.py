"""Crash-safe file writes and where output files go, with POSIX-only calls behind Windows fallbacks."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from telecbt_cli.core.store.errors import StorageError, Term, UsageError

IS_WINDOWS = sys.platform.startswith("win")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable; Windows has no directory fsync."""
    if IS_WINDOWS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restrict_mode(path: Path, mode: int = 0o600) -> None:
    """Owner-only permissions where the platform has them."""
    if not IS_WINDOWS:
        os.chmod(path, mode)


#: What a caller was doing when the disk refused (`storage_error`'s action), and its word key.
_ACTIONS = {"write": "write", "create": "create", "read back": "read_back", "check free space on": "check_space",
            "write the bundle to": "write_bundle", "create the store in": "create_store"}


def storage_error(action: str, path: Path, error: OSError) -> StorageError:
    """Turn an OSError into a message that says what to do."""
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = Term("values.storage_hint.full", "the disk is full: free some space and try again")
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = Term("values.storage_hint.read_only", "the folder is read-only or not yours: choose a writable location")
    elif error.errno in (errno.EIO, errno.ENODEV, errno.ENXIO):
        hint = Term("values.storage_hint.device", "the device failed or was removed: reconnect it and try again")
    else:
        hint = error.strerror or Term("values.storage_hint.refused", "the operating system refused")
    word = _ACTIONS.get(action)
    return StorageError("could not {action} {path}: {hint}", key="errors.storage.could_not",
                        action=Term(f"values.storage_action.{word}", action) if word else action, path=str(path), hint=hint)


def atomic_write(path: Path, data: bytes, mode: int = 0o600, sync_folder: bool = True) -> None:
    """Write via a temporary name, fsync, rename, fsync the folder: all or nothing.

    `sync_folder=False` leaves the rename's own durability to the file system (after a crash
    the old or the new file is there, whole): for records that may lag, such as the anchor."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        restrict_mode(tmp, mode)
        os.replace(tmp, path)
        if sync_folder:
            fsync_dir(path.parent)
    except OSError as error:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise storage_error("write", path, error) from None


def write_problem(folder: Path) -> str | None:
    """Why writes to `folder` fail, if the system can tell: read-only or full."""
    try:
        if not IS_WINDOWS and os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only"
        import shutil

        if shutil.disk_usage(folder).free < 256 * 1024:
            return "full"
    except OSError:
        return None
    return None


def names_folder(text: str) -> bool:
    """Whether an output path given by a user means a folder: it exists as one, or ends in a slash."""
    return text.endswith(("/", os.sep)) or Path(text).expanduser().is_dir()


def output_path(text: str, name: str | None = None, force: bool = False) -> Path:
    """Where a command writes its file, from the path the user gave (e.g. `--out`).

    A folder (existing, or any path ending in a slash, then created) gets the file inside it
    as `name`, or a new name beside an existing file of that name (`name` None: the folder
    itself, for a caller that names the file later). A file name is used as given, but an
    existing file is replaced only with `force`: nothing is overwritten silently."""
    path = Path(text).expanduser()
    if names_folder(text):
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise storage_error("create", path, error) from None
        return path if name is None else _unused(path / name)
    if path.exists() and not force:
        raise UsageError("{path} already exists: give another name (or a folder), or add --force to replace it",
                         key="errors.out.exists", path=str(path))
    return path


def _unused(path: Path) -> Path:
    """`path`, or `stem-2.ext`, `stem-3.ext`, ... if it is taken."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
