"""Checking one answer against its step: type, range, length; exercises field by field.

Errors carry a locale key and values, so each UI can say what is wrong in the
patient's language.
"""

from __future__ import annotations

import math
import re
from typing import Any

from telecbt_cli.content.languages import DECIMAL
from telecbt_cli.content.validate import EXERCISE_FIELDS
from telecbt_cli.core.store.errors import UsageError

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
FIELD_LIMIT = 1000
#: Longer text is no number a person typed (and float() of it could be slow).
NUMBER_TEXT_LIMIT = 32
#: Fields a person may leave empty: a first thought record often stops after the
#: situation, the thought and the feeling.
OPTIONAL_FIELDS = {"evidence_for", "evidence_against", "balanced", "rerating"}


class AnswerError(UsageError):
    """An answer that does not fit its step; `key` and `values` name a UI string."""

    def __init__(self, step_id: str, key: str, english: str, **values: Any) -> None:
        self.step_id, self.key, self.values = step_id, key, values
        super().__init__(f"step {step_id}: {english}")


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def parse_number(text: str, lang: str = "en") -> float:
    """A number as a person types it: a point for decimals, or a comma where the reader's language
    writes one (5,5 hours in Spanish). Anything else, a thousands separator included, is a
    ValueError: a number is never guessed. Every interface reads typed numbers through this."""
    clean = text.strip()
    if DECIMAL.get(lang) == "," and "." not in clean:
        clean = clean.replace(",", ".", 1)
    if not _PLAIN_NUMBER.fullmatch(clean):
        raise ValueError(f"{text!r} is not a number")
    return float(clean)


def _number(step_id: str, value: Any, low: float, high: float, integer: bool, lang: str = "en") -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise AnswerError(step_id, "run.not_a_number", "needs a number")
    if isinstance(value, str):
        try:
            if len(value.strip()) > NUMBER_TEXT_LIMIT:
                raise ValueError("too long to be a number a person typed")
            value = parse_number(value, lang)
        except ValueError:
            raise AnswerError(step_id, "run.not_a_number", "needs a number") from None
    if isinstance(value, float) and not math.isfinite(value):  # nan, inf and 1e400 (which reads as inf)
        raise AnswerError(step_id, "run.not_a_number", "needs a number")
    if integer:
        if value != int(value):
            raise AnswerError(step_id, "run.whole_number", "needs a whole number")
        value = int(value)
    if not low <= value <= high:
        raise AnswerError(step_id, "run.out_of_range", f"must be from {low} to {high}", min=low, max=high)
    return value


