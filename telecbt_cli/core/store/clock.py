"""Time stamps: UTC ISO strings and a hybrid logical clock for ordering changes across devices."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds and a Z suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_hlc(wall_ms: int, counter: int, device_id: str) -> str:
    """A sortable HLC string: wall time, counter, then device id as the tie-break."""
    return f"{wall_ms:013d}.{counter:05d}.{device_id}"


def parse_hlc(value: str) -> tuple[int, int, str]:
    wall, counter, device = value.split(".", 2)
    return int(wall), int(counter), device


def next_hlc(last: str | None, device_id: str) -> str:
    """The next HLC after `last` for a local event (never goes backwards)."""
    wall = time.time_ns() // 1_000_000
    if last:
        last_wall, last_counter, _ = parse_hlc(last)
        if wall <= last_wall:
            return format_hlc(last_wall, last_counter + 1, device_id)
    return format_hlc(wall, 0, device_id)
