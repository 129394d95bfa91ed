"""One diary row per day from the rows of a file: the rule for two rows on the same day.

A day's device totals (steps, active minutes, sleep) keep the larger value: two devices
each count part of the same day, and adding them would count it twice. Ratings (pain,
mood, sleep quality) and notes keep the first value. A row holding the total of all
devices (Samsung Health) is used instead of that day's per-device rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from telecbt_cli.core.care.diary_import_values import TOTALS, VALUE_FIELDS, Skipped, unit_word
from telecbt_cli.core.store.errors import Figures, Joined, Said

ROW_KEYS = ("day",) + VALUE_FIELDS + ("note",)


@dataclass
class DayRow:
    """The checked values of one row of a file."""

    line: int
    day: date
    values: dict[str, float | int]
    note: str | None = None
    combined: bool = False      # the row totals all devices


def _shown(value: float | int) -> Figures:
    return Figures([f"{value:g}" if isinstance(value, float) else str(value)])


def _merge(kept: dict, row: DayRow, first_line: int) -> Said:
    """Fold `row` into `kept` and say what happened."""
    said: list[Said] = []
    for fld, value in row.values.items():
        words = unit_word(fld)
        old = kept.get(fld)
        if old is None:
            kept[fld] = value
            said.append(Said("adds {what} {value}", "diary_import.adds", what=words, value=_shown(value)))
        elif old == value:
            continue
        elif fld in TOTALS and value > old:
            kept[fld] = value
            said.append(Said("{what} {value} is used, the larger value", "diary_import.larger_used", what=words,
                             value=_shown(value)))
        elif fld in TOTALS:
            said.append(Said("{what} {value} is not used, the larger {old} is kept", "diary_import.larger_kept",
                             what=words, value=_shown(value), old=_shown(old)))
        else:
            said.append(Said("{what} {value} is not used, the first value {old} is kept", "diary_import.first_kept",
                             what=words, value=_shown(value), old=_shown(old)))
    if row.note and row.note != kept.get("note"):
        if kept.get("note") is None:
            kept["note"] = row.note
            said.append(Said("adds its note", "diary_import.adds_note"))
        else:
            said.append(Said("its note is not used, the first note is kept", "diary_import.note_not_used"))
    day = row.day.isoformat()
    if not said:
        return Said("same day as line {line} ({day}) with nothing new", "diary_import.same_day_nothing",
                    line=first_line, day=day)
    return Said("same day as line {line} ({day}): {said}", "diary_import.same_day", line=first_line, day=day,
                said=Joined(said))


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
                    row.line, Said("one device's count for {day}: the total of all devices (line {line}) is used instead",
                                   "diary_import.one_device", day=day.isoformat(), line=first.line)))
        days.append(kept)
    duplicates.sort(key=lambda s: s.line)
    return days, duplicates
