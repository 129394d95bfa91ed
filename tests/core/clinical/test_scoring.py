"""Scoring against the published rules, at every band boundary.

Expected bands are written out here from the publications (PHQ-9: Kroenke 2001; GAD-7:
Spitzer 2006; PHQ-4: Löwe 2010; ISI: Morin 2011; PEG: Krebs 2009), not read from the
content files or copied from a run.
"""

from __future__ import annotations

import pytest

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.clinical.scoring import MissingItems, change, round_half_up, score

CATALOG, _ = cat.build([cat.BUILTIN_DIR])


def inst(ident: str) -> dict:
    return CATALOG.get("instrument", ident)


def answers_totalling(ident: str, total: int, per_item_max: int) -> dict:
    """Fill items in order up to `total` (e.g. 10 on PHQ-9 = 3, 3, 3, 1, 0 …)."""
    out = {}
    for item in inst(ident)["items"]:
        value = min(per_item_max, total)
        out[item["id"]] = value
        total -= value
    assert total == 0
    return out


PHQ9 = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
        (15, "moderately_severe"), (19, "moderately_severe"), (20, "severe"), (27, "severe")]
GAD7 = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
        (15, "severe"), (21, "severe")]
PHQ4 = [(0, "normal"), (2, "normal"), (3, "mild"), (5, "mild"), (6, "moderate"), (8, "moderate"),
        (9, "severe"), (12, "severe")]
ISI = [(0, "none"), (7, "none"), (8, "subthreshold"), (14, "subthreshold"), (15, "moderate"), (21, "moderate"),
       (22, "severe"), (28, "severe")]


def _severity_key(text: str) -> str:
    return text.replace("-", "_").replace(" ", "_")


@pytest.mark.parametrize("ident,per_item,table", [("phq9", 3, PHQ9), ("gad7", 3, GAD7), ("phq4", 3, PHQ4),
                                                  ("isi", 4, ISI)])
def test_band_boundaries(ident, per_item, table):
    for total, expected in table:
        result = score(inst(ident), answers_totalling(ident, total, per_item))
        assert result.total == total
        assert _severity_key(result.band).startswith(expected), (ident, total, result.band)


def test_phq4_subscales_screen_positive_at_3():
    phq4 = inst("phq4")
    anxiety = {i["id"]: 0 for i in phq4["items"]}
    ids = {sub["id"]: sub["items"] for sub in phq4["scoring"]["subscales"]}
    anxiety.update({ids["gad2"][0]: 2, ids["gad2"][1]: 1, ids["phq2"][0]: 1, ids["phq2"][1]: 1})
    result = score(phq4, anxiety)
    assert result.total == 5
    assert result.subscales["gad2"] == {"score": 3, "positive": True}
    assert result.subscales["phq2"] == {"score": 2, "positive": False}


def test_phq4_items_follow_the_published_order():
    texts = [i["text"]["en"].lower() for i in inst("phq4")["items"]]
    assert "nervous" in texts[0] and "worrying" in texts[1]
    assert "interest" in texts[2] and "down" in texts[3]


def test_peg_is_the_mean_of_three_items_to_one_decimal():
    peg = inst("peg3")
    ids = [i["id"] for i in peg["items"]]
    assert score(peg, dict(zip(ids, [7, 6, 8]))).total == 7.0
    assert score(peg, dict(zip(ids, [5, 6, 6]))).total == 5.7   # 17 / 3 = 5.667
    assert score(peg, dict(zip(ids, [10, 10, 9]))).total == 9.7  # 29 / 3 = 9.667
    assert score(peg, dict(zip(ids, [0, 0, 1]))).total == 0.3
    assert score(peg, dict(zip(ids, [1, 1, 2]))).total == 1.3    # 4 / 3 = 1.333


def test_pgic_responders_are_much_or_very_much_improved():
    pgic = inst("pgic")
    item = pgic["items"][0]["id"]
    assert [score(pgic, {item: v}).responder for v in range(1, 8)] == [True, True, False, False, False, False, False]


def test_pcs_subscales():
    pcs = inst("pcs")
    answers = {f"pcs_{n}": n % 5 for n in range(1, 14)}  # 1,2,3,4,0,1,2,3,4,0,1,2,3
    result = score(pcs, answers)
    assert result.total == 26
    assert result.band.startswith("below")
    assert result.subscales["rumination"]["score"] == 3 + 4 + 0 + 1       # items 8, 9, 10, 11
    assert result.subscales["magnification"]["score"] == 1 + 2 + 3       # items 6, 7, 13
    assert result.subscales["helplessness"]["score"] == 1 + 2 + 3 + 4 + 0 + 2  # items 1-5, 12
    assert score(pcs, {f"pcs_{n}": 3 if n <= 10 else 0 for n in range(1, 14)}).band == "clinically-relevant"


@pytest.mark.parametrize("ident", ["phq9", "gad7", "phq4", "peg3", "pcs"])
def test_an_unanswered_item_is_refused_where_no_rule_allows_it(ident):
    data = inst(ident)
    answers = {i["id"]: 1 for i in data["items"]}
    answers[data["items"][0]["id"]] = None
    with pytest.raises(MissingItems):
        score(data, answers)


def test_prorating_where_a_rule_allows_it():
    rule = {"id": "demo", "items": [{"id": f"q{n}", "min": 0, "max": 3} for n in range(9)],
            "scoring": {"method": "sum", "max_missing": 2, "missing_rule": "prorate"}}
    answers = {f"q{n}": 1 for n in range(8)} | {"q8": None}
    result = score(rule, {**answers, "q0": 3})  # answered 8 items summing 10 -> 10 * 9 / 8 = 11.25
    assert result.total == 11 and result.prorated
    too_many = {**answers, "q7": None, "q6": None}
    with pytest.raises(MissingItems):
        score(rule, too_many)


def test_round_half_up():
    assert round_half_up(2.5) == 3 and round_half_up(3.5) == 4 and round_half_up(5.65, 1) == 5.7


def test_minimal_important_change():
    phq9 = inst("phq9")
    assert change(phq9, 15, 10) == {"delta": -5, "meaningful": True, "direction": "better"}
    assert change(phq9, 15, 11)["meaningful"] is False
    assert change(phq9, 10, 15)["direction"] == "worse"
    assert change(inst("gad7"), 12, 8)["meaningful"] is True
    peg = inst("peg3")
    assert change(peg, 6.0, 5.2)["meaningful"] is False   # 0.8 points, 13 %
    assert change(peg, 6.0, 5.0)["meaningful"] is True    # 1 point
    assert change(peg, 2.0, 1.4)["meaningful"] is True    # 30 %
    assert change(inst("mood-nrs"), 3, 6)["direction"] == "better"
