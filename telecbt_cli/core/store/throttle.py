"""Failed staff sign-ins slow down the next try for that user name, more each time, across restarts.

The delay is kept in `sign-in-delays.json` beside the database (it must work before the
store is open): per user name, the failures in a row and the time of the last one. A
name that is not a staff user counts under one shared "(unknown)" entry, and a try with
no name (every slot is tried, as at the kiosk's F10) under "(any)", so that nothing
typed is written down. A successful sign-in ends that name's delay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from telecbt_cli.core.store.errors import TelecbtError
from telecbt_cli.core.store.fsutil import atomic_write
from telecbt_cli.core.store.paths import signin_delays_file

#: Failures in a row that cost nothing (typing mistakes); after them the delay doubles each time.
FREE_TRIES = 3
MAX_DELAY = 300.0
ANY, UNKNOWN = "(any)", "(unknown)"


def delay_for(failures: int) -> float:
    """Seconds the next try waits after `failures` failures in a row: 0, 0, 2, 4, 8, … at most 5 minutes."""
    return 0.0 if failures < FREE_TRIES else min(2.0 ** (failures - FREE_TRIES + 1), MAX_DELAY)


def _load(store_dir: Path) -> dict:
    try:
        data = json.loads(signin_delays_file(store_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(store_dir: Path, data: dict) -> None:
    try:
        atomic_write(signin_delays_file(store_dir), json.dumps(data, sort_keys=True).encode())
    except TelecbtError:
        pass  # a full or read-only disk: the delay then holds only while this process runs


def pending(store_dir: Path, name: str | None, now: Callable[[], float] = time.time) -> float:
    """Seconds the next try under `name` must still wait (0 if none)."""
    entry = _load(store_dir).get(name or ANY)
    if not isinstance(entry, dict):
        return 0.0
    try:
        return max(0.0, float(entry["last"]) + delay_for(int(entry["failures"])) - now())
    except (KeyError, TypeError, ValueError):
        return 0.0


def wait_turn(store_dir: Path, name: str | None, wait: Callable[[float], object] = time.sleep) -> float:
    """Wait out the delay earlier failures under `name` earned; returns the seconds waited."""
    seconds = pending(store_dir, name)
    if seconds > 0:
        wait(seconds)
    return seconds


def failed(store_dir: Path, name: str | None) -> float:
    """Count a failure under `name`; returns the delay the next try will wait."""
    data = _load(store_dir)
    entry = data.get(name or ANY)
    count = int(entry.get("failures", 0)) + 1 if isinstance(entry, dict) else 1
    data[name or ANY] = {"failures": count, "last": time.time()}
    _save(store_dir, data)
    return delay_for(count)


def succeeded(store_dir: Path, name: str | None) -> None:
    """A right passphrase under `name` (and for `name`'s slot): its delay ends."""
    data = _load(store_dir)
    if any(key in data for key in {name or ANY, ANY}):
        for key in {name or ANY, ANY}:
            data.pop(key, None)
        _save(store_dir, data)
