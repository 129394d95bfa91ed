"""One diary row per day from the rows of a file: the rule for two rows on the same day.

A day's device totals (steps, active minutes, sleep) keep the larger value: two devices
each count part of the same day, and adding them would count it twice. Ratings (pain,
mood, sleep quality) and notes keep the first value. A row holding the total of all
devices (Samsung Health) is used instead of that day's per-device rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from telecbt_cli.core.care.diary_import_values import RULES, TOTALS, VALUE_FIELDS, Skipped

ROW_KEYS = ("day",) + VALUE_FIELDS + ("note",)


@dataclass
class DayRow:
    """The checked values of one row of a file."""

    line: int
    day: date
    values: dict[str, float | int]
    note: str | None = None
    combined: bool = False      # the row totals all devices


def _shown(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _merge(kept: dict, row: DayRow, first_line: int) -> str:
    """Fold `row` into `kept` and say what happened."""
    said: list[str] = []
    for fld, value in row.values.items():
        words = RULES[fld][3]
        old = kept.get(fld)
        if old is None:
            kept[fld] = value
            said.append(f"adds {words} {_shown(value)}")
        elif old == value:
            continue
        elif fld in TOTALS and value > old:
            kept[fld] = value
            said.append(f"{words} {_shown(value)} is used, the larger value")
        elif fld in TOTALS:
            said.append(f"{words} {_shown(value)} is not used, the larger {_shown(old)} is kept")
        else:
            said.append(f"{words} {_shown(value)} is not used, the first value {_shown(old)} is kept")
    if row.note and row.note != kept.get("note"):
        if kept.get("note") is None:
            kept["note"] = row.note
            said.append("adds its note")
        else:
            said.append("its note is not used, the first note is kept")
    day = row.day.isoformat()
    if not said:
        return f"same day as line {first_line} ({day}) with nothing new"
    return f"same day as line {first_line} ({day}): " + "; ".join(said)


def merge_days(rows: list[DayRow]) -> tuple[list[dict], list[Skipped]]:
    """(one dict per day in day order, the rows folded into another with what happened)."""
    by_day: dict[date, list[DayRow]] = {}
    for row in rows:
        by_day.setdefault(row.day, []).append(row)
    days: list[dict] = []
    duplicates: list[Skipped] = []
    for day in sorted(by_day):
        group = sorted(by_day[day], key=lambda r: r.line)
        totals = [r for r in group if r.combined]
        used = totals or group
        first = used[0]
        kept: dict = {fld: None for fld in ROW_KEYS} | {"day": day.isoformat(), "line": first.line}
        kept.update(first.values)
        kept["note"] = first.note
        duplicates += [Skipped(row.line, _merge(kept, row, first.line)) for row in used[1:]]
        for row in group:
            if totals and not row.combined:
                duplicates.append(Skipped(
                    row.line, f"one device's count for {day.isoformat()}: the total of all devices "
                              f"(line {first.line}) is used instead"))
        days.append(kept)
    duplicates.sort(key=lambda s: s.line)
    return days, duplicates
