"""Printing the result of a delivered module or questionnaire."""

from __future__ import annotations

from telecbt_cli.commands.output import emit_fields, emit_json, say
from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.alerts import guidance
from telecbt_cli.core.clinical.scoring import band_label


def outcome_data(catalog: Catalog, content: dict, run: engine.Run, outcome: engine.Outcome) -> dict:
    data = {"run_id": run.id, "kind": content["kind"], "content_id": content["id"],
            "content_version": content["version"], "lang": run.lang, "status": run.status,
            "completed_at": run.completed_at, "answers": run.answers,
            "safety_rules_fired": [rule["id"] for rule in outcome.fired],
            "safety_guidance": guidance(catalog, outcome.fired, run.lang) if outcome.fired else None,
            "flags": [flag["id"] for flag in outcome.flags]}
    if outcome.score is not None:
        data.update(response_id=outcome.response_id, score=outcome.score.to_dict())
    return data


def print_outcome(catalog: Catalog, content: dict, run: engine.Run, outcome: engine.Outcome, lang: str,
                  json_out: bool, interactive: bool) -> None:
    """JSON for scripts, or a short summary; the crisis guidance is never left out."""
    if outcome.fired and not interactive:
        say(guidance(catalog, outcome.fired, lang), style="bold red")
        say(catalog.text("safety.alert_opened", lang), style="bold red")
    for flag in outcome.flags:
        say(pick(flag["message"], lang), style="bold yellow")
    if json_out:
        emit_json(outcome_data(catalog, content, run, outcome))
        return
    if outcome.score is None:
        if not interactive:
            say(catalog.text("run.completed", lang, title=pick(content["title"], lang)), style="green")
        return
    result = outcome.score
    pairs = [(catalog.text("measure.score", lang), catalog.number(result.total, lang)),
             (catalog.text("measure.band", lang), band_label(content, result.band, lang) or "-")]
    for sub in content["scoring"].get("subscales") or []:
        value = result.subscales.get(sub["id"], {})
        flag = " (+)" if value.get("positive") else ""
        pairs.append((pick(sub["title"], lang), catalog.number(value.get("score"), lang) + flag))
    if result.responder is not None:
        pairs.append((catalog.text("measure.responder", lang), catalog.text("common.yes" if result.responder else "common.no", lang)))
    emit_fields(pairs)
