"""Checking questionnaire files: items, answer scales, scoring, bands and safety rules."""

from __future__ import annotations

from typing import Any

from telecbt_cli.content.validate import Checker, check_header, check_options

_INSTRUMENT_KEYS = {"id", "version", "kind", "title", "short_title", "items_included", "licence", "source",
                    "recall", "instructions", "loinc", "option_sets", "items", "scoring", "safety"}
_ITEM_KEYS = {"id", "text", "options", "min", "max", "min_label", "max_label", "loinc"}
_SCORING_KEYS = {"method", "items", "max_missing", "missing_rule", "decimals", "responder_values", "bands",
                 "subscales", "mic", "better"}
_TEXT_FILE_KEYS = {"kind", "instrument", "licence_holder", "title", "recall", "instructions", "items",
                   "option_sets"}
_SAFETY_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


def item_range(instrument: dict, item: dict) -> tuple[int, int] | None:
    """The lowest and highest answer an item allows."""
    if "options" in item:
        values = [o.get("value") for o in (instrument.get("option_sets") or {}).get(item["options"], [])]
        numbers = [v for v in values if isinstance(v, int)]
        return (min(numbers), max(numbers)) if numbers else None
    if isinstance(item.get("min"), int) and isinstance(item.get("max"), int):
        return item["min"], item["max"]
    return None


def check_instrument(c: Checker, data: dict, stem: str) -> None:
    required = {"id", "version", "kind", "title", "items_included", "licence", "items", "scoring"}
    if not c.keys(data, "", _INSTRUMENT_KEYS, required):
        return
    check_header(c, data, stem, "instrument")
    c.text(data.get("title"), "title")
    shipped = c.typed(data, "items_included", "", bool)
    for key in ("recall", "instructions"):
        if key in data:
            c.text(data[key], key)
            if shipped is False:
                c.add(key, "must be left out of a licensed instrument (items_included = false)", key="cli.content_problem.licensed")
    if not isinstance(data.get("licence"), str) or not data["licence"].strip():
        c.add("licence", "must say who holds the rights and what use is allowed", key="cli.content_problem.licence")
    if "loinc" in data:
        c.keys(data["loinc"], "loinc", {"panel", "total"}, set())
    sets = data.get("option_sets") or {}
    if not isinstance(sets, dict):
        c.add("option_sets", "must be a table of named answer scales", key="cli.content_problem.option_sets")
        sets = {}
    for name, options in sets.items():
        check_options(c, options, f"option_sets.{name}", labelled=shipped is not False, numeric=True)
    items = data.get("items")
    if not isinstance(items, list) or not items:
        c.add("items", "must be a non-empty list of items", key="cli.content_problem.items")
        return
    ids = _check_items(c, data, items, sets, shipped is not False)
    _check_scoring(c, data, ids)
    for i, rule in enumerate(data.get("safety") or []):
        path = f"safety[{i}]"
        if not c.keys(rule, path, {"id", "when", "message"}, {"id", "when"}):
            continue
        c.ident(rule.get("id"), f"{path}.id")
        if "message" in rule:
            c.text(rule["message"], f"{path}.message")
        when = rule.get("when")
        if c.keys(when, f"{path}.when", {"item", "op", "value"}, {"item", "op", "value"}):
            if when.get("item") not in ids:
                c.add(f"{path}.when.item", "{item!r} is not an item of this questionnaire", key="cli.content_problem.not_item",
                      item=when.get("item"))
            if when.get("op") not in _SAFETY_OPS:
                c.add(f"{path}.when.op", "must be one of {ops}", key="cli.content_problem.one_of", ops=", ".join(_SAFETY_OPS))


def _check_items(c: Checker, data: dict, items: list, sets: dict, shipped: bool) -> list[str]:
    ids: list[str] = []
    for i, item in enumerate(items):
        path = f"items[{i}]"
        if not c.keys(item, path, _ITEM_KEYS, {"id"}):
            continue
        c.ident(item.get("id"), f"{path}.id")
        if item.get("id") in ids:
            c.add(f"{path}.id", "duplicate item id {ident!r}", key="cli.content_problem.duplicate_item", ident=item.get("id"))
        ids.append(item.get("id"))
        if shipped:
            c.text(item.get("text"), f"{path}.text")
        elif "text" in item:
            c.add(f"{path}.text", "must be left out of a licensed instrument (items_included = false)", key="cli.content_problem.licensed")
        for key in ("min_label", "max_label"):
            if key in item:
                c.text(item[key], f"{path}.{key}")
        if "options" in item:
            if item["options"] not in sets:
                c.add(f"{path}.options", "names no option set {name!r}", key="cli.content_problem.no_option_set",
                      name=item["options"])
        elif not (isinstance(item.get("min"), int) and isinstance(item.get("max"), int) and item["min"] < item["max"]):
            c.add(path, "needs `options` or whole-number `min` < `max`", key="cli.content_problem.min_max")
    return ids


