"""Time zones by IANA name (`Africa/Nairobi`): checked with a suggestion, the system's, and this device's.

The device's zone is what staff at this device read times in. It is the system's zone unless
set (`telecbt settings --timezone`, `telecbt init --timezone`); the setting lives in the
store's `meta` table, which never travels in a bundle, so each device keeps its own.
A patient's zone is a patient field (core.clinical.patients).
"""

from __future__ import annotations

import difflib
import os
import sys
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.vault import Store

if TYPE_CHECKING:
    from telecbt_cli.core.store.access import Access

META_KEY = "timezone"
FALLBACK = "UTC"


@cache
def known_zones() -> frozenset[str]:
    """Every IANA name this machine's zone database (or the tzdata package) knows."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def load(name: str | None) -> ZoneInfo | None:
    """The zone a stored name means, or None when this machine does not know it."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def suggestions(text: str) -> list[str]:
    """Known names close to `text`: the same name in other case, a city (`nairobi`, `new york`), a near spelling."""
    typed = text.strip().lower().replace(" ", "_")
    zones = sorted(known_zones())
    exact = [z for z in zones if z.lower() == typed or z.lower().rsplit("/", 1)[-1] == typed.rsplit("/", 1)[-1]]
    by_city = {z.lower().rsplit("/", 1)[-1]: z for z in zones}
    near_city = [by_city[c] for c in difflib.get_close_matches(typed.rsplit("/", 1)[-1], list(by_city), n=3, cutoff=0.75)]
    near_name = difflib.get_close_matches(text.strip(), zones, n=3, cutoff=0.6)
    found: list[str] = []
    for name in (*exact, *near_city, *near_name):
        if name not in found:
            found.append(name)
    return found[:3]


def check_zone(text: str) -> str:
    """An IANA zone name as stored; a UsageError with the nearest names for anything else."""
    name = (text or "").strip()
    if name in known_zones():
        return name
    close = suggestions(name) if name else []
    near = dict(zip("abc", close))
    if len(close) == 3:
        raise UsageError("{name!r} is not a time zone name: use a name such as Africa/Nairobi, America/New_York or "
                         "Asia/Kathmandu. Did you mean {a} or {b} or {c}?", key="errors.zone.unknown_near3",
                         name=name, **near)
    if len(close) == 2:
        raise UsageError("{name!r} is not a time zone name: use a name such as Africa/Nairobi, America/New_York or "
                         "Asia/Kathmandu. Did you mean {a} or {b}?", key="errors.zone.unknown_near2", name=name, **near)
    if close:
        raise UsageError("{name!r} is not a time zone name: use a name such as Africa/Nairobi, America/New_York or "
                         "Asia/Kathmandu. Did you mean {a}?", key="errors.zone.unknown_near1", name=name, **near)
    raise UsageError("{name!r} is not a time zone name: use a name such as Africa/Nairobi, America/New_York or "
                     "Asia/Kathmandu.", key="errors.zone.unknown", name=name)


def _name_from_path(path: str) -> str | None:
    """`/usr/share/zoneinfo/Africa/Nairobi` -> `Africa/Nairobi`."""
    if "zoneinfo/" not in path:
        return None
    name = path.split("zoneinfo/", 1)[1]
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    return name


def system_zone_name() -> str | None:
    """The operating system's zone as an IANA name (TZ, /etc/localtime, /etc/timezone, Windows'
    settings), or None when it cannot be told."""
    tz = os.environ.get("TZ")
    if tz is not None:
        name = tz.lstrip(":").strip()
        name = _name_from_path(name) or name
        if not name:
            return "UTC"  # an empty TZ means UTC to the C library
        return name if load(name) else None
    if sys.platform == "win32":  # pragma: no cover - Windows only
        try:
            from tzlocal import get_localzone_name

            return get_localzone_name()
        except Exception:  # noqa: BLE001  (no zone found, or tzlocal missing: the fallback applies)
            return None
    link = Path("/etc/localtime")
    try:
        name = _name_from_path(str(link.resolve()))
        if name and load(name):
            return name
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        return name if load(name) else None
    except OSError:
        return None


def device_zone_name(store: Store) -> str:
    """This device's zone: the setting, else the system's, else UTC."""
    chosen = store.meta(META_KEY)
    if chosen and load(chosen):
        return chosen
    return system_zone_name() or FALLBACK


def device_zone(store: Store) -> tzinfo:
    """This device's zone, for times staff read."""
    return load(device_zone_name(store)) or ZoneInfo(FALLBACK)


def device_zone_info(store: Store) -> dict:
    """The zone in use, where it comes from (setting, system or fallback) and the system's own."""
    setting, system = store.meta(META_KEY), system_zone_name()
    source = "setting" if setting and load(setting) else "system" if system else "fallback"
    return {"timezone": device_zone_name(store), "source": source, "setting": setting, "system": system}


def set_device_zone(access: "Access", name: str | None) -> dict:
    """Set this device's zone (admin), or with None go back to the system's; audited."""
    from telecbt_cli.core.store import audit

    access.require("manage")
    chosen = check_zone(name) if name is not None else None
    store = access.store
    with store.write():
        if chosen is None:
            store.conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
        else:
            store.set_meta(META_KEY, chosen)
        audit.append(store, access.user, "settings.timezone", detail={"timezone": chosen or "system"})
    return device_zone_info(store)
