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


def is_time_column(name: str) -> bool:
    """Columns that hold stored UTC stamps: `at` and every `…_at`."""
    return name == "at" or name.endswith("_at")


def in_local_time(rows: Iterable[dict], zone, columns: Iterable[str], style: str = "table") -> list[dict]:
    """Rows with the stamps in `columns` seen in `zone`: `table` as `2026-12-03 10:00 EAT`, `iso` as
    ISO 8601 with the offset (`2026-12-03T10:00:00+03:00`)."""
    from telecbt_cli.core.store.localtime import local_iso, staff_time

    shown = staff_time if style == "table" else local_iso
    names = list(columns)
    return [{**row, **{name: shown(row[name], zone) for name in names if isinstance(row.get(name), str)}}
            for row in rows]


def with_local_fields(rows: Iterable[dict], zone, names: Sequence[str]) -> list[dict]:
    """Rows for --json: the UTC stamps kept as they are, each of `names` joined by `<name>_local`
    (ISO 8601 with the offset of `zone`)."""
    from telecbt_cli.core.store.localtime import local_iso

    return [{**row, **{f"{name}_local": local_iso(row.get(name), zone) for name in names if name in row}}
            for row in rows]


def emit_csv(rows: Iterable[dict], columns: Sequence[str], raw: bool = False, zone=None) -> None:
    """CSV on stdout, meant for spreadsheets: control, bidi and invisible characters shown as visible
    escapes and cells that a spreadsheet would run as formulas quoted with `'` (`spreadsheet_cell`).

    With `zone`, stamps (`at`, `…_at`) are local ISO 8601 with their offset. `raw` (for programs)
    writes every value exactly as stored (stamps in UTC), except on a terminal: nothing written to
    a terminal carries control characters (README, "Output")."""
    if zone is not None and not raw:
        rows = in_local_time(rows, zone, [c for c in columns if is_time_column(c)], style="iso")
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


def _shown(value: Any) -> str:
    """A cell as people read it: yes/no for booleans, nothing for None, one line."""
    if isinstance(value, bool):
        from telecbt_cli.commands.i18n import t

        return t("cli.common.yes" if value else "cli.common.no")
    return inert(" ".join(str("" if value is None else value).splitlines()))


def _plain_grid(lines: Sequence[Sequence[str]]) -> None:
    """Aligned columns that never wrap, for a pipe or a file (`less -S`, `cut`, `grep` see whole rows)."""
    from rich.cells import cell_len

    widths = [max(cell_len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        sys.stdout.write("  ".join(cell + " " * (width - cell_len(cell))
                                   for cell, width in zip(line, widths)).rstrip() + "\n")
    sys.stdout.flush()


def emit_heading(text: str) -> None:
    """A heading that belongs to the data after it: on stdout, so it stays in order in a pager."""
    if not sys.stdout.isatty():
        sys.stdout.write(inert(text) + "\n")
        sys.stdout.flush()
        return
    from rich.text import Text

    _console(stderr=False).print(Text(inert(text), style="bold"))


def yes_no(rows: Iterable[dict]) -> list[dict]:
    """Rows with booleans as yes/no, as people (and spreadsheets) read them."""
    return [{k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in row.items()} for row in rows]


def emit_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]], empty: str = "Nothing to show.",
               zone=None) -> None:
    """A table of rows for people; `columns` are (key, heading). Fits a terminal; never wraps in a pipe.
    With `zone`, stamps (`at`, `…_at`) read as local times with their zone (`2026-12-03 10:00 EAT`)."""
    if not rows:
        if empty == "Nothing to show.":
            from telecbt_cli.commands.i18n import t

            empty = t("cli.common.nothing")
        say(empty)
        return
    if zone is not None:
        rows = in_local_time(rows, zone, [key for key, _ in columns if is_time_column(key)])
    cells = [[_shown(row.get(key)) for key, _ in columns] for row in rows]
    if not sys.stdout.isatty():
        _plain_grid([[heading for _, heading in columns], *cells])
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for _, heading in columns:
        table.add_column(heading, overflow="fold")
    for line in cells:
        table.add_row(*[Text(cell) for cell in line])
    _console(stderr=False).print(table)


def emit_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Label: value lines for one record."""
    if not sys.stdout.isatty():
        if pairs:
            _plain_grid([[_shown(label), _shown(value)] for label, value in pairs])
        return
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(Text(label), Text(_shown(value)))
    _console(stderr=False).print(grid)


def silence_output() -> None:
    """The reader of our output has gone (a closed pipe): whatever is still written, buffered
    or flushed at exit goes nowhere, so nothing more is said. Plain file descriptors only:
    no signals, so it behaves the same on Windows."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (a test runner's buffer): nothing will reach a closed pipe
    os.close(devnull)


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
