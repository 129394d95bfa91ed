"""The Typer root: `telecbt`. Command groups live in telecbt_cli/commands/."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from telecbt_cli.commands import help_i18n, params
from telecbt_cli.core.store.errors import ExitCode, TelecbtError

try:  # Typer >= 0.29 carries its own copy of Click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older Typer on Click
    from click import ClickException, UsageError
    from click.exceptions import NoArgsIsHelpError


#: Command groups (name: module) imported only when used, so one command does not pay for the rest.
LAZY_GROUPS = {"store": "store", "user": "user", "patient": "patient", "diary": "diary", "plan": "plan",
               "session": "checkin", "message": "message", "content": "content", "module": "module",
               "measure": "measure", "alerts": "alerts", "report": "report", "device": "device",
               "bundle": "bundle", "audit": "audit", "export": "export"}
#: The one-line help of each group, so `telecbt --help` need not import them all
#: (a test checks these match the groups' own help).
GROUP_HELP = {
    "store": "The encrypted store: info, check, passwd, rekey, backup, recover.",
    "user": "Staff users: add, list, passwd, disable.",
    "patient": "Patients: add, list, show, edit, archive, consent, pin. Tip: `patient add` with no options asks for "
               "each field, so names stay out of shell history.",
    "diary": "Pain diary: add, correct, list, import.",
    "plan": "Treatment plan: show, set, goal, homework.",
    "session": "Check-in sessions: schedule, reschedule, record, list, ics.",
    "message": "Secure messages: send, list.",
    "content": "Clinical content: list, show, validate.",
    "module": "CBT modules: list, show, run.",
    "measure": "Questionnaires: list, take, history.",
    "alerts": "Safety alerts: list, ack.",
    "report": "Reports: patient progress, program figures.",
    "device": "Device identity and trusted peers: show, trust, list, revoke, export-identity.",
    "bundle": "Sync bundles: export, import, fetch (from a mailbox), status, conflicts, and the email outbox.",
    "audit": "The audit log: log, verify.",
    "export": "Bulk exports for analysts and health-record systems: csv, ndjson, fhir.",
}


params.install()  # plain values (str, paths, whole numbers) are read without pydantic: commands/params.py

HELP_NAMES = ["-h", "--help"]


def _one_help_style(command: Any) -> Any:
    """One help style for every command, old or new: arguments named in capitals (CODE,
    ENTRY), flags (and -h) shown without a `<bool>` type, the page in the reader's language
    (commands/help_i18n.py). Applied once per command."""
    if getattr(command, "_help_styled", False):
        return command
    command._help_styled = True
    help_i18n.in_readers_language(command)
    help_option = command.get_help_option(typer.Context(command, help_option_names=HELP_NAMES))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if param.param_type_name == "argument" and param.metavar is None:
            param.metavar = param.name.upper()
        elif getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _one_help_style(sub)
    return command


def _output_closed() -> typer.Exit:
    """The reader of our output went away (`telecbt … | head -1`): end quietly, like `cat`."""
    from telecbt_cli.commands.output import silence_output

    silence_output()
    return typer.Exit(int(ExitCode.OUTPUT_CLOSED))


@contextlib.contextmanager
def _usage_in_readers_language() -> Iterator[None]:
    """Click's usage errors (missing argument, no such option or command, invalid value) said in the
    reader's language, exit code 2 as Click gives; in English, Click's own rendering."""
    try:
        yield
    except UsageError as problem:
        if isinstance(problem, NoArgsIsHelpError):
            raise
        from telecbt_cli.commands.i18n import reader

        if reader() == "en":
            raise
        from telecbt_cli.commands import usage_errors

        usage_errors.show(problem)
        raise typer.Exit(int(ExitCode.USAGE)) from None


@contextlib.contextmanager
def _quiet_if_output_closes() -> Iterator[None]:
    """A closed stdout ends the command with _output_closed(). Rich (help pages, tables) answers
    a closed pipe with SystemExit(1) raised while handling the BrokenPipeError: the same event."""
    try:
        yield
    except BrokenPipeError:
        raise _output_closed() from None
    except SystemExit as done:
        if isinstance(done.__context__, BrokenPipeError):
            raise _output_closed() from None
        raise


class RootGroup(TyperGroup):
    """Loads command groups on demand, and turns the project's errors into one plain
    line on stderr and a stable exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return names + [name for name in LAZY_GROUPS if name not in names]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_GROUPS and getattr(self, "_listing", False):
            return TyperGroup(name=cmd_name, help=help_i18n.said(GROUP_HELP[cmd_name]))
        if command is None and cmd_name in LAZY_GROUPS:
            module = importlib.import_module(f"telecbt_cli.commands.{LAZY_GROUPS[cmd_name]}")
            command = typer.main.get_command(module.app)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return None if command is None else _one_help_style(command)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        _one_help_style(self)
        with _quiet_if_output_closes(), _usage_in_readers_language():  # `telecbt -h | head -3` prints help while parsing
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            with _quiet_if_output_closes(), _usage_in_readers_language():
                return super().invoke(ctx)
        except TelecbtError as err:
            from telecbt_cli.commands.i18n import error_text
            from telecbt_cli.commands.output import error

            error(error_text(err))  # in the reader's language (TELECBT_LANG) when the error has a key
            raise typer.Exit(int(err.exit_code)) from None
        except (KeyboardInterrupt, typer.Abort):
            from telecbt_cli.commands.i18n import t_or

            sys.stderr.write("\n" + t_or("cli.failure.interrupted", "Interrupted: nothing more was changed.") + "\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, ClickException):
            raise
        except Exception as err:
            if os.environ.get("TELECBT_DEBUG"):
                raise
            from telecbt_cli.commands.i18n import t_or
            from telecbt_cli.commands.output import error

            # The message itself is not shown: it could quote patient data.
            error(t_or("cli.failure.unexpected", "unexpected problem ({kind}); set TELECBT_DEBUG=1 for details "
                       "and report it. Completed changes are kept; the failed step was rolled back.",
                       kind=err.__class__.__name__))
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    cls=RootGroup,
    name="telecbt",
    help="Remote CBT for chronic pain: an encrypted local store, patients, sessions and sync.",
    no_args_is_help=True,
    context_settings={"help_option_names": HELP_NAMES},
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        from telecbt_cli import __version__

        sys.stdout.write(f"telecbt {__version__}\n")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_show_version,
                                          help="Print telecbt's version and exit.")] = False,
    store: Annotated[Optional[Path], typer.Option(
        "--store", show_default=False, help="Store folder, for any command after it (as the command's own --store).")] = None,
    user: Annotated[Optional[str], typer.Option(
        "--user", "-u", show_default=False, help="Staff user to unlock as, for any command after it.")] = None,
    passphrase_file: Annotated[Optional[Path], typer.Option(
        "--passphrase-file", show_default=False,
        help="Read the passphrase from the first line of this file ('-' = standard input), for any command after it.")] = None,
    passphrase_fd: Annotated[Optional[int], typer.Option(
        "--passphrase-fd", show_default=False,
        help="Read the passphrase from this open file descriptor, for any command after it.")] = None,
) -> None:
    """Options given before the command count for it (`telecbt --store S patient list`);
    the command's own option wins when both are given. commands/common.py reads them."""


def _register() -> None:
    from telecbt_cli.commands import care, demo, session, settings, tui

    session.register(app)
    settings.register(app)
    care.register(app)
    demo.register(app)
    tui.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        try:  # output still buffered when the reader has gone: end as quietly as above
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(int(_output_closed().exit_code)) from None
