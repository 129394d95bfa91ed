"""Dates in imported files are never guessed: day/month order comes from the whole column or is refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from telecbt_cli.core.care.diary_import import ImportFileError, parse_date_format, parse_diary_csv
from telecbt_cli.core.care.diary_import_dates import DateProblem, epoch_ms_day, split_cell

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)


def days(raw: bytes, **kwargs) -> list[tuple[str, int]]:
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, **kwargs)
    return [(row["day"], row["steps"]) for row in result.rows]


def test_month_first_dates_land_on_their_own_days():
    """Issue 15: 4/12/2016 from a Fitbit-style file was stored as 2016-12-04 and 4/13/2016 was dropped."""
    raw = b"Date,Steps\r\n4/12/2016,8123\r\n4/13/2016,10250\r\n5/1/2016,6001\r\n"
    assert days(raw) == [("2016-04-12", 8123), ("2016-04-13", 10250), ("2016-05-01", 6001)]
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    assert result.dates == "month/day/year: '4/13/2016' on line 3 has the month first"


def test_undecidable_dates_are_refused_and_the_option_decides():
    """Issue 15: with no number above 12 the file cannot say its order, so nothing is imported."""
    raw = b"Date,Steps\r\n4/12/2016,8123\r\n5/1/2016,6001\r\n"
    with pytest.raises(ImportFileError) as caught:
        days(raw)
    assert "could be day/month/year or month/day/year" in str(caught.value)
    assert "'4/12/2016' on line 2" in str(caught.value)
    assert "--date-format DD/MM/YYYY or --date-format MM/DD/YYYY" in str(caught.value)
    assert days(raw, date_format="MDY") == [("2016-04-12", 8123), ("2016-05-01", 6001)]
    assert days(raw, date_format="DMY") == [("2016-01-05", 6001), ("2016-12-04", 8123)]


def test_a_day_above_12_anywhere_in_the_column_decides_every_row():
    raw = b"Fecha;Pasos\n02/03/2026;100\n04/03/2026;200\n13/03/2026;300\n"
    assert days(raw) == [("2026-03-02", 100), ("2026-03-04", 200), ("2026-03-13", 300)]


def test_two_orders_in_one_column_are_refused():
    raw = b"Date,Steps\n13/04/2016,1\n04/14/2016,2\n"
    with pytest.raises(ImportFileError, match="are in two orders") as caught:
        days(raw)
    assert "'13/04/2016' on line 2 has the day first" in str(caught.value)
    assert "'04/14/2016' on line 3 has the month first" in str(caught.value)
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, date_format="DMY")
    assert [r["day"] for r in result.rows] == ["2016-04-13"]
    assert result.skipped[0].line == 3
    assert "14 is not a month (dates are read as day/month/year)" in result.skipped[0].reason


def test_day_equal_to_month_needs_no_order():
    assert days(b"Date,Steps\n1/1/2026,5\n02/02/2026,6\n") == [("2026-01-01", 5), ("2026-02-02", 6)]


def test_dots_dashes_and_year_first_slashes():
    raw = b"Date,Steps\n13.04.2016,1\n14-04-2016,2\n2016/04/15,3\n"
    assert days(raw) == [("2016-04-13", 1), ("2016-04-14", 2), ("2016-04-15", 3)]


def test_fitbit_documented_order_is_used_when_the_file_cannot_tell():
    head = "Id,ActivityDate,TotalSteps,VeryActiveMinutes,FairlyActiveMinutes,LightlyActiveMinutes,SedentaryMinutes\r\n"
    raw = (head + "42,4/1/2016,3000,1,2,100,900\r\n42,4/2/2016,4000,0,0,100,900\r\n").encode()
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    assert [(r["day"], r["steps"], r["activity_min"]) for r in result.rows] == [
        ("2016-04-01", 3000, 3), ("2016-04-02", 4000, 0)]
    assert result.dates == "month/day/year, as Fitbit writes them"


def test_fitbit_file_with_day_first_dates_is_refused_not_misread():
    head = "Id,ActivityDate,TotalSteps,VeryActiveMinutes,FairlyActiveMinutes,LightlyActiveMinutes,SedentaryMinutes\r\n"
    raw = (head + "42,1/4/2016,3000,1,2,100,900\r\n42,13/4/2016,4000,0,0,100,900\r\n").encode()
    with pytest.raises(ImportFileError, match="Fitbit writes dates month/day/year, but '13/4/2016' on line 3"):
        parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, date_format="DMY")
    assert [r["day"] for r in result.rows] == ["2016-04-01", "2016-04-13"]


def test_twelve_hour_clock():
    assert split_cell("4/12/2016 12:00:00 AM").clock.hour == 0
    assert split_cell("4/12/2016 12:30 PM").clock.hour == 12
    assert split_cell("4/12/2016 1:05:09 pm").clock.hour == 13
    with pytest.raises(DateProblem, match="not a time of day"):
        split_cell("4/12/2016 13:00 PM")


@pytest.mark.parametrize("text, order", [("DD/MM/YYYY", "DMY"), ("mm/dd/yyyy", "MDY"), ("YYYY-MM-DD", "YMD"),
                                         ("dmy", "DMY"), ("M/D/YYYY", "MDY"), ("DD.MM.YYYY", "DMY")])
def test_date_format_option(text, order):
    assert parse_date_format(text) == order


@pytest.mark.parametrize("text", ["DD/DD/YYYY", "american", "%m/%d/%Y", "DM", ""])
def test_date_format_option_refuses_junk(text):
    with pytest.raises(ValueError, match="is not a date format"):
        parse_date_format(text)


def test_epoch_millisecond_day_stamps():
    # Samsung writes midnight UTC of the day.
    assert epoch_ms_day("1709251200000") == date(2024, 3, 1)
    # A local midnight written instead (New York, Nairobi) still gives that local date.
    assert epoch_ms_day(str(int(datetime(2024, 2, 29, 5, tzinfo=timezone.utc).timestamp() * 1000))) == date(2024, 2, 29)
    assert epoch_ms_day(str(int(datetime(2024, 2, 29, 21, tzinfo=timezone.utc).timestamp() * 1000))) == date(2024, 3, 1)
    for bad in ("17092512000x0", "12", "99999999999999"):
        with pytest.raises(DateProblem):
            epoch_ms_day(bad)


def test_utc_times_take_the_day_of_the_zone():
    raw = b"Date,Steps\n2026-03-01T23:30:00Z,1\n"
    assert days(raw) == [("2026-03-01", 1)]
    ahead = parse_diary_csv(raw, now=NOW, zone=timezone(timedelta(hours=3)))
    assert [r["day"] for r in ahead.rows] == ["2026-03-02"]
