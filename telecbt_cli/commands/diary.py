"""`telecbt diary …`: the pain diary: add, correct, list, import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    RawOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    YesOpt,
    confirm,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say, with_local_fields
from telecbt_cli.core.store.ids import short_id

app = typer.Typer(help="Pain diary: add, correct, list, import.", no_args_is_help=True, add_completion=False)

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9Q4M.")]
Rating = Annotated[Optional[int], typer.Option(show_default=False, help="0-10.")]
HoursOpt = Annotated[Optional[float], typer.Option("--sleep-hours", show_default=False, help="Hours slept.")]
MinutesOpt = Annotated[Optional[int], typer.Option("--activity-min", show_default=False, help="Minutes of activity.")]
StepsOpt = Annotated[Optional[int], typer.Option("--steps", show_default=False, help="Step count.")]
NoteOpt = Annotated[Optional[str], typer.Option("--note", show_default=False, help="A short note.")]
LocationsOpt = Annotated[Optional[str], typer.Option(
    "--locations", show_default=False, help="Body regions, comma-separated: head, neck, shoulders, upper_back, "
    "lower_back, chest, abdomen, arms, hands, hips, legs, knees, feet, whole_body.")]
TriggersOpt = Annotated[Optional[str], typer.Option("--triggers", show_default=False, help="What made pain worse (comma-separated).")]
CopingOpt = Annotated[Optional[str], typer.Option("--coping", show_default=False, help="Skills used (comma-separated).")]
MedsOpt = Annotated[Optional[str], typer.Option("--meds", show_default=False, help="Medicines taken (comma-separated).")]
COLUMNS = ["entry_at", "pain", "locations", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps",
           "triggers", "coping", "meds", "note", "source", "supersedes", "id"]


def _values(pain, locations, mood, sleep_hours, sleep_quality, activity_min, steps, triggers, coping, meds,
            note, at) -> dict:
    given = {"pain": pain, "locations": locations, "mood": mood, "sleep_hours": sleep_hours,
             "sleep_quality": sleep_quality, "activity_min": activity_min, "steps": steps, "triggers": triggers,
             "coping": coping, "meds": meds, "note": note, "entry_at": at}
    return {k: v for k, v in given.items() if v is not None}


@app.command()
def add(
    patient: CodeArg,
    pain: Annotated[Optional[int], typer.Option("--pain", show_default=False, help="Pain now, 0-10 (required).")] = None,
    locations: LocationsOpt = None, mood: Rating = None, sleep_hours: HoursOpt = None, sleep_quality: Rating = None,
    activity_min: MinutesOpt = None, steps: StepsOpt = None, triggers: TriggersOpt = None, coping: CopingOpt = None,
    meds: MedsOpt = None, note: NoteOpt = None,
    at: Annotated[Optional[str], typer.Option("--at", show_default=False, help="When (local time), e.g. 2026-11-27 08:30. Default: now.")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Add a diary entry (only --pain is required). Entries cannot be edited: use `diary correct`."""
    from telecbt_cli.core.care import diary

    values = _values(pain, locations, mood, sleep_hours, sleep_quality, activity_min, steps, triggers, coping,
                     meds, note, at)
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        entry = diary.add_entry(access, patient, values)
        zone = device_zone(access.store)
    if json_out:
        emit_json(with_local_fields([entry], zone, ["entry_at"])[0])
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.diary_write.saved", when=staff_time(entry["entry_at"], zone), pain=entry["pain"]))


