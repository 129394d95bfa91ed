"""Output in one place: data to stdout (table, JSON, CSV), messages to stderr, user text inert."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from telecbt_cli.core.store.textsafe import (  # noqa: F401  (commands import inert from here)
    UNSAFE_CLASS,
    inert,
    spreadsheet_cell,
)


def _console(stderr: bool):
    from rich.console import Console

    # Messages wrap softly (one line per message in logs); tables fit the terminal.
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def _plain_stderr() -> bool:
    return bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()


def say(message: str, style: str | None = None) -> None:
    """A message for people, on stderr, never parsed as markup.

    Plain writes when there is no colour to show: scripts then never pay for
    importing Rich.
    """
    text = inert(message, keep_newlines=True)
    if _plain_stderr():
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return
    from rich.text import Text

    _console(stderr=True).print(Text(text, style=style))


def error(message: str) -> None:
    say(f"Error: {message}", style="bold red")


_JSON_UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # outside the BMP: a JSON surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _json_safe(text: str) -> str:
    """JSON whose strings hold no character that would steer or hide anything on a terminal: each is a
    `\\u` escape, which every JSON reader turns back into the same character (nothing is lost)."""
    return _JSON_UNSAFE.sub(_json_escape, text)


def emit_json(data: Any) -> None:
    """One JSON document on stdout; terminal-steering characters stay escaped."""
    sys.stdout.write(_json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)) + "\n")
    sys.stdout.flush()


def emit_csv(rows: Iterable[dict], columns: Sequence[str], raw: bool = False) -> None:
    """CSV on stdout, meant for spreadsheets: control, bidi and invisible characters shown as visible
    escapes and cells that a spreadsheet would run as formulas quoted with `'` (`spreadsheet_cell`).

    `raw` (for programs) writes every value exactly as stored, except on a terminal: nothing
    written to a terminal carries control characters (README, "Output")."""
    tty = sys.stdout.isatty()
    # Raw text may hold a bare CR, which the csv module quotes only when it ends lines: quote all text.
    writer = csv.writer(sys.stdout, lineterminator="\n",
                        quoting=csv.QUOTE_NONNUMERIC if raw and not tty else csv.QUOTE_MINIMAL)
    writer.writerow(columns)

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str) and (tty or not raw):
            value = inert(value, keep_newlines=not tty)
        return value if raw else spreadsheet_cell(value)

    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])


def emit_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]], empty: str = "Nothing to show.") -> None:
    """A table of rows for people; `columns` are (key, heading)."""
    from rich.table import Table
    from rich.text import Text

    if not rows:
        say(empty)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for _, heading in columns:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*[Text(inert(" ".join(str(row.get(key) if row.get(key) is not None else "").splitlines())))
                        for key, _ in columns])
    _console(stderr=False).print(table)


def emit_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Label: value lines for one record."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(Text(label), Text(inert(value)))
    _console(stderr=False).print(grid)


def emit_text(text: str) -> None:
    """Plain data on stdout (a token, a key)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def progress_bar(quiet: bool, title: str):
    """A transient progress bar on stderr when it is a terminal; yields update(done, total, label)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(title, total=None)

        def update(done: int, total: int | None, label: str | None = None) -> None:
            bar.update(task, completed=done, total=total, description=f"{title} {label}" if label else title)

        yield update
