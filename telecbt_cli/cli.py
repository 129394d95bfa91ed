"""The Typer root: `telecbt`. Command groups live in telecbt_cli/commands/."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from telecbt_cli.core.store.errors import ExitCode, TelecbtError

try:  # Typer >= 0.29 carries its own copy of Click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older Typer on Click
    from click import ClickException


#: Command groups (name: module) imported only when used, so one command does not pay for the rest.
LAZY_GROUPS = {"store": "store", "user": "user", "patient": "patient", "diary": "diary", "plan": "plan",
               "session": "checkin", "message": "message", "content": "content", "module": "module",
               "measure": "measure", "alerts": "alerts", "report": "report", "device": "device",
               "bundle": "bundle", "audit": "audit", "export": "export"}
#: The one-line help of each group, so `telecbt --help` need not import them all
#: (a test checks these match the groups' own help).
GROUP_HELP = {
    "store": "The encrypted store: info, check, passphrase, rekey, backup, recover.",
    "user": "Staff users: add, list, passwd, disable.",
    "patient": "Patients: add, list, show, edit, archive, consent, pin. Tip: `patient add` with no options asks for "
               "each field, so names stay out of shell history.",
    "diary": "Pain diary: add, correct, list, import.",
    "plan": "Treatment plan: show, set, goals, homework.",
    "session": "Check-in sessions: schedule, record, list, ics.",
    "message": "Secure messages: send, list.",
    "content": "Clinical content: list, show, validate.",
    "module": "CBT modules: list, show, run.",
    "measure": "Questionnaires: list, take, history.",
    "alerts": "Safety alerts: list, ack.",
    "report": "Reports: patient progress, program figures.",
    "device": "Device identity and trusted peers: show, trust, list, revoke.",
    "bundle": "Sync bundles: export, import, conflicts.",
    "audit": "The audit log: log, verify.",
    "export": "Bulk exports for analysts and health-record systems: csv, ndjson, fhir.",
}


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
            return TyperGroup(name=cmd_name, help=GROUP_HELP[cmd_name])
        if command is None and cmd_name in LAZY_GROUPS:
            module = importlib.import_module(f"telecbt_cli.commands.{LAZY_GROUPS[cmd_name]}")
            command = typer.main.get_command(module.app)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TelecbtError as err:
            from telecbt_cli.commands.output import error

            error(str(err))
            raise typer.Exit(int(err.exit_code)) from None
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("\nInterrupted: nothing more was changed.\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, ClickException):
            raise
        except Exception as err:
            if os.environ.get("TELECBT_DEBUG"):
                raise
            from telecbt_cli.commands.output import error

            # The message itself is not shown: it could quote patient data.
            error(f"unexpected problem ({err.__class__.__name__}); set TELECBT_DEBUG=1 for details "
                  "and report it. Completed changes are kept; the failed step was rolled back.")
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    cls=RootGroup,
    name="telecbt",
    help="Remote CBT for chronic pain: an encrypted local store, patients, sessions and sync.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _register() -> None:
    from telecbt_cli.commands import care, demo, session, tui

    session.register(app)
    care.register(app)
    demo.register(app)
    tui.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
