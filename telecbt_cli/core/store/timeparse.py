"""Parsing dates and times typed by users into UTC ISO strings.

A typed time without an offset is a wall-clock time in a zone: the one the caller passes
(this device's, or a patient's), else the system's. localtime.to_utc refuses the times a
daylight-saving change skips or repeats.
"""

from __future__ import annotations

from datetime import datetime, time, timezone, tzinfo

from telecbt_cli.core.store.errors import UsageError


def zone_key(zone: tzinfo) -> str:
    """A zone's IANA name where it has one (`Africa/Nairobi`), for messages."""
    return getattr(zone, "key", None) or str(zone)


def _default_zone() -> tzinfo:
    from telecbt_cli.core.store.zones import FALLBACK, load, system_zone_name

    return load(system_zone_name()) or load(FALLBACK) or timezone.utc


def parse_since(text: str, zone: tzinfo | None = None) -> str:
    """'2026-11-01' (from local midnight) or '2026-11-01T08:30', in `zone` unless an offset is
    given, into ISO UTC."""
    from telecbt_cli.core.store.localtime import day_start, to_utc

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError("{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM", key="errors.time.not_a_date",
                         text=text) from None
    if moment.tzinfo is None:
        zone = zone or _default_zone()
        if len(text.strip()) == 10 and moment.time() == time(0):
            return iso_utc(day_start(moment.date(), zone))
        return iso_utc(to_utc(moment, zone, zone_key(zone), text.strip()))
    return iso_utc(moment)


def parse_local(text: str, zone: tzinfo | None = None) -> datetime:
    """A typed date/time, in `zone` (default: the system's) unless it carries an offset, as an
    aware UTC datetime; a time the clocks skip or repeat there is refused."""
    from telecbt_cli.core.store.localtime import to_utc

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError("{text!r} is not a date and time: use YYYY-MM-DD HH:MM (local time)",
                         key="errors.time.not_a_moment", text=text) from None
    if moment.tzinfo is None:
        zone = zone or _default_zone()
        return to_utc(moment, zone, zone_key(zone), text.strip())
    return moment.astimezone(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """An aware datetime as the stored form: UTC, milliseconds, `Z` (sorts as text)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
