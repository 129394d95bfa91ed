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
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say

app = typer.Typer(help="Pain diary: add, correct, list, import.", no_args_is_help=True, add_completion=False)

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9QXD.")]
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
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        entry = diary.add_entry(access, patient, values)
    if json_out:
        emit_json(entry)
    else:
        say(f"Saved diary entry for {entry['entry_at'][:16].replace('T', ' ')} UTC (pain {entry['pain']}).")


@app.command()
def correct(
    entry: Annotated[str, typer.Argument(help="Id of the entry to correct (from `diary list --json`).")],
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
        say(f"Saved the correction; entry {entry[-12:]} is kept as superseded.")


@app.command("list")
def list_(
    patient: CodeArg,
    since: Annotated[Optional[str], typer.Option("--since", help="From this date (YYYY-MM-DD).")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Include superseded entries.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False, raw: RawOpt = False,
) -> None:
    """List diary entries, oldest first."""
    from telecbt_cli.core.care import diary
    from telecbt_cli.core.store.timeparse import parse_since

    one_format(json_out, csv_out, raw)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = diary.list_entries(access, patient, parse_since(since) if since else None, all_versions)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        for name in ("locations", "triggers", "coping", "meds"):
            row[name] = ", ".join(row[name])
    if csv_out:
        emit_csv(rows, COLUMNS, raw)
    else:
        for row in rows:
            row["when"] = row["entry_at"][:16].replace("T", " ")
        emit_table(rows, [("when", "when (UTC)"), ("pain", "pain"), ("mood", "mood"), ("sleep_hours", "sleep h"),
                          ("activity_min", "active min"), ("steps", "steps"), ("note", "note")],
                   empty="No diary entries yet.")


@app.command("import")
def import_(
    patient: CodeArg,
    file: Annotated[Path, typer.Argument(help="CSV export from a phone or wearable (see docs/diary-import.md).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file and report; save nothing.")] = False,
    yes: YesOpt = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Import steps, sleep and activity from a CSV; rows that cannot be used are listed with the reason."""
    from datetime import datetime, timezone

    from telecbt_cli.core.care import diary
    from telecbt_cli.core.care.diary_import import ImportFileError, parse_diary_csv
    from telecbt_cli.core.store.errors import UsageError

    try:
        raw = file.read_bytes()
    except OSError:
        raise UsageError(f"cannot read {file}") from None
    try:
        parsed = parse_diary_csv(raw, now=datetime.now(timezone.utc))
    except ImportFileError as error:
        raise UsageError(str(error)) from None
    report = {"file": str(file), "good_rows": len(parsed.rows), "columns": parsed.columns,
              "skipped": [{"line": s.line, "reason": s.reason} for s in parsed.skipped], "saved": None}
    if not json_out:
        say(f"{file}: {len(parsed.rows)} usable row(s), {len(parsed.skipped)} skipped "
            f"(columns: {', '.join(f'{k}<-{v}' for k, v in parsed.columns.items())}).")
        for skipped in parsed.skipped[:50]:
            say(f"  line {skipped.line}: {skipped.reason}", style="yellow")
        if len(parsed.skipped) > 50:
            say(f"  … and {len(parsed.skipped) - 50} more")
    if not dry_run and parsed.rows:
        with unlocked(store, user, passphrase_file, passphrase_fd) as access:
            access.require("write")
            if parsed.skipped:
                confirm(f"Import the {len(parsed.rows)} good row(s) and leave out the {len(parsed.skipped)} listed?", yes)
            report["saved"] = diary.import_rows(access, patient, parsed.rows)
        if not json_out:
            say(f"Imported {report['saved']['added']} row(s); {report['saved']['already_present']} day(s) were already imported.",
                style="green")
    if json_out:
        emit_json(report)
