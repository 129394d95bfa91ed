"""Time zones (issue 13): names checked with a suggestion, the device's zone, and local times
through daylight-saving changes and odd offsets. Expected times are worked out by hand from
the IANA rules: New York changes on 2026-03-08 (02:00 -> 03:00) and 2026-11-01 (02:00 -> 01:00),
Nairobi is +03:00 all year, Kathmandu +05:45, Mexico City -06:00 all year since 2022."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from telecbt_cli.core.store import zones
from telecbt_cli.core.store.errors import PermissionDenied, UsageError
from telecbt_cli.core.store.localtime import (
    day_bounds,
    local_day,
    local_iso,
    sql_local_date,
    staff_time,
    to_utc,
)
from telecbt_cli.core.store.timeparse import parse_local, parse_since

NY, NAIROBI = ZoneInfo("America/New_York"), ZoneInfo("Africa/Nairobi")
KATHMANDU, MEXICO = ZoneInfo("Asia/Kathmandu"), ZoneInfo("America/Mexico_City")


@pytest.mark.parametrize(("typed", "suggested"), [("nairobi", "Africa/Nairobi"), ("new york", "America/New_York"),
                                                   ("africa/nairobi", "Africa/Nairobi"),
                                                   ("Asia/Katmandu2", "Asia/Kathmandu")])
def test_a_wrong_zone_name_is_refused_with_a_suggestion(typed, suggested):
    with pytest.raises(UsageError, match=suggested):
        zones.check_zone(typed)


def test_a_known_zone_name_is_kept_and_nonsense_gets_examples():
    assert zones.check_zone(" Asia/Kathmandu ") == "Asia/Kathmandu"
    with pytest.raises(UsageError, match="such as Africa/Nairobi"):
        zones.check_zone("qqqqqqqq")


def test_the_system_zone_comes_from_tz(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    assert zones.system_zone_name() == "Asia/Kathmandu"
    monkeypatch.setenv("TZ", ":/usr/share/zoneinfo/Africa/Nairobi")
    assert zones.system_zone_name() == "Africa/Nairobi"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert zones.system_zone_name() is None


def test_the_device_zone_is_the_systems_until_an_admin_sets_one(admin, monkeypatch):
    monkeypatch.setenv("TZ", "America/Mexico_City")
    assert zones.device_zone_info(admin.store)["timezone"] == "America/Mexico_City"
    info = zones.set_device_zone(admin, "Africa/Nairobi")
    assert info == {"timezone": "Africa/Nairobi", "source": "setting", "setting": "Africa/Nairobi",
                    "system": "America/Mexico_City"}
    assert zones.device_zone(admin.store) == NAIROBI
    assert zones.set_device_zone(admin, None)["timezone"] == "America/Mexico_City"
    with pytest.raises(UsageError, match="Africa/Nairobi"):
        zones.set_device_zone(admin, "nairobi")
    actions = [r[0] for r in admin.store.conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("settings.timezone") == 2


def test_only_an_admin_sets_the_device_zone(admin, store_dir):
    from telecbt_cli.core.store import users
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.unlock import unlock

    users.add_user(admin, "cleo", "clinician", "clinician passphrase 1", KdfParams(10))
    clinician = unlock(store_dir, "cleo", "clinician passphrase 1")
    try:
        with pytest.raises(PermissionDenied):
            zones.set_device_zone(clinician, "Africa/Nairobi")
    finally:
        clinician.close()


def test_the_device_zone_never_enters_the_change_log(admin):
    """The setting is this device's own: it is in `meta`, which bundles never carry."""
    before = admin.store.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    zones.set_device_zone(admin, "Asia/Kathmandu")
    assert admin.store.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == before


