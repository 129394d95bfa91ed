"""The one place a calendar day becomes a stored diary time, and a stored time a day.

Day-level data (a device's steps or sleep for a date) has no time of its own, but a
diary entry stores one instant (`entry_at`, UTC). Reports and the kiosk read an entry's
day from the UTC date; the staff UI shows local time. So a day is stored at an instant
that falls on that date both in UTC and in the zone: halfway between noon in the zone
and noon UTC (12:00 UTC in London in winter, 10:30 UTC in Nairobi, 05:30 UTC in Auckland in
summer, 15:30 UTC in Los Angeles in summer). That works for every zone from UTC-12 to
UTC+14, with or without daylight saving time.

Callers pass the patient's time zone (core.clinical.patients.zone_of): a day is the
patient's calendar day. `zone=None` means this computer's zone (a dry run, with no store).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

from telecbt_cli.core.store.timeparse import iso_utc


def _at(day: date, clock: time, zone: tzinfo | None) -> datetime:
    naive = datetime.combine(day, clock)
    return naive.astimezone() if zone is None else naive.replace(tzinfo=zone)


def day_to_entry_at(day: date, zone: tzinfo | None = None) -> str:
    """The stored `entry_at` (ISO UTC) of day-level data for `day` in `zone`."""
    offset = _at(day, time(12), zone).utcoffset() or timedelta(0)
    moment = datetime.combine(day, time(12), tzinfo=timezone.utc) - offset / 2
    return iso_utc(moment)


def entry_day(entry_at: str) -> date:
    """The calendar day of a stored day-level `entry_at`: its UTC date.

    `day_to_entry_at` puts a day on that date in UTC whatever the zone, so this needs no
    zone, and a day stays the same day if the patient's zone is changed later.
    It is also how earlier imports (08:00 UTC) and reports read the day.
    """
    return date.fromisoformat(entry_at[:10])


def today(zone: tzinfo | None = None, now: datetime | None = None) -> date:
    """Today's date in `zone` (at `now`, which must be aware; default: the current time)."""
    moment = now or datetime.now(timezone.utc)
    return (moment.astimezone() if zone is None else moment.astimezone(zone)).date()
