"""Table rows serialised by SQLite for bulk exports: NDJSON objects and CSV lines, a thousand at a time.

Building a Python value for every cell and serialising it again costs several times more than
the rest of an export; SQLite builds the text instead (`json_object`; one `printf` per CSV
line) and, for a whole table, joins a range of a thousand rowids into one text
(`group_concat`), so Python handles one object per thousand rows. A filtered export (some
patients, or recent changes) reads the matching rows through the indexes instead. Text comes
back as bytes (the connection's `text_factory`): never decoded and encoded again.

CSV cells (RFC 4180): text is always in double quotes, its double quotes doubled (a NULL text
is `""`, as an empty text); a number is written bare, as SQLite writes it (a decimal may show
more digits, e.g. 0.33333333333333332, for the same value); a NULL number is an empty cell.
A text cell that a spreadsheet would run as a formula therefore shows in the line as `"=` (or
`"+ "- "@`, a quote then a tab or CR): a chunk holding none is passed on after a few substring
searches; otherwise its rows are read again one by one and the cells of those that hold one
are written through `textsafe.spreadsheet_cell`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from telecbt_cli.core.store.textsafe import FORMULA_PREFIXES, spreadsheet_cell

BATCH = 1000
#: How a cell starting with a formula prefix (textsafe.FORMULA_PREFIXES) shows in a CSV line.
_FORMULA = tuple(b'"' + prefix.encode() for prefix in FORMULA_PREFIXES)


@dataclass(frozen=True)
class Rows:
    """Which rows of a table an export holds: a WHERE clause and its parameters; `whole` when it
    keeps every live row (then rowid ranges are read; otherwise the indexes find the rows)."""

    table: str
    where: str
    params: tuple
    whole: bool

    def texts(self, conn, expr: str) -> Iterator[tuple[int, bytes, object]]:
        """(rows, their texts joined by newlines, what `again` needs) for each step, in rowid order."""
        if self.whole:
            top = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {self.table}").fetchone()[0]
            # A rowid range is read from the table's b-tree in rowid order, which is the order the
            # aggregate sees (asking group_concat for it again would sort each range: a third slower).
            sql = (f"SELECT count(*), group_concat(x, char(10)) FROM (SELECT {expr} AS x FROM {self.table} "
                   f"WHERE {self.where} AND rowid > ? AND rowid <= ?)")
            for low in range(0, top, BATCH):
                rows, text = conn.execute(sql, (*self.params, low, low + BATCH)).fetchone()
                if rows:
                    yield rows, text, (low, low + BATCH)
            return
        cursor = conn.execute(f"SELECT rowid, {expr} FROM {self.table} WHERE {self.where} ORDER BY rowid", self.params)
        while batch := cursor.fetchmany(BATCH):
            yield len(batch), b"\n".join([row[1] for row in batch]), batch

    def again(self, conn, expr: str, step: object) -> list[tuple[int, bytes]]:
        """(rowid, text) of each row of a step that `texts` gave."""
        if not self.whole:
            return list(step)  # type: ignore[arg-type]
        low, high = step  # type: ignore[misc]
        return conn.execute(f"SELECT rowid, {expr} FROM {self.table} WHERE {self.where} AND rowid > ? AND rowid <= ? "
                            "ORDER BY rowid", (*self.params, low, high)).fetchall()


def json_object_sql(columns: list[str], json_columns: tuple[str, ...]) -> str:
    """json_object(...) of a row; JSON columns become JSON values when they parse, text otherwise."""
    def value(column: str) -> str:
        if column in json_columns:
            return f"CASE WHEN json_valid({column}) THEN json({column}) ELSE {column} END"
        return column

    return "json_object(" + ", ".join(f"'{c}', {value(c)}" for c in columns) + ")"


def _cell_sql(name: str, declared: str, notnull: bool) -> tuple[str, str]:
    """(printf conversion, argument) for one column's CSV cell."""
    if declared.upper() == "TEXT":
        return '"%w"', name if notnull else f"ifnull({name}, '')"
    # A number column holding text (never written by telecbt; checked on import) is quoted all the same.
    return "%s", f"""iif(typeof({name}) = 'text', printf('"%w"', {name}), {name})"""


def csv_line_sql(columns: list[tuple[str, str, bool]]) -> str:
    """One CSV line of a row, from (column, declared type, not null) triples: a single printf."""
    cells = [_cell_sql(*column) for column in columns]
    return f"printf('{','.join(c for c, _ in cells)}', {', '.join(a for _, a in cells)})"


def csv_field(value: str | None) -> str:
    """A text cell as the SQL above writes it."""
    return '"' + (value or "").replace('"', '""') + '"'


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _formula_like(text: bytes) -> bool:
    """A cell starting with a formula prefix somewhere in `text`? Each rare prefix byte is looked for
    alone first (memchr), the pair only when it is there; `-` is everywhere (ids, dates), so its pair."""
    return any((pattern[1:] in text or pattern[1:] == b"-") and pattern in text for pattern in _FORMULA)


def ndjson_chunks(conn, rows: Rows, columns: list[str], json_columns: tuple[str, ...],
                  count: Callable[[int], None]) -> Iterator[bytes]:
    """NDJSON text, a step of rows at a time."""
    for n, text, _ in rows.texts(conn, json_object_sql(columns, json_columns)):
        count(n)
        yield text + b"\n"


def csv_chunks(conn, rows: Rows, declared: list[tuple[str, str, bool]], count: Callable[[int], None],
               raw: bool) -> Iterator[bytes]:
    """CSV text: the header, then a step of rows at a time. Unless `raw`, a step holding a formula-like
    cell is read again row by row, and each row holding one is written through `spreadsheet_cell`."""
    line = csv_line_sql(declared)
    names = [name for name, _, _ in declared]
    cells = ", ".join(f"printf('{c}', {a})" for c, a in (_cell_sql(*column) for column in declared))
    one = f"SELECT {cells}, {', '.join(names)} FROM {rows.table} WHERE rowid = ?"
    width = len(names)

    def safe(rowid: int, text: bytes) -> bytes:
        if not _formula_like(text):
            return text
        row = conn.execute(one, (rowid,)).fetchone()
        return b",".join(cell if not isinstance(value, (str, bytes)) or spreadsheet_cell(_text(value)) == _text(value)
                         else csv_field(spreadsheet_cell(_text(value))).encode("utf-8")
                         for cell, value in zip(row[:width], row[width:]))

    yield (",".join(csv_field(name) for name in names) + "\n").encode("utf-8")
    for n, text, step in rows.texts(conn, line):
        count(n)
        if not raw and _formula_like(text):
            text = b"\n".join([safe(rowid, again) for rowid, again in rows.again(conn, line, step)])
        yield text + b"\n"