def test_times_read_as_local_and_labelled():
    assert staff_time("2026-12-03T07:00:00.000Z", NAIROBI) == "2026-12-03 10:00 EAT"
    assert staff_time("2026-12-03T07:00:00Z", KATHMANDU) == "2026-12-03 12:45 +05:45"
    assert staff_time("2026-07-01T16:00:00Z", NY) == "2026-07-01 12:00 EDT"
    assert staff_time("2026-12-01T16:00:00Z", NY) == "2026-12-01 11:00 EST"
    assert staff_time("2026-07-01T16:00:00Z", MEXICO) == "2026-07-01 10:00 CST"  # no summer time since 2022
    assert local_iso("2026-12-03T07:00:00.000Z", KATHMANDU) == "2026-12-03T12:45:00+05:45"
    assert staff_time(None, NY) == "-"


def test_typed_local_times_become_utc_in_the_given_zone():
    assert parse_local("2026-12-03 10:00", NAIROBI) == datetime(2026, 12, 3, 7, 0, tzinfo=timezone.utc)
    assert parse_local("2026-12-03 10:00", KATHMANDU) == datetime(2026, 12, 3, 4, 15, tzinfo=timezone.utc)
    assert parse_local("2026-07-03 10:00", MEXICO) == datetime(2026, 7, 3, 16, 0, tzinfo=timezone.utc)
    assert parse_local("2026-12-03 10:00+03:00", NY) == datetime(2026, 12, 3, 7, 0, tzinfo=timezone.utc)
    # A bare date for --since is local midnight.
    assert parse_since("2026-12-03", KATHMANDU) == "2026-12-02T18:15:00.000Z"


def test_a_time_the_clocks_skip_is_refused_naming_the_gap():
    with pytest.raises(UsageError) as refused:
        parse_local("2026-03-08 02:30", NY)
    message = str(refused.value)
    assert "does not exist in America/New_York" in message
    assert "02:00 to 03:00" in message and "02:00-03:00" in message


def test_a_time_that_happens_twice_is_refused_naming_both_offsets():
    with pytest.raises(UsageError) as refused:
        parse_local("2026-11-01 01:30", NY)
    message = str(refused.value)
    assert "happens twice in America/New_York" in message
    assert "2026-11-01T01:30-04:00 (the first, EDT)" in message
    assert "2026-11-01T01:30-05:00 (the second, EST)" in message
    # Typing the offset picks one, as the message says.
    assert parse_local("2026-11-01T01:30-05:00", NY) == datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)
    assert parse_local("2026-11-01T01:30-04:00", NY) == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)


def test_a_zone_without_daylight_saving_has_no_gap():
    naive = datetime(2026, 4, 5, 2, 30)  # Mexico's old spring-forward night: a normal night since 2022
    assert to_utc(naive, MEXICO, "America/Mexico_City") == datetime(2026, 4, 5, 8, 30, tzinfo=timezone.utc)


def test_local_days_follow_the_zone():
    assert local_day("2026-12-02T22:00:00Z", NAIROBI) == date(2026, 12, 3)
    assert local_day("2026-12-02T22:00:00Z", NY) == date(2026, 12, 2)
    # The spring-forward day in New York is 23 hours long.
    assert day_bounds(date(2026, 3, 8), date(2026, 3, 8), NY) == ("2026-03-08T05:00:00.000Z",
                                                                  "2026-03-09T04:00:00.000Z")


def test_sql_local_dates_match_python_across_a_change():
    """Reports group by day in SQL: the shifted dates agree with zoneinfo on both sides of each change."""
    import sqlite3

    stamps = ["2026-03-08T04:30:00.000Z", "2026-03-08T06:59:00.000Z", "2026-03-09T03:30:00.000Z",
              "2026-03-09T04:30:00.000Z", "2026-11-01T05:30:00.000Z", "2026-11-02T04:59:00.000Z",
              "2026-11-02T05:00:00.000Z", "2026-12-31T23:59:00.000Z"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (at TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(s,) for s in stamps])
    start, end = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc)
    for zone in (NY, KATHMANDU, NAIROBI):
        expr, params = sql_local_date("at", zone, start, end)
        got = dict(conn.execute(f"SELECT at, {expr} FROM t", params).fetchall())
        assert got == {s: local_day(s, zone).isoformat() for s in stamps}, zone
