"""Issue 12 point 1: the kiosk never leaves a door open (no crash on odd numbers, no shell, no secrets)."""

from __future__ import annotations

import asyncio

import pytest

from telecbt_cli.core.care import diary, pins
from telecbt_cli.core.clinical.answers import AnswerError, check_answer
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.tui.kiosk import (
    ExerciseScreen,
    HomeScreen,
    KioskApp,
    StaffExitScreen,
    make_kiosk,
)
from telecbt_cli.tui.launch import run_kiosk
from telecbt_cli.tui.runner import ExerciseForm, RunScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui import helpers
from tests.tui.helpers import screen_text, settle

PIN = "4821"
#: Numbers a person can type that float() accepts but no rating can be.
ODD_NUMBERS = ("nan", "NaN", " -nan ", "inf", "-Infinity", "1e400", "9" * 5000, float("nan"), float("inf"))


def kiosk_patient(access, name: str = "Rosa Example", pin: str = PIN, lang: str = "en") -> str:
    patient = add_patient(access, PatientFields(display_name=name, language=lang))
    record_consent(access, patient["code"], "verbal", "v1")
    pins.set_pin(access, patient["code"], pin)
    return patient["code"]


async def kiosk_sign_in(app, pilot, code: str) -> None:
    """The shared kiosk sign-in (tests/tui/helpers.py) with this module's PIN."""
    await helpers.kiosk_sign_in(app, pilot, code, PIN)


@pytest.mark.parametrize("value", ODD_NUMBERS, ids=repr)
def test_number_answers_refuse_nan_inf_and_huge_values_with_a_message(value):
    """Guards the kiosk crash: `nan` in a thought record's intensity raised ValueError from int()."""
    steps = [{"id": "n", "kind": "number", "min": 0, "max": 100},
             {"id": "f", "kind": "number", "min": 0, "max": 100, "integer": False},
             {"id": "s", "kind": "scale", "min": 0, "max": 10}]
    for step in steps:
        with pytest.raises(AnswerError) as refused:
            check_answer(step, value)
        assert refused.value.key in ("run.not_a_number", "run.out_of_range")
    record = {"situation": "s", "thought": "t", "emotion": "e", "intensity": value}
    with pytest.raises(AnswerError) as refused:
        check_answer({"id": "r", "kind": "thought_record"}, record)
    assert refused.value.step_id == "r.intensity"


@pytest.mark.parametrize("value", ("nan", "inf", "1e400", float("nan")), ids=repr)
def test_diary_numbers_refuse_nan_and_inf(value):
    """The same odd numbers in a diary field (staff TUI form, JSON) are a usage error, not a crash."""
    for field in ("mood", "sleep_hours", "steps"):
        with pytest.raises(UsageError):
            diary.check_entry({"pain": 3, field: value})


def test_nan_in_the_kiosk_thought_record_shows_a_message_and_keeps_the_kiosk(created, store_dir):
    """Guards the attack: typing nan into the intensity box crashed the kiosk (then a crash loop, then a shell)."""
    access = created.access
    code = kiosk_patient(access)

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await kiosk_sign_in(app, pilot, code)
            await pilot.press("f3")
            await settle(app, pilot)
            assert isinstance(app.screen, ExerciseScreen)
            record = next(b for b in app.screen.query(".choice") if b.name == "practice-thought-record")
            record.focus()
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, RunScreen)
            await pilot.press("enter")  # the info page
            await settle(app, pilot)
            form = app.screen.query_one(ExerciseForm)
            for name, value in (("situation", "at the market"), ("thought", "it will never stop"),
                                ("emotion", "afraid"), ("intensity", "nan")):
                form.query_one(f"#field-{name}").value = value
            app.screen.query_one("#form-done").press()
            await settle(app, pilot)
            assert app.is_running and isinstance(app.screen, RunScreen)
            assert "Please type a number." in screen_text(app)

    asyncio.run(run())


def _staff(access) -> dict[str, str]:
    """A viewer and a CHW besides the admin: role -> passphrase."""
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.users import add_user

    add_user(access, "vic", "viewer", VIEWER_PASS, KdfParams(10))
    add_user(access, "cat", "chw", CHW_PASS, KdfParams(10))
    return {"viewer": VIEWER_PASS, "chw": CHW_PASS}


VIEWER_PASS = "viewer passphrase 1"
CHW_PASS = "community worker passphrase"


