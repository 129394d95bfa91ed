"""`telecbt module …`: the CBT course sessions, and running one with a patient."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    one_format,
    unlocked,
)
from telecbt_cli.commands.content_opts import (
    AnswersOpt,
    ContentOpt,
    LangOpt,
    load_catalog,
    patient_lang,
    read_answers,
)
from telecbt_cli.commands.output import (
    emit_csv,
    emit_fields,
    emit_heading,
    emit_json,
    emit_table,
    say,
)

app = typer.Typer(help="CBT modules: list, show, run.", no_args_is_help=True, add_completion=False)

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9Q4M.")]
ModuleArg = Annotated[str, typer.Argument(help="Module id, e.g. cbt-04 (see `telecbt module list`).")]
RestartOpt = Annotated[bool, typer.Option("--restart", help="Abandon an unfinished run of this module and start again.")]


@app.command("list")
def list_(
    course: Annotated[Optional[str], typer.Option("--course", help="Only this course, in session order: standard or brief.")] = None,
    content: ContentOpt = None, lang: LangOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
) -> None:
    """List the modules (sessions) of the courses."""
    from telecbt_cli.content.catalog import pick, resolve_lang

    from telecbt_cli.commands.i18n import columns, reader, value

    one_format(json_out, csv_out)
    catalog = load_catalog(content)
    code = resolve_lang(None, lang or reader())
    if course:
        ids = catalog.get("course", course)["sessions"]
        modules = [catalog.get("module", i) for i in ids]
    else:
        modules = catalog.all("module")
    rows = [{"id": m["id"], "version": m["version"], "phase": m["phase"], "minutes": m["minutes"],
             "title": pick(m["title"], code), "steps": len(m["steps"])} for m in modules]
    if json_out:
        emit_json(rows)
    elif csv_out:
        emit_csv(rows, ["id", "version", "phase", "minutes", "title", "steps"])
    else:
        emit_table([{**r, "phase": value("phase", r["phase"])} for r in rows],
                   columns("module", ["id", "phase", "minutes", "title"]))


@app.command()
def show(module: ModuleArg, content: ContentOpt = None, lang: LangOpt = None, json_out: JsonOpt = False) -> None:
    """Show a module's goals, steps, homework and clinician fidelity checklist."""
    from telecbt_cli.content.catalog import pick, resolve_lang

    from telecbt_cli.commands.i18n import reader, t, value

    catalog = load_catalog(content)
    code = resolve_lang(None, lang or reader())
    m = catalog.get("module", module)
    data = {
        "id": m["id"], "version": m["version"], "phase": m["phase"], "minutes": m["minutes"],
        "title": pick(m["title"], code), "summary": pick(m["summary"], code),
        "goals": [pick(g, code) for g in m["goals"]],
        "steps": [{"id": s["id"], "kind": s["kind"], "title": pick(s.get("title") or s.get("prompt"), code)} for s in m["steps"]],
        "homework": [pick(h["text"], code) for h in m["homework"]],
        "fidelity": [{"id": f["id"], "text": pick(f["text"], code)} for f in m["fidelity"]],
    }
    if json_out:
        emit_json(data)
        return
    emit_fields([(t("cli.module.module"), t("cli.module.about", id=data["id"], version=data["version"],
                                            phase=value("phase", data["phase"]), minutes=data["minutes"])),
                 (t("cli.module.col_title"), data["title"]), (t("cli.module.summary"), data["summary"])])
    for heading, lines in (("goals", data["goals"]), ("homework", data["homework"]),
                           ("fidelity", [f["text"] for f in data["fidelity"]])):
        emit_heading(t(f"cli.module.{heading}"))
        emit_table([{"n": n, "text": line} for n, line in enumerate(lines, 1)], [("n", "#"), ("text", "")],
                   empty=t("cli.module.none"))
    emit_heading(t("cli.module.steps"))
    emit_table([{**s, "kind": value("step", s["kind"])} for s in data["steps"]],
               [("id", t("cli.module.col_step")), ("kind", t("cli.module.col_kind")), ("title", t("cli.module.col_prompt"))])


@app.command()
def run(
    patient: CodeArg, module: ModuleArg, answers: AnswersOpt = None, lang: LangOpt = None,
    restart: RestartOpt = False, content: ContentOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Deliver a module to a patient step by step (resumes an unfinished run); records the content version."""
    deliver("module", patient, module, answers, lang, restart, content, store, user, passphrase_file,
             passphrase_fd, json_out)


def deliver(kind: str, patient: str, ident: str, answers, lang, restart, content, store, user,
             passphrase_file, passphrase_fd, json_out) -> None:
    """Shared by `module run` and `measure take`: interactive on a terminal, else from --answers."""
    import sys

    from telecbt_cli.commands.results import print_outcome
    from telecbt_cli.core.clinical import alerts, engine
    from telecbt_cli.core.store.errors import UsageError

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        catalog = load_catalog(content)
        item = engine.content_for(catalog, kind, ident)
        given = read_answers(answers) if answers is not None else None
        if given is None and not sys.stdin.isatty():
            raise UsageError("no terminal to ask questions on: give the answers with --answers FILE (or - for stdin)",
                             key="errors.run.no_terminal")
        code = patient_lang(access, patient, lang)
        patient_id = engine.patient_id_for(access, patient)
        open_before = alerts.open_count(access, patient_id)
        if open_before:
            say(catalog.text("safety.open_alerts", code, count=open_before), style="bold red")
        if given is not None:
            run_, outcome = engine.run_all(access, patient, item, code, given, restart=restart)
        else:
            from telecbt_cli.commands.steps import drive

            run_, resumed = engine.start(access, patient, item, code, restart=restart)
            outcome = drive(access, catalog, item, run_, resumed, code)
            if outcome is None:
                raise typer.Exit(0)
        print_outcome(catalog, item, run_, outcome, code, json_out, interactive=given is None)
