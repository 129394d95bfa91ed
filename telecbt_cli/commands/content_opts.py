"""Options shared by commands that read clinical content: --content and --lang."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from telecbt_cli.core.store.errors import UsageError

ContentOpt = Annotated[
    Optional[Path],
    typer.Option("--content", show_default=False,
                 help="Extra content folder (local modules, licensed questionnaire text). Default: TELECBT_CONTENT_PATH."),
]
LangOpt = Annotated[
    Optional[str],
    typer.Option("--lang", show_default=False, help="Language (en or es). Default: the patient's preferred language."),
]
AnswersOpt = Annotated[
    Optional[Path],
    typer.Option("--answers", show_default=False,
                 help="Run without questions: a JSON object of answers by step or item id ('-' = standard input)."),
]


def load_catalog(content: Path | None):
    from telecbt_cli.content.catalog import content_dirs, load

    return load(content_dirs(content))


def read_answers(path: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError("answers file {path} does not exist", key="errors.answers.no_file", path=str(path)) from None
    except (OSError, UnicodeDecodeError):
        raise UsageError("cannot read answers file {path}", key="errors.answers.unreadable", path=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError("the answers are not valid JSON (line {line}): {problem}", key="errors.answers.not_json",
                         line=error.lineno, problem=error.msg) from None
    if not isinstance(data, dict):
        raise UsageError('the answers must be a JSON object such as {example}', key="errors.answers.not_object",
                         example='{"phq9_1": 2, "phq9_2": 0}')
    return data


def patient_lang(access: Any, code: str, override: str | None) -> str:
    from telecbt_cli.content.catalog import resolve_lang
    from telecbt_cli.content.languages import LANGS
    from telecbt_cli.core.clinical.patients import patient_language

    if override and override.split("-")[0].lower() not in LANGS:
        raise UsageError("--lang must be one of {langs}", key="errors.answers.lang", langs=", ".join(LANGS))
    return resolve_lang(patient_language(access, code), override)
