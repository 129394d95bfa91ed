"""Stored UTC times seen in a time zone: local days, labelled times, and typed local times checked.

Times are stored as UTC ISO strings ending in `Z` (see timeparse.iso_utc). People read them
in a zone: staff in their device's, patients in their own (zones.py decides which). A local
time that a daylight-saving change skips (02:30 on a spring-forward night in New York) or
repeats (01:30 on a fall-back night) is refused with a message that names the change,
never guessed: a session booked an hour off is worse than a question.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

from telecbt_cli.core.store.errors import UsageError

_MINUTE = timedelta(minutes=1)


def parse_utc(iso: str) -> datetime:
    """A stored stamp (`2026-12-03T07:00:00.000Z`, or any ISO text with an offset) as an aware datetime."""
    moment = datetime.fromisoformat(iso.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def in_zone(iso: str, zone: tzinfo) -> datetime:
    """A stored stamp as the wall-clock time in `zone` (aware)."""
    return parse_utc(iso).astimezone(zone)


def zone_label(moment: datetime) -> str:
    """The short name of an aware time's offset: EAT, EST, EDT, CST; +05:45 where the zone has no
    abbreviation (Asia/Kathmandu)."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-" and not name[0].isdigit():
        return name
    return offset_text(moment.utcoffset() or timedelta(0))


def offset_text(offset: timedelta) -> str:
    """+05:45, -03:00, +00:00."""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def staff_time(iso: str | None, zone: tzinfo, seconds: bool = False) -> str:
    """`2026-12-03 10:00 EAT`: a stored stamp as staff read it in tables and messages."""
    if not iso:
        return "-"
    try:
        moment = in_zone(iso, zone)
    except ValueError:
        return iso
    return f"{moment:%Y-%m-%d %H:%M}{':%02d' % moment.second if seconds else ''} {zone_label(moment)}"


def local_iso(iso: str | None, zone: tzinfo) -> str | None:
    """`2026-12-03T10:00:00+03:00`: ISO 8601 with the local offset (CSV files, `*_local` JSON fields)."""
    if not iso:
        return iso
    try:
        return in_zone(iso, zone).isoformat(timespec="seconds")
    except ValueError:
        return iso


def local_day(iso: str, zone: tzinfo) -> date:
    """The calendar day a stored stamp falls on in `zone`."""
    return in_zone(iso, zone).date()


def today(zone: tzinfo, now: datetime | None = None) -> date:
    """Today's date in `zone` (at `now`, aware; default: the current time)."""
    return (now or datetime.now(timezone.utc)).astimezone(zone).date()


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant (UTC) of `day` in `zone`: local midnight, or where a clock change skips
    midnight (some zones change at 00:00), the moment the clocks resume."""
    return _utc(datetime.combine(day, time(0)).replace(tzinfo=zone, fold=0))


def day_bounds(first: date, last: date, zone: tzinfo) -> tuple[str, str]:
    """Stored-form bounds [start, end) covering local days `first` to `last` inclusive."""
    from telecbt_cli.core.store.timeparse import iso_utc

    return iso_utc(day_start(first, zone)), iso_utc(day_start(last + timedelta(days=1), zone))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _change_between(zone: tzinfo, lo: datetime, hi: datetime) -> datetime:
    """The UTC minute at which `zone`'s offset changes, somewhere in (lo, hi] (bisection)."""
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > _MINUTE:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(second=0, microsecond=0)
        if mid <= lo:
            mid = lo + _MINUTE
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def offset_changes(zone: tzinfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """[(from this UTC instant, the offset)] covering start..end: the first item starts at `start`.

    Found by sampling every 6 hours and bisecting to the minute: zones change offset at most a
    few times a year, never twice within 6 hours."""
    start, end = _utc(start), _utc(end)
    spans = [(start, start.astimezone(zone).utcoffset() or timedelta(0))]
    step = timedelta(hours=6)
    here = start
    while here < end:
        nxt = min(here + step, end)
        offset = nxt.astimezone(zone).utcoffset() or timedelta(0)
        if offset != spans[-1][1]:
            spans.append((_change_between(zone, here, nxt), offset))
        here = nxt
    return spans


def sql_local_date(column: str, zone: tzinfo, start: datetime, end: datetime) -> tuple[str, list]:
    """An SQL expression (and its parameters) giving the local date `YYYY-MM-DD` of a stored UTC
    column in `zone`, exact for stamps between `start` and `end` (outside, the nearest offset).

    Reports group thousands of rows by day: SQLite shifts each stamp by its offset, which is
    several times faster than converting every row in Python."""
    from telecbt_cli.core.store.timeparse import iso_utc

    spans = offset_changes(zone, start, end)
    params: list = []
    cases = []
    for (_, offset), (until, _) in zip(spans, spans[1:]):
        cases.append(f"WHEN {column} < ? THEN ?")
        params += [iso_utc(until), _modifier(offset)]
    params.append(_modifier(spans[-1][1]))
    shift = f"CASE {' '.join(cases)} ELSE ? END" if cases else "?"
    return f"date({column}, {shift})", params


def _modifier(offset: timedelta) -> str:
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def to_utc(naive: datetime, zone: tzinfo, zone_name: str, typed: str | None = None) -> datetime:
    """A wall-clock time in `zone` as an aware UTC time; UsageError for a time that the clocks
    skip (spring forward) or pass twice (fall back), naming the change and what to type instead."""
    shown = typed or f"{naive:%Y-%m-%d %H:%M}"
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return _utc(first)
    if _utc(first).astimezone(zone).replace(tzinfo=None) != naive:  # not on the clock: a gap
        change = _change_between(zone, _utc(second), _utc(first))
        start = (change - _MINUTE).astimezone(zone) + _MINUTE
        resumed = change.astimezone(zone)
        raise UsageError(
            "{shown} does not exist in {zone}: that night the clocks go forward from {start} to {resumed} "
            "(daylight saving time). Choose a time outside {start}-{resumed}, e.g. {resumed}.",
            key="errors.clock_change.gap", shown=shown, zone=zone_name, start=f"{start:%H:%M}",
            resumed=f"{resumed:%H:%M}")
    one, two = first.astimezone(zone), second.astimezone(zone)
    back = int(((one.utcoffset() or timedelta(0)) - (two.utcoffset() or timedelta(0))).total_seconds() // 60)
    values = {"shown": shown, "zone": zone_name, "first": zone_label(one), "second": zone_label(two),
              "day": f"{naive:%Y-%m-%dT%H:%M}", "first_offset": offset_text(one.utcoffset() or timedelta(0)),
              "second_offset": offset_text(two.utcoffset() or timedelta(0))}
    if back == 60:
        raise UsageError(
            "{shown} happens twice in {zone}: that night the clocks go back an hour ({first} to {second}). "
            "Say which one with its offset: {day}{first_offset} (the first, {first}) or "
            "{day}{second_offset} (the second, {second}).", key="errors.clock_change.twice_hour", **values)
    raise UsageError(
        "{shown} happens twice in {zone}: that night the clocks go back {minutes} minutes ({first} to {second}). "
        "Say which one with its offset: {day}{first_offset} (the first, {first}) or "
        "{day}{second_offset} (the second, {second}).", key="errors.clock_change.twice_minutes", minutes=back,
        **values)
