"""Course questionnaire schedules (`[measures]`) and practice modules: built-in content and the checks."""

from __future__ import annotations

import pytest

from telecbt_cli.content import catalog as cat
from tests.content.test_validator import clinic_folder, content_problems

COURSE = ('id = "mine"\nversion = "1"\nkind = "course"\nminutes_per_session = 30\n'
          'title = { en = "a", es = "b" }\nsummary = { en = "a", es = "b" }\nsessions = ["cbt-01"]\n')


def test_built_in_courses_carry_a_schedule_and_practice_modules_stay_out_of_them():
    built, problems = cat.build([cat.BUILTIN_DIR])
    assert problems == []
    assert built.get("course", "standard")["measures"] == {"peg3": 7, "phq9": 14, "gad7": 14, "pseq2": 28}
    assert built.get("course", "brief")["measures"] == {"peg3": 7, "phq4": 14}
    practice = {m["id"] for m in built.all("module") if m["phase"] == "practice"}
    assert practice == {"practice-breathing", "practice-thought-record"}
    for course in built.all("course"):
        assert not practice & set(course["sessions"])


def test_a_good_schedule_passes(tmp_path):
    assert content_problems(clinic_folder(tmp_path, {"courses/mine.toml": COURSE + "\n[measures]\npeg3 = 7\n"})) == []
    assert content_problems(clinic_folder(tmp_path, {"courses/mine.toml": COURSE})) == []  # the table is optional


@pytest.mark.parametrize("table,expected", [
    ("nope = 7", "measures.nope: names no questionnaire 'nope'"),
    ("peg3 = 0", "measures.peg3: must be a whole number of days from 1 to 366"),
    ("peg3 = 1000", "measures.peg3: must be a whole number of days"),
    ("peg3 = \"weekly\"", "measures.peg3: must be a whole number of days"),
    ("peg3 = true", "measures.peg3: must be a whole number of days"),
    ("peg3 = 7.5", "measures.peg3: must be a whole number of days"),
    ("Bad_Id = 7", "measures.Bad_Id: must be an id"),
])
def test_a_bad_schedule_is_reported_with_file_and_key(tmp_path, table, expected):
    problems = content_problems(clinic_folder(tmp_path, {"courses/mine.toml": COURSE + f"\n[measures]\n{table}\n"}))
    assert any("mine.toml" in p and expected in p for p in problems), problems


def test_a_course_may_not_list_a_practice_module(tmp_path):
    course = COURSE.replace('["cbt-01"]', '["cbt-01", "practice-breathing"]')
    problems = content_problems(clinic_folder(tmp_path, {"courses/mine.toml": course}))
    assert any("mine.toml: sessions[1]" in p and "practice module" in p for p in problems), problems
