"""telecbt as real processes: scripts, passphrase descriptors, kills mid-write, full disks (Ctrl-C at the prompt: test_exit_codes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import (
    ADMIN,
    ADMIN_PASS,
    SENTINEL,
    all_bytes_under,
    fill_disk,
    run_telecbt,
    telecbt_cmd,
)

pytestmark = pytest.mark.slow


def _init(store: Path, pass_file: Path) -> dict:
    result = run_telecbt("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_script_flow_with_a_session_token(tmp_path, pass_file, isolated_home):
    store = tmp_path / "s"
    created = _init(store, pass_file)
    env = {"TELECBT_STORE": str(store)}
    token = run_telecbt("unlock", "--passphrase-file", str(pass_file), env=env)
    assert token.returncode == 0, token.stderr
    env["TELECBT_SESSION"] = token.stdout.strip()
    add = run_telecbt("patient", "add", "--name", f"Ana {SENTINEL}", "--json", env=env)
    assert add.returncode == 0, add.stderr
    listed = run_telecbt("patient", "list", "--json", env=env)
    assert listed.returncode == 0 and listed.stderr == ""
    assert [p["display_name"] for p in json.loads(listed.stdout)] == [f"Ana {SENTINEL}"]
    blob = all_bytes_under(store, isolated_home)
    for secret in (ADMIN_PASS, created["recovery_key"], SENTINEL, env["TELECBT_SESSION"].split(".")[2]):
        assert secret.encode() not in blob


def test_passphrase_from_a_file_descriptor(tmp_path, pass_file):
    store = tmp_path / "s"
    _init(store, pass_file)
    read_end, write_end = os.pipe()
    os.write(write_end, (ADMIN_PASS + "\n").encode())
    os.close(write_end)
    try:
        result = subprocess.run([*telecbt_cmd(), "patient", "list", "--json", "--store", str(store),
                                 "--passphrase-fd", str(read_end)], pass_fds=(read_end,),
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        os.close(read_end)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_without_a_terminal_it_never_waits_for_a_prompt(tmp_path, pass_file):
    store = tmp_path / "s"
    _init(store, pass_file)
    proc = subprocess.run([*telecbt_cmd(), "patient", "list", "--store", str(store)], stdin=subprocess.PIPE,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert "--passphrase-file" in proc.stderr


def test_errors_never_echo_secrets_or_tracebacks(tmp_path, pass_file):
    store = tmp_path / "s"
    _init(store, pass_file)
    wrong = tmp_path / "wrong"
    wrong.write_text("hunter2-wrong-guess\n")
    result = run_telecbt("patient", "list", "--store", str(store), "--passphrase-file", str(wrong))
    assert result.returncode == 3
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def _seed(store: Path, count: int) -> None:
    access = unlock(store, ADMIN, ADMIN_PASS)
    try:
        with access.store.write():
            for i in range(count):
                patients.add_patient(access, patients.PatientFields(display_name=f"Patient {i}", notes="x" * 200))
    finally:
        access.close()


def _count(store: Path, passphrase: str = ADMIN_PASS) -> int:
    access = unlock(store, ADMIN, passphrase)
    try:
        return access.store.conn.execute("SELECT count(*) FROM patients").fetchone()[0]
    finally:
        access.close()


def _kill_after(args: list[str], delay: float) -> int:
    proc = subprocess.Popen([*telecbt_cmd(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def test_kill_9_during_rekey_never_locks_the_store(tmp_path, pass_file):
    store = tmp_path / "s"
    _init(store, pass_file)
    _seed(store, 3000)
    for i in range(14):
        _kill_after(["store", "rekey", "--yes", "--store", str(store), "--passphrase-file", str(pass_file)],
                    0.2 + i * 0.05)
        assert _count(store) == 3000


def test_kill_9_during_a_passphrase_change_leaves_old_or_new(tmp_path, pass_file):
    store = tmp_path / "s"
    _init(store, pass_file)
    new_pass = tmp_path / "new"
    new_pass.write_text("the new passphrase\n")
    current = ADMIN_PASS
    for i in range(10):
        old_file, new_file = (pass_file, new_pass) if current == ADMIN_PASS else (new_pass, pass_file)
        _kill_after(["store", "passwd", "--store", str(store), "--passphrase-file", str(old_file),
                     "--new-passphrase-file", str(new_file)], 0.2 + i * 0.04)
        opened = []
        for candidate in (ADMIN_PASS, "the new passphrase"):
            try:
                _count(store, candidate)
                opened.append(candidate)
            except Exception:
                pass
        assert len(opened) == 1
        current = opened[0]


def test_kill_9_during_init_leaves_no_half_made_store(tmp_path, pass_file):
    for i in range(8):
        store = tmp_path / f"s{i}"
        _kill_after(["init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file)],
                    0.15 + i * 0.05)
        if not store.exists():
            _init(store, pass_file)  # the next attempt succeeds and clears the staging folder
            assert not list(tmp_path.glob(f".s{i}.init-*"))
        assert _count(store) == 0


def test_init_on_a_full_disk_leaves_nothing_behind(small_disk, pass_file):
    fill_disk(small_disk / "filler")
    store = small_disk / "store"
    result = run_telecbt("init", "--store", str(store), "--passphrase-file", str(pass_file))
    assert result.returncode == 1
    assert "full" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_write_on_a_full_disk_fails_cleanly_and_loses_nothing(small_disk, pass_file):
    store = small_disk / "store"
    _init(store, pass_file)
    env = {"TELECBT_STORE": str(store)}
    for i in range(3):
        assert run_telecbt("patient", "add", "--name", f"Before {i}", "--passphrase-file", str(pass_file),
                           env=env).returncode == 0
    filler = small_disk / "filler"
    fill_disk(filler)
    failures = 0
    for i in range(20):
        result = run_telecbt("patient", "add", "--name", f"During {i}", "--notes", "n" * 1500,
                             "--passphrase-file", str(pass_file), env=env)
        if result.returncode != 0:
            failures += 1
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert "full" in result.stderr or "space" in result.stderr, result.stderr
            if failures == 3:  # refused again and again once full: enough to show it
                break
    assert failures
    filler.unlink()
    listed = run_telecbt("patient", "list", "--json", "--passphrase-file", str(pass_file), env=env)
    assert listed.returncode == 0, listed.stderr
    names = [p["display_name"] for p in json.loads(listed.stdout)]
    assert {"Before 0", "Before 1", "Before 2"} <= set(names)
    check = run_telecbt("store", "check", "--passphrase-file", str(pass_file), env=env)
    assert check.returncode == 0, check.stderr


def test_a_read_only_store_refuses_writes_with_a_clear_message(small_disk, pass_file):
    store = small_disk / "store"
    _init(store, pass_file)
    env = {"TELECBT_STORE": str(store)}
    assert run_telecbt("patient", "add", "--name", "Kept", "--passphrase-file", str(pass_file), env=env).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = run_telecbt("patient", "add", "--name", "Refused", "--passphrase-file", str(pass_file), env=env)
    assert result.returncode == 1
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    listed = run_telecbt("patient", "list", "--json", "--passphrase-file", str(pass_file), env=env)
    assert [p["display_name"] for p in json.loads(listed.stdout)] == ["Kept"]


def test_a_second_process_waits_for_a_busy_store(tmp_path, pass_file):
    """The CLI and the TUI share a store: a write blocked for a moment waits, then lands."""
    store = tmp_path / "s"
    _init(store, pass_file)
    holder = unlock(store, ADMIN, ADMIN_PASS)
    try:
        holder.store.conn.execute("BEGIN IMMEDIATE")
        proc = subprocess.Popen([*telecbt_cmd(), "patient", "add", "--name", "Waited", "--store", str(store),
                                 "--passphrase-file", str(pass_file)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting on the lock
        holder.store.conn.execute("COMMIT")
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        holder.close()
    listed = run_telecbt("patient", "list", "--json", "--store", str(store), "--passphrase-file", str(pass_file))
    assert [p["display_name"] for p in json.loads(listed.stdout)] == ["Waited"]