def test_escape_keys_do_not_leave_and_only_an_admin_or_clinician_passphrase_does(created, store_dir):
    """Guards: Ctrl-C/Z/\\, the palette and Textual's quit key never end the kiosk; a viewer's or a
    CHW's passphrase used to end it too (issue 12 point 1)."""
    access = created.access
    code = kiosk_patient(access)
    others = _staff(access)

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await kiosk_sign_in(app, pilot, code)
            for key in ("ctrl+c", "ctrl+z", "ctrl+backslash", "ctrl+p", "escape", "ctrl+d"):
                await pilot.press(key)
                await pilot.pause()
                assert app.is_running, key
                assert isinstance(app.screen, HomeScreen), key  # no palette, no other screen
            await pilot.press("ctrl+q")  # Textual's quit key only asks for the staff passphrase
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, StaffExitScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)
            await pilot.resize_terminal(24, 8)  # a window dragged very small: no crash, no way out
            await pilot.pause()
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, HomeScreen)
            await pilot.press("f10")
            await pilot.pause()
            assert isinstance(app.screen, StaffExitScreen)
            # Issue 17 point 2: the dialog starts on the user name (typed first); the passphrase is masked.
            assert app.focused is app.screen.query_one("#staff-user")
            assert app.screen.query_one("#staff-pass").password
            await pilot.press("tab")  # the user name is optional: every staff slot is tried
            await pilot.press(*"not the passphrase", "enter")
            assert "not the passphrase" not in screen_text(app)
            await settle(app, pilot)
            assert app.is_running and isinstance(app.screen, StaffExitScreen)
            assert "passphrase is not right" in screen_text(app)
            for secret in others.values():  # right passphrases, wrong roles
                await pilot.press(*secret, "enter")
                await settle(app, pilot)
                assert app.is_running and isinstance(app.screen, StaffExitScreen)
                assert "Only an admin or a clinician" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)
            await pilot.press("f10")
            await pilot.pause()
            await pilot.press(*ADMIN, "enter")  # Enter on the user name moves on to the passphrase
            await pilot.press(*ADMIN_PASS, "enter")
            await settle(app, pilot)
            assert not app.is_running

    asyncio.run(run())
    actions = [(e.user, e.action) for e in audit.entries(access.store) if e.action.startswith("kiosk.end")]
    assert actions == [("vic", "kiosk.end_refused"), ("cat", "kiosk.end_refused"), (ADMIN, "kiosk.end")]


class _Flaky(KioskApp):
    """A kiosk whose first run crashes; the second is left by staff."""

    runs = 0

    def on_mount(self) -> None:
        type(self).runs += 1
        if type(self).runs == 1:
            raise RuntimeError("Rosa Example: something broke")
        self.exiting = True
        self.exit()


def test_a_crashed_kiosk_starts_again_instead_of_leaving_a_shell(created, store_dir, capsys):
    access = created.access
    assert run_kiosk(lambda: _Flaky(access, store_dir), store_dir, pause=0, headless=True) == 0
    assert _Flaky.runs == 2  # it came back after the crash; only the staff exit ended it
    err = capsys.readouterr().err
    assert "unexpected error (RuntimeError)" in err  # the crash was reported on this channel...
    assert "Rosa" not in err  # ...without the error's text


#: Runs in a pseudo-terminal: a kiosk that crashes every time, through the real crash loop.
CRASH_LOOP = """
import sys
from pathlib import Path
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.tui.kiosk import KioskApp
from telecbt_cli.tui.launch import lock_signals, run_kiosk

class Broken(KioskApp):
    def on_mount(self):
        raise RuntimeError("Rosa Example: always")

store = Path(sys.argv[1])
access = unlock(store, "alice", Path(sys.argv[2]).read_text().strip())
lock_signals()
code = run_kiosk(lambda: Broken(access, store), store, restarts=1, pause=0)
print("KIOSK ENDED", code)
sys.exit(code)
"""


