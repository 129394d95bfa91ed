"""Rendering engine steps in the terminal with Rich, and reading answers from the keyboard.

All decisions (what comes next, what is valid, what is saved) stay in core.engine;
this module only shows text and collects what the person types. The conversation goes
to stderr so that stdout stays free for data (`--json`).
"""

from __future__ import annotations

import time
from typing import Any

from telecbt_cli.commands.output import inert
from telecbt_cli.content.catalog import Catalog, pick
from telecbt_cli.content.validate import EXERCISE_FIELDS
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.answers import AnswerError, exercise_field


class _Pause(Exception):
    """The person typed q: progress is saved, stop here."""


class _Nav(Exception):
    """The person typed b or s."""

    def __init__(self, action: str) -> None:
        self.action = action


def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class StepRenderer:
    def __init__(self, catalog: Catalog, lang: str) -> None:
        self.catalog, self.lang = catalog, lang
        self.console = _console()

    def t(self, key: str, **values: Any) -> str:
        return self.catalog.text(key, self.lang, **values)

    def show(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(inert(text, keep_newlines=True), style=style))

    def show_inline(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(inert(text)), end=" ")

    def ask(self, label: str, nav: bool = True) -> str:
        from rich.text import Text

        self.console.print(Text(inert(label.replace("?:", "?")), style="bold"), end=" ")
        reply = input()
        command = reply.strip().lower()
        if nav and command in ("q", ":q"):
            raise _Pause()
        if nav and command in ("b", "s", ":b", ":s"):
            raise _Nav(command[-1])
        return reply

    def crisis(self, rules: list[dict]) -> None:
        """Safety first: the crisis guidance, then wait until the person has seen it."""
        from rich.panel import Panel
        from rich.text import Text

        from telecbt_cli.core.clinical.alerts import guidance

        body = Text(inert(guidance(self.catalog, rules, self.lang), keep_newlines=True))
        self.console.print(Panel(body, title=Text(inert(self.t("safety.crisis_title"))), border_style="bold red"))
        self.show(self.t("safety.alert_opened"), style="bold")
        self.ask(self.t("common.press_enter"), nav=False)

    # --- one step -------------------------------------------------------------

    def header(self, run: engine.Run, content: dict, step: dict) -> None:
        steps = engine.visible(content, run.answers)
        number = next((i for i, s in enumerate(steps) if s["id"] == step["id"]), 0) + 1
        from rich.text import Text

        # A str title would be read as markup: content text must stay inert.
        self.console.rule(Text(inert(f"{pick(content['title'], self.lang)} · "
                                     f"{self.t('run.step_of', n=number, total=len(steps))}")))
        if content["kind"] == "instrument" and pick(content.get("recall"), self.lang):
            self.show(pick(content["recall"], self.lang), style="dim")
        if pick(step.get("title"), self.lang):
            self.show(pick(step["title"], self.lang), style="bold")
        if pick(step.get("body"), self.lang):
            self.show(pick(step["body"], self.lang))
        if step.get("optional"):
            self.show(self.t("run.optional"), style="dim")

    def collect(self, content: dict, step: dict) -> Any:
        kind = step["kind"]
        prompt = pick(step.get("prompt") or step.get("text"), self.lang)
        if kind == "info":
            self.ask(self.t("common.press_enter"))
            return None
        if kind == "item" and "options" in step:
            options = content["option_sets"][step["options"]]
            return self._choose(prompt, options, single=True, keys=[str(o["value"]) for o in options])
        if kind in ("item", "scale"):
            low, high = (step.get("min", 0), step.get("max", 10)) if kind == "scale" else engine_range(content, step)
            if step.get("min_label") and step.get("max_label"):
                self.show(self.t("run.scale_anchor", min=low, max=high, min_label=pick(step["min_label"], self.lang),
                                 max_label=pick(step["max_label"], self.lang)), style="dim")
            return self.ask(f"{prompt} ({low}-{high}):")
        if kind == "choice":
            return self._choose(prompt, step["options"], single=True)
        if kind == "multi":
            return self._choose(prompt, step["options"], single=False, none=step.get("min_choices", 1) == 0)
        if kind in ("number", "text", "longtext"):
            unit = pick(step.get("unit"), self.lang)
            return self.ask(f"{prompt}{' (' + unit + ')' if unit else ''}:")
        if kind == "breathing":
            return self._breathe(step)
        return self._exercise(step)

    def _choose(self, prompt: str, options: list[dict], single: bool, keys: list[str] | None = None,
                none: bool = False) -> Any:
        """Numbered options; the number typed picks one. A questionnaire numbers its options by their
        scored values (0-3 for the PHQ-9, as on the paper form and in --answers files); a module's
        choices are numbered from 1, and "0" is "none of these" where a step allows no choice."""
        keys = keys or [str(n) for n in range(1, len(options) + 1)]
        by_key = {key: option["value"] for key, option in zip(keys, options)}
        self.show(prompt, style="bold")
        for key, option in zip(keys, options):
            self.show(f"  {key}. {pick(option.get('label'), self.lang)}")
        if none:
            self.show(f"  0. {self.t('run.none_of_these')}")
        hint = "run.choose_one" if single else ("run.choose_many_or_none" if none else "run.choose_many")
        self.show(self.t(hint), style="dim")
        numbers = sorted(int(k) for k in [*keys, *(["0"] if none else [])] if k.lstrip("-").isdigit())
        span = f"{numbers[0]}-{numbers[-1]}" if numbers else "/".join(keys)
        reply = self.ask(f"{self.t('common.your_answer')} ({span}):")
        parts = [part.strip() for part in reply.replace(";", ",").split(",") if part.strip()]
        if not parts:
            return ""
        if none and parts == ["0"]:
            return []
        if any(part not in by_key for part in parts):
            raise AnswerError("", hint, "not a listed number")
        picked = [by_key[part] for part in parts]
        if single:
            if len(picked) != 1:
                raise AnswerError("", "run.choose_one", "choose one")
            return picked[0]
        return picked

    def _breathe(self, step: dict) -> dict:
        rounds = step["rounds"]
        self.show(self.t("exercise.breathing.ready", rounds=rounds))
        self.ask(self.t("common.press_enter"))
        done = 0
        try:
            for n in range(1, rounds + 1):
                self.show(self.t("exercise.breathing.round", n=n, total=rounds), style="bold")
                for key in ("inhale", "hold", "exhale"):
                    seconds = step[key]
                    if seconds:
                        self.show_inline(self.t(f"exercise.breathing.{key}"))
                        for count in range(1, seconds + 1):
                            self.console.print(str(count), end=" ")
                            time.sleep(1)
                        self.console.print()
                done = n
        except KeyboardInterrupt:
            self.console.print()
        self.show(self.t("exercise.breathing.done"))
        return {"rounds_done": done}

    def _exercise(self, step: dict) -> dict:
        """Field by field, each checked as it is typed: a bad value asks again for that field only."""
        kind = step["kind"]
        answers: dict = {}
        for name in EXERCISE_FIELDS[kind]:
            if name == "activities":
                answers[name] = self._activities()
                continue
            while name not in answers:
                typed = self.ask(f"{self.t(f'exercise.{kind}.{name}')}:")
                try:
                    answers[name] = exercise_field(step, name, typed, answers, self.lang)
                except AnswerError as error:
                    self.show(self.t(error.key, **error.values), style="yellow")
        return answers

    def _activities(self) -> list[dict]:
        found = []
        while True:
            name = self.ask(f"{self.t('exercise.pleasant_activities.name')}:")
            if not name.strip():
                return found
            when = self.ask(f"{self.t('exercise.pleasant_activities.when')}:")
            found.append({"name": name, "when": when})


