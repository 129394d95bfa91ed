"""Issue 11.5: typed numbers are read the way the reader's language writes them, and never guessed."""

from __future__ import annotations

import pytest

from telecbt_cli.core.clinical.answers import AnswerError, check_answer, exercise_field, parse_number

HOURS = {"id": "sleep", "kind": "number", "min": 0, "max": 24, "integer": False}


@pytest.mark.parametrize(("typed", "lang", "value"), [
    ("5.5", "en", 5.5), ("5,5", "es", 5.5), ("5.5", "es", 5.5), (" 7 ", "es", 7.0), ("-2", "en", -2.0),
    (",5", "es", 0.5), ("10", "en", 10.0)])
def test_a_decimal_comma_is_a_decimal_separator_in_spanish(typed, lang, value):
    assert parse_number(typed, lang) == value


@pytest.mark.parametrize(("typed", "lang"), [
    ("5,5", "en"),        # English writes a point: a comma is refused, not dropped (55) or guessed
    ("1,000", "en"), ("1.000,5", "es"), ("5,5,5", "es"), ("5 5", "en"), ("", "en"), ("abc", "es"),
    ("1e3", "en"), ("nan", "en"), ("inf", "es")])
def test_anything_else_is_not_a_number(typed, lang):
    with pytest.raises(ValueError):
        parse_number(typed, lang)


def test_steps_and_exercises_read_numbers_in_the_run_language():
    assert check_answer(HOURS, "5,5", "es") == 5.5
    with pytest.raises(AnswerError) as refused:
        check_answer(HOURS, "5,5", "en")
    assert refused.value.key == "run.not_a_number"
    step = {"id": "plan", "kind": "pacing_plan"}
    assert exercise_field(step, "baseline_minutes", "12,5", {}, "es") == 12.5
    with pytest.raises(AnswerError) as high:
        exercise_field(step, "quota_minutes", "13", {"baseline_minutes": 12.5}, "es")
    assert high.value.key == "exercise.pacing_plan.quota_too_high" and high.value.step_id == "plan.quota_minutes"
