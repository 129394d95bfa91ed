"""The step engine: walks a module or a questionnaire one step at a time.

A run remembers the answers, the steps visited (for "back") and the current step, so
an interrupted session resumes where it stopped. Nothing counts as delivered until
`complete()`: a half-done run stays `in_progress`. Both the CLI and the TUI drive this
same engine; they only render steps and collect answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from telecbt_cli.content.catalog import Catalog
from telecbt_cli.core.clinical import alerts, flags
from telecbt_cli.core.clinical.answers import AnswerError, check_answer, check_item
from telecbt_cli.core.clinical.patients import patient_id_for, require_active_consent
from telecbt_cli.core.clinical.scoring import Score, score
from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import NotFoundError, UsageError


@dataclass
class Run:
    """One delivery of a module or questionnaire to one patient."""

    id: str | None
    patient_id: str
    kind: str
    content_id: str
    content_version: str
    lang: str
    status: str = "in_progress"
    position: str | None = None
    history: list[str] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    completed_at: str | None = None


@dataclass
class Outcome:
    """What an action changed: safety rules that fired, and the score when completed."""

    fired: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)
    score: Score | None = None
    response_id: str | None = None


def steps_of(content: dict) -> list[dict]:
    """Module steps, or questionnaire items seen as steps of kind 'item'."""
    if content["kind"] == "module":
        return content["steps"]
    skippable = content["scoring"].get("missing_rule") == "prorate" and content["scoring"].get("max_missing", 0) > 0
    return [{**item, "kind": "item", "optional": skippable} for item in content["items"]]


def _holds(cond: dict, answers: dict) -> bool:
    op, expected = cond["op"], cond["value"]
    answer = answers.get(cond["step"])
    if op == "answered":
        return (answer is not None) == expected
    if answer is None:
        return False
    try:
        return {
            "eq": lambda: answer == expected, "ne": lambda: answer != expected,
            "gt": lambda: answer > expected, "gte": lambda: answer >= expected,
            "lt": lambda: answer < expected, "lte": lambda: answer <= expected,
            "in": lambda: answer in expected,
            "includes": lambda: isinstance(answer, list) and expected in answer,
            "any": lambda: isinstance(answer, list) and bool(set(answer) & set(expected)),
        }[op]()
    except TypeError:
        return False


def is_visible(step: dict, answers: dict) -> bool:
    rule = step.get("show_if")
    if not rule:
        return True
    return all(_holds(cond, answers) for cond in (rule if isinstance(rule, list) else [rule]))


def visible(content: dict, answers: dict) -> list[dict]:
    return [step for step in steps_of(content) if is_visible(step, answers)]


def _next_after(content: dict, answers: dict, step_id: str | None) -> str | None:
    steps = steps_of(content)
    start = 0 if step_id is None else next(i for i, s in enumerate(steps) if s["id"] == step_id) + 1
    for step in steps[start:]:
        if is_visible(step, answers):
            return step["id"]
    return None


def current(run: Run, content: dict) -> dict | None:
    if run.position is None:
        return None
    return next(s for s in steps_of(content) if s["id"] == run.position)


def new_run(patient_id: str, content: dict, lang: str) -> Run:
    run = Run(None, patient_id, content["kind"], content["id"], content["version"], lang, started_at=now_iso())
    run.position = _next_after(content, run.answers, None)
    return run


def answer(run: Run, content: dict, value: Any) -> list[dict]:
    """Record an answer to the current step and move on; returns safety rules that fired."""
    step = current(run, content)
    if step is None:
        raise UsageError("nothing left to answer: the run is ready to complete", key="errors.run.nothing_left")
    if step["kind"] != "info" and (value is None or (isinstance(value, str) and not value.strip())):
        # No answer: an optional step is skipped, a required one says so (the same for every UI).
        if not step.get("optional"):
            raise AnswerError(step["id"], "run.required", "needs an answer")
        skip(run, content)
        return []
    if step["kind"] == "info":
        stored = None
    elif step["kind"] == "item":
        stored = check_item(content, step, value, run.lang)
    else:
        stored = check_answer(step, value, run.lang)
    run.answers[step["id"]] = stored
    run.history.append(step["id"])
    run.position = _next_after(content, run.answers, step["id"])
    return _fired(content, step["id"], stored)


def skip(run: Run, content: dict) -> None:
    """Pass the current step without an answer, where the content allows it."""
    step = current(run, content)
    if step is None:
        raise UsageError("nothing left to skip", key="errors.run.nothing_to_skip")
    if step["kind"] != "info" and not step.get("optional"):
        raise AnswerError(step["id"], "run.cannot_skip", "cannot be skipped")
    run.answers[step["id"]] = None
    run.history.append(step["id"])
    run.position = _next_after(content, run.answers, step["id"])


def back(run: Run) -> bool:
    """Return to the previous step (its answer is kept as a starting point)."""
    if not run.history:
        return False
    run.position = run.history.pop()
    return True


def _fired(content: dict, step_id: str, value: Any) -> list[dict]:
    """Safety rules on this step that its answer sets off (a questionnaire names an item, a module a step)."""
    if value is None:
        return []
    key = "item" if content["kind"] == "instrument" else "step"
    return [rule for rule in content.get("safety") or []
            if rule["when"][key] == step_id and _holds({**rule["when"], "step": step_id}, {step_id: value})]


def unanswered_required(run: Run, content: dict) -> list[str]:
    """Visible steps that still need an answer before the run can be completed."""
    if content["kind"] == "instrument":
        return [s["id"] for s in visible(content, run.answers) if s["id"] not in run.answers]
    return [s["id"] for s in visible(content, run.answers)
            if s["kind"] != "info" and not s.get("optional") and run.answers.get(s["id"]) is None]


# --- persistence -----------------------------------------------------------------

def _row(run: Run) -> dict:
    return {"patient_id": run.patient_id, "kind": run.kind, "content_id": run.content_id,
            "content_version": run.content_version, "lang": run.lang, "status": run.status,
            "position": run.position, "history": json.dumps(run.history),
            "answers": json.dumps(run.answers, ensure_ascii=False), "completed_at": run.completed_at}


def _from_row(row: dict) -> Run:
    return Run(row["id"], row["patient_id"], row["kind"], row["content_id"], row["content_version"],
               row["lang"], row["status"], row["position"], json.loads(row["history"]),
               json.loads(row["answers"]), row["started_at"], row["completed_at"])


def save(access: Access, run: Run, fired: list[dict] | None = None, content: dict | None = None) -> Run:
    """Persist progress (one transaction), opening an alert for each safety rule that fired."""
    access.require("write")
    store = access.store
    with store.write():
        if run.id is None:
            row = records.insert(store, "runs", {**_row(run), "started_by": access.user, "started_at": run.started_at})
            run.id = row["id"]
            audit.append(store, access.user, f"{run.kind}.start", patient_id=run.patient_id,
                         detail={"content": run.content_id, "version": run.content_version})
        else:
            records.update(store, "runs", run.id, _row(run))
        for rule in fired or []:
            alerts.open_alert(access, run.patient_id, rule["id"], run.content_id, run.id)
    return run


def find_open(access: Access, patient_id: str, content_id: str) -> Run | None:
    row = access.store.one(
        "SELECT * FROM runs WHERE patient_id = ? AND content_id = ? AND status = 'in_progress' AND deleted = 0 "
        "ORDER BY started_at DESC LIMIT 1", (patient_id, content_id))
    return _from_row(row) if row else None


def raised_flags(content: dict, answers: dict) -> list[dict]:
    """The module's `[[flags]]` (e.g. intake red flags) that the answers raise."""
    return [flag for flag in content.get("flags") or [] if _holds(flag["when"], answers)]


