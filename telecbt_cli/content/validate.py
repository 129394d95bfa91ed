"""Checking content files against the format in docs/content-format.md.

Each check adds a Problem naming the file, the key path and what is wrong, so a
clinic editing a file by hand can find the line to fix. Nothing here executes content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from telecbt_cli.content.languages import LANGS
from telecbt_cli.core.store.errors import Codes, Joined, Term

ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SUB_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LOINC_ANSWER = re.compile(r"LA[0-9]+-[0-9]")
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "includes", "any", "answered")
#: "practice" modules are short exercises a patient repeats alone (the kiosk); never in a course.
PHASES = ("assessment", "skills", "consolidation", "practice")

EXERCISE_FIELDS: dict[str, tuple[str, ...]] = {
    "thought_record": ("situation", "thought", "emotion", "intensity", "evidence_for",
                       "evidence_against", "balanced", "rerating"),
    "pacing_plan": ("activity", "baseline_minutes", "quota_minutes", "step_minutes", "every_days"),
    "smart_goal": ("specific", "measurable", "achievable", "relevant", "time_bound"),
    "pleasant_activities": ("activities",),
    "sleep_plan": ("bedtime", "wake_time", "wind_down", "if_awake"),
    "flare_plan": ("warning_signs", "first_steps", "skills", "support", "seek_care_when"),
}
QUESTION_KINDS = ("scale", "choice", "multi", "number", "text", "longtext")
STEP_KINDS = ("info", *QUESTION_KINDS, "breathing", *EXERCISE_FIELDS)

_COMMON_STEP_KEYS = {"id", "kind", "title", "body", "optional", "show_if"}
_STEP_KEYS: dict[str, set[str]] = {
    "info": set(),
    "scale": {"prompt", "min", "max", "min_label", "max_label"},
    "choice": {"prompt", "options"},
    "multi": {"prompt", "options", "min_choices", "max_choices"},
    "number": {"prompt", "min", "max", "integer", "unit"},
    "text": {"prompt", "max_length"},
    "longtext": {"prompt", "max_length"},
    "breathing": {"inhale", "hold", "exhale", "rounds"},
    **{kind: set() for kind in EXERCISE_FIELDS},
}
_MODULE_KEYS = {"id", "version", "kind", "title", "summary", "phase", "minutes", "goals", "homework",
                "fidelity", "steps", "flags", "safety"}
_MODULE_REQUIRED = _MODULE_KEYS - {"flags", "safety"}
_COURSE_KEYS = {"id", "version", "kind", "title", "summary", "minutes_per_session", "sessions"}
@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str
    #: The message's UI string (`cli.content_problem.…`) and its values, so a UI can show it in the reader's language.
    key: str | None = field(default=None, compare=False)
    values: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class Checker:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, key: str | None = None, **values: Any) -> None:
        """A problem; with `key` (cli.content_problem.…) `message` is its English template."""
        if key:
            message = message.format(**values)
        self.problems.append(Problem(self.file, path, message, key, values))

    def keys(self, data: Any, path: str, allowed: set[str], required: set[str]) -> bool:
        if not isinstance(data, dict):
            self.add(path, "must be a table", key="cli.content_problem.table")
            return False
        for key in sorted(required - set(data)):
            self.add(f"{path}.{key}".lstrip("."), "is missing", key="cli.content_problem.missing")
        for key in sorted(set(data) - allowed):
            self.add(f"{path}.{key}".lstrip("."), "is not a known key (typo?)", key="cli.content_problem.unknown_key")
        return True

    def text(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, "must be a text table with {langs}", key="cli.content_problem.text_table", langs=", ".join(LANGS))
            return
        for lang in LANGS:
            if lang not in value:
                self.add(f"{path}.{lang}", "is missing (every language needs this text)",
                         key="cli.content_problem.missing_language")
            elif not isinstance(value[lang], str) or not value[lang].strip():
                self.add(f"{path}.{lang}", "must be non-empty text", key="cli.content_problem.empty_text")
        for lang in sorted(set(value) - set(LANGS)):
            self.add(f"{path}.{lang}", "is not a supported language", key="cli.content_problem.language")

    def typed(self, data: dict, key: str, path: str, kind: type | tuple, required: bool = False) -> Any:
        """data[key] if it has the expected type; bools never pass for numbers."""
        where = f"{path}.{key}".lstrip(".")
        if key not in data:
            if required:
                self.add(where, "is missing", key="cli.content_problem.missing")
            return None
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false"}
            said = [Term(f"cli.content_problem.type_{k.__name__}", names[k.__name__]) if k.__name__ in names else k.__name__
                    for k in kinds]
            if len(said) > 1:  # "text, a whole number or a number": the last two joined by the reader's "or"
                first = said[0] if len(said) == 2 else Joined(said[:-1], ", ")
                self.add(where, "must be {first} or {second}", key="cli.content_problem.type_either", first=first,
                         second=said[-1])
            else:
                self.add(where, "must be {kinds}", key="cli.content_problem.type", kinds=said[0])
            return None
        return value

    def ident(self, value: Any, path: str, pattern: re.Pattern[str] = SUB_ID) -> None:
        if not isinstance(value, str) or not pattern.match(value):
            self.add(path, "must be an id of lower-case letters, digits, '-' or '_'", key="cli.content_problem.bad_id")


def check_header(c: Checker, data: dict, stem: str, kind: str) -> None:
    ident = data.get("id")
    c.ident(ident, "id", ID)
    if isinstance(ident, str) and ident != stem:
        c.add("id", "is {ident!r} but the file is named {stem}.toml: they must match",
              key="cli.content_problem.id_file", ident=ident, stem=stem)
    if not isinstance(data.get("version"), str) or not data.get("version"):
        c.add("version", "must be a version string such as 1.0.0", key="cli.content_problem.version")
    if data.get("kind") != kind:
        c.add("kind", "must be {kind!r}", key="cli.content_problem.kind", kind=kind)


def check_module(c: Checker, data: dict, stem: str) -> None:
    if not c.keys(data, "", _MODULE_KEYS, _MODULE_REQUIRED):
        return
    check_header(c, data, stem, "module")
    c.text(data.get("title"), "title")
    c.text(data.get("summary"), "summary")
    if data.get("phase") not in PHASES:
        c.add("phase", "must be one of {phases}", key="cli.content_problem.phase", phases=Codes("phase", PHASES))
    c.typed(data, "minutes", "", int, required=True)
    for name in ("goals",):
        for i, goal in enumerate(data.get("goals") or []):
            c.text(goal, f"{name}[{i}]")
    for name in ("homework", "fidelity"):
        entries = data.get(name)
        if not isinstance(entries, list) or not entries:
            c.add(name, "must be a non-empty list of {shape}", key="cli.content_problem.shape_list", shape="{ id, text }")
            continue
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if c.keys(entry, f"{name}[{i}]", {"id", "text"}, {"id", "text"}):
                c.ident(entry.get("id"), f"{name}[{i}].id")
                if entry.get("id") in seen:
                    c.add(f"{name}[{i}].id", "duplicate id {ident!r}", key="cli.content_problem.duplicate_id", ident=entry.get("id"))
                seen.add(entry.get("id"))
                c.text(entry.get("text"), f"{name}[{i}].text")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        c.add("steps", "must be a non-empty list of steps", key="cli.content_problem.steps_list")
        return
    check_steps(c, steps)
    every = {s.get("id"): s for s in steps if isinstance(s, dict)}
    for i, flag in enumerate(data.get("flags") or []):
        path = f"flags[{i}]"
        if c.keys(flag, path, {"id", "when", "message", "label", "alert", "keep"}, {"id", "when", "message"}):
            c.ident(flag.get("id"), f"{path}.id")
            c.text(flag.get("message"), f"{path}.message")
            if "label" in flag:
                c.text(flag["label"], f"{path}.label")
            c.typed(flag, "alert", path, bool)
            keep = flag.get("keep", [])
            if not isinstance(keep, list) or any(step not in every for step in keep):
                c.add(f"{path}.keep", "must be a list of step ids of this module", key="cli.content_problem.keep")
            check_show_if(c, flag.get("when"), f"{path}.when", every, list(every))
    for i, rule in enumerate(data.get("safety") or []):
        path = f"safety[{i}]"
        if c.keys(rule, path, {"id", "when", "message"}, {"id", "when"}):
            c.ident(rule.get("id"), f"{path}.id")
            if "message" in rule:
                c.text(rule["message"], f"{path}.message")
            if isinstance(rule.get("when"), list):
                c.add(f"{path}.when", "must be one condition on one step", key="cli.content_problem.one_condition")
            else:
                check_show_if(c, rule.get("when"), f"{path}.when", every, list(every))


def check_steps(c: Checker, steps: list) -> None:
    earlier: dict[str, dict] = {}
    for i, step in enumerate(steps):
        path = f"steps[{i}]"
        if not isinstance(step, dict):
            c.add(path, "must be a table", key="cli.content_problem.table")
            continue
        kind = step.get("kind")
        sid = step.get("id")
        if isinstance(sid, str):
            path = f"steps[{i}] ({sid})"
        c.ident(sid, f"{path}.id")
        if kind not in STEP_KINDS:
            c.add(f"{path}.kind", "unknown step kind {kind!r}; known: {known}", key="cli.content_problem.step_kind",
                  kind=kind, known=", ".join(STEP_KINDS))
            continue
        c.keys(step, path, _COMMON_STEP_KEYS | _STEP_KEYS[kind], {"id", "kind"})
        if sid in earlier:
            c.add(f"{path}.id", "duplicate step id {sid!r}", key="cli.content_problem.duplicate_step", sid=sid)
        for key in ("title", "body", "prompt", "min_label", "max_label", "unit"):
            if key in step:
                c.text(step[key], f"{path}.{key}")
        if "optional" in step:
            c.typed(step, "optional", path, bool)
        _check_step_kind(c, step, kind, path)
        if "show_if" in step:
            check_show_if(c, step["show_if"], f"{path}.show_if", earlier, [s.get("id") for s in steps if isinstance(s, dict)])
        if isinstance(sid, str):
            earlier[sid] = step


def _check_step_kind(c: Checker, step: dict, kind: str, path: str) -> None:
    if kind == "info" and "title" not in step and "body" not in step:
        c.add(path, "an info step needs a title or a body", key="cli.content_problem.info_step")
    if kind in QUESTION_KINDS and "prompt" not in step:
        c.add(f"{path}.prompt", "is missing (a question needs a prompt)", key="cli.content_problem.prompt")
    if kind in ("choice", "multi"):
        check_options(c, step.get("options"), f"{path}.options")
        count = len(step.get("options") or [])
        low = c.typed(step, "min_choices", path, int)
        high = c.typed(step, "max_choices", path, int)
        if low is not None and not 0 <= low <= count:
            c.add(f"{path}.min_choices", "must be between 0 and the number of options", key="cli.content_problem.min_choices")
        if high is not None and not max(low or 1, 1) <= high <= count:
            c.add(f"{path}.max_choices", "must be between min_choices and the number of options", key="cli.content_problem.max_choices")
    if kind in ("scale", "number"):
        types = int if kind == "scale" or step.get("integer", True) else (int, float)
        low = c.typed(step, "min", path, types, required=kind == "number")
        high = c.typed(step, "max", path, types, required=kind == "number")
        low = 0 if low is None and kind == "scale" else low
        high = 10 if high is None and kind == "scale" else high
        if low is not None and high is not None and low >= high:
            c.add(f"{path}.max", "must be greater than min", key="cli.content_problem.max_over_min")
        if "integer" in step:
            c.typed(step, "integer", path, bool)
    if kind in ("text", "longtext") and "max_length" in step:
        length = c.typed(step, "max_length", path, int)
        if length is not None and not 1 <= length <= 10000:
            c.add(f"{path}.max_length", "must be between 1 and 10000", key="cli.content_problem.max_length")
    if kind == "breathing":
        for key, (low, high) in {"inhale": (1, 20), "hold": (0, 20), "exhale": (1, 20), "rounds": (1, 30)}.items():
            value = c.typed(step, key, path, int, required=True)
            if value is not None and not low <= value <= high:
                c.add(f"{path}.{key}", "must be between {low} and {high}", key="cli.content_problem.between", low=low, high=high)


def check_options(c: Checker, options: Any, path: str, labelled: bool = True, numeric: bool = False) -> set:
    values: set = set()
    if not isinstance(options, list) or not options:
        c.add(path, "must be a non-empty list of {shape}", key="cli.content_problem.shape_list", shape="{ value, label }")
        return values
    for i, option in enumerate(options):
        required = {"value", "label"} if labelled else {"value"}
        allowed = required | {"loinc"} if numeric else required
        if not c.keys(option, f"{path}[{i}]", allowed, required):
            continue
        if "loinc" in option and not (isinstance(option["loinc"], str) and _LOINC_ANSWER.fullmatch(option["loinc"])):
            c.add(f"{path}[{i}].loinc", "must be a LOINC answer code such as LA6568-5", key="cli.content_problem.loinc_answer")
        value = option.get("value")
        if numeric and (not isinstance(value, int) or isinstance(value, bool)):
            c.add(f"{path}[{i}].value", "must be a whole number", key="cli.content_problem.whole")
        elif not numeric:
            c.ident(value, f"{path}[{i}].value")
        if value in values:
            c.add(f"{path}[{i}].value", "duplicate value {value!r}", key="cli.content_problem.duplicate_value", value=value)
        values.add(value)
        if labelled:
            c.text(option.get("label"), f"{path}[{i}].label")
    return values


def check_show_if(c: Checker, rule: Any, path: str, earlier: dict[str, dict], all_ids: list) -> None:
    rules = rule if isinstance(rule, list) else [rule]
    for i, cond in enumerate(rules):
        where = f"{path}[{i}]" if isinstance(rule, list) else path
        if not c.keys(cond, where, {"step", "op", "value"}, {"step", "op", "value"}):
            continue
        target, op = cond.get("step"), cond.get("op")
        if target not in earlier:
            if target in all_ids:
                c.add(f"{where}.step", "points to {target!r}, which is not before this step (this would be a cycle)",
                      key="cli.content_problem.cycle", target=target)
            else:
                c.add(f"{where}.step", "points to {target!r}, which is not a step in this module",
                      key="cli.content_problem.no_step", target=target)
        if op not in OPS:
            c.add(f"{where}.op", "must be one of {ops}", key="cli.content_problem.one_of", ops=", ".join(OPS))
        value = cond.get("value")
        if op == "answered" and not isinstance(value, bool):
            c.add(f"{where}.value", "must be true or false for 'answered'", key="cli.content_problem.answered")
        if op in ("in", "any") and not isinstance(value, list):
            c.add(f"{where}.value", "must be a list for {op!r}", key="cli.content_problem.list_for", op=op)
        if op in ("gt", "gte", "lt", "lte") and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            c.add(f"{where}.value", "must be a number for {op!r}", key="cli.content_problem.number_for", op=op)
        if op in ("includes", "any") and target in earlier and earlier[target].get("kind") != "multi":
            c.add(f"{where}.op", "{op!r} needs a multiple-choice step", key="cli.content_problem.needs_choice", op=op)


def check_course(c: Checker, data: dict, stem: str) -> None:
    if not c.keys(data, "", _COURSE_KEYS | {"measures"}, _COURSE_KEYS):
        return
    check_header(c, data, stem, "course")
    c.text(data.get("title"), "title")
    c.text(data.get("summary"), "summary")
    c.typed(data, "minutes_per_session", "", int, required=True)
    sessions = data.get("sessions")
    if not isinstance(sessions, list) or not sessions or not all(isinstance(s, str) for s in sessions):
        c.add("sessions", "must be a non-empty list of module ids", key="cli.content_problem.module_ids")
    elif len(set(sessions)) != len(sessions):
        c.add("sessions", "lists a module twice", key="cli.content_problem.module_twice")
    measures = data.get("measures")
    if measures is not None and not isinstance(measures, dict):
        c.add("measures", "must be a table of questionnaire id = every how many days, e.g. peg3 = 7", key="cli.content_problem.measures")
    for ident, every in (measures if isinstance(measures, dict) else {}).items():
        c.ident(ident, f"measures.{ident}", ID)
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 366:
            c.add(f"measures.{ident}", "must be a whole number of days from 1 to 366", key="cli.content_problem.days")


_RULE_KEYS = {"id", "kind", "metric", "op", "value", "window_days", "min_days", "direction", "min_change",
              "instrument", "bands", "days", "module", "text"}
METRICS = ("pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps")


def check_rules(c: Checker, data: dict, stem: str) -> None:
    """Tailoring rules: each a kind of test over diary data or questionnaire scores."""
    if not c.keys(data, "", {"id", "version", "kind", "rules"}, {"id", "version", "kind", "rules"}):
        return
    check_header(c, data, stem, "rules")
    seen: set = set()
    for i, rule in enumerate(data.get("rules") or []):
        path = f"rules[{i}]"
        if not c.keys(rule, path, _RULE_KEYS, {"id", "kind", "text"}):
            continue
        c.ident(rule.get("id"), f"{path}.id")
        if rule.get("id") in seen:
            c.add(f"{path}.id", "duplicate rule id {ident!r}", key="cli.content_problem.duplicate_rule", ident=rule.get("id"))
        seen.add(rule.get("id"))
        c.text(rule.get("text"), f"{path}.text")
        kind = rule.get("kind")
        needs = {"count": ("metric", "op", "value", "window_days", "min_days"),
                 "trend": ("metric", "window_days", "direction", "min_change"),
                 "measure": ("instrument", "bands"), "no_diary": ("days",)}.get(kind)
        if needs is None:
            c.add(f"{path}.kind", "must be count, trend, measure or no_diary", key="cli.content_problem.rule_kind")
            continue
        for key in needs:
            if key not in rule:
                c.add(f"{path}.{key}", "is missing (a {kind} rule needs it)", key="cli.content_problem.rule_needs", kind=kind)
        if "metric" in rule and rule["metric"] not in METRICS:
            c.add(f"{path}.metric", "must be one of {ops}", key="cli.content_problem.one_of", ops=Codes("metric", METRICS))
        if kind == "count" and rule.get("op") not in ("lt", "lte", "gt", "gte"):
            c.add(f"{path}.op", "must be lt, lte, gt or gte", key="cli.content_problem.rule_op")
        if kind == "trend" and rule.get("direction") not in ("up", "down"):
            c.add(f"{path}.direction", "must be up or down", key="cli.content_problem.direction")
