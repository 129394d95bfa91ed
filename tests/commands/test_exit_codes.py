"""Every case in the README's exit-code table, through real commands (issue 16, point 8).

The table is read from the README: a case documented there without a check here (or the
other way round) fails, so the table and the program cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.commands.clirun import invoke, invoke_json
from tests.conftest import ADMIN, telecbt_cmd, wait_exit

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def documented() -> list[tuple[int, str]]:
    """(code, case) for each case the README's exit-code table lists."""
    table = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    cases = []
    for code, listed in re.findall(r"^\| (\d+) \| [^|]+ \| (.*?) \|$", table, re.M):
        cases += [(int(code), case.strip()) for case in listed.split(";") if case.strip()]
    return cases


CASES: dict[str, Callable[[SimpleNamespace], int]] = {}


def case(name: str) -> Callable:
    def register(check: Callable[[SimpleNamespace], int]) -> Callable:
        CASES[name] = check
        return check
    return register


def _code(s: SimpleNamespace, *args: str, env: dict | None = None) -> int:
    return invoke(*args, *s.pw, env=env).exit_code


def _patient(s: SimpleNamespace, consent: bool = True) -> str:
    code = invoke_json("patient", "add", "--name", "Ana", *s.pw)["code"]
    if consent:
        invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", *s.pw)
    return code


def _user(s: SimpleNamespace, name: str, role: str) -> tuple[str, str]:
    secret = s.tmp / f"{name}.pass"
    secret.write_text(f"{name} passphrase 1\n")
    assert invoke("user", "add", name, "--role", role, "--new-passphrase-file", str(secret), *s.pw).exit_code == 0
    return "--passphrase-file", str(secret)


@contextlib.contextmanager
def _tiny_disk(tmp: Path, size: str = "2m") -> Iterator[Path]:
    mount = tmp / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root, as CI has)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@case("disk full")
def _(s):
    with _tiny_disk(s.tmp) as disk:
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 65536)
        return invoke("init", "--store", str(disk / "store"), *s.pw).exit_code


@case("read-only disk")
def _(s):
    with _tiny_disk(s.tmp, "4m") as disk:  # room for a new store and its write-ahead log while it is made
        assert invoke("init", "--store", str(disk / "store"), *s.pw).exit_code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        return _code(s, "patient", "add", "--name", "Refused", "--store", str(disk / "store"))


@case("store already exists")
def _(s):
    return _code(s, "init", "--store", str(s.store))


@case("invalid content files")
def _(s):
    (s.tmp / "content" / "modules").mkdir(parents=True)
    (s.tmp / "content" / "modules" / "broken.toml").write_text('id = "broken"\nkind = "module"\n[[steps]\n')
    return invoke("content", "validate", str(s.tmp / "content")).exit_code


@case("unexpected problem")
def _(s):
    from telecbt_cli.core.clinical import patients

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(patients, "list_patients", broken)
        return _code(s, "patient", "list")


@case("a bad option or value")
def _(s):
    return _code(s, "patient", "list", "--frobnicate")


@case("a mistyped patient code")
def _(s):
    return _code(s, "patient", "show", "7K3M-9Q4N")


@case("a missing `--yes`")
def _(s):
    return _code(s, "patient", "archive", _patient(s))


@case("an id matching several records")
def _(s):
    code = _patient(s)
    for pain in ("5", "6"):
        invoke("diary", "add", code, "--pain", pain, *s.pw)
    return _code(s, "diary", "correct", invoke_json("diary", "list", code, *s.pw)[0]["id"][:6], "--pain", "1")


@case("`--out -` for a folder")
def _(s):
    return _code(s, "export", "ndjson", "--out", "-", "--plaintext")


@case("an output file that exists")
def _(s):
    (s.tmp / "cal.ics").write_text("mine")
    return _code(s, "session", "ics", "--all", "--out", str(s.tmp / "cal.ics"))


@case("an import file with nothing usable")
def _(s):
    (s.tmp / "steps.csv").write_text("date,steps\nnot a date,1000\n2026-02-30,500\n")
    return _code(s, "diary", "import", _patient(s), str(s.tmp / "steps.csv"), "--yes")


@case("wrong passphrase")
def _(s):
    (s.tmp / "wrong").write_text("not the passphrase\n")
    return invoke("patient", "list", "--passphrase-file", str(s.tmp / "wrong")).exit_code


@case("no passphrase and no terminal")
def _(s):
    return invoke("patient", "list").exit_code


@case("expired or invalid session")
def _(s):
    return invoke("patient", "list", env={"TELECBT_SESSION": "tcs1.AAAAAAAAAAAA." + "A" * 43}).exit_code


