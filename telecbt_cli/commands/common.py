"""Options shared by commands, confirmations, and (from signin.py) reading secrets and opening the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.signin import (  # noqa: F401  (commands import these from here)
    from_root,
    new_passphrase,
    passphrase,
    read_secret,
    reauthenticated,
    store_option,
    unlocked,
)
from telecbt_cli.core.store.errors import UsageError

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
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV on stdout, safe to open in a spreadsheet.")]
RawOpt = Annotated[bool, typer.Option("--raw", help="With --csv: every cell exactly as stored, for programs (no ' "
                                                    "before = + - @, control characters kept except on a terminal).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def kdf():
    from telecbt_cli.core.store.settings import kdf_params

    return kdf_params()


def said_yes(answer: str) -> bool:
    """A typed answer that means yes in the reader's language (y, yes; s, si, sí too in Spanish)."""
    from telecbt_cli.commands.i18n import t

    return answer.strip().lower() in t("cli.confirm.yes_words").split()


def confirm(question: str, yes: bool) -> None:
    """Ask before anything hard to undo; without a terminal, demand --yes."""
    if yes:
        return
    from telecbt_cli.commands.i18n import t

    if not sys.stdin.isatty():
        raise UsageError("{question} Pass --yes to confirm without a terminal.", key="errors.confirm.no_terminal",
                         question=question)
    from telecbt_cli.core.store.textsafe import inert

    sys.stderr.write(f"{inert(question)} {t('cli.confirm.choices')} ")  # a device's or user's name may hold escapes
    sys.stderr.flush()
    if not said_yes(sys.stdin.readline()):
        from telecbt_cli.commands.output import say

        say(t("cli.confirm.nothing"))
        raise typer.Exit(1)


def binary_to_stdout(what: str, json_out: bool = False) -> None:
    """`--out -` for a file that is not text: standard output must lead to a file or a pipe."""
    if json_out:
        raise UsageError("--out - writes {what} itself to standard output: leave out --json",
                         key="errors.out.with_json", what=what)
    if sys.stdout.isatty():
        raise UsageError("--out - would print {what} on the terminal: redirect standard output to a file "
                         "or a pipe, or give a file name", key="errors.out.terminal", what=what)


def no_stdout(out: object, what: str) -> None:
    """Refuse `--out -` where the output is a folder of files."""
    if out is not None and str(out) == "-":
        raise UsageError("{what}, so it cannot go to standard output (--out -): give a folder", key="errors.out_folder.folder",
                         what=what)


def one_format(json_out: bool, csv_out: bool = False, raw: bool = False) -> None:
    if json_out and csv_out:
        raise UsageError("choose one of --json and --csv", key="errors.cli_options.one_format")
    if raw and not csv_out:
        raise UsageError("--raw goes with --csv (JSON always holds the exact values)", key="errors.cli_options.raw")
