"""The quick start of `telecbt tui` and scrypt in a child process (both keep the UI light)."""

from __future__ import annotations

import subprocess
import sys

from telecbt_cli.core.store import crypto
from telecbt_cli.tui.launch import quick_options


def test_quick_start_takes_only_store_and_lang():
    assert quick_options([]) == {}
    assert quick_options(["--store", "/s", "--lang=es"]) == {"--store": "/s", "--lang": "es"}
    for argv in (["-h"], ["--help"], ["--store"], ["--store", "--lang"], ["--lang", "es", "--lang", "en"],
                 ["extra"], ["--verbose"]):
        assert quick_options(argv) is None, argv  # the full CLI answers these (help, errors)


def test_quick_start_without_a_terminal_fails_clearly_and_never_loads_typer(tmp_path):
    code = ("import sys; from telecbt_cli.tui.launch import quick_tui; "
            f"rc = quick_tui(['--store', {str(tmp_path)!r}]); print(rc, 'typer' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.stdout.split() == ["2", "False"]
    assert "needs a terminal" in done.stderr


def test_scrypt_in_a_child_process_gives_the_same_key():
    params = crypto.KdfParams(14)
    expected = crypto.derive_key(b"a passphrase", b"0123456789abcdef", params)
    crypto.isolate_kdf()
    try:
        assert crypto._derive_in_child(b"a passphrase", b"0123456789abcdef", params) == expected
        assert crypto.derive_key(b"a passphrase", b"0123456789abcdef", params) == expected
    finally:
        crypto.isolate_kdf(False)


def test_kiosk_quick_start_takes_its_options_and_never_loads_typer(created, store_dir, pass_file):
    from telecbt_cli.tui.launch import KIOSK_OPTIONS

    assert quick_options(["--store", "/s", "-u", "nurse", "--passphrase-file", "-", "--idle=60"], KIOSK_OPTIONS) == \
        {"--store": "/s", "--user": "nurse", "--passphrase-file": "-", "--idle": "60"}
    for argv in (["-h"], ["--lang", "es"], ["--idle"], ["--user", "a", "-u", "b"]):
        assert quick_options(argv, KIOSK_OPTIONS) is None, argv
    created.access.close()
    code = ("import sys; from telecbt_cli.tui.launch import quick_kiosk; "
            f"print(quick_kiosk(['--idle', '5']), quick_kiosk(['--passphrase-fd', 'x']));"
            f"rc = quick_kiosk(['--store', {str(store_dir)!r}, '--passphrase-file', {str(pass_file)!r}]);"
            "print(rc, 'typer' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.stdout.split() == ["None", "None", "2", "False"]  # bad values go to the CLI to be explained
    assert "needs a terminal" in done.stderr


def test_tui_and_kiosk_take_a_content_folder(tmp_path):
    """Issue 12.11: `telecbt tui` and `telecbt kiosk` read the clinic's folder like every other command."""
    from tests.conftest import run_telecbt

    assert quick_options(["--content", "/clinic", "--store=/s"]) == {"--content": "/clinic", "--store": "/s"}
    missing = tmp_path / "no-such-folder"
    for command in (["tui"], ["kiosk", "--store", str(tmp_path)]):
        done = run_telecbt(*command, "--content", str(missing))
        assert done.returncode == 1, done.stderr
        assert f"{missing}: is not a folder" in done.stderr  # named before any terminal or passphrase
        done = run_telecbt(*command, env={"TELECBT_CONTENT_PATH": str(missing)})
        assert done.returncode == 1 and "is not a folder" in done.stderr
        assert "--content" in run_telecbt(command[0], "--help").stdout


def test_tui_idle_lock_option_in_the_quick_start_and_the_cli(tmp_path):
    """Issue 17 point 1: `telecbt tui --idle SECONDS`; a value out of range goes to the full CLI, which
    refuses it as a usage error."""
    from tests.conftest import run_telecbt

    assert quick_options(["--idle", "600"]) == {"--idle": "600"}
    code = ("from telecbt_cli.tui.launch import quick_tui; "
            "print(quick_tui(['--idle', '5']), quick_tui(['--idle', 'soon']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.stdout.split() == ["None", "None"]
    refused = run_telecbt("tui", "--idle", "5", "--store", str(tmp_path))
    assert refused.returncode == 2 and "--idle" in refused.stderr


def test_the_kiosk_loads_no_staff_table():
    """Issue 19 (kiosk start within 1.3x of a bare Textual app): Textual's DataTable is the staff app's, and
    loading it with the kiosk's modules cost the kiosk's start-up (1.11x -> 1.39x when it moved into tui/common)."""
    code = ("import sys; import telecbt_cli.tui.kiosk, telecbt_cli.tui.launch; "
            "print('textual.widgets._data_table' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.split() == ["False"]


def test_the_kiosk_asks_for_the_passphrase_without_loading_the_store(created, store_dir, pass_file):
    """Issue 19 (kiosk start): the passphrase is read before the first screen, the unlock runs after it, so
    reading it must not load SQLCipher and the unlock code (about 30 ms of the kiosk's start on the test VM)."""
    created.access.close()
    code = ("import sys; from pathlib import Path; from telecbt_cli.commands.signin import access_opener; "
            f"opener = access_opener({str(store_dir)!r}, None, Path({str(pass_file)!r}), None); "
            "print(sorted(m for m in ('sqlcipher3', 'telecbt_cli.core.store.unlock') if m in sys.modules)); "
            "print(opener().user)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           check=True).stdout
    assert shown.splitlines() == ["[]", created.access.user]
