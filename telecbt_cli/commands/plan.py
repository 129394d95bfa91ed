"""`telecbt plan …`: the treatment plan: course, goals, homework."""

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
    ContentOpt,
    LangOpt,
    load_catalog,
    patient_lang,
)
from telecbt_cli.commands.output import (
    emit_csv,
    emit_fields,
    emit_heading,
    emit_json,
    emit_table,
    say,
    yes_no,
)
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="Treatment plan: show, set, goal, homework.", no_args_is_help=True, add_completion=False)
goal_app = typer.Typer(help="SMART goals: add, update.", no_args_is_help=True, add_completion=False)
homework_app = typer.Typer(help="Homework: list, done.", no_args_is_help=True, add_completion=False)
app.add_typer(goal_app, name="goal")
app.add_typer(homework_app, name="homework")

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9Q4M.")]


@app.command()
def show(patient: CodeArg, content: ContentOpt = None, lang: LangOpt = None, store: StoreOpt = None,
         user: UserOpt = None, passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None,
         json_out: JsonOpt = False) -> None:
    """Print the plan: course and sessions, goals, homework, and the caregiver when involved."""
    from telecbt_cli.content.catalog import pick
    from telecbt_cli.core.care import plans

    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        code = patient_lang(access, patient, lang)
        data = plans.show_plan(access, catalog, patient, code)
    if json_out:
        emit_json(data)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    emit_fields([(t("cli.plan.patient"), f"{data['patient']['code']} {data['patient']['display_name']}"),
                 (t("cli.plan.course"), value("course", data["course"]) if data["course"] else t("cli.plan.course_not_set")),
                 (t("cli.plan.notes"), data["notes"] or "-")])
    if data["caregiver"]:
        emit_fields([(t("cli.plan.caregiver"), f"{data['caregiver']['name'] or '-'} {data['caregiver']['contact'] or ''}")])
    emit_table([{**s, "done": t("cli.common.yes") if s["attended"] else ""} for s in data["sessions"]],
               columns("plan", ["n", "module", "title", "done"]), empty=t("cli.plan.sessions_empty"))
    emit_heading(t("cli.plan.goals"))
    emit_table([{**g, "short": short_id(g["id"]), "progress": f"{g['progress']}%", "status": value("goal", g["status"])}
                for g in data["goals"]],
               columns("goal", ["short", "text", "target_date", "status", "progress"]), empty=t("cli.plan.goals_empty"))
    emit_heading(t("cli.plan.homework"))
    emit_table([{"short": short_id(h["id"]), "text": pick(h["text"], code), "due": h["due_date"],
                 "status": value("homework", h["status"])}
                for h in data["homework"]], columns("homework", ["short", "text", "due", "status"]),
               empty=t("cli.plan.homework_empty"))


@app.command("set")
def set_(
    patient: CodeArg,
    course: Annotated[Optional[str], typer.Option("--course", help="standard (12 sessions) or brief (6).")] = None,
    sessions: Annotated[Optional[str], typer.Option("--sessions", help="A custom order of modules, e.g. cbt-01,cbt-03,cbt-05.")] = None,
    caregiver_involved: Annotated[Optional[bool], typer.Option("--caregiver-involved/--no-caregiver",
                                  help="Whether the caregiver named in the registry takes part.", show_default=False)] = None,
    notes: Annotated[Optional[str], typer.Option("--notes", help="Notes on the plan.")] = None,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Set the course (standard, brief or custom) and plan details."""
    from telecbt_cli.core.care import plans

    catalog = load_catalog(content)
    modules = [m.strip() for m in sessions.split(",") if m.strip()] if sessions else None
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        data = plans.set_plan(access, catalog, patient, course, modules, caregiver_involved, notes)
    if json_out:
        emit_json(data)
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.plan_write.saved", course=data["course"], count=len(data["sessions"])), style="green")


@goal_app.command("add")
def goal_add(
    patient: CodeArg,
    text: Annotated[str, typer.Argument(help="The goal: what exactly will be done.")],
    measure: Annotated[Optional[str], typer.Option("--measure", help="How progress is measured.")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="Target date, YYYY-MM-DD.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Add a SMART goal to the plan."""
    from telecbt_cli.core.care import plans

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        goal = plans.add_goal(access, patient, text, measure, by)
    if json_out:
        emit_json(goal)
        return
    from telecbt_cli.commands.i18n import t

    say(t("cli.plan_write.goal_added", id=short_id(goal["id"])), style="green")


@goal_app.command("update")
def goal_update(
    goal: Annotated[str, typer.Argument(help="Goal id: as listed, or a unique start or end of it (6 characters or more).")],
    status: Annotated[Optional[str], typer.Option("--status", help="active, achieved, revised or dropped.")] = None,
    progress: Annotated[Optional[int], typer.Option("--progress", help="Progress in percent, 0-100.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="A dated progress note.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Update a goal's status or progress, with a progress note (earlier notes are kept)."""
    from telecbt_cli.core.care import plans

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        row = plans.update_goal(access, goal, status, progress, note)
    if json_out:
        emit_json(row)
        return
    from telecbt_cli.commands.i18n import t, value

    say(t("cli.plan_write.goal_updated", id=short_id(row["id"]), status=value("goal", row["status"]),
          progress=row["progress"]), style="green")


@homework_app.command("list")
def homework_list(
    patient: CodeArg,
    pending: Annotated[bool, typer.Option("--pending", help="Only homework not yet done.")] = False,
    lang: LangOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
    csv_out: CsvOpt = False,
) -> None:
    """List homework with due dates and completion."""
    from telecbt_cli.content.catalog import pick
    from telecbt_cli.core.care import plans

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        code = patient_lang(access, patient, lang)
        rows = plans.list_homework(access, patient, "assigned" if pending else None)
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
        return
    if csv_out:
        emit_csv(yes_no({**r, "text": pick(r["text"], code)} for r in rows),
                 ["id", "module_id", "task_id", "text", "due_date", "status", "overdue", "done_at", "note"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    emit_table([{"short": short_id(r["id"]), "module": r["module_id"], "text": pick(r["text"], code), "due": r["due_date"],
                 "status": value("homework", "overdue" if r["overdue"] else r["status"])} for r in rows],
               columns("homework", ["short", "module", "text", "due", "status"]), empty=t("cli.homework.empty"))


@homework_app.command("done")
def homework_done(
    homework: Annotated[str, typer.Argument(help="Homework id: as listed, or a unique start or end of it (6 characters or more).")],
    note: Annotated[Optional[str], typer.Option("--note", help="How it went.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Mark homework as done."""
    from telecbt_cli.core.care import plans

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        row = plans.homework_done(access, homework, note)
    if json_out:
        emit_json(row)
        return
    from telecbt_cli.commands.i18n import t

    say(t("cli.plan_write.homework_done"), style="green")