def _text(step_id: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnswerError(step_id, "run.required", "needs an answer")
    if len(value) > limit:
        raise AnswerError(step_id, "run.too_long", f"is longer than {limit} characters", max=limit)
    return value.strip()


def item_range(instrument: dict, item: dict) -> tuple[int, int]:
    from telecbt_cli.content.validate_instruments import item_range as content_range

    found = content_range(instrument, item)
    assert found is not None
    return found


def check_item(instrument: dict, item: dict, value: Any, lang: str = "en") -> int:
    """A questionnaire answer: one of the item's option values, or a whole number in range."""
    low, high = item_range(instrument, item)
    if "options" in item:
        allowed = [o["value"] for o in instrument["option_sets"][item["options"]]]
        number = _number(item["id"], value, low, high, True, lang)
        if number not in allowed:
            raise AnswerError(item["id"], "run.choose_one", f"must be one of {allowed}")
        return number
    return _number(item["id"], value, low, high, True, lang)


def check_answer(step: dict, value: Any, lang: str = "en") -> Any:
    """The normalised answer for a module step, or AnswerError; typed numbers are read as `lang` writes them."""
    kind, sid = step["kind"], step["id"]
    if kind == "scale":
        return _number(sid, value, step.get("min", 0), step.get("max", 10), True, lang)
    if kind == "number":
        return _number(sid, value, step["min"], step["max"], step.get("integer", True), lang)
    if kind in ("text", "longtext"):
        return _text(sid, value, step.get("max_length", 200 if kind == "text" else 2000))
    if kind == "choice":
        values = [o["value"] for o in step["options"]]
        if value not in values:
            raise AnswerError(sid, "run.choose_one", f"must be one of {values}")
        return value
    if kind == "multi":
        return _multi(step, value)
    if kind == "breathing":
        rounds = value.get("rounds_done") if isinstance(value, dict) else value
        return {"rounds_done": _number(sid, rounds, 0, step["rounds"], True, lang)}
    if kind in EXERCISE_FIELDS:
        return _exercise(step, value, lang)
    raise AnswerError(sid, "errors.answer_steps.no_answer", f"a {kind} step takes no answer", kind=kind)


def _multi(step: dict, value: Any) -> list[str]:
    sid = step["id"]
    values = [o["value"] for o in step["options"]]
    if not isinstance(value, list) or any(v not in values for v in value):
        raise AnswerError(sid, "run.choose_many", f"must be a list drawn from {values}")
    chosen = [v for v in values if v in value]
    low, high = step.get("min_choices", 1), step.get("max_choices", len(values))
    if len(chosen) < low:
        raise AnswerError(sid, "run.choose_at_least", f"needs at least {low} choices", count=low)
    if len(chosen) > high:
        raise AnswerError(sid, "run.choose_at_most", f"allows at most {high} choices", count=high)
    return chosen


def _exercise(step: dict, value: Any, lang: str) -> dict:
    kind, sid = step["kind"], step["id"]
    names = EXERCISE_FIELDS[kind]
    if not isinstance(value, dict):
        raise AnswerError(sid, "errors.answer_steps.fields_needed", f"needs the fields {', '.join(names)}",
                          fields=", ".join(names))
    unknown = sorted(set(value) - set(names) - {"plan"})
    if unknown:
        raise AnswerError(sid, "errors.answer_steps.fields_unknown", f"has unknown fields {', '.join(unknown)}",
                          fields=", ".join(unknown))
    out: dict = {}
    for name in names:
        out[name] = exercise_field(step, name, value.get(name), out, lang)
    if kind == "pacing_plan":
        out["plan"] = pacing_steps(out)
    return out


def exercise_field(step: dict, name: str, raw: Any, earlier: dict | None = None, lang: str = "en") -> Any:
    """One field of an exercise, checked on its own (`earlier`: the fields before it), so a UI can
    check each field as it is typed and ask again for that one only."""
    where = f"{step['id']}.{name}"
    if name in OPTIONAL_FIELDS and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    if name in ("intensity", "rerating"):
        return _number(where, raw, 0, 100, True, lang)
    if name in ("baseline_minutes", "quota_minutes"):
        minutes = _number(where, raw, 1, 600, False, lang)
        baseline = (earlier or {}).get("baseline_minutes")
        if step["kind"] == "pacing_plan" and name == "quota_minutes" and baseline is not None and minutes >= baseline:
            raise AnswerError(where, "exercise.pacing_plan.quota_too_high", "must be below the baseline",
                              baseline=baseline)
        return minutes
    if name == "step_minutes":
        return _number(where, raw, 1, 120, False, lang)
    if name == "every_days":
        return _number(where, raw, 1, 60, True, lang)
    if name in ("bedtime", "wake_time"):
        if not isinstance(raw, str) or not _TIME.match(raw.strip()):
            raise AnswerError(where, "exercise.sleep_plan.bad_time", "needs a time like 22:30")
        hours, minutes = raw.strip().split(":")
        return f"{int(hours):02d}:{minutes}"
    if name == "activities":
        return _activities(where, raw)
    return _text(where, raw, FIELD_LIMIT)


def _activities(where: str, raw: Any) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise AnswerError(where, "exercise.pleasant_activities.need_one", "needs at least one activity")
    return [{"name": _text(f"{where}[{i}].name", a.get("name") if isinstance(a, dict) else None, 200),
             "when": _text(f"{where}[{i}].when", a.get("when") if isinstance(a, dict) else None, 200)}
            for i, a in enumerate(raw)]


def pacing_steps(plan: dict, count: int = 6) -> list[dict]:
    """Graded step-ups from the starting quota: day 1, then every N days, up by the step."""
    minutes, days = plan["quota_minutes"], plan["every_days"]
    return [{"day": 1 + i * days, "minutes": round(minutes + i * plan["step_minutes"], 1)} for i in range(count)]
