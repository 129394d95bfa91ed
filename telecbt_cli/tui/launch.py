"""Starting the terminal UIs: the checks `telecbt tui` and `telecbt kiosk` share, and a quick start.

`telecbt tui` is the one command where start-up time is felt on every use, so the entry
point hands plain `telecbt tui [--store PATH] [--lang LANG] [--content DIR]` straight to `run_tui`
without importing Typer or building its command tree (the kiosk likewise). Anything else,
`-h` included, goes through the full CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from telecbt_cli.core.store.errors import ExitCode, TelecbtError, UsageError


def need_terminal() -> None:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("the terminal UI needs a terminal; use the commands (see telecbt --help) in scripts",
                         key="errors.tui.terminal")


def check_lang(lang: str | None) -> None:
    from telecbt_cli.content.languages import LANGS

    if lang is not None and lang not in LANGS:
        raise UsageError("unknown language {lang!r}: choose one of {langs}", key="errors.tui.lang", lang=lang,
                         langs=", ".join(LANGS))


def check_idle(idle: int | None, low: int, high: int) -> None:
    """`--idle` seconds within the range the app allows (said in the reader's language)."""
    if idle is not None and not low <= idle <= high:
        raise UsageError("--idle must be from {low} to {high} seconds; got {idle}", key="errors.tui.idle",
                         low=low, high=high, idle=idle)


def run_tui(store: str | os.PathLike[str] | None, lang: str | None,
            content: str | os.PathLike[str] | None = None, idle: int | None = None) -> None:
    """Open the staff app on a store folder (the sign-in screen unlocks it), with the clinic's content;
    `idle` seconds without a key lock it (default: the time chosen in Settings, else 15 minutes)."""
    from telecbt_cli.content.catalog import content_dirs, load_for_ui
    from telecbt_cli.core.store import crypto
    from telecbt_cli.core.store.paths import require_store_dir, resolve_store_dir

    catalog = load_for_ui(content_dirs(content))  # a broken clinic folder is reported before anything else
    check_idle(idle, *TUI_IDLE)
    need_terminal()
    check_lang(lang)
    if lang is None:
        from telecbt_cli.content.languages import LANGS
        from telecbt_cli.core.store.settings import reader_lang

        lang = reader_lang(LANGS)  # TELECBT_LANG, else the language chosen in Settings
    store_dir = resolve_store_dir(store)
    require_store_dir(store_dir)
    crypto.isolate_kdf()  # sign-in's scrypt buffer stays out of this long-running process
    from telecbt_cli.tui.app import make_app

    run_app(make_app(Path(store_dir), lang=lang, catalog=catalog, idle_seconds=idle))


def run_app(app) -> None:
    """Run a Textual app; if it stopped on an unexpected error (already reported), exit with 1."""
    app.run()
    if app.return_code:
        raise SystemExit(int(ExitCode.ERROR))


def lock_signals() -> None:
    """Keys that would stop or suspend the process do nothing while the kiosk runs (POSIX)."""
    import signal

    os.environ.pop("TEXTUAL_ALLOW_SIGNALS", None)  # Textual would otherwise let Ctrl-C/Z through
    for name in ("SIGINT", "SIGTSTP", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def start_kiosk(store: str | os.PathLike[str] | None, user: str | None, passphrase_file: Path | None,
                passphrase_fd: int | None, idle: int, content: str | os.PathLike[str] | None = None) -> int:
    """`telecbt kiosk`: staff unlock, then the kiosk until an admin or clinician ends it; the exit code.

    Secrets leave the environment first, so nothing the kiosk ever starts inherits them. The
    passphrase is read (or asked for) before the first screen; the unlock itself (key
    derivation, opening the database) runs once that screen is up (`StoreOpening`), so the
    kiosk starts about as fast as a bare Textual app.
    """
    from telecbt_cli.commands.signin import access_opener, take_secret_env
    from telecbt_cli.content.catalog import content_dirs, load_for_ui
    from telecbt_cli.core.store import crypto
    from telecbt_cli.core.store.paths import resolve_store_dir

    secrets = take_secret_env()
    check_idle(idle, *KIOSK_IDLE[1:])
    catalog = load_for_ui(content_dirs(content))  # a broken clinic folder is reported before anyone signs in
    from telecbt_cli.commands import i18n

    i18n.adopt(catalog)  # the passphrase prompt before the first screen, in the reader's language
    crypto.isolate_kdf()  # PIN checks run for hours: keep scrypt's buffer out of the kiosk process
    store_dir = resolve_store_dir(store)
    opener = access_opener(store_dir, user, passphrase_file, passphrase_fd, environ=secrets)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        _refuse_without_terminal(opener)
    from telecbt_cli.tui.kiosk import StoreOpening, make_kiosk

    opening = StoreOpening(opener)
    lock_signals()
    try:
        return run_kiosk(lambda: make_kiosk(None, store_dir, idle_seconds=idle, opening=opening, catalog=catalog), store_dir)
    finally:
        opening.close()


def _refuse_without_terminal(opener) -> None:
    """No terminal for the kiosk; a wrong passphrase or role is still said first (exit 3 or 5, then 2)."""
    access = opener()
    try:
        access.require("write")
    finally:
        access.close()
    need_terminal()


def run_kiosk(make_app, store_dir: Path, restarts: int = 5, pause: float = 1.0, headless: bool = False) -> int:
    """Run the kiosk until staff leave it; after an unexpected error, start it again.

    A crash must not drop a patient at a shell prompt: the kiosk comes back on the language
    screen (the patient is forgotten with the old app). After more than `restarts` crashes
    within a minute it stops trying and locks the terminal until an admin or clinician
    gives their passphrase (`wait_for_staff`); only then does it end, with exit code 1.
    """
    import time

    from telecbt_cli.commands.output import error

    crashes: list[float] = []
    while True:
        try:
            app = make_app()
            app.run(headless=headless)
            if app.exiting:  # a staff passphrase was given
                return 0
            if getattr(app, "failure", None) is not None:  # the store did not open: staff are still here
                from telecbt_cli.commands.i18n import error_text

                error(error_text(app.failure))
                return int(app.failure.exit_code)
        except Exception as err:  # counted as a crash below; the message could quote patient data
            error(f"the kiosk stopped after an unexpected error ({type(err).__name__})")
            if os.environ.get("TELECBT_DEBUG"):
                import traceback

                traceback.print_exc()
        finally:
            # Textual's terminal driver makes Ctrl-Z stop the process (SIGSTOP), which between two
            # runs or at the last-resort prompt would hand the terminal back to a shell.
            lock_signals()
        now = time.monotonic()
        crashes = [t for t in crashes if now - t < 60] + [now]
        if len(crashes) > restarts:
            error(f"the kiosk stopped unexpectedly {len(crashes)} times within a minute; it stays locked until "
                  "staff end it. Run it with TELECBT_DEBUG=1 to see why.")
            wait_for_staff(store_dir)
            return int(ExitCode.ERROR)
        time.sleep(pause)


def wait_for_staff(store_dir: Path) -> str:
    """The kiosk's last resort: a locked terminal that only an admin's or clinician's passphrase opens.

    Plain terminal input (no Textual, which may be what keeps failing). End of input, Ctrl-C
    and wrong passphrases only ask again; returns the name of the staff user.
    """
    import getpass
    import time

    from telecbt_cli.core.care.kiosk import end_kiosk
    from telecbt_cli.core.store.textsafe import inert

    note = ""
    lock_signals()
    _hide_typing()
    while True:
        sys.stdout.write("\x1b[2J\x1b[H" + KIOSK_CLOSED + ("\n\n" + inert(note) if note else "") + "\n\n")
        sys.stdout.flush()
        try:
            secret = getpass.getpass("Staff passphrase: ")
        except (EOFError, KeyboardInterrupt):
            time.sleep(1)
            continue
        if not secret:
            continue
        try:
            return end_kiosk(store_dir, None, secret)
        except TelecbtError as err:
            note = str(err)


def _hide_typing() -> None:
    """Keys typed before the prompt is back are not echoed either (a passphrase typed early stays hidden)."""
    try:
        import termios
    except ImportError:  # Windows: getpass alone hides the passphrase
        return
    try:
        fd = sys.stdin.fileno()
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (OSError, ValueError, termios.error):
        pass


#: The last-resort screen, in both languages (the content may be what failed to load).
KIOSK_CLOSED = ("This kiosk is closed for now. Please ask the care team.\n"
                "Este quiosco está cerrado por ahora. Por favor, pregunte al equipo de salud.\n\n"
                "Staff: an admin or clinician passphrase ends kiosk mode.")


#: Options the quick starts understand (`-u` is `--user`); anything else goes to the full CLI.
TUI_OPTIONS = ("--store", "--lang", "--content", "--idle")
KIOSK_OPTIONS = ("--store", "--user", "--passphrase-file", "--passphrase-fd", "--idle", "--content")
KIOSK_IDLE = (120, 10, 3600)  # default, lowest, highest (as `telecbt kiosk --idle`)
TUI_IDLE = (60, 8 * 3600)  # lowest, highest (as `telecbt tui --idle`; the default is in Settings)


def quick_options(argv: list[str], names: tuple[str, ...] = TUI_OPTIONS) -> dict[str, str] | None:
    """`--name X` or `--name=X` for the given names, each at most once; None for anything more."""
    found: dict[str, str] = {}
    items = iter(argv)
    for item in items:
        name, eq, value = item.partition("=")
        name = "--user" if name == "-u" and "--user" in names else name
        if name not in names or name in found:
            return None
        if not eq:
            value = next(items, None)
            if value is None or (value.startswith("-") and value != "-"):
                return None
        found[name] = value
    return found


def _quick(run) -> int:
    """Run a quick start; the project's errors become one line on stderr and an exit code, as in the CLI."""
    try:
        return run()
    except TelecbtError as err:
        from telecbt_cli.commands.i18n import error_text
        from telecbt_cli.commands.output import error

        error(error_text(err))  # in the reader's language, as in the CLI
        return int(err.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as err:
        if os.environ.get("TELECBT_DEBUG"):
            raise
        from telecbt_cli.commands.output import error

        error(f"unexpected problem ({err.__class__.__name__}); set TELECBT_DEBUG=1 for details")
        return int(ExitCode.ERROR)


def quick_tui(argv: list[str]) -> int | None:
    """Run `telecbt tui` without the Typer layer; None when the arguments need the full CLI."""
    options = quick_options(argv)
    if options is None:
        return None
    idle = None
    if "--idle" in options:
        try:
            idle = int(options["--idle"])
        except ValueError:
            return None
        if not TUI_IDLE[0] <= idle <= TUI_IDLE[1]:
            return None
    store = options.get("--store") or os.environ.get("TELECBT_STORE") or None
    return _quick(lambda: run_tui(store, options.get("--lang"), options.get("--content"), idle) or 0)


def quick_kiosk(argv: list[str]) -> int | None:
    """Run `telecbt kiosk` without the Typer layer; None when the arguments need the full CLI
    (help, a mistyped option or value: the CLI explains those)."""
    options = quick_options(argv, KIOSK_OPTIONS)
    if options is None:
        return None
    default, low, high = KIOSK_IDLE
    try:
        fd = int(options["--passphrase-fd"]) if "--passphrase-fd" in options else None
        idle = int(options.get("--idle", default))
    except ValueError:
        return None
    if not low <= idle <= high:
        return None
    store = options.get("--store") or os.environ.get("TELECBT_STORE") or None
    user = options.get("--user") or os.environ.get("TELECBT_USER") or None
    file = Path(options["--passphrase-file"]) if "--passphrase-file" in options else None
    return _quick(lambda: start_kiosk(store, user, file, fd, idle, options.get("--content")))
