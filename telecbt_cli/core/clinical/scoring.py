"""Scoring questionnaires by the rules their content file declares (sum, mean, category).

Pure functions over plain values: no store, no UI. The published rules live in the
content files (docs/content-format.md); this module only applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from telecbt_cli.core.store.errors import UsageError


class MissingItems(UsageError):
    """More items are unanswered than the instrument's published rule allows."""

    def __init__(self, instrument: str, missing: list[str], allowed: int) -> None:
        self.missing, self.allowed = missing, allowed
        super().__init__(
            "{instrument}: {count} question(s) unanswered ({items}); its scoring rule allows at most {allowed}",
            key="errors.scoring.missing", instrument=instrument, count=len(missing), items=", ".join(missing),
            allowed=allowed)


@dataclass
class Score:
    total: float | None
    band: str | None = None
    subscales: dict[str, dict] = field(default_factory=dict)
    responder: bool | None = None
    answered: int = 0
    missing: list[str] = field(default_factory=list)
    prorated: bool = False

    def to_dict(self) -> dict:
        return {"total": self.total, "band": self.band, "subscales": self.subscales,
                "responder": self.responder, "answered": self.answered, "missing": self.missing,
                "prorated": self.prorated}


def round_half_up(value: float, decimals: int = 0) -> float:
    """Rounding as people do it (2.5 -> 3), not banker's rounding."""
    quantum = Decimal(1).scaleb(-decimals)
    result = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(result) if decimals == 0 else float(result)


def band_for(bands: list[dict] | None, total: float | None) -> dict | None:
    if total is None:
        return None
    for band in bands or []:
        if band["min"] <= total <= band["max"]:
            return band
    return None


def band_label(instrument: dict | None, severity: str | None, lang: str) -> str | None:
    """The words for a stored band (its `severity` id) in `lang`; the id itself if the content has no label."""
    if not severity:
        return None
    for band in ((instrument or {}).get("scoring") or {}).get("bands") or []:
        if band.get("severity") == severity:
            label = band.get("label")
            if isinstance(label, dict):
                return label.get(lang) or label.get("en") or severity
            return str(label or severity)
    return severity


def _combine(values: list[int], method: str, decimals: int) -> float:
    if method == "mean":
        return round_half_up(sum(values) / len(values), decimals)
    return sum(values)


def score(instrument: dict, answers: dict[str, int | None]) -> Score:
    """Apply the instrument's scoring to item answers (None = unanswered)."""
    rules = instrument["scoring"]
    method = rules["method"]
    items = rules.get("items") or [item["id"] for item in instrument["items"]]
    given = {i: answers[i] for i in items if answers.get(i) is not None}
    missing = [i for i in items if i not in given]
    allowed = rules.get("max_missing", 0) if rules.get("missing_rule", "refuse") == "prorate" else 0
    if len(missing) > allowed or not given:
        raise MissingItems(instrument.get("short_title") or instrument["id"], missing, allowed)
    values = list(given.values())
    result = Score(total=None, answered=len(given), missing=missing)
    if method == "category":
        (value,) = values
        result.total = value
        result.responder = value in rules.get("responder_values", [])
    elif method == "mean":
        result.total = _combine(values, "mean", rules.get("decimals", 1))
    else:
        total = sum(values)
        if missing:
            total = round_half_up(total * len(items) / len(given))
            result.prorated = True
        result.total = total
    band = band_for(rules.get("bands"), result.total)
    result.band = band["severity"] if band else None
    for sub in rules.get("subscales") or []:
        sub_values = [answers.get(i) for i in sub["items"]]
        if any(v is None for v in sub_values):
            result.subscales[sub["id"]] = {"score": None}
            continue
        value = _combine(sub_values, sub.get("method", "sum"), rules.get("decimals", 1))
        entry: dict = {"score": value}
        if "positive_at" in sub:
            entry["positive"] = value >= sub["positive_at"]
        sub_band = band_for(sub.get("bands"), value)
        if sub_band:
            entry["band"] = sub_band["severity"]
        result.subscales[sub["id"]] = entry
    return result


def score_range(instrument: dict) -> tuple[float, float]:
    """The lowest and highest score the instrument's rule can give (a chart's axis: PEG runs 0-10)."""
    from telecbt_cli.content.validate_instruments import item_range

    rules = instrument["scoring"]
    ids = set(rules.get("items") or [item["id"] for item in instrument["items"]])
    spans = [item_range(instrument, item) or (0, 0) for item in instrument["items"] if item["id"] in ids]
    if not spans:
        return 0.0, 0.0
    if rules["method"] == "sum":
        return float(sum(low for low, _ in spans)), float(sum(high for _, high in spans))
    return float(min(low for low, _ in spans)), float(max(high for _, high in spans))


def change(instrument: dict, baseline: float | None, latest: float | None) -> dict | None:
    """Change from baseline and whether it reaches the minimal important change.

    `better` in the scoring rules says which direction is improvement ("lower" by
    default: symptoms; "higher" for mood, sleep quality, self-efficacy).
    """
    if baseline is None or latest is None:
        return None
    rules = instrument["scoring"]
    delta = latest - baseline
    mic = rules.get("mic") or {}
    meaningful = False
    if "points" in mic and abs(delta) >= mic["points"]:
        meaningful = True
    if "percent" in mic and baseline and abs(delta) / abs(baseline) * 100 >= mic["percent"]:
        meaningful = True
    better = rules.get("better", "lower")
    improved = delta < 0 if better == "lower" else delta > 0
    direction = "same" if delta == 0 else ("better" if improved else "worse")
    return {"delta": round_half_up(delta, 2), "meaningful": meaningful and delta != 0, "direction": direction}
