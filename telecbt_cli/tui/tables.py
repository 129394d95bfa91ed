"""Data tables of the staff app (not the kiosk: loading Textual's DataTable costs its start-up)."""

from __future__ import annotations

from textual.widgets import DataTable


class FittedTable(DataTable):
    """A data table that draws its rows again once Textual has widened its columns to fit them.

    Textual measures auto-width columns when the table is next idle after rows are added. A row
    the screen painted before that (its refresh came first) was cut to the headers' widths and kept
    in the table's line cache, whose key does not change with the widths: the caseload showed
    "R29E  Rosa" for "R29E-5K7M  Rosa Example" until the cursor moved over it. The virtual size is
    set once the widths are known, so that is when lines drawn at other widths are dropped."""

    _drawn_widths: tuple[int, ...] = ()

    def watch_virtual_size(self) -> None:
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        if widths != self._drawn_widths:
            self._drawn_widths = widths
            self.notify_style_update()  # DataTable's own: clears its rendered lines and cells, repaints
