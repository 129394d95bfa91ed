"""`telecbt assess` and `telecbt suggest`: intake assessment and tailoring suggestions."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands.common import (
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    unlocked,
)
from telecbt_cli.commands.content_opts import (
    AnswersOpt,
    ContentOpt,
    LangOpt,
    load_catalog,
    patient_lang,
)


def assess(
    patient: Annotated[str, typer.Argument(help="Patient code.")],
    answers: AnswersOpt = None, lang: LangOpt = None,
    restart: Annotated[bool, typer.Option("--restart", help="Start the intake again.")] = False,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Intake assessment: pain, history, goals, suitability for remote CBT, and a red-flag screen."""
    from telecbt_cli.commands.module import deliver

    deliver("module", patient, "intake", answers, lang, restart, content, store, user, passphrase_file,
             passphrase_fd, json_out)


def suggest(
    patient: Annotated[str, typer.Argument(help="Patient code.")],
    lang: LangOpt = None, content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Rule-based suggestions for tailoring care, each with the data behind it."""
    from telecbt_cli.commands.output import emit_json, inert, say
    from telecbt_cli.core.clinical.patients import patient_id_for
    from telecbt_cli.core.clinical.suggest import suggestions

    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        code = patient_lang(access, patient, lang)
        found = suggestions(access, catalog, patient_id_for(access, patient), code)
    if json_out:
        emit_json(found)
        return
    if not found:
        say(catalog.text("cli.suggest.none", code))
    import sys

    for item in found:
        module = f" → {item['module']} ({item['module_title']})" if item["module"] else ""
        because = catalog.text("cli.suggest.because", code,
                               evidence=catalog.phrase(item["because"]["key"], code, item["because"]["values"]))
        sys.stdout.write(inert(f"- {item['text']}{module}") + "\n" + inert(f"  {because}") + "\n")


def register(app: typer.Typer) -> None:
    app.command()(assess)
    app.command()(suggest)