def start(access: Access, patient_code: str, content: dict, lang: str, restart: bool = False) -> tuple[Run, bool]:
    """The patient's open run of this content (resumed), or a new one (not yet saved)."""
    access.require("write")
    patient_id = patient_id_for(access, patient_code)
    require_active_consent(access, patient_id)
    existing = find_open(access, patient_id, content["id"])
    if existing is not None and existing.content_version != content["version"]:
        restart = True
    if existing is not None and restart:
        existing.status = "abandoned"
        save(access, existing)
        existing = None
    if existing is not None:
        return existing, True
    return new_run(patient_id, content, lang), False


def complete(access: Access, run: Run, content: dict, fired: list[dict] | None = None) -> Outcome:
    """Mark the run delivered; for a questionnaire, score it and store the response.

    A run never saved before (answers from a file) is written once, already completed,
    with the alerts for any safety rule in `fired`.
    """
    missing = unanswered_required(run, content)
    if missing and content["kind"] == "module":
        raise UsageError("these steps still need an answer: {steps}", key="errors.run.missing", steps=", ".join(missing))
    visible_ids = {s["id"] for s in visible(content, run.answers)}
    run.answers = {k: v for k, v in run.answers.items() if k in visible_ids}
    outcome = Outcome()
    if content["kind"] == "instrument":
        outcome.score = score(content, run.answers)
    outcome.flags = raised_flags(content, run.answers)
    # The step history only serves "back" while a run is open; a finished run keeps its answers.
    run.status, run.position, run.history, run.completed_at = "completed", None, [], now_iso()
    store = access.store
    with store.write():
        save(access, run, fired)
        if outcome.score is not None:
            outcome.response_id = _store_response(access, run, content, outcome.score)
        flags.record(access, run.patient_id, content, run.id, run.answers, outcome.flags)
        audit.append(store, access.user, f"{run.kind}.complete", patient_id=run.patient_id,
                     detail={"content": run.content_id, "version": run.content_version})
    return outcome