def _check_scoring(c: Checker, data: dict, ids: list[str]) -> None:
    scoring = data.get("scoring")
    if not c.keys(scoring, "scoring", _SCORING_KEYS, {"method"}):
        return
    method = scoring.get("method")
    if method not in ("sum", "mean", "category"):
        c.add("scoring.method", "must be sum, mean or category", key="cli.content_problem.scoring_method")
    scored = scoring.get("items", ids)
    if not isinstance(scored, list) or any(i not in ids for i in scored):
        c.add("scoring.items", "must list item ids of this questionnaire", key="cli.content_problem.item_ids")
        return
    max_missing = scoring.get("max_missing", 0)
    if not isinstance(max_missing, int) or not 0 <= max_missing < len(scored):
        c.add("scoring.max_missing", "must be a whole number below the number of scored items", key="cli.content_problem.max_missing")
    if scoring.get("better", "lower") not in ("lower", "higher"):
        c.add("scoring.better", "must be lower or higher (which direction is improvement)", key="cli.content_problem.better")
    if scoring.get("missing_rule", "refuse") not in ("refuse", "prorate"):
        c.add("scoring.missing_rule", "must be refuse or prorate", key="cli.content_problem.missing_rule")
    if method == "category":
        if len(scored) != 1:
            c.add("scoring.items", "a category score has exactly one item", key="cli.content_problem.category_item")
        if not isinstance(scoring.get("responder_values", []), list):
            c.add("scoring.responder_values", "must be a list of answer values", key="cli.content_problem.responder_values")
    by_id = {item.get("id"): item for item in data["items"] if isinstance(item, dict)}
    ranges = [item_range(data, by_id[i]) for i in scored]
    if method in ("sum", "mean") and all(ranges):
        low = sum(r[0] for r in ranges)
        high = sum(r[1] for r in ranges)
        if method == "mean":
            low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        _check_bands(c, scoring.get("bands"), "scoring.bands", low, high)
    for i, sub in enumerate(scoring.get("subscales") or []):
        path = f"scoring.subscales[{i}]"
        if not c.keys(sub, path, {"id", "title", "items", "method", "positive_at", "bands"}, {"id", "title", "items"}):
            continue
        c.ident(sub.get("id"), f"{path}.id")
        c.text(sub.get("title"), f"{path}.title")
        if not isinstance(sub.get("items"), list) or any(i not in ids for i in sub["items"]):
            c.add(f"{path}.items", "must list item ids of this questionnaire", key="cli.content_problem.item_ids")
        if sub.get("method", "sum") not in ("sum", "mean"):
            c.add(f"{path}.method", "must be sum or mean", key="cli.content_problem.sub_method")
    mic = scoring.get("mic")
    if mic is not None and c.keys(mic, "scoring.mic", {"points", "percent"}, set()):
        for key in ("points", "percent"):
            if key in mic and (not isinstance(mic[key], (int, float)) or isinstance(mic[key], bool) or mic[key] <= 0):
                c.add(f"scoring.mic.{key}", "must be a positive number", key="cli.content_problem.positive")


def _check_bands(c: Checker, bands: Any, path: str, low: float, high: float) -> None:
    if bands is None:
        return
    if not isinstance(bands, list) or not bands:
        c.add(path, "must be a list of {shape}", key="cli.content_problem.shape", shape="{ min, max, severity, label }")
        return
    expected = low
    for i, band in enumerate(sorted((b for b in bands if isinstance(b, dict)), key=lambda b: b.get("min", 0))):
        where = f"{path}[{i}]"
        if not c.keys(band, where, {"min", "max", "severity", "label"}, {"min", "max", "severity", "label"}):
            return
        c.text(band.get("label"), f"{where}.label")
        c.ident(band.get("severity"), f"{where}.severity")
        if band.get("min") != expected:
            c.add(where, "starts at {start} but the previous band ends just before {expected}: "
                         "bands must cover every score without gaps or overlaps", key="cli.content_problem.band_gap",
                  start=band.get("min"), expected=expected)
        if not isinstance(band.get("max"), (int, float)) or band["max"] < band.get("min", 0):
            c.add(f"{where}.max", "must be at least min", key="cli.content_problem.at_least_min")
            return
        step = 1 if isinstance(band["max"], int) and isinstance(low, int) else 0.1
        expected = round(band["max"] + step, 6)
    if round(expected - (1 if isinstance(low, int) else 0.1), 6) != high:
        c.add(path, "must end at the highest possible score, {high}", key="cli.content_problem.band_end", high=high)


def check_instrument_text(c: Checker, data: dict, base: dict | None) -> None:
    """A clinic's file that supplies the text of a licensed instrument."""
    if not c.keys(data, "", _TEXT_FILE_KEYS, {"kind", "instrument", "licence_holder", "items"}):
        return
    if base is None:
        c.add("instrument", "{name!r} is not a built-in instrument", key="cli.content_problem.not_builtin",
              name=data.get("instrument"))
        return
    if base.get("items_included"):
        c.add("instrument", "{name} already ships its text", key="cli.content_problem.ships_text", name=base["id"])
    for key in ("title", "recall", "instructions"):
        if key in data:
            c.text(data[key], key)
    base_items = [item["id"] for item in base["items"]]
    given = []
    for i, item in enumerate(data.get("items") or []):
        if c.keys(item, f"items[{i}]", {"id", "text", "min_label", "max_label"}, {"id", "text"}):
            if item.get("id") not in base_items:
                c.add(f"items[{i}].id", "{item!r} is not an item of {name}", key="cli.content_problem.not_item_of",
                      item=item.get("id"), name=base["id"])
            c.text(item.get("text"), f"items[{i}].text")
            given.append(item.get("id"))
    for missing in [i for i in base_items if i not in given]:
        c.add("items", "has no text for item {item}", key="cli.content_problem.no_text_for", item=missing)
    for name, options in (data.get("option_sets") or {}).items():
        base_values = {o["value"] for o in (base.get("option_sets") or {}).get(name, [])}
        values = check_options(c, options, f"option_sets.{name}", numeric=True)
        if values != base_values:
            c.add(f"option_sets.{name}", "values must be exactly {values}", key="cli.content_problem.exact_values",
                  values=str(sorted(base_values)))
