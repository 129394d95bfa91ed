"""Reading secrets safely and opening the store for a command; imports no Typer (the kiosk's quick start uses it)."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.core.store.errors import AuthError, UsageError

if TYPE_CHECKING:
    from telecbt_cli.core.store.access import Access

#: Environment variables that hold secrets (see README, "Scripts and batch jobs").
SECRET_ENV = ("TELECBT_PASSPHRASE", "TELECBT_SESSION", "TELECBT_NEW_PASSPHRASE", "TELECBT_RECOVERY_KEY")


def take_secret_env() -> dict[str, str]:
    """Remove every secret from this process's environment and return them.

    For long-running processes (the kiosk): nothing they start, on purpose or after a
    crash, inherits a passphrase or a session token.
    """
    return {name: os.environ.pop(name) for name in SECRET_ENV if name in os.environ}


def _first_line(text: str, source: str) -> str:
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise UsageError("{source} is empty: it should hold the passphrase on its first line",
                         key="errors.secret.empty", source=source)
    return line


def _read_fd(fd: int) -> str:
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\n" in chunk:
                break
    except OSError as error:
        raise UsageError("cannot read file descriptor {fd}: {why}", key="errors.secret.fd", fd=str(fd),
                         why=error.strerror) from None
    return b"".join(chunks).decode("utf-8", errors="strict")


def read_secret(
    *,
    file: Path | None,
    fd: int | None,
    env: str,
    prompt: str,
    options: str,
    confirm: bool = False,
    environ: Mapping[str, str] | None = None,
    check: Callable[[str], object] | None = None,
) -> str:
    """A secret from a file, a descriptor, the environment or a hidden prompt, in that order.

    Without a terminal it never prompts: it fails at once, naming the options. `environ`
    stands in for the process environment (secrets already taken out of it). At a prompt,
    `check` (e.g. the passphrase rules) judges the first entry before it is asked again to
    confirm, and a refused entry is asked for again.
    """
    if file is not None:
        if str(file) == "-":
            return _first_line(sys.stdin.readline(), _word("cli.signin.stdin", "standard input"))
        try:
            return _first_line(file.read_text(encoding="utf-8"), str(file))
        except FileNotFoundError:
            raise UsageError("passphrase file {path} does not exist", key="errors.secret.missing",
                             path=str(file)) from None
        except (OSError, UnicodeDecodeError):
            raise UsageError("cannot read passphrase file {path}", key="errors.secret.unreadable",
                             path=str(file)) from None
    if fd is not None:
        return _first_line(_read_fd(fd), _word("cli.signin.fd", "file descriptor {fd}", fd=str(fd)))
    value = (os.environ if environ is None else environ).get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise AuthError("no passphrase given and no terminal to ask on: use {options} or {env}",
                        key="errors.secret.no_terminal", options=options, env=env)
    secret = getpass.getpass(prompt, stream=sys.stderr)
    while check is not None:
        try:
            check(secret)
            break
        except UsageError as problem:
            from telecbt_cli.commands.output import error

            from telecbt_cli.commands.i18n import error_text, t

            error(t("cli.signin.choose_another", problem=error_text(problem).rstrip(".")))
            secret = getpass.getpass(prompt, stream=sys.stderr)
    if confirm:
        from telecbt_cli.commands.i18n import t

        again = getpass.getpass(t("cli.signin.repeat"), stream=sys.stderr)
        if again != secret:
            raise UsageError("the two entries differ: nothing was changed", key="errors.secret.differ")
    return secret


def from_root(name: str, value: Any) -> Any:
    """A global option typed before the command (`telecbt --store S patient list`) when the
    command's own option was not typed; the command's own wins when both are.

    Outside the Typer CLI (the kiosk's quick start never loads Typer) there is nothing
    before the command, so the value stands."""
    if "typer" not in sys.modules:
        return value
    try:
        from typer._click.core import ParameterSource
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - older Typer on Click
        from click import get_current_context
        from click.core import ParameterSource

    ctx = get_current_context(silent=True)
    if ctx is None or ctx.parent is None:
        return value
    given = ctx.find_root().params.get(name)
    if given is None or (value is not None and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE):
        return value
    return given


def store_option(store: Path | None) -> Path | None:
    """--store, typed before or after the command."""
    return from_root("store", store)


def _word(key: str, english: str, **values: str) -> str:
    """A word in the reader's language when the command line runs, or when a quick start (the kiosk) has its
    strings loaded already (`i18n.adopt`); English on a quick start that has not (nothing is read for it)."""
    if not _words_at_hand():
        return english.format(**values)
    from telecbt_cli.commands.i18n import t

    return t(key, **values)


def _words_at_hand() -> bool:
    """The command line, or a quick start (the kiosk) whose strings are loaded already (`i18n.adopt`)."""
    words = sys.modules.get("telecbt_cli.commands.i18n")
    return "typer" in sys.modules or (words is not None and words.loaded())


def passphrase(file: Path | None, fd: int | None, prompt: str | None = None, confirm: bool = False,
               environ: Mapping[str, str] | None = None) -> str:
    """The passphrase to unlock with; with `confirm` (a new store), a new one, judged before it is repeated."""
    check = None
    if confirm:  # only then: the unlock code loads SQLCipher, which the kiosk's first screen need not wait for
        from telecbt_cli.core.store.unlock import check_passphrase as check

    return read_secret(file=from_root("passphrase_file", file), fd=from_root("passphrase_fd", fd),
                       env="TELECBT_PASSPHRASE", prompt=prompt or _word("cli.signin.passphrase", "Passphrase: "),
                       options="--passphrase-file, --passphrase-fd", confirm=confirm, environ=environ, check=check)


def new_passphrase(file: Path | None, fd: int | None, who: str) -> str:
    """A new passphrase, judged by the passphrase rules (for this user) before it is asked for a second time."""
    from telecbt_cli.core.store.unlock import check_passphrase

    return read_secret(file=file, fd=fd, env="TELECBT_NEW_PASSPHRASE",
                       prompt=_word("cli.signin.new_for", "New passphrase for {who}: ", who=who),
                       options="--new-passphrase-file, --new-passphrase-fd", confirm=True,
                       check=lambda secret: check_passphrase(secret, who))


def access_opener(store: Path | str | None, user: str | None, passphrase_file: Path | None,
                  passphrase_fd: int | None, environ: Mapping[str, str] | None = None) -> Callable[[], "Access"]:
    """What may ask the person (which store, the secret) now; the slow part (key derivation,
    opening the database) when the returned function is called, perhaps in another thread."""
    from telecbt_cli.core.store.paths import resolve_store_dir

    store_dir = resolve_store_dir(store_option(store))
    user = from_root("user", user)
    token = _session_token(passphrase_file, passphrase_fd, environ)
    if token:
        def by_session() -> "Access":
            from telecbt_cli.core.store import sessions

            # One identity per command: a --user naming someone else is refused, not ignored.
            return sessions.open_session(token, store_dir, expect_user=user)

        return by_session
    from telecbt_cli.core.store.paths import require_store_dir

    require_store_dir(store_dir)
    secret = passphrase(passphrase_file, passphrase_fd, environ=environ)

    def by_passphrase() -> "Access":
        from telecbt_cli.core.store import unlock  # imported here: the kiosk's first screen need not wait for it

        return unlock.unlock(store_dir, user, secret, wait=_wait_saying_why)

    return by_passphrase


def _session_token(passphrase_file: Path | None, passphrase_fd: int | None,
                   environ: Mapping[str, str] | None = None) -> str | None:
    """TELECBT_SESSION, unless a passphrase file or descriptor was given for this command."""
    given = from_root("passphrase_file", passphrase_file), from_root("passphrase_fd", passphrase_fd)
    if given != (None, None):
        return None
    return (os.environ if environ is None else environ).get("TELECBT_SESSION") or None


def _wait_saying_why(seconds: float) -> None:
    """The growing delay after failed sign-ins (core.store.throttle), with a word on stderr first."""
    import math
    import time

    from telecbt_cli.commands.output import say

    say(_word("cli.signin.waiting", "Waiting {seconds} s: earlier failed sign-ins under this name make each new try "
              "wait longer.", seconds=str(math.ceil(seconds))))
    time.sleep(seconds)


def open_access(store: Path | str | None, user: str | None, passphrase_file: Path | None,
                passphrase_fd: int | None, environ: Mapping[str, str] | None = None) -> "Access":
    """The store opened for this command: a session token if set, else a passphrase."""
    return access_opener(store, user, passphrase_file, passphrase_fd, environ)()


def running_command() -> str | None:
    """The command being run, as in access.COMMANDS (`patient pin set`); None outside the CLI."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - older Typer on Click
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return " ".join(ctx.command_path.split()[1:]) if ctx is not None else None


@contextlib.contextmanager
def unlocked(store: Path | None, user: str | None, passphrase_file: Path | None,
             passphrase_fd: int | None) -> Iterator["Access"]:
    """The store opened for this command, closed at the end.

    The role is checked first (access.COMMANDS): a refusal (exit 5) comes before any check
    of the command's own values."""
    access = open_access(store, user, passphrase_file, passphrase_fd)
    try:
        command = running_command()
        if command:
            access.require_command(command)
        yield access
    finally:
        if access.store.notices:
            from telecbt_cli.commands.output import say

            for notice in dict.fromkeys(access.store.notices):
                if _words_at_hand():  # core's words (a full disk) in the reader's language
                    from telecbt_cli.commands.i18n import said

                    notice = said(notice)
                say(_word("cli.signin.warning", "Warning: {notice}", notice=notice), style="yellow")
        access.close()


@contextlib.contextmanager
def reauthenticated(store: Path | None, user: str | None, passphrase_file: Path | None,
                    passphrase_fd: int | None) -> Iterator[tuple["Access", str]]:
    """The store opened with the user's current passphrase, even when a session is set
    (a session token alone must not change a passphrase); yields (access, that passphrase)."""
    from telecbt_cli.core.store import unlock
    from telecbt_cli.core.store.paths import require_store_dir, resolve_store_dir
    from telecbt_cli.core.store.textsafe import inert

    store_dir = resolve_store_dir(store_option(store))
    user = from_root("user", user)
    token = _session_token(passphrase_file, passphrase_fd)
    if token:
        from telecbt_cli.core.store import sessions

        session = sessions.open_session(token, store_dir, expect_user=user)
        user = session.user
        session.close()
    require_store_dir(store_dir)
    secret = passphrase(passphrase_file, passphrase_fd,
                        prompt=_word("cli.signin.current_for", "Current passphrase for {user}: ", user=inert(user))
                        if user else _word("cli.signin.current", "Current passphrase: "))
    access = unlock.unlock(store_dir, user, secret, wait=_wait_saying_why)
    try:
        command = running_command()
        if command:
            access.require_command(command)
        yield access, secret
    finally:
        access.close()
