"""Issue 12 point 9: guessing is slow (a growing, persistent delay per user name) and weak passphrases are refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from telecbt_cli.core.store import audit, throttle
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import AuthError, UsageError, WrongPassphrase
from telecbt_cli.core.store.paths import signin_delays_file
from telecbt_cli.core.store.unlock import check_passphrase, unlock
from telecbt_cli.core.store.users import add_user
from tests.conftest import ADMIN, ADMIN_PASS, run_telecbt

WEAK = ("aaaaaaaaaaaa", "password1234", "Password123!", "12345678901", "qwertyuiop", "alice alice alice")


def _about(waits: list[float], delays: list[float]) -> bool:
    """The waits are these delays, less the moments that passed since each failure."""
    return len(waits) == len(delays) and all(d - 1 < w <= d for w, d in zip(waits, delays))


def _fail(store_dir, user, waits: list[float]) -> None:
    with pytest.raises(AuthError):
        unlock(store_dir, user, "not the passphrase", wait=waits.append)


def test_failed_sign_ins_grow_a_delay_per_user_name_that_a_success_ends(created, store_dir):
    """Guards the attack: no delay grew between failed staff sign-ins."""
    add_user(created.access, "bob", "chw", "bob passphrase xyz", KdfParams(10))
    created.access.close()
    waits: list[float] = []
    for _ in range(throttle.FREE_TRIES):
        _fail(store_dir, ADMIN, waits)
    assert waits == []  # a few typing mistakes cost nothing
    for _ in range(3):
        _fail(store_dir, ADMIN, waits)
    assert _about(waits, [2, 4, 8])  # each further try waits twice as long
    bob: list[float] = []
    unlock(store_dir, "bob", "bob passphrase xyz", wait=bob.append).close()
    assert bob == []  # another user name is not slowed
    right: list[float] = []
    unlock(store_dir, ADMIN, ADMIN_PASS, wait=right.append).close()
    assert _about(right, [16])  # even the right passphrase waits its turn...
    after: list[float] = []
    _fail(store_dir, ADMIN, after)
    assert after == []  # ...and a success starts the count again
    access = unlock(store_dir, "bob", "bob passphrase xyz")
    try:
        failed = [e for e in audit.entries(access.store) if e.action == "unlock.failed"]
    finally:
        access.close()
    assert [e.user for e in failed] == [ADMIN] * 7  # every failure is audited, with the delay it set
    assert [e.detail["delay"] for e in failed] == [0, 0, 2, 4, 8, 16, 0]


def test_the_delay_survives_a_new_process_and_covers_unnamed_and_unknown_users(created, store_dir):
    created.access.close()
    waits: list[float] = []
    for _ in range(throttle.FREE_TRIES + 1):
        _fail(store_dir, None, waits)  # no --user: every slot is tried (the kiosk's F10 does this)
    for _ in range(throttle.FREE_TRIES + 1):
        _fail(store_dir, "no-such-user", waits)
    code = ("import sys, time; from pathlib import Path; from telecbt_cli.core.store.unlock import unlock\n"
            "waits = []\n"
            "for user in (None, 'someone-else'):\n"
            "    try:\n"
            f"        unlock(Path({str(store_dir)!r}), user, 'wrong again', wait=waits.append)\n"
            "    except Exception as error:\n"
            "        print(type(error).__name__)\n"
            "print(waits)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[:2] == ["WrongPassphrase", "AuthError"]
    waits = json.loads(done.stdout.split("\n")[2])
    assert len(waits) == 2 and all(1 < w <= 4 for w in waits)  # the 4-second delays, read from the file


@pytest.mark.slow
def test_the_command_line_really_waits_and_says_so(created, store_dir, tmp_path):
    created.access.close()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    env = {"TELECBT_STORE": str(store_dir)}
    for _ in range(throttle.FREE_TRIES + 1):
        assert run_telecbt("patient", "list", "--user", ADMIN, "--passphrase-file", str(wrong), env=env).returncode == 3
    due = time.time() + throttle.pending(store_dir, ADMIN)  # 4 s after the fourth failure
    result = run_telecbt("patient", "list", "--user", ADMIN, "--passphrase-file", str(wrong), env=env)
    assert result.returncode == 3 and time.time() >= due
    assert re.search(r"Waiting [1-4] s: earlier failed sign-ins", result.stderr), result.stderr
    assert json.loads(signin_delays_file(store_dir).read_text())[ADMIN]["failures"] == throttle.FREE_TRIES + 2


def test_the_kiosk_staff_exit_is_slowed_the_same_way(created, store_dir):
    from telecbt_cli.core.care.kiosk import end_kiosk

    created.access.close()
    for _ in range(throttle.FREE_TRIES):
        with pytest.raises(WrongPassphrase):
            end_kiosk(store_dir, None, "a guess at the kiosk")
    assert throttle.pending(store_dir, None) > 0  # the next try from the F10 screen waits


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passphrases_are_refused_with_a_way_back(weak):
    """Guards: any 8 characters passed, `aaaaaaaaaaaa` included."""
    with pytest.raises(UsageError) as refused:
        check_passphrase(weak, user="alice")
    assert "too easy to guess" in str(refused.value) and "recovery key" in str(refused.value)


def test_strong_passphrases_pass_and_every_way_to_set_one_checks(admin, tmp_path, pass_file):
    for strong in ("correct horse battery staple", "frase de contraseña larga", ADMIN_PASS):
        assert check_passphrase(strong, user="alice") == strong.encode()
    with pytest.raises(UsageError, match="too easy to guess"):
        add_user(admin, "bob", "chw", "bobbobbobbob", KdfParams(10))
    weak = tmp_path / "weak"
    weak.write_text("aaaaaaaaaaaa\n")
    result = run_telecbt("init", "--store", str(tmp_path / "s2"), "--passphrase-file", str(weak))
    assert result.returncode == 2 and "too easy to guess" in result.stderr
    assert not (tmp_path / "s2").exists()
