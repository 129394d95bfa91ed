"""Options shared by commands, reading secrets safely, and opening the store."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

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
    check: Callable[[str], object] | None = None,
) -> str:
    """A secret from a file, a descriptor, the environment or a hidden prompt, in that order.

    Without a terminal it never prompts: it fails at once, naming the options. At a prompt,
    `check` (e.g. the passphrase rules) judges the first entry before it is asked again to
    confirm, and a refused entry is asked for again.
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
    while check is not None:
        try:
            check(secret)
            break
        except UsageError as problem:
            from telecbt_cli.commands.output import error

            error(f"{problem}. Please choose another.")
            secret = getpass.getpass(prompt, stream=sys.stderr)
    if confirm:
        again = getpass.getpass("Repeat it: ", stream=sys.stderr)
        if again != secret:
            raise UsageError("the two entries differ: nothing was changed")
    return secret


def passphrase(file: Path | None, fd: int | None, prompt: str = "Passphrase: ", confirm: bool = False) -> str:
    """The passphrase to unlock with; with `confirm` (a new store), a new one, judged before it is repeated."""
    from telecbt_cli.core.store.unlock import check_passphrase

    return read_secret(file=file, fd=fd, env="TELECBT_PASSPHRASE", prompt=prompt,
                       options="--passphrase-file or --passphrase-fd", confirm=confirm,
                       check=check_passphrase if confirm else None)


def new_passphrase(file: Path | None, fd: int | None, who: str) -> str:
    """A new passphrase, judged by the passphrase rules before it is asked for a second time."""
    from telecbt_cli.core.store.unlock import check_passphrase

    return read_secret(file=file, fd=fd, env="TELECBT_NEW_PASSPHRASE", prompt=f"New passphrase for {who}: ",
                       options="--new-passphrase-file or --new-passphrase-fd", confirm=True, check=check_passphrase)


def kdf():
    from telecbt_cli.core.store.settings import kdf_params

    return kdf_params()


@contextlib.contextmanager
def unlocked(store: Path | None, user: str | None, passphrase_file: Path | None,
             passphrase_fd: int | None) -> Iterator["Access"]:
    """The store opened for this command: a session token if set, else a passphrase."""
    from telecbt_cli.core.store.paths import resolve_store_dir

    store_dir = resolve_store_dir(store)
    token = os.environ.get("TELECBT_SESSION")
    if token and passphrase_file is None and passphrase_fd is None:
        from telecbt_cli.core.store import sessions

        access = sessions.open_session(token, store_dir)
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


def one_format(json_out: bool, csv_out: bool = False) -> None:
    if json_out and csv_out:
        raise UsageError("choose one of --json and --csv")
