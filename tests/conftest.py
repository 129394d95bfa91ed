"""Shared fixtures: every test gets its own telecbt home and cheap key derivation."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ADMIN = "alice"
ADMIN_PASS = "admin passphrase 1"
SENTINEL = "ZEBRA-SENTINEL-7731"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the real home: TELECBT_HOME points into tmp, scrypt is cheap."""
    home = tmp_path / "home"
    for name in ("TELECBT_STORE", "TELECBT_SESSION", "TELECBT_PASSPHRASE", "TELECBT_USER",
                 "TELECBT_NEW_PASSPHRASE", "TELECBT_RECOVERY_KEY", "TELECBT_DEBUG",
                 "TELECBT_CONTENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELECBT_HOME", str(home))
    monkeypatch.setenv("TELECBT_KDF_LOG2N", "10")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def created(store_dir: Path):
    """A new store with admin alice, created through core; yields (Created) and closes it."""
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import create_store

    result = create_store(store_dir, ADMIN, ADMIN_PASS, KdfParams(10))
    yield result
    result.access.close()


@pytest.fixture
def admin(created):
    return created.access


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin.pass"
    path.write_text(ADMIN_PASS + "\n")
    return path


def telecbt_cmd() -> list[str]:
    script = Path(sys.executable).parent / "telecbt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "telecbt_cli"]


def run_telecbt(*args: str, env: dict | None = None, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
    """telecbt as a real subprocess, with stdin not a terminal."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*telecbt_cmd(), *args], input=input if input is not None else "", capture_output=True,
        text=True, env=full_env, timeout=timeout,
    )


def all_bytes_under(*folders: Path) -> bytes:
    """Every file's bytes under the folders (to search for leaked secrets)."""
    chunks = []
    for folder in folders:
        if folder.exists():
            for path in folder.rglob("*"):
                if path.is_file():
                    chunks.append(path.read_bytes())
    return b"\n".join(chunks)


def read_until(fd: int, needle: bytes, timeout: float = 20) -> bytes:
    """What a pty printed until `needle` appeared (or `timeout` passed)."""
    seen = b""
    deadline = time.time() + timeout
    while needle not in seen and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def wait_exit(pid: int, fd: int, timeout: float = 30) -> tuple[int, bytes]:
    """The exit code of a child on a pty and what it printed meanwhile. The pty is read while
    waiting: a child restoring its terminal (getpass does, with TCSAFLUSH) waits for its output to
    be read, so a parent that only waits can hang with it. Past `timeout` the child is killed and
    the test fails with what it printed."""
    seen = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), seen
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                pass
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"the child did not exit within {timeout} s; it printed: {seen[-600:]!r}")


@pytest.fixture(scope="session")
def medplum():
    """Medplum's FHIR router on loopback, started once per test session (skipped only without npm)."""
    from tests.core.sync import medplum as server

    reason = server.install()
    if reason:
        pytest.skip(reason)
    running = server.start()
    yield running
    running.stop()


def fill_disk(path: Path) -> None:
    """Write zeros until the filesystem refuses."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real tiny filesystem (tmpfs, 4 MiB); needs root, as CI has."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
