"""Diary rows arriving in a bundle: the quick path that checks a year of entries (issue 19's
import row) accepts exactly what the full rules accept (issue 12.6: trusted is not unchecked)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telecbt_cli.core.care.diary import REGIONS, check_stored, check_stored_fully
from telecbt_cli.core.store.errors import UsageError

GOOD = {"entry_at": "2025-11-30T07:00:00.000Z", "created_at": "2025-11-30T08:00:00.000Z", "source": "manual",
        "pain": 6, "mood": 6, "sleep_hours": 7.6, "sleep_quality": 6, "activity_min": 57, "steps": None,
        "locations": '["head", "hips"]', "triggers": "[]", "coping": '["breathing"]', "meds": '["paracetamol"]',
        "note": None}


def _verdict(check, row: dict) -> bool:
    try:
        check(row)
    except UsageError:
        return False
    return True


def test_a_plain_entry_passes_both_ways():
    assert _verdict(check_stored, GOOD) and _verdict(check_stored_fully, GOOD)


@pytest.mark.parametrize("change", [
    {"pain": 99}, {"pain": True}, {"pain": -1}, {"pain": 5.5}, {"pain": None},  # manual entries need pain
    {"sleep_hours": math.nan}, {"sleep_hours": math.inf}, {"sleep_hours": 25}, {"steps": 10**9},
    {"locations": '["head", "tail"]'}, {"locations": "not json"}, {"locations": '{"a": 1}'}, {"coping": "[1, 2]"},
    {"meds": json.dumps([f"m{i}" for i in range(21)])}, {"meds": json.dumps(["x" * 101])},
    {"note": "n" * 2001}, {"source": "bogus"}, {"entry_at": None}, {"created_at": 5},
    {"entry_at": "2025-11-30T08:10:00.001Z"},  # more than ten minutes after it was written
    {"entry_at": "2025-13-30T07:00:00.000Z"},  # no month 13
])
def test_each_broken_value_is_refused(change):
    """Each rule of the local writer refuses the row on the quick path too."""
    row = {**GOOD, **change}
    assert not _verdict(check_stored_fully, row)
    assert not _verdict(check_stored, row)


def test_forms_the_quick_path_leaves_to_the_full_rules_still_pass():
    """Rows in a less common but valid form (a whole number written 5.0, an offset time, padded
    list items) are not refused just because the quick path does not take them."""
    row = {**GOOD, "pain": 5.0, "entry_at": "2025-11-30T09:00:00+02:00", "triggers": '[" stress ", ""]'}
    assert _verdict(check_stored_fully, row) and _verdict(check_stored, row)


NUMBERS = st.one_of(st.none(), st.booleans(), st.integers(-5, 200_000), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["5", "5,5", ""]))
LISTS = st.one_of(st.none(), st.sampled_from(["[]", "not json", "{}", "[1]", '[""]', '["  "]']),
                  st.lists(st.one_of(st.sampled_from(REGIONS), st.text(max_size=120)), max_size=24).map(json.dumps))
TIMES = st.one_of(st.none(), st.sampled_from(["2025-11-30T07:00:00.000Z", "2025-11-30T08:09:59.999Z",
                                              "2025-11-30T08:10:00.001Z", "2025-02-30T07:00:00.000Z",
                                              "2025-11-30T07:00:00Z", "2025-11-30 07:00", "yesterday"]))


@settings(max_examples=400, deadline=None)
@given(pain=NUMBERS, mood=NUMBERS, sleep=NUMBERS, steps=NUMBERS, locations=LISTS, coping=LISTS,
       note=st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just("n" * 2001)),
       source=st.sampled_from(["manual", "kiosk", "import", "other", None]), entry_at=TIMES)
def test_the_quick_path_agrees_with_the_full_rules(pain, mood, sleep, steps, locations, coping, note, source,
                                                   entry_at):
    row = {**GOOD, "pain": pain, "mood": mood, "sleep_hours": sleep, "steps": steps, "locations": locations,
           "coping": coping, "note": note, "source": source, "entry_at": entry_at}
    assert _verdict(check_stored, row) == _verdict(check_stored_fully, row)
