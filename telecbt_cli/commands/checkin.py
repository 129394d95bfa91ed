"""`telecbt session …`: check-ins: schedule, record, list, calendar."""

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
    said_yes,
    unlocked,
)
from telecbt_cli.commands.content_opts import ContentOpt, LangOpt, load_catalog
from telecbt_cli.core.store.textsafe import inert
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say, with_local_fields
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="Check-in sessions: schedule, reschedule, record, list, ics.", no_args_is_help=True, add_completion=False)


@app.command()
def schedule(
    patient: Annotated[str, typer.Argument(help="Patient code.")],
    at: Annotated[str, typer.Option("--at", help="When (local time), e.g. 2026-12-03 10:00.")],
    mode: Annotated[str, typer.Option("--mode", help="video, phone, in-person or kiosk.")],
    module: Annotated[Optional[str], typer.Option("--module", help="Module to deliver, e.g. cbt-04.")] = None,
    clinician: Annotated[Optional[str], typer.Option("--clinician", help="Staff user who runs it (default: you).")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="Call link (https://… or tel:…), put in reminders and the calendar.")] = None,
    minutes: Annotated[Optional[int], typer.Option("--minutes", min=5, max=240, help="Length (default: the module's).")] = None,
    tz: Annotated[Optional[str], typer.Option(
        "--tz", metavar="<zone>", show_default=False,
        help="The time zone --at is in: 'patient' for the patient's, or a name such as Africa/Nairobi "
             "(default: this device's).")] = None,
    weeks: Annotated[int, typer.Option(
        "--weeks", min=1, max=52, help="Book this many weekly sessions, all at the same local hour.")] = 1,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Schedule a session (or a weekly series); a reminder for each is queued for the email outbox."""
    from telecbt_cli.core.care import appointments
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.zones import device_zone

    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = appointments.schedule_series(access, catalog, patient, at, mode, module, clinician, link, minutes,
                                            tz, weeks)
        zone = device_zone(access.store)
        reminder = appointments.reminder_time(access, catalog, rows[0])
    if json_out:
        shown = with_local_fields(rows, zone, ["scheduled_at"])
        emit_json(shown if weeks > 1 else shown[0])
        return
    from telecbt_cli.commands.i18n import t

    for row in rows:
        say(t("cli.session_write.scheduled", id=short_id(row["id"]), when=staff_time(row["scheduled_at"], zone),
              mode=t(f"cli.session_write.mode_{mode.replace('-', '_')}")), style="green")
    say(t("cli.session_write.told_weekly" if weeks > 1 else "cli.session_write.told", reminder=reminder))


@app.command()
def reschedule(
    session: Annotated[str, typer.Argument(help="Session id: as listed, or a unique start or end of it (6 characters or more).")],
    at: Annotated[str, typer.Option("--at", help="The new time (local time), e.g. 2026-12-04 15:00.")],
    mode: Annotated[Optional[str], typer.Option("--mode", help="video, phone, in-person or kiosk (default: as before).")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="A new call link; '' removes it (default: as before).")] = None,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Move a session not yet recorded to a new time; its reminder is replaced by a new one."""
    from telecbt_cli.core.care import appointments
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.zones import device_zone

    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        row = appointments.reschedule(access, catalog, session, at, mode, link)
        zone = device_zone(access.store)
    if json_out:
        emit_json(with_local_fields([row], zone, ["scheduled_at"])[0])
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.session_write.moved", id=short_id(row["id"]), when=staff_time(row["scheduled_at"], zone),
              mode=t(f"cli.session_write.mode_{row['mode'].replace('-', '_')}")), style="green")


