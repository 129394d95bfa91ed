"""Every command of the `telecbt` Typer tree, for tests that must cover them all (contract, roles).

The root loads its groups lazily (telecbt_cli.cli.LAZY_GROUPS); walking it through
`list_commands`/`get_command` loads each one, so a command added anywhere is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import typer

from telecbt_cli.cli import app


@dataclass(frozen=True)
class Command:
    """One command of the tree: its words after `telecbt` and its Click command."""

    path: tuple[str, ...]
    command: Any

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")

    def options(self) -> set[str]:
        """Every option string it accepts, e.g. {'--json', '-h', ...}."""
        return {opt for param in self.command.params for opt in (*param.opts, *param.secondary_opts)
                if opt.startswith("-")}

    def arguments(self) -> list[Any]:
        return [param for param in self.command.params if param.param_type_name == "argument"]

    def subcommands(self) -> list[str]:
        return list(self.command.list_commands(None)) if self.is_group else []


@cache
def root() -> Any:
    """The Click group behind `telecbt`."""
    return typer.main.get_command(app)


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[Command]:
    node = Command(path, command)
    yield node
    for name in node.subcommands():
        yield from _walk(command.get_command(None, name), (*path, name))


def all_commands() -> list[Command]:
    """The root, every group and every leaf command, parents before children."""
    return list(_walk(root(), ()))


def groups() -> list[Command]:
    return [c for c in all_commands() if c.is_group]


def leaves() -> list[Command]:
    """Commands that run something (not groups)."""
    return [c for c in all_commands() if not c.is_group]
