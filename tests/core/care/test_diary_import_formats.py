"""Tracker exports recognised from their header and imported as exported, every value on its own day.

The files in samples/ were written for these tests from the makers' published formats;
each test lists the values written into its file and compares the import with them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from telecbt_cli.core.care.diary_import import ImportFileError, parse_diary_csv, parse_mapping, read_export

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
FIELDS = ("pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps")


def values(result) -> dict[str, dict]:
    """{day: {field: value}} with only the fields that have a value."""
    return {row["day"]: {k: row[k] for k in FIELDS if row[k] is not None} for row in result.rows}


def read(name: str, **kwargs):
    return read_export(SAMPLES / name, now=NOW, zone=timezone.utc, **kwargs)


def test_fitbit_daily_activity_sample():
    """Issue 15: a Fitabase dailyActivity file imports as exported, each value on its own day."""
    result = read("fitbit_dailyActivity_merged.csv")
    assert result.format == "Fitbit daily activity (Fitabase)"
    assert result.dates == "month/day/year, as Fitbit writes them"
    # Written into the file: TotalSteps, and VeryActiveMinutes + FairlyActiveMinutes.
    assert values(result) == {
        "2016-04-12": {"steps": 8123, "activity_min": 12 + 9},
        "2016-04-13": {"steps": 10250, "activity_min": 30 + 15},
        "2016-04-15": {"steps": 4420, "activity_min": 0 + 5},
        "2016-05-01": {"steps": 6001, "activity_min": 3 + 4},
        "2016-05-02": {"steps": 7350, "activity_min": 10 + 0},
    }
    assert result.columns == {"date": "ActivityDate", "activity_min": "VeryActiveMinutes + FairlyActiveMinutes",
                              "steps": "TotalSteps", "person": "Id"}
    assert "LightlyActiveMinutes" in result.ignored_columns and "Calories" in result.ignored_columns
    assert [(s.line, s.reason) for s in result.skipped] == [
        (4, "the tracker was not worn that day (0 steps and 1440 sedentary minutes)")]
    assert result.rows_read == 6


def test_fitbit_daily_sleep_sample():
    result = read("fitbit_sleepDay_merged.csv")
    assert result.format == "Fitbit daily sleep (Fitabase)"
    # TotalMinutesAsleep written: 402, 455 (twice: the same row repeated), 388, 421.
    assert values(result) == {
        "2016-04-12": {"sleep_hours": round(402 / 60, 2)},
        "2016-04-13": {"sleep_hours": round(455 / 60, 2)},
        "2016-04-15": {"sleep_hours": round(388 / 60, 2)},
        "2016-05-01": {"sleep_hours": round(421 / 60, 2)},
    }
    assert [(d.line, d.reason) for d in result.duplicates] == [(4, "same day as line 3 (2016-04-13) with nothing new")]
    assert "TotalTimeInBed" in result.ignored_columns


def fitabase(rows: list[tuple[str, str, int, int, int]]) -> bytes:
    """A dailyActivity file in the published layout from (Id, M/D/YYYY, steps, very, fairly) rows."""
    head = ("Id,ActivityDate,TotalSteps,TotalDistance,TrackerDistance,LoggedActivitiesDistance,VeryActiveDistance,"
            "ModeratelyActiveDistance,LightActiveDistance,SedentaryActiveDistance,VeryActiveMinutes,"
            "FairlyActiveMinutes,LightlyActiveMinutes,SedentaryMinutes,Calories")
    lines = [f"{pid},{day},{steps},{steps / 1400:.2f},{steps / 1400:.2f},0,0.5,0.4,2.1,0,{very},{fairly},150,1000,1800"
             for pid, day, steps, very, fairly in rows]
    return ("\r\n".join([head, *lines]) + "\r\n").encode()


def test_fitbit_file_with_several_people_needs_person():
    raw = fitabase([("111", "4/20/2016", 5000, 10, 5), ("222", "4/20/2016", 9000, 1, 1),
                    ("111", "4/21/2016", 6000, 0, 20)])
    with pytest.raises(ImportFileError, match="holds data for 2 people .*--person ID"):
        parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, person="111")
    assert values(result) == {"2016-04-20": {"steps": 5000, "activity_min": 15},
                              "2016-04-21": {"steps": 6000, "activity_min": 20}}
    assert result.notes == ["1 row(s) for other people (other Ids) were left out"]
    with pytest.raises(ImportFileError, match="No rows for --person 333"):
        parse_diary_csv(raw, now=NOW, zone=timezone.utc, person="333")


def test_fitbit_month_day_values_round_trip():
    written = {date(2016, 4, day): (3000 + day * 111, day % 7, day % 5) for day in range(1, 31)}
    raw = fitabase([("9", f"{d.month}/{d.day}/{d.year}", s, v, f) for d, (s, v, f) in written.items()])
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    assert values(result) == {d.isoformat(): {"steps": s, "activity_min": v + f} for d, (s, v, f) in written.items()}


def test_google_fit_daily_activity_metrics_sample():
    result = read("Daily activity metrics.csv")
    assert result.format == "Google Fit daily activity metrics (Takeout)"
    # Step count and Move Minutes count written; 2024-02-28 has neither (only calories and inactivity).
    assert values(result) == {
        "2024-02-27": {"steps": 4210, "activity_min": 34},
        "2024-02-29": {"steps": 7890, "activity_min": 58},
        "2024-03-01": {"steps": 612, "activity_min": 5},
    }
    assert [(s.line, s.reason) for s in result.skipped] == [(3, "no diary values")]
    assert result.columns == {"date": "Date", "steps": "Step count", "activity_min": "Move Minutes count"}
    assert "Heart Points" in result.ignored_columns


def test_samsung_step_daily_trend_sample():
    """Issue 15: per-device rows and the all-devices row (source_type -2) are never added together."""
    result = read("com.samsung.shealth.step_daily_trend.20240304060000.csv")
    assert result.format == "Samsung Health daily steps (step_daily_trend)"
    # Written: Mar 1 phone 3000, watch 5200, all devices 6100; Mar 2 all 8000, watch 7900;
    # Mar 3 phone 1500 and watch 2100 with no all-devices row (the larger is used).
    assert values(result) == {"2024-03-01": {"steps": 6100}, "2024-03-02": {"steps": 8000},
                              "2024-03-03": {"steps": 2100}}
    assert [d.line for d in result.duplicates] == [3, 4, 7, 9]
    assert result.duplicates[0].reason == ("one device's count for 2024-03-01: the total of all devices (line 5) "
                                           "is used instead")
    assert result.skipped == []
    assert result.columns["all_devices"] == "source_type = -2"
    assert result.notes[0].startswith("line 1 names the data type")
    mapped = read("com.samsung.shealth.step_daily_trend.20240304060000.csv", mapping={"calorie": "ignore"})
    assert values(mapped) == values(result)


def samsung(header_comma: bool, prefix: str, rows: list[tuple[int, int, int]]) -> bytes:
    """step_daily_trend text from (day_time ms, source_type, count) rows, every data row ending in a comma."""
    names = ["update_time", "count", "source_type", "day_time", "deviceuuid"]
    head = ",".join(prefix + n for n in names) + ("," if header_comma else "")
    lines = [f"2024-03-05 08:00:00.000,{count},{source},{ms},dev{source}," for ms, source, count in rows]
    return "\n".join(["com.samsung.shealth.step_daily_trend,6313005,5", head, *lines, ""]).encode()


@pytest.mark.parametrize("header_comma", [True, False])
@pytest.mark.parametrize("prefix", ["", "com.samsung.health.step_daily_trend."])
def test_samsung_header_forms(header_comma, prefix):
    day = 1709510400000  # 2024-03-04T00:00Z
    raw = samsung(header_comma, prefix, [(day, 0, 4000), (day, -2, 4500), (day, 4, 3900), (day + 86_400_000, -2, 12)])
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    assert values(result) == {"2024-03-04": {"steps": 4500}, "2024-03-05": {"steps": 12}}
    assert result.skipped == []


def test_generic_spanish_csv_with_bom_semicolons_and_decimal_commas():
    written = {"2026-03-13": (8450, 7.25, 35, 6), "2026-03-14": (10021, 6.5, 50, 5), "2026-03-15": (3999, 8.0, 0, 7)}
    lines = ["Fecha;Pasos;Horas de sueño;Minutos activos;Dolor;Nota"]
    for day, (steps, sleep, active, pain) in written.items():
        y, m, d = day.split("-")
        lines.append(f"{d}/{m}/{y};{steps};{str(sleep).replace('.', ',')};{active};{pain};día {d}")
    raw = ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    assert result.encoding == "utf-8-sig"
    assert result.columns == {"date": "Fecha", "pain": "Dolor", "sleep_hours": "Horas de sueño",
                              "activity_min": "Minutos activos", "steps": "Pasos", "note": "Nota"}
    assert values(result) == {day: {"steps": s, "sleep_hours": h, "activity_min": a, "pain": p}
                              for day, (s, h, a, p) in written.items()}
    assert [row["note"] for row in result.rows] == ["día 13", "día 14", "día 15"]


def test_generic_csv_with_map_for_unknown_headers():
    raw = b"When,Walked,Slept (h),Heart\n2026-03-01,5120,7.5,61\n2026-03-02,4410,6.75,64\n"
    with pytest.raises(ImportFileError, match="No date column found.*--map COLUMN=date"):
        parse_diary_csv(raw, now=NOW, zone=timezone.utc)
    mapping = parse_mapping(["When=date", "Walked=steps", "slept (h)=sleep_hours"])
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, mapping=mapping)
    assert values(result) == {"2026-03-01": {"steps": 5120, "sleep_hours": 7.5},
                              "2026-03-02": {"steps": 4410, "sleep_hours": 6.75}}
    assert result.columns == {"date": "When", "sleep_hours": "Slept (h)", "steps": "Walked"}
    assert result.ignored_columns == ["Heart"]


def test_map_overrides_and_ignores_recognised_columns():
    raw = b"Date,Steps,Pasos,Sleep\n2026-03-01,10,20,7\n"
    result = parse_diary_csv(raw, now=NOW, zone=timezone.utc, mapping=parse_mapping(["Pasos=steps", "Sleep=ignore"]))
    assert values(result) == {"2026-03-01": {"steps": 20}}
    assert result.ignored_columns == ["Steps", "Sleep"]
    minutes = parse_diary_csv(raw, now=NOW, zone=timezone.utc, mapping=parse_mapping(["Sleep=sleep_minutes"]))
    assert values(minutes)["2026-03-01"]["sleep_hours"] == round(7 / 60, 2)


def test_map_errors_are_clear():
    with pytest.raises(ValueError, match="must be COLUMN=FIELD"):
        parse_mapping(["Walked"])
    with pytest.raises(ValueError, match="must be COLUMN=FIELD"):
        parse_mapping(["Walked=distance"])
    with pytest.raises(ImportFileError, match="--map names a column 'Nope' that is not in the file"):
        parse_diary_csv(b"Date,Steps\n2026-03-01,1\n", now=NOW, mapping={"Nope": "steps"})


def test_recognised_from_the_header_not_the_file_name(tmp_path):
    renamed = tmp_path / "datos.txt"
    renamed.write_bytes((SAMPLES / "fitbit_sleepDay_merged.csv").read_bytes())
    assert read_export(renamed, now=NOW, zone=timezone.utc).format_key == "fitbit-daily-sleep"


def test_csv_options_are_refused_for_apple_exports():
    with pytest.raises(ImportFileError, match="--date-format are for CSV files"):
        read("apple_health_export.xml", date_format="DMY")