@app.command()
def correct(
    entry: Annotated[str, typer.Argument(help="Entry id: as `diary list` shows it, or a unique start or end of it (6 characters or more).")],
    pain: Rating = None, locations: LocationsOpt = None, mood: Rating = None, sleep_hours: HoursOpt = None,
    sleep_quality: Rating = None, activity_min: MinutesOpt = None, steps: StepsOpt = None,
    triggers: TriggersOpt = None, coping: CopingOpt = None, meds: MedsOpt = None, note: NoteOpt = None,
    at: Annotated[Optional[str], typer.Option("--at", show_default=False, help="Corrected time (local).")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Correct an entry: a new version supersedes it; the original is kept."""
    from telecbt_cli.core.care import diary

    values = _values(pain, locations, mood, sleep_hours, sleep_quality, activity_min, steps, triggers, coping,
                     meds, note, at)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        new = diary.correct_entry(access, entry, values)
    if json_out:
        emit_json(new)
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.diary_write.corrected", new=short_id(new["id"]), old=short_id(new["supersedes"])))


@app.command("list")
def list_(
    patient: CodeArg,
    since: Annotated[Optional[str], typer.Option("--since", help="From this date (YYYY-MM-DD, a day in this device's time zone).")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Include superseded entries.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False, raw: RawOpt = False,
) -> None:
    """List diary entries, oldest first."""
    from telecbt_cli.core.care import diary
    from telecbt_cli.core.store.timeparse import parse_since
    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out, raw)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        zone = device_zone(access.store)
        rows = diary.list_entries(access, patient, parse_since(since, zone) if since else None, all_versions)
    if json_out:
        emit_json(with_local_fields(rows, zone, ["entry_at"]))
        return
    for row in rows:
        for name in ("locations", "triggers", "coping", "meds"):
            row[name] = ", ".join(row[name])
    if csv_out:
        emit_csv(rows, COLUMNS, raw, zone)
    else:
        for row in rows:
            row["short"] = short_id(row["id"])
        from telecbt_cli.commands.i18n import columns, t

        emit_table(rows, columns("diary", ["short", "entry_at", "pain", "mood", "sleep_hours", "activity_min",
                                           "steps", "note"]), empty=t("cli.diary.empty"), zone=zone)


#: The diary fields an import fills, each named by `cli.diary_import.field_<name>`.
FIELD_WORDS = ["date", "pain", "mood", "sleep_hours", "sleep_quality", "activity_min", "steps", "note", "person",
               "all_devices"]


def _import_report(file: Path, parsed) -> dict:
    return {"file": str(file), "format": parsed.format, "format_id": parsed.format_key, "encoding": parsed.encoding,
            "dates": parsed.dates, "columns": parsed.columns, "ignored_columns": parsed.ignored_columns,
            "rows_read": parsed.rows_read, "days": len(parsed.rows),
            "skipped_count": parsed.skipped_total,
            "skipped": [{"line": s.line, "reason": s.reason} for s in parsed.skipped],
            "duplicates": [{"line": s.line, "reason": s.reason} for s in parsed.duplicates],
            "notes": parsed.notes, "rows": parsed.rows, "saved": None}


def _say_report(report: dict, limit: int = 50) -> None:
    """The import's report in the reader's language, the reasons for skipped rows and the notes too."""
    from telecbt_cli.commands.i18n import said, t

    def field(name: str) -> str:
        return t(f"cli.diary_import.field_{name}") if name in FIELD_WORDS else name

    shown_format = t("cli.diary_import.generic") if report["format_id"] == "generic-csv" else said(report["format"])
    say(f"{report['file']}: {shown_format}, {report['encoding']}")
    say(t("cli.diary_import.dates", dates=said(report["dates"])))
    say(t("cli.diary_import.columns", columns="; ".join(f"{field(k)} <- {said(v)}" for k, v in report["columns"].items())))
    if report["ignored_columns"]:
        shown = [said(name) for name in report["ignored_columns"][:12]]
        more = len(report["ignored_columns"]) - len(shown)
        say(t("cli.diary_import.ignored_more" if more > 0 else "cli.diary_import.ignored", names=", ".join(shown),
              more=more))
    what = "cli.diary_import.records" if report["format_id"] == "apple-health-xml" else "cli.diary_import.rows"
    say(t(what, read=report["rows_read"], days=report["days"], skipped=report["skipped_count"],
          folded=len(report["duplicates"])))
    for item in report["skipped"][:limit]:
        say(t("cli.diary_import.line", line=item["line"], reason=said(item["reason"])), style="yellow")
    if report["skipped_count"] > min(limit, len(report["skipped"])):
        say(t("cli.diary_import.more_skipped", more=report["skipped_count"] - min(limit, len(report["skipped"]))))
    for item in report["duplicates"][:limit]:
        say(t("cli.diary_import.line", line=item["line"], reason=said(item["reason"])))
    if len(report["duplicates"]) > limit:
        say(t("cli.diary_import.more_folded", more=len(report["duplicates"]) - limit))
    for note in report["notes"]:
        say(f"  {said(note)}")


def _as_usage(error: Exception):
    """An import problem as a usage error (exit 2) that keeps its locale key, so it reads in the reader's language."""
    from telecbt_cli.core.store.errors import UsageError

    problem = UsageError(str(error))
    if getattr(error, "key", None):
        problem.key, problem.values = error.key, error.values
    return problem


@app.command("import")
def import_(
    patient: CodeArg,
    file: Annotated[Path, typer.Argument(
        help="Export from a phone or wearable: Fitbit, Google Fit or Samsung Health CSV, Apple Health "
             "export.xml or export.zip, or a diary CSV (see docs/diary-import.md).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file and report; save nothing.")] = False,
    date_format: Annotated[Optional[str], typer.Option(
        "--date-format", show_default=False,
        help="Order of dates like 04/03/2026 when the file cannot tell: DD/MM/YYYY or MM/DD/YYYY.")] = None,
    mapping: Annotated[Optional[list[str]], typer.Option(
        "--map", show_default=False,
        help="COLUMN=FIELD for a column whose name is not recognised; FIELD is date, steps, sleep_hours, "
             "sleep_minutes, activity_min, pain, mood, sleep_quality, note or ignore. Repeat as needed.")] = None,
    person: Annotated[Optional[str], typer.Option(
        "--person", show_default=False, help="For files holding several people (Fitabase): the Id to import.")] = None,
    yes: YesOpt = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Import steps, sleep and activity from a phone or wearable export: one diary entry per day.

    Rows that cannot be used are listed with the reason. Importing the same file again, or
    an overlapping one, changes nothing already imported. Exits 2 when nothing in the file can be used.
    """
    from datetime import datetime, timezone

    from telecbt_cli.commands.output import progress_bar
    from telecbt_cli.core.care import diary
    from telecbt_cli.core.care.diary_import import ImportFileError, parse_date_format, parse_mapping, read_export
    from telecbt_cli.core.store.errors import UsageError

    try:
        order = parse_date_format(date_format) if date_format else None
        columns = parse_mapping(mapping) if mapping else None
    except ValueError as error:
        raise _as_usage(error) from None  # keeps the option's locale key (diary_import's errors)
    if file.is_dir():
        raise UsageError("{file} is a folder: import one file from it (for Samsung Health, the "
                         "com.samsung.shealth.step_daily_trend….csv file)", key="errors.diary_import.folder",
                         file=str(file))
    if not file.is_file():
        raise UsageError("cannot read {file}: no such file", key="errors.diary_import.missing", file=str(file))

    def read(zone) -> tuple:
        """The file read as days in `zone` (None: this computer's), and its report (already said)."""
        try:
            from telecbt_cli.commands.i18n import t

            with progress_bar(json_out, "" if json_out else t("cli.diary_import.reading")) as bar:
                parsed = read_export(file, now=datetime.now(timezone.utc), zone=zone, date_format=order,
                                     mapping=columns, person=person,
                                     progress=(lambda done, total: bar(done, total)) if bar else None)
        except ImportFileError as error:
            raise _as_usage(error) from None
        except OSError:
            raise UsageError("cannot read {file}", key="errors.diary_import.unreadable", file=str(file)) from None
        report = _import_report(file, parsed)
        if not json_out:
            _say_report(report)
        if not parsed.rows:
            if json_out:
                emit_json(report)
            raise UsageError("nothing in {file} can be imported: no row has a usable date and diary value.",
                             key="errors.diary_import.nothing", file=str(file))
        return parsed, report

    if dry_run:  # no store needed: days are read in this computer's time zone
        parsed, report = read(None)
    else:
        from telecbt_cli.core.clinical.patients import patient_id_for, zone_of

        with unlocked(store, user, passphrase_file, passphrase_fd) as access:
            access.require("write")
            zone = zone_of(access, patient_id_for(access, patient))  # days are the patient's calendar days
            parsed, report = read(zone)
            if parsed.skipped_total:
                from telecbt_cli.commands.i18n import t

                confirm(t("cli.diary_import.confirm", days=len(parsed.rows), skipped=parsed.skipped_total), yes)
            report["saved"] = saved = diary.import_rows(access, patient, parsed.rows, zone)
        if not json_out:
            from telecbt_cli.commands.i18n import t

            say(t("cli.diary_import.imported", added=saved["added"], updated=saved["updated"],
                  unchanged=saved["unchanged"]), style="green")
            if saved["not_used"]:
                say(t("cli.diary_import.not_used", count=len(saved["not_used"])))
    if json_out:
        emit_json(report)