@case("disabled user")
def _(s):
    bob = _user(s, "bob", "chw")
    invoke("user", "disable", "bob", "--yes", *s.pw)
    return invoke("patient", "list", "--user", "bob", *bob).exit_code


@case("`--user` not the session's user")
def _(s):
    _user(s, "bob", "chw")
    token = invoke("unlock", *s.pw).stdout.strip()
    return invoke("patient", "list", "--user", "bob", env={"TELECBT_SESSION": token}).exit_code


@case("wrong current passphrase")
def _(s):
    bob = _user(s, "bob", "chw")
    return invoke("store", "passwd", "--user", ADMIN, *bob, "--new-passphrase-file", bob[1]).exit_code


@case("no store")
def _(s):
    return _code(s, "patient", "list", "--store", str(s.tmp / "nowhere"))


@case("no patient")
def _(s):
    from telecbt_cli.core.store.ids import new_patient_code

    return _code(s, "patient", "show", new_patient_code())


@case("no user")
def _(s):
    (s.tmp / "new").write_text("a new passphrase 1\n")
    return _code(s, "user", "passwd", "nobody", "--new-passphrase-file", str(s.tmp / "new"))


@case("no record with that id")
def _(s):
    return _code(s, "plan", "goal", "update", "000000000000", "--progress", "10")


@case("no bundles to import")
def _(s):
    (s.tmp / "inbox").mkdir()
    return _code(s, "bundle", "import", str(s.tmp / "inbox"))


@case("by role (a viewer writing)")
def _(s):
    return invoke("patient", "add", "--name", "X", "--user", "vic", *_user(s, "vic", "viewer")).exit_code


@case("by missing consent")
def _(s):
    return _code(s, "diary", "add", _patient(s, consent=False), "--pain", "5")


@case("corrupt database")
def _(s):
    (s.store / "telecbt.db").write_bytes(b"this is not a database at all" * 100)
    return _code(s, "patient", "list")


@case("damaged key file")
def _(s):
    for name in ("telecbt.keys", "telecbt.keys.copy"):
        raw = bytearray((s.store / name).read_bytes())
        raw[len(raw) // 2] ^= 0x55
        (s.store / name).write_bytes(bytes(raw))
    return _code(s, "patient", "list")


@case("tampered audit log")
def _(s):
    from telecbt_cli.core.store.unlock import unlock

    access = unlock(s.store, ADMIN, s.secret)
    access.store.conn.execute("DROP TRIGGER audit_log_no_update")
    access.store.conn.execute("UPDATE audit_log SET action = 'nothing' WHERE seq = 2")
    access.close()
    return _code(s, "audit", "verify")


@case("a bundle that fails its checks")
def _(s):
    (s.tmp / "bad.tcb").write_bytes(b"age-encryption.org/v1\n-> X25519 not really\n" + os.urandom(200))
    return _code(s, "bundle", "import", str(s.tmp / "bad.tcb"))


@case("Ctrl-C")
def _(s):
    pid, fd = pty.fork()
    if pid == 0:  # child: telecbt on a real terminal, waiting at the passphrase prompt
        os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "patient", "list", "--store", str(s.store)], os.environ)
    seen, deadline = b"", time.time() + 30
    while b"Passphrase" not in seen and time.time() < deadline:
        if select.select([fd], [], [], 1)[0]:
            seen += os.read(fd, 1024)
    assert b"Passphrase" in seen, seen
    # As a person would: not within microseconds of the prompt. A SIGINT that lands after Python's last
    # check for signals but before getpass blocks in read() is only seen when read() returns (CPython).
    time.sleep(0.3)
    os.write(fd, b"\x03")
    code, _ = wait_exit(pid, fd)
    os.close(fd)
    return code


@case("the reader of a pipe stopped early")
def _(s):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([*telecbt_cmd(), "patient", "list", "--csv", "--store", str(s.store), *s.pw],
                              stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.DEVNULL,
                              timeout=60).returncode
    finally:
        os.close(write_end)


SLOW = {"Ctrl-C", "the reader of a pipe stopped early", "disk full", "read-only disk"}


def test_every_documented_case_has_a_check_and_no_check_is_undocumented():
    assert sorted(name for _, name in documented()) == sorted(CASES)


@pytest.mark.parametrize("code, name", [pytest.param(c, n, marks=[pytest.mark.slow] if n in SLOW else [], id=n)
                                        for c, n in documented()])
def test_exit_code(code, name, cli_store, pass_file, tmp_path):
    setup = SimpleNamespace(store=cli_store, pw=("--passphrase-file", str(pass_file)), tmp=tmp_path,
                            secret=pass_file.read_text().strip())
    assert CASES[name](setup) == code
