"""Crash-safe file writes, with the POSIX-only calls kept behind Windows fallbacks."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from telecbt_cli.core.store.errors import StorageError

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


def storage_error(action: str, path: Path, error: OSError) -> StorageError:
    """Turn an OSError into a message that says what to do."""
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = "the disk is full: free some space and try again"
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "the folder is read-only or not yours: choose a writable location"
    elif error.errno in (errno.EIO, errno.ENODEV, errno.ENXIO):
        hint = "the device failed or was removed: reconnect it and try again"
    else:
        hint = error.strerror or "the operating system refused"
    return StorageError(f"could not {action} {path}: {hint}")


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temporary name, fsync, rename, fsync the folder: all or nothing."""
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