@pytest.mark.slow
def test_a_crash_loop_locks_the_terminal_until_an_admin_or_clinician_comes(created, store_dir, pass_file):
    """Guards the attack: after a few crashes the kiosk gave up and left the patient at a shell."""
    import os
    import pty
    import sys

    from tests.conftest import read_until

    _staff(created.access)
    created.access.close()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal
        try:
            os.execv(sys.executable, [sys.executable, "-c", CRASH_LOOP, str(store_dir), str(pass_file)])
        finally:
            os._exit(127)

    def alive() -> bool:
        try:
            return os.waitpid(pid, os.WNOHANG | os.WUNTRACED) == (0, 0)  # not ended, not stopped (Ctrl-Z)
        except ChildProcessError:
            return False

    def answer(text: str, expect: bytes) -> bytes:
        os.write(fd, text.encode())
        seen = read_until(fd, expect)
        seen += read_until(fd, b"Staff passphrase:") if b"Staff passphrase:" not in seen.split(expect)[-1] else b""
        assert expect in seen and alive(), seen.decode(errors="replace")[-600:]
        assert text.strip().encode() not in seen or not text.strip()  # nothing typed is shown
        return seen

    try:
        seen = read_until(fd, b"Staff passphrase:", timeout=60)
        assert b"This kiosk is closed for now" in seen, seen.decode(errors="replace")[-600:]
        assert b"Rosa" not in seen  # the crash's own words never reach the screen
        for key in ("\x03", "\x1a", "\x1c"):  # Ctrl-C, Ctrl-Z, Ctrl-\ (signals ignored)
            os.write(fd, key.encode())
        answer("\x04", b"Staff passphrase:")  # end of input asks again
        answer("not the passphrase\r", b"wrong passphrase")
        answer(VIEWER_PASS + "\r", b"ending kiosk mode needs the role admin, clinician")
        answer(CHW_PASS + "\r", b"ending kiosk mode needs the role admin, clinician")
        os.write(fd, (ADMIN_PASS + "\r").encode())
        assert b"KIOSK ENDED 1" in read_until(fd, b"KIOSK ENDED 1")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 1
    finally:
        if alive():
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    from tests.tui.helpers import check_store

    actions = check_store(store_dir, lambda a: [(e.user, e.action) for e in audit.entries(a.store)
                                                if e.action.startswith("kiosk.end")])
    assert actions == [("vic", "kiosk.end_refused"), ("cat", "kiosk.end_refused"), (ADMIN, "kiosk.end")]


def test_the_scrypt_child_never_runs_code_from_the_working_folder(tmp_path, monkeypatch):
    """The kiosk hands passphrases and PINs to a scrypt child (`python -m …kdf_child`): a `telecbt_cli`
    folder where the kiosk was started must not stand in for the real one and read them."""
    from telecbt_cli.core.store import crypto

    fake = tmp_path / "telecbt_cli" / "core" / "store"
    fake.mkdir(parents=True)
    for folder in (fake, fake.parent, fake.parent.parent):
        (folder / "__init__.py").write_text("")
    stolen = tmp_path / "stolen"
    (fake / "kdf_child.py").write_text(f"import sys; open({str(stolen)!r}, 'wb').write(sys.stdin.buffer.read()); "
                                       "print('00' * 32)")
    monkeypatch.chdir(tmp_path)
    params = crypto.KdfParams(14)
    assert crypto._derive_in_child(b"a passphrase", b"0123456789abcdef", params) == \
        crypto.derive_in_process(b"a passphrase", b"0123456789abcdef", params)
    assert not stolen.exists()


def test_the_store_opens_after_the_first_screen_and_only_for_a_role_that_may_run_the_kiosk(created, store_dir):
    """The kiosk shows its first screen while the staff unlock runs; a viewer's passphrase (right,
    but read-only) or a wrong one ends it with that error instead of a kiosk that cannot save."""
    from telecbt_cli.core.store.errors import PermissionDenied, WrongPassphrase
    from telecbt_cli.core.store.unlock import unlock
    from telecbt_cli.tui.kiosk import StoreOpening

    _staff(created.access)
    code = kiosk_patient(created.access)
    created.access.close()

    async def run(secret: str) -> KioskApp:
        opening = StoreOpening(lambda: unlock(store_dir, None, secret))
        app = make_kiosk(None, store_dir, opening=opening)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            if app.is_running:
                await kiosk_sign_in(app, pilot, code)
                await pilot.press("6", "enter")
                await settle(app, pilot)
                assert "Saved: pain 6" in screen_text(app)
        opening.close()
        return app

    assert asyncio.run(run(ADMIN_PASS)).failure is None
    for secret, error in ((VIEWER_PASS, PermissionDenied), ("not the passphrase", WrongPassphrase)):
        app = asyncio.run(run(secret))
        assert isinstance(app.failure, error) and app.return_code == int(error.exit_code)
