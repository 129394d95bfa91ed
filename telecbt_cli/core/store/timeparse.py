"""Parsing dates and times typed by users into UTC ISO strings."""

from __future__ import annotations

from datetime import datetime, timezone

from telecbt_cli.core.store.errors import UsageError


def parse_since(text: str) -> str:
    """'2026-11-01' or '2026-11-01T08:30' (UTC unless an offset is given) into ISO UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError("{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM", key="errors.time.not_a_date",
                         text=text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso_utc(moment)


def parse_local(text: str) -> datetime:
    """A typed date/time, local time unless it carries an offset, as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError("{text!r} is not a date and time: use YYYY-MM-DD HH:MM (local time)",
                         key="errors.time.not_a_moment", text=text) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """An aware datetime as the stored form: UTC, milliseconds, `Z` (sorts as text)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
