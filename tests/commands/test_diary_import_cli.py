"""`telecbt diary import` says what happened: format, encoding, dates, columns, rows, and the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from tests.commands import test_care_cli
from tests.conftest import ADMIN, ADMIN_PASS, run_telecbt

SAMPLES = Path(__file__).parent.parent / "core" / "care" / "samples"
runner = CliRunner()
code = test_care_cli.code  # the fixture: a store (TELECBT_STORE) with one consented patient


def invoke(*args: str):
    return runner.invoke(app, list(args))


def imported(code: str) -> dict[str, dict]:
    entries = json.loads(invoke("diary", "list", code, "--json").stdout)
    return {e["entry_at"][:10]: {k: e[k] for k in ("steps", "activity_min", "sleep_hours") if e[k] is not None}
            for e in entries}


def test_fitbit_export_report_in_words(code):
    """Issue 15: the report names the format, encoding, date order, columns used and ignored, and each skip."""
    result = invoke("diary", "import", code, str(SAMPLES / "fitbit_dailyActivity_merged.csv"), "--yes")
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "Fitbit daily activity (Fitabase), utf-8" in err
    assert "dates: month/day/year, as Fitbit writes them" in err
    assert "active minutes <- VeryActiveMinutes + FairlyActiveMinutes" in err and "steps <- TotalSteps" in err
    assert "ignored: TotalDistance" in err
    assert "6 row(s) read: 5 day(s) to import, 1 skipped, 0 folded into another row for the same day" in err
    assert "line 4: the tracker was not worn that day" in err
    assert "Imported 5 new day(s); 0 day(s) updated; 0 day(s) unchanged" in err
    assert imported(code)["2016-04-12"] == {"steps": 8123, "activity_min": 21}
    again = invoke("diary", "import", code, str(SAMPLES / "fitbit_dailyActivity_merged.csv"), "--yes")
    assert again.exit_code == 0
    assert "Imported 0 new day(s); 0 day(s) updated; 5 day(s) unchanged (already imported)." in again.stderr


def test_json_report_for_apple_export(code):
    result = invoke("diary", "import", code, str(SAMPLES / "apple_health_export.xml"), "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["format_id"] == "apple-health-xml" and report["encoding"] == "utf-8"
    assert report["rows_read"] == 22 and report["days"] == 2 and report["skipped_count"] == 1
    assert report["skipped"] == [{"line": 42, "reason": "steps 'abc' is not a number"}]
    assert report["saved"] == {"added": 2, "updated": 0, "unchanged": 0, "not_used": []}
    assert imported(code) == {"2024-03-01": {"steps": 4600, "activity_min": 20},
                              "2024-03-02": {"steps": 800, "sleep_hours": 7.83}}


def test_ambiguous_dates_exit_2_and_date_format_imports(code, tmp_path):
    path = tmp_path / "pasos.csv"
    path.write_text("Fecha;Pasos\n04/03/2026;5000\n05/03/2026;6000\n", encoding="utf-8")
    refused = invoke("diary", "import", code, str(path), "--yes")
    assert refused.exit_code == 2
    assert "--date-format DD/MM/YYYY" in refused.stderr and "Nothing was imported" in refused.stderr
    assert imported(code) == {}
    done = invoke("diary", "import", code, str(path), "--yes", "--date-format", "DD/MM/YYYY")
    assert done.exit_code == 0, done.stderr
    assert imported(code) == {"2026-03-04": {"steps": 5000}, "2026-03-05": {"steps": 6000}}
    bad = invoke("diary", "import", code, str(path), "--date-format", "someday")
    assert bad.exit_code == 2 and "is not a date format" in bad.stderr


def test_a_file_with_nothing_usable_exits_2_and_lists_why(code, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Date,Steps\n2026-02-01,lots\nyesterday,10\n")
    for extra in ([], ["--json"]):
        result = invoke("diary", "import", code, str(path), "--yes", *extra)
        assert result.exit_code == 2
        assert "nothing in" in result.stderr and "can be imported" in result.stderr
    assert "line 2: steps 'lots' is not a number" in invoke("diary", "import", code, str(path)).stderr
    report = json.loads(invoke("diary", "import", code, str(path), "--json").stdout)
    assert report["days"] == 0 and [s["line"] for s in report["skipped"]] == [2, 3]
    assert invoke("diary", "import", code, str(tmp_path / "missing.csv")).exit_code == 2


def test_map_and_person_options(code, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("When,Walked\n2026-03-01,4321\n")
    assert invoke("diary", "import", code, str(path), "--yes").exit_code == 2
    result = invoke("diary", "import", code, str(path), "--yes", "--map", "When=date", "--map", "Walked=steps")
    assert result.exit_code == 0, result.stderr
    assert imported(code) == {"2026-03-01": {"steps": 4321}}
    assert invoke("diary", "import", code, str(path), "--map", "Walked").exit_code == 2
    people = tmp_path / "people.csv"
    people.write_text("Id,SleepDay,TotalSleepRecords,TotalMinutesAsleep,TotalTimeInBed\n"
                      "1,4/20/2016 12:00:00 AM,1,420,450\n2,4/20/2016 12:00:00 AM,1,300,320\n")
    refused = invoke("diary", "import", code, str(people), "--yes")
    assert refused.exit_code == 2 and "--person ID" in refused.stderr
    assert invoke("diary", "import", code, str(people), "--yes", "--person", "2").exit_code == 0
    assert imported(code)["2016-04-20"] == {"sleep_hours": 5.0}


def test_dry_run_saves_nothing_and_skips_need_yes(code, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("Date,Steps\n2026-03-01,100\n2026-03-02,-5\n")
    dry = json.loads(invoke("diary", "import", code, str(path), "--dry-run", "--json").stdout)
    assert dry["saved"] is None and dry["rows"][0]["day"] == "2026-03-01"
    refused = invoke("diary", "import", code, str(path))
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert imported(code) == {}


@pytest.mark.slow
@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/Los_Angeles"])
def test_days_are_right_in_a_real_process_on_either_side_of_utc(tmp_path, pass_file, zone):
    """Issue 15: the whole command, run in a far-east and a far-west zone, stores each day on that day."""
    store = tmp_path / "s"
    env = {"TELECBT_STORE": str(store), "TELECBT_PASSPHRASE": ADMIN_PASS, "TZ": zone}
    assert run_telecbt("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file),
                       env=env).returncode == 0
    code = json.loads(run_telecbt("patient", "add", "--name", "Ana", "--json", env=env).stdout)["code"]
    assert run_telecbt("patient", "consent", code, "--method", "verbal", "--version", "v1", env=env).returncode == 0
    for name in ("fitbit_dailyActivity_merged.csv", "fitbit_sleepDay_merged.csv",
                 "com.samsung.shealth.step_daily_trend.20240304060000.csv"):
        result = run_telecbt("diary", "import", code, str(SAMPLES / name), "--yes", env=env)
        assert result.returncode == 0, result.stderr
    listed = json.loads(run_telecbt("diary", "list", code, "--json", env=env).stdout)
    days = {e["entry_at"][:10]: (e["steps"], e["sleep_hours"]) for e in listed}
    assert days == {"2016-04-12": (8123, 6.7), "2016-04-13": (10250, 7.58), "2016-04-15": (4420, 6.47),
                    "2016-05-01": (6001, 7.02), "2016-05-02": (7350, None), "2024-03-01": (6100, None),
                    "2024-03-02": (8000, None), "2024-03-03": (2100, None)}
    again = run_telecbt("diary", "import", code, str(SAMPLES / "fitbit_sleepDay_merged.csv"), "--yes", "--json",
                        env=env)
    assert json.loads(again.stdout)["saved"]["unchanged"] == 4
