"""The pain diary: immutable entries; a correction supersedes an entry and both are kept."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone, tzinfo

from telecbt_cli.core.care.diary_days import day_to_entry_at, entry_day
from telecbt_cli.core.care.diary_import_values import TOTALS
from telecbt_cli.core.clinical.answers import parse_number
from telecbt_cli.core.clinical.patients import patient_id_for, require_active_consent, zone_of
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import Codes, NotFoundError, Term, UsageError
from telecbt_cli.core.store.timeparse import iso_utc, parse_local
from telecbt_cli.core.store.zones import device_zone

REGIONS = ("head", "neck", "shoulders", "upper_back", "lower_back", "chest", "abdomen", "arms", "hands",
           "hips", "legs", "knees", "feet", "whole_body")
NUMERIC = {  # field: (low, high, whole number)
    "pain": (0, 10, True), "mood": (0, 10, True), "sleep_hours": (0, 24, False),
    "sleep_quality": (0, 10, True), "activity_min": (0, 1440, True), "steps": (0, 100000, True),
}
#: Entries a patient makes (typed in by staff, or at the kiosk) always carry a pain rating;
#: imported device data may hold only sleep or steps.
RATED_BY_PATIENT = ("manual", "kiosk")
SOURCES = (*RATED_BY_PATIENT, "import")
LISTS = ("triggers", "coping", "meds")
FIELDS = ("entry_at", "pain", "locations", *[k for k in NUMERIC if k != "pain"], *LISTS, "note")
CLOCK_SKEW = timedelta(minutes=10)
#: Fields an import may fill (which keep the larger value and which the first: diary_import_values.TOTALS).
IMPORTED = ("pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps", "note")


def parse_when(text: str, now: datetime | None = None, zone: tzinfo | None = None) -> str:
    """A typed date/time (in `zone`, default the system's, unless it has an offset) as ISO UTC;
    never in the future."""
    moment = parse_local(text, zone)
    if moment > (now or datetime.now(timezone.utc)) + CLOCK_SKEW:
        raise UsageError("{text} is in the future: a diary entry is about something that already happened",
                         key="errors.diary_entry.future", text=text)
    return iso_utc(moment)


class DiaryFieldError(UsageError):
    """A diary value that does not fit; `field` names it, so a form can point at the field."""

    def __init__(self, message: str, *, field: str, key: str | None = None, **values: object) -> None:
        self.field = field
        super().__init__(message, key=key, **values)


def _number(name: str, value: object) -> int | float | None:
    if value is None:
        return None
    what = Term(f"values.metric.{name}", name.replace("_", " "))
    if isinstance(value, bool):  # True would otherwise pass as 1
        raise DiaryFieldError("{what} must be a number", field=name, key="errors.diary.not_a_number", what=what)
    low, high, whole = NUMERIC[name]
    try:
        number = value if isinstance(value, (int, float)) else parse_number(str(value))
    except (TypeError, ValueError):
        raise DiaryFieldError("{what} must be a number, not {given!r}", field=name, key="errors.diary.not_a_number_text",
                              given=str(value)[:20], what=what) from None
    if isinstance(number, float) and not math.isfinite(number):  # nan, inf, 1e400
        raise DiaryFieldError("{what} must be a number", field=name, key="errors.diary.not_a_number", what=what)
    if whole and number != int(number):
        raise DiaryFieldError("{what} must be a whole number", field=name, key="errors.diary.not_whole", what=what)
    if not low <= number <= high:
        raise DiaryFieldError("{what} must be from {low} to {high}; got {value}", field=name,
                              key="errors.diary.out_of_range", low=low, high=high, value=value, what=what)
    return int(number) if whole else round(float(number), 2)


def _items(name: str, value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    clean = [str(item).strip() for item in items if str(item).strip()]
    if len(clean) > 20 or any(len(item) > 100 for item in clean):
        raise UsageError("{name}: at most 20 items of up to 100 characters", key="errors.diary_entry.items", name=name)
    return clean


def check_entry(values: dict, require_pain: bool = True, now: datetime | None = None,
                zone: tzinfo | None = None) -> dict:
    """Validated, normalised diary values; UsageError naming the field otherwise. A typed
    `entry_at` is local to `zone` (this device's, where staff type it)."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise UsageError("unknown diary field(s): {fields}", key="errors.diary_rows.unknown_fields", fields=", ".join(unknown))
    out: dict = {name: _number(name, values.get(name)) for name in NUMERIC}
    if require_pain and out["pain"] is None:
        raise DiaryFieldError("a diary entry needs a pain rating from 0 to 10 (--pain)", field="pain",
                              key="errors.diary.pain_needed")
    if all(out[name] is None for name in NUMERIC):
        raise UsageError("a diary entry needs at least one rating", key="errors.diary_entry.one_rating")
    locations = _items("locations", values.get("locations"))
    bad = [loc for loc in locations if loc not in REGIONS]
    if bad:
        raise UsageError("unknown body region(s) {bad}; use: {regions}", key="errors.diary_entry.regions",
                         bad=", ".join(bad), regions=Codes("region", REGIONS))
    out["locations"] = locations
    for name in LISTS:
        out[name] = _items(name, values.get(name))
    note = values.get("note")
    if note is not None and len(str(note)) > 2000:
        raise UsageError("the note is longer than 2000 characters", key="errors.diary_entry.note")
    out["note"] = str(note) if note not in (None, "") else None
    when = values.get("entry_at")
    if when is None:
        out["entry_at"] = parse_when(datetime.now(timezone.utc).isoformat(), now)
    elif isinstance(when, str):
        out["entry_at"] = parse_when(when, now, zone)
    else:
        raise UsageError("the entry time must be text such as 2026-11-27 08:30", key="errors.diary_rows.entry_time_text")
    return out


#: The stored form of a time (`iso_utc`): rows a telecbt device wrote always carry it.
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_REGION_SET = frozenset(REGIONS)
#: List texts already seen to pass (`["breathing"]` repeats across a year of entries).
_PLAIN_LISTS: dict[tuple[str, str], bool] = {}


def _plain_list(name: str, text: object) -> bool:
    """A stored list text that plainly passes `_items` (and, for locations, names known regions)."""
    if text is None or text == "[]":
        return True
    if type(text) is not str:
        return False
    seen = _PLAIN_LISTS.get((name, text))
    if seen is not None:
        return seen
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        return False
    ok = (type(items) is list and len(items) <= 20 and all(type(item) is str and len(item) <= 100 for item in items)
          and (name != "locations" or all(item in _REGION_SET for item in items)))
    if len(_PLAIN_LISTS) < 4096:
        _PLAIN_LISTS[(name, text)] = ok
    return ok


def _plainly_valid(row: dict) -> bool:
    """True when a stored row meets every rule of `check_stored` in its common form (numbers in
    range, lists of known words, times in the stored form); False sends it through the full
    check, which either passes it too or says what is wrong. A bundle carries a year of entries:
    this path checks them without building a message per value."""
    source = row.get("source")
    if source not in SOURCES:
        return False
    rated = False
    for name, (low, high, whole) in NUMERIC.items():
        value = row.get(name)
        if value is None:
            continue
        kind = type(value)
        if not (kind is int or (kind is float and not whole)) or not low <= value <= high:  # nan fails here too
            return False
        rated = True
    if not rated or (source in RATED_BY_PATIENT and row.get("pain") is None):
        return False
    note = row.get("note")
    if note is not None and (type(note) is not str or len(note) > 2000):
        return False
    if not all(_plain_list(name, row.get(name)) for name in ("locations", *LISTS)):
        return False
    entry_at, created_at = row.get("entry_at"), row.get("created_at")
    if type(entry_at) is not str or type(created_at) is not str or not (
            _STORED_TIME.fullmatch(entry_at) and _STORED_TIME.fullmatch(created_at)):
        return False
    try:
        return datetime.fromisoformat(entry_at) <= datetime.fromisoformat(created_at) + CLOCK_SKEW
    except ValueError:  # a month 13 has the right shape
        return False


def check_stored(row: dict) -> None:
    """A stored diary row (as a bundle carries it) against `check_entry`, as of when it was written:
    its entry time is compared with its own `created_at`, not with this device's clock."""
    if not _plainly_valid(row):
        check_stored_fully(row)


def check_stored_fully(row: dict) -> None:
    """`check_stored` value by value, through `check_entry`: the rules themselves, with messages."""
    values = {name: row.get(name) for name in FIELDS}
    for name in ("locations", *LISTS):
        text = values[name]
        try:
            values[name] = [] if text is None or text == "[]" else json.loads(text)
        except (TypeError, ValueError):
            raise UsageError("{field} is not a list", key="errors.diary_rows.not_a_list",
                             field=Term(f"errors.diary_rows.field_{name}", name)) from None
        if not isinstance(values[name], list) or not all(isinstance(item, str) for item in values[name]):
            raise UsageError("{field} is not a list of words", key="errors.diary_rows.not_words",
                             field=Term(f"errors.diary_rows.field_{name}", name))
    if row.get("source") not in SOURCES:
        raise UsageError("source must be one of {sources}", key="errors.stored_codes.diary_source",
                         sources=Codes("diary_source", SOURCES))
    if not isinstance(row.get("entry_at"), str) or not isinstance(row.get("created_at"), str):
        raise UsageError("the entry time is missing", key="errors.diary_rows.entry_time_missing")
    written = parse_local(row["created_at"])
    check_entry(values, require_pain=row["source"] in RATED_BY_PATIENT, now=written)


def _row_values(values: dict) -> dict:
    return {**values, **{name: json.dumps(values[name], ensure_ascii=False) for name in ("locations", *LISTS)}}


def _decode(row: dict) -> dict:
    for name in ("locations", *LISTS):
        row[name] = json.loads(row[name]) if row.get(name) else []
    return row


def add_entry(access: Access, code: str, values: dict, source: str = "manual") -> dict:
    """Record one entry (checked, with consent); returns the stored entry."""
    access.require("write")
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    checked = check_entry(values, require_pain=source in RATED_BY_PATIENT, zone=device_zone(access.store))
    store = access.store
    with store.write():
        row = records.insert(store, "diary_entries", {"patient_id": patient_id, **_row_values(checked),
                                                      "source": source, "supersedes": None,
                                                      "recorded_by": access.user})
        audit.append(store, access.user, "diary.add", patient_id=patient_id)
    return _decode(row)


def correct_entry(access: Access, entry_id: str, values: dict) -> dict:
    """A new entry that supersedes `entry_id`; the original stays, marked as superseded."""
    access.require("write")
    store = access.store
    entry_id = records.resolve_id(store, "diary_entries", entry_id, "diary entry")
    old = store.one("SELECT * FROM diary_entries WHERE id = ? AND deleted = 0", (entry_id,))
    if old is None:
        raise NotFoundError("no diary entry {entry}", key="errors.diary_entry.not_found", entry=entry_id)
    previous = _decode(old)
    if store.conn.execute("SELECT 1 FROM diary_entries WHERE supersedes = ?", (entry_id,)).fetchone():
        raise UsageError("that entry was already corrected: correct the newest version instead",
                         key="errors.diary_entry.corrected")
    require_active_consent(access, previous["patient_id"])
    merged = {name: previous.get(name) for name in FIELDS} | {k: v for k, v in values.items() if v is not None}
    checked = check_entry(merged, require_pain=previous["source"] in RATED_BY_PATIENT, zone=device_zone(store))
    with store.write():
        row = records.insert(store, "diary_entries", {"patient_id": previous["patient_id"], **_row_values(checked),
                                                      "source": previous["source"], "supersedes": entry_id,
                                                      "recorded_by": access.user})
        audit.append(store, access.user, "diary.correct", patient_id=previous["patient_id"])
    return _decode(row)


def list_entries(access: Access, code: str, since: str | None = None, include_superseded: bool = False) -> list[dict]:
    """Entries oldest first; by default only current ones (not replaced by a correction)."""
    access.require("read")
    patient_id = patient_id_for(access, code)
    sql = "SELECT * FROM diary_entries d WHERE patient_id = ? AND deleted = 0"
    params: list = [patient_id]
    if since:
        sql += " AND entry_at >= ?"
        params.append(since)
    if not include_superseded:
        sql += " AND NOT EXISTS (SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id)"
    rows = [_decode(r) for r in access.store.rows(sql + " ORDER BY entry_at, hlc", params)]
    audit.append(access.store, access.user, "diary.read", patient_id=patient_id)
    return rows


def _day_versions(access: Access, patient_id: str) -> dict[date, tuple[list[dict], dict]]:
    """Imported entries by day: (current versions, every value each field ever had on that day)."""
    versions = access.store.rows(
        f"SELECT id, entry_at, supersedes, hlc, {', '.join(IMPORTED)} FROM diary_entries "
        "WHERE patient_id = ? AND source = 'import' AND deleted = 0", (patient_id,))
    replaced = {v["supersedes"] for v in versions if v["supersedes"]}
    days: dict[date, tuple[list[dict], dict]] = {}
    for version in versions:
        current, seen = days.setdefault(entry_day(version["entry_at"]), ([], {}))
        for name in IMPORTED:
            if version[name] is not None:
                seen.setdefault(name, set()).add(version[name])
        if version["id"] not in replaced:
            current.append(version)
    return days


def _merge_day(current: dict, seen: dict, values: dict, day: str) -> tuple[dict, list[dict]]:
    """(the fields to change on the day's entry, file values not used and why)."""
    changes: dict = {}
    not_used: list[dict] = []
    for name, value in values.items():
        if value in seen.get(name, ()):
            continue  # imported once already (perhaps corrected by hand since): never again
        old = current[name]
        if old is None or (name in TOTALS and value > old):
            changes[name] = value
        elif old != value:
            not_used.append({"day": day, "field": name, "stored": old, "file": value,
                             "kept": "the larger total" if name in TOTALS else "the first value"})
    return changes, not_used


def import_rows(access: Access, code: str, rows: list[dict], zone: tzinfo | None = None) -> dict:
    """Store parsed import days (see diary_import) in one transaction, one entry per patient per day.

    A new day is added. On a day already imported, a value the day has never held fills an
    empty field or, for device totals (steps, active minutes, sleep hours), replaces a smaller
    one: the new version supersedes the old. A value the day held before changes nothing, so
    importing a file again, or an overlapping file, never counts a day twice.
    """
    access.require("write")
    patient_id = patient_id_for(access, code)
    require_active_consent(access, patient_id)
    zone = zone or zone_of(access, patient_id)  # a day is the patient's calendar day
    store = access.store
    if len({row["day"] for row in rows}) != len(rows):
        raise ValueError("import_rows takes one row per day (as read_export gives them)")
    added = updated = unchanged = 0
    not_used: list[dict] = []
    with store.write():
        days = _day_versions(access, patient_id)  # inside the transaction: no other writer in between
        for row in rows:
            day = date.fromisoformat(row["day"])
            values = {name: row[name] for name in IMPORTED if row.get(name) is not None}
            current_versions, seen = days.get(day, ([], {}))
            if not current_versions:
                entry_at = day_to_entry_at(day, zone)
                fields, supersedes = {**values, "entry_at": entry_at}, None
            else:
                newest = max(current_versions, key=lambda v: v["hlc"])
                changes, refused = _merge_day(newest, seen, values, row["day"])
                not_used += refused
                if not changes:
                    unchanged += 1
                    continue
                stored = store.one("SELECT * FROM diary_entries WHERE id = ?", (newest["id"],))
                assert stored is not None  # read a moment ago in this same transaction
                current = _decode(stored)
                entry_at, supersedes = current["entry_at"], current["id"]
                fields = {name: current.get(name) for name in FIELDS} | changes
            moment = datetime.fromisoformat(entry_at.replace("Z", "+00:00"))
            checked = check_entry(fields, require_pain=False, now=max(moment, datetime.now(timezone.utc)))
            records.insert(store, "diary_entries", {"patient_id": patient_id, **_row_values(checked),
                                                    "source": "import", "supersedes": supersedes,
                                                    "recorded_by": access.user})
            added, updated = (added + 1, updated) if supersedes is None else (added, updated + 1)
        audit.append(store, access.user, "diary.import", patient_id=patient_id,
                     detail={"added": added, "updated": updated})
    return {"added": added, "updated": updated, "unchanged": unchanged, "not_used": not_used}
