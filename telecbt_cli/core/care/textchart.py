"""Charts as plain text, shared by the command line and the terminal UI (no colour needed)."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], low: float = 0, high: float | None = None) -> str:
    """One character per value, from ▁ (at `low`) to █ (at `high`, default the largest value); a
    blank where there is no value."""
    present = [v for v in values if v is not None]
    if not present:
        return " " * len(values)
    top = high if high is not None else max(present) or 1
    span = (top - low) or 1
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        else:
            out.append(BARS[min(len(BARS) - 1, max(0, int((value - low) / span * (len(BARS) - 1) + 0.5)))])
    return "".join(out)