def _store_response(access: Access, run: Run, content: dict, result: Score) -> str:
    row = records.insert(access.store, "measure_responses", {
        "patient_id": run.patient_id, "run_id": run.id, "instrument_id": content["id"],
        "instrument_version": content["version"], "lang": run.lang, "answers": json.dumps(run.answers),
        "total": result.total, "band": result.band, "subscales": json.dumps(result.subscales),
        "responder": None if result.responder is None else int(result.responder),
        "prorated": int(result.prorated), "recorded_by": access.user, "completed_at": run.completed_at,
    })
    return row["id"]


def run_all(access: Access, patient_code: str, content: dict, lang: str, given: dict[str, Any],
            restart: bool = False) -> tuple[Run, Outcome]:
    """Non-interactive: walk every visible step with answers from `given`, all or nothing.

    Every answer is checked before anything is written, so a file that does not match
    the content changes nothing.
    """
    ids = {s["id"] for s in steps_of(content)}
    unknown = sorted(set(given) - ids)
    if unknown:
        raise UsageError("the answers do not match {content}: unknown step(s) {steps}", key="errors.run.unknown_steps",
                         content=content["id"], steps=", ".join(unknown))
    run, _ = start(access, patient_code, content, lang, restart=restart)
    fired: list[dict] = []
    while (step := current(run, content)) is not None:
        sid = step["id"]
        if step["kind"] == "info":
            answer(run, content, None)
        elif given.get(sid) is not None:
            fired += answer(run, content, given[sid])
        elif sid in given or step.get("optional"):
            skip(run, content)
        else:
            raise UsageError("the answers have nothing for required step {step!r} of {content}",
                             key="errors.run.required_step", step=sid, content=content["id"])
    unused = sorted(k for k in given if k not in run.answers)
    if unused:
        raise UsageError("answers given for step(s) that were not shown: {steps}", key="errors.run.not_shown",
                         steps=", ".join(unused))
    if content["kind"] == "instrument":
        score(content, run.answers)
    store = access.store
    with store.write():
        outcome = complete(access, run, content, fired)
    outcome.fired = fired
    return run, outcome


def has_text(instrument: dict) -> bool:
    """Whether a questionnaire can be given: licensed ones ship scoring only, until a clinic adds the text."""
    return bool(instrument.get("items_included"))


def runnable_instruments(catalog: Catalog) -> list[dict]:
    """The questionnaires that can be given here (item text present), sorted by id."""
    return [i for i in catalog.all("instrument") if has_text(i)]


def content_for(catalog: Catalog, kind: str, ident: str) -> dict:
    """A module or an instrument ready to run; licensed instruments without text are refused."""
    content = catalog.get(kind, ident)
    if kind == "instrument" and not has_text(content):
        name = content.get("short_title") or ident
        raise NotFoundError(
            "{name} is a licensed questionnaire and its questions are not included. A clinic holding a "
            "licence can add them with a content folder (see docs/content-format.md).", key="errors.run.licensed",
            name=name)
    return content
