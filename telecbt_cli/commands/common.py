"""Options shared by commands, reading secrets safely, and opening the store."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from telecbt_cli.core.store.errors import AuthError, UsageError

if TYPE_CHECKING:
    from telecbt_cli.core.store.access import Access

StoreOpt = Annotated[
    Optional[Path],
    typer.Option("--store", envvar="TELECBT_STORE", show_default=False,
                 help="Store folder. Default: TELECBT_STORE, else the folder `telecbt paths` shows."),
]
UserOpt = Annotated[
    Optional[str],
    typer.Option("--user", "-u", envvar="TELECBT_USER", show_default=False,
                 help="Staff user to unlock as (TELECBT_USER). Without it every user's slot is tried."),
]
PassFileOpt = Annotated[
    Optional[Path],
    typer.Option("--passphrase-file", show_default=False,
                 help="Read the passphrase from the first line of this file; '-' reads standard input."),
]
PassFdOpt = Annotated[
    Optional[int],
    typer.Option("--passphrase-fd", show_default=False,
                 help="Read the passphrase from this open file descriptor."),
]
NewPassFileOpt = Annotated[
    Optional[Path],
    typer.Option("--new-passphrase-file", show_default=False,
                 help="Read the new passphrase from this file ('-' = standard input)."),
]
NewPassFdOpt = Annotated[
    Optional[int],
    typer.Option("--new-passphrase-fd", show_default=False,
                 help="Read the new passphrase from this file descriptor."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _first_line(text: str, source: str) -> str:
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise UsageError(f"{source} is empty: it should hold the passphrase on its first line")
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
        raise UsageError(f"cannot read file descriptor {fd}: {error.strerror}") from None
    return b"".join(chunks).decode("utf-8", errors="strict")


def read_secret(
    *,
    file: Path | None,
    fd: int | None,
    env: str,
    prompt: str,
    options: str,
    confirm: bool = False,
) -> str:
    """A secret from a file, a descriptor, the environment or a hidden prompt, in that order.

    Without a terminal it never prompts: it fails at once, naming the options.
    """
    if file is not None:
        if str(file) == "-":
            return _first_line(sys.stdin.readline(), "standard input")
        try:
            return _first_line(file.read_text(encoding="utf-8"), str(file))
        except FileNotFoundError:
            raise UsageError(f"passphrase file {file} does not exist") from None
        except (OSError, UnicodeDecodeError):
            raise UsageError(f"cannot read passphrase file {file}") from None
    if fd is not None:
        return _first_line(_read_fd(fd), f"file descriptor {fd}")
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise AuthError(f"no passphrase given and no terminal to ask on: use {options} or {env}")
    secret = getpass.getpass(prompt, stream=sys.stderr)
    if confirm:
        again = getpass.getpass("Repeat it: ", stream=sys.stderr)
        if again != secret:
            raise UsageError("the two entries differ: nothing was changed")
    return secret


def from_root(name: str, value: Any) -> Any:
    """A global option typed before the command (`telecbt --store S patient list`) when the
    command's own option was not typed; the command's own wins when both are."""
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


def passphrase(file: Path | None, fd: int | None, prompt: str = "Passphrase: ", confirm: bool = False) -> str:
    return read_secret(file=from_root("passphrase_file", file), fd=from_root("passphrase_fd", fd),
                       env="TELECBT_PASSPHRASE", prompt=prompt,
                       options="--passphrase-file or --passphrase-fd", confirm=confirm)


def new_passphrase(file: Path | None, fd: int | None, who: str) -> str:
    return read_secret(file=file, fd=fd, env="TELECBT_NEW_PASSPHRASE", prompt=f"New passphrase for {who}: ",
                       options="--new-passphrase-file or --new-passphrase-fd", confirm=True)


def kdf():
    from telecbt_cli.core.store.settings import kdf_params

    return kdf_params()


def _session_token(passphrase_file: Path | None, passphrase_fd: int | None) -> str | None:
    """TELECBT_SESSION, unless a passphrase file or descriptor was given for this command."""
    given = from_root("passphrase_file", passphrase_file), from_root("passphrase_fd", passphrase_fd)
    if given != (None, None):
        return None
    return os.environ.get("TELECBT_SESSION") or None


@contextlib.contextmanager
def unlocked(store: Path | None, user: str | None, passphrase_file: Path | None,
             passphrase_fd: int | None) -> Iterator["Access"]:
    """The store opened for this command: a session token if set, else a passphrase.

    One identity per command: with a session, a --user (or TELECBT_USER) naming someone
    else is refused rather than ignored."""
    from telecbt_cli.core.store.paths import resolve_store_dir

    store_dir = resolve_store_dir(store_option(store))
    user = from_root("user", user)
    token = _session_token(passphrase_file, passphrase_fd)
    if token:
        from telecbt_cli.core.store import sessions

        access = sessions.open_session(token, store_dir, expect_user=user)
    else:
        from telecbt_cli.core.store import unlock
        from telecbt_cli.core.store.paths import require_store_dir

        require_store_dir(store_dir)
        secret = passphrase(passphrase_file, passphrase_fd)
        access = unlock.unlock(store_dir, user, secret)
    try:
        yield access
    finally:
        access.close()


@contextlib.contextmanager
def reauthenticated(store: Path | None, user: str | None, passphrase_file: Path | None,
                    passphrase_fd: int | None) -> Iterator[tuple["Access", str]]:
    """The store opened with the user's current passphrase, even when a session is set
    (a session token alone must not change a passphrase); yields (access, that passphrase)."""
    from telecbt_cli.core.store import unlock
    from telecbt_cli.core.store.paths import require_store_dir, resolve_store_dir

    store_dir = resolve_store_dir(store_option(store))
    user = from_root("user", user)
    token = _session_token(passphrase_file, passphrase_fd)
    if token:
        from telecbt_cli.core.store import sessions

        session = sessions.open_session(token, store_dir, expect_user=user)
        user = session.user
        session.close()
    require_store_dir(store_dir)
    from telecbt_cli.core.store.textsafe import inert

    secret = passphrase(passphrase_file, passphrase_fd,
                        prompt=f"Current passphrase{' for ' + inert(user) if user else ''}: ")
    access = unlock.unlock(store_dir, user, secret)
    try:
        yield access, secret
    finally:
        access.close()


def confirm(question: str, yes: bool) -> None:
    """Ask before anything hard to undo; without a terminal, demand --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} Pass --yes to confirm without a terminal.")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        from telecbt_cli.commands.output import say

        say("Nothing was changed.")
        raise typer.Exit(1)


def binary_to_stdout(what: str, json_out: bool = False) -> None:
    """`--out -` for a file that is not text: standard output must lead to a file or a pipe."""
    if json_out:
        raise UsageError(f"--out - writes {what} itself to standard output: leave out --json")
    if sys.stdout.isatty():
        raise UsageError(f"--out - would print {what} on the terminal: redirect standard output to a file "
                         "or a pipe, or give a file name")


def no_stdout(out: object, what: str) -> None:
    """Refuse `--out -` where the output is a folder of files."""
    if out is not None and str(out) == "-":
        raise UsageError(f"{what}, so it cannot go to standard output (--out -): give a folder")


def one_format(json_out: bool, csv_out: bool = False) -> None:
    if json_out and csv_out:
        raise UsageError("choose one of --json and --csv")