def engine_range(content: dict, item: dict) -> tuple[int, int]:
    from telecbt_cli.core.clinical.answers import item_range

    return item_range(content, item)


def drive(access: Any, catalog: Catalog, content: dict, run: engine.Run, resumed: bool, lang: str) -> engine.Outcome | None:
    """Walk the run interactively; saves after every step. None if the person paused."""
    ui = StepRenderer(catalog, lang)
    if resumed:
        ui.show(ui.t("run.resumed", done=len(run.answers)), style="cyan")
    ui.show(ui.t("run.hint"), style="dim")
    while (step := engine.current(run, content)) is not None:
        ui.header(run, content, step)
        try:
            value = ui.collect(content, step)
            fired = engine.answer(run, content, value)
        except _Pause:
            engine.save(access, run)
            ui.show(ui.t("run.paused"), style="cyan")
            return None
        except _Nav as nav:
            try:
                if nav.action == "b":
                    if not engine.back(run):
                        ui.show(ui.t("run.at_start"), style="yellow")
                else:
                    engine.skip(run, content)
            except AnswerError as error:
                ui.show(ui.t(error.key, **error.values), style="yellow")
            continue
        except AnswerError as error:
            ui.show(ui.t(error.key, **error.values), style="yellow")
            continue
        engine.save(access, run, fired)
        if fired:
            ui.crisis(fired)
        if step["kind"] == "pacing_plan":
            ui.show(ui.t("exercise.pacing_plan.plan_title"), style="bold")
            for line in run.answers[step["id"]]["plan"]:
                ui.show(ui.t("exercise.pacing_plan.plan_line", day=line["day"],
                             minutes=catalog.number(line["minutes"], lang)))
    try:
        outcome = engine.complete(access, run, content)
    except AnswerError as error:
        ui.show(ui.t(error.key, **error.values), style="yellow")
        return None
    ui.show(ui.t("run.completed", title=pick(content["title"], lang)), style="green")
    if content["kind"] == "module" and content.get("homework"):
        ui.show(ui.t("run.homework"), style="bold")
        for task in content["homework"]:
            ui.show(f"  - {pick(task['text'], lang)}")
    return outcome
