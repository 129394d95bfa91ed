"""`--help` pages in the reader's language: each English help text of a command or option, and Typer's own
words, looked up in content/locales/help/<lang>/*.toml (and a clinic folder's locales/help/<lang>/) when a
page is drawn.

A page is drawn by Typer from attributes of Click objects (`command.help`, `param.help`) and from
`typer.rich_utils`' module constants ("Options", "[required]", ...). While one page is drawn for a reader
of another language, those attributes and constants hold the translation, and are put back after: the
command tree itself stays English, as `--json`, the tests and the other languages need it. A text with
no translation is drawn in English. English readers pay nothing: no file is read.

The type names Typer shows (`<str>`, `<int>`, `<path>`) are translated too (`<texto>`, `<entero>`):
they are words a reader reads to know what to type, not codes typed back.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

HELP_DIR = Path(__file__).resolve().parents[1] / "content" / "locales" / "help"
#: The constants of typer.rich_utils that hold Typer's words on a help page.
TYPER_WORDS = ("ARGUMENTS_PANEL_TITLE", "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE", "DEFAULT_STRING",
               "ENVVAR_STRING", "REQUIRED_LONG_STRING")
#: Click's words on the usage line (`Usage: telecbt diary [OPTIONS] COMMAND [ARGS]...`).
USAGE_WORDS = ("Usage:", "[OPTIONS]", "COMMAND [ARGS]...")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")

#: The translations of the page being drawn, for the groups `telecbt --help` lists without loading them.
_drawing: list[dict[str, str]] = []


def normal(text: str) -> str:
    """A help text as it is matched: each paragraph's lines joined by one space, paragraphs apart by one blank line."""
    paragraphs = _PARAGRAPHS.split(inspect.cleandoc(text).strip())
    return "\n\n".join(" ".join(line.strip() for line in part.splitlines() if line.strip())
                       for part in paragraphs if part.strip())


def help_folders(lang: str) -> list[Path]:
    """Where the help translations for `lang` are: built in, then each clinic content folder's."""
    from telecbt_cli.content.catalog import content_dirs

    return [HELP_DIR / lang, *(root / "locales" / "help" / lang for root in content_dirs())]


def read_pairs(path: Path, lang: str) -> list[tuple[str, str]]:
    """The (English, translation) pairs of one help file, both normalised; a pair without its translation is left out."""
    import tomllib

    with path.open("rb") as handle:
        entries = tomllib.load(handle).get("help", [])
    return [(normal(entry["en"]), normal(entry[lang])) for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("en"), str) and isinstance(entry.get(lang), str)
            and entry[lang].strip()]


@cache
def translations(lang: str) -> dict[str, str]:
    """English help text -> `lang`; a clinic's file wins over the built-in one. A file that cannot be read is skipped
    (a help page must still show, in English where need be)."""
    table: dict[str, str] = {}
    for folder in help_folders(lang):
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                table.update(read_pairs(path, lang))
            except (OSError, ValueError):
                continue
    return table


def said(text: str) -> str:
    """`text` in the language of the help page being drawn (a group `telecbt --help` lists unloaded); else as it is."""
    return _say(_drawing[-1], text) if _drawing else text


def _say(table: dict[str, str], text: str | None) -> str | None:
    if not text:
        return text
    return table.get(normal(text), text)


def _say_around(table: dict[str, str], text: str) -> str:
    """A word with spaces or a `{}` around it (Typer's `[default: {}]`), translated, the spaces kept."""
    core = text.strip()
    return text.replace(core, table.get(core, core)) if core else text


class _Swaps:
    """Attributes set for one page and put back after, as they were (an instance attribute that
    shadowed nothing is removed again)."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        if name in getattr(owner, "__dict__", {}):
            old = owner.__dict__[name]
            self._undo.append(lambda: setattr(owner, name, old))
        else:
            self._undo.append(lambda: delattr(owner, name))
        setattr(owner, name, value)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


def _usage(table: dict[str, str], draw: Callable[[Any], str]) -> Callable[[Any], str]:
    def get_usage(ctx: Any) -> str:
        line = draw(ctx)
        for word in USAGE_WORDS:
            line = line.replace(word, table.get(word, word), 1)
        return line
    return get_usage


def _type_name(table: dict[str, str], show: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def display_type_rich(ctx: Any) -> str | None:
        shown = show(ctx)
        return table.get(shown, shown) if shown else shown
    return display_type_rich


@contextlib.contextmanager
def speaking(table: dict[str, str], command: Any, ctx: Any) -> Iterator[None]:
    """While drawing `command`'s help page: its help, its parameters' help and type names, its subcommands' help,
    its usage line and Typer's words in the translations of `table`."""
    from typer import rich_utils

    swaps = _Swaps()
    try:
        for name in TYPER_WORDS:
            swaps.set(rich_utils, name, _say_around(table, getattr(rich_utils, name)))
        for shown in (command, *getattr(command, "commands", {}).values()):
            swaps.set(shown, "help", _say(table, shown.help))
            swaps.set(shown, "short_help", _say(table, shown.short_help))
        for param in command.get_params(ctx):
            swaps.set(param, "help", _say(table, param.help))
            swaps.set(param, "display_type_rich", _type_name(table, param.display_type_rich))
        swaps.set(command, "get_usage", _usage(table, command.get_usage))
        _drawing.append(table)
        yield
    finally:
        if _drawing:
            _drawing.pop()
        swaps.undo()


def _reader() -> str:
    """The reader's language; English when it cannot be told (a bad TELECBT_LANG must not hide the help)."""
    try:
        from telecbt_cli.commands.i18n import reader

        return reader()
    except Exception:
        return "en"


def in_readers_language(command: Any) -> None:
    """Draw `command`'s help page (-h, --help, a group called with nothing) in the reader's language."""
    draw = command.format_help

    def format_help(ctx: Any, formatter: Any) -> None:
        lang = _reader()
        table = translations(lang) if lang != "en" else {}
        if not table:
            return draw(ctx, formatter)
        with speaking(table, command, ctx):
            return draw(ctx, formatter)

    command.format_help = format_help