@app.command()
def record(
    session: Annotated[str, typer.Argument(help="Session id: as listed, or a unique start or end of it (6 characters or more).")],
    attended: Annotated[bool, typer.Option("--attended", help="The session took place.")] = False,
    no_show: Annotated[bool, typer.Option("--no-show", help="The patient did not come.")] = False,
    cancelled: Annotated[bool, typer.Option("--cancelled", help="The session was cancelled.")] = False,
    notes: Annotated[Optional[str], typer.Option("--notes", help="Session notes.")] = None,
    feedback: Annotated[Optional[int], typer.Option("--feedback", help="Patient's rating of the session, 1-5.")] = None,
    fidelity: Annotated[Optional[str], typer.Option("--fidelity", help="Checklist items covered, comma-separated ids; 'all' for every item.")] = None,
    lang: LangOpt = None, content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Record what happened, with the module's fidelity checklist; an attended session assigns homework."""
    import sys

    from telecbt_cli.content.catalog import resolve_lang
    from telecbt_cli.core.care import appointments

    chosen = [name for name, flag in (("attended", attended), ("no_show", no_show), ("cancelled", cancelled)) if flag]
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if len(chosen) != 1:
            raise UsageError("give exactly one of --attended, --no-show, --cancelled", key="errors.booking.one_outcome")
        catalog = load_catalog(content)
        from telecbt_cli.commands.i18n import reader

        code = resolve_lang(None, lang) if lang else reader()  # the checklist is for staff: the reader's language
        checklist = appointments.fidelity_checklist(access, catalog, session, code) if chosen[0] == "attended" else []
        ticked: list[str] = []
        if fidelity == "all":
            ticked = [item["id"] for item in checklist]
        elif fidelity:
            ticked = [f.strip() for f in fidelity.split(",") if f.strip()]
        elif checklist and sys.stdin.isatty():
            from telecbt_cli.commands.i18n import t

            say(t("cli.session_write.checklist"))
            for item in checklist:
                sys.stderr.write(inert(t("cli.session_write.checklist_item", item=item["text"])))  # clinic content
                sys.stderr.flush()
                if said_yes(sys.stdin.readline()):
                    ticked.append(item["id"])
        row = appointments.record(access, catalog, session, chosen[0], notes, feedback, ticked)
    if json_out:
        emit_json(row)
    else:
        from telecbt_cli.commands.i18n import t

        extra = t("cli.session_write.fidelity", done=len(ticked), total=len(checklist)) if checklist else ""
        say(t("cli.session_write.recorded", id=short_id(row["id"]), outcome=t(f"cli.session_write.outcome_{chosen[0]}"),
              extra=extra), style="green")


@app.command("list")
def list_(
    today: Annotated[bool, typer.Option("--today", help="Sessions today.")] = False,
    due: Annotated[bool, typer.Option("--due", help="Scheduled from now on.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Past sessions not yet recorded.")] = False,
    clinician: Annotated[Optional[str], typer.Option("--clinician", help="Only this clinician's sessions.")] = None,
    patient: Annotated[Optional[str], typer.Option("--patient", help="Only this patient.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
) -> None:
    """List sessions by time."""
    from telecbt_cli.core.care import appointments

    one_format(json_out, csv_out)
    chosen = [name for name, flag in (("today", today), ("due", due), ("overdue", overdue)) if flag]
    if len(chosen) > 1:
        raise UsageError("choose one of --today, --due, --overdue", key="errors.appointments.choose_when")
    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = appointments.list_sessions(access, chosen[0] if chosen else None, clinician, patient)
        zone = device_zone(access.store)
    if json_out:
        emit_json(with_local_fields(rows, zone, ["scheduled_at"]))
        return
    if csv_out:
        emit_csv(rows, ["id", "code", "scheduled_at", "minutes", "mode", "module_id", "clinician", "link", "status",
                        "feedback"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t, value
    from telecbt_cli.core.store.localtime import staff_time

    emit_table([{**r, "short": short_id(r["id"]), "when": staff_time(r["scheduled_at"], zone),
                 "mode": value("mode", r["mode"]), "status": value("session", r["status"])} for r in rows],
               columns("session", ["short", "when", "code", "mode", "module_id", "clinician", "status"]),
               empty=t("cli.session.empty"))


@app.command()
def ics(
    patient: Annotated[Optional[str], typer.Argument(help="Patient code (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every scheduled session.")] = False,
    out: Annotated[Optional[str], typer.Option("--out", metavar="<path>", help="Write to this file, or into this folder (existing, or ending in /), instead of standard output ('-').")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file named by --out.")] = False,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Write scheduled sessions as an iCalendar (.ics) file for a calendar app (JSON: the calendar as text)."""
    import sys

    from telecbt_cli.core.care import appointments
    from telecbt_cli.core.store.fsutil import atomic_write, output_path
    from telecbt_cli.core.store.ids import parse_patient_code

    if bool(patient) == all_:
        raise UsageError("give a patient code or --all", key="errors.booking.code_or_all")
    target = None
    if out not in (None, "-"):
        target = output_path(out, f"sessions-{parse_patient_code(patient) or 'all'}.ics" if patient else "sessions.ics",
                             force)
    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        data = appointments.ics(access, catalog, patient)
    events = data.count(b"BEGIN:VEVENT")
    if target is not None:
        atomic_write(target, data, mode=0o600)
    if json_out:
        emit_json({"path": str(target), "sessions": events} if target is not None
                  else {"sessions": events, "ics": data.decode("utf-8")})
    elif target is not None:
        from telecbt_cli.commands.i18n import t

        say(t("cli.session_write.wrote", path=target, count=events))
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
