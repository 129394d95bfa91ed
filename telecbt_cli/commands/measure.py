"""`telecbt measure …`: questionnaires: list, take, history."""

from __future__ import annotations

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
    one_format,
    unlocked,
)
from telecbt_cli.commands.content_opts import (
    AnswersOpt,
    ContentOpt,
    LangOpt,
    load_catalog,
)
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, yes_no

app = typer.Typer(help="Questionnaires: list, take, history.", no_args_is_help=True, add_completion=False)

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9Q4M.")]
InstrumentArg = Annotated[str, typer.Argument(help="Questionnaire id, e.g. phq9 (see `telecbt measure list`).")]


@app.command("list")
def list_(content: ContentOpt = None, lang: LangOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False) -> None:
    """List questionnaires, their scoring and LOINC codes, and whether their text is available."""
    from telecbt_cli.content.catalog import pick, resolve_lang
    from telecbt_cli.core.clinical.engine import has_text

    one_format(json_out, csv_out)
    catalog = load_catalog(content)
    code = resolve_lang(None, lang)
    rows = []
    for inst in catalog.all("instrument"):
        rules = inst["scoring"]
        rows.append({"id": inst["id"], "name": inst.get("short_title") or inst["id"], "version": inst["version"],
                     "title": pick(inst["title"], code), "items": len(inst["items"]), "method": rules["method"],
                     "available": has_text(inst), "loinc": inst.get("loinc") or {},
                     "mic": rules.get("mic") or {}, "licence": inst["licence"]})
    if json_out:
        emit_json(rows)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    for row in rows:
        row["text"] = "yes" if row["available"] else "licensed: not included"
        row["loinc_total"] = row["loinc"].get("total", "")
    if csv_out:
        emit_csv(yes_no(rows), ["id", "name", "version", "title", "items", "method", "loinc_total", "available", "licence"])
        return
    # telecbt's own 0-10 scales have a name in each language (values.instrument_name); published ones keep theirs (PHQ-9)
    emit_table([{**r, "method": value("scoring", r["method"]),
                 "name": r["name"] if (named := value("instrument_name", r["id"])) == r["id"] else named,
                 "text": t("cli.common.yes") if r["available"] else t("cli.instruments.licensed")} for r in rows],
               columns("instruments", ["id", "name", "items", "method", "loinc_total", "text"]))


@app.command()
def take(
    patient: CodeArg, instrument: InstrumentArg, answers: AnswersOpt = None, lang: LangOpt = None,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an unfinished attempt and start again.")] = False,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Give a questionnaire to a patient and store the scored response (safety rules checked at each answer)."""
    from telecbt_cli.commands.module import deliver

    deliver("instrument", patient, instrument, answers, lang, restart, content, store, user, passphrase_file,
             passphrase_fd, json_out)


@app.command()
def history(
    patient: CodeArg,
    instrument: Annotated[Optional[str], typer.Option("--instrument", "-i", help="Only this questionnaire.")] = None,
    content: ContentOpt = None, lang: LangOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
    csv_out: CsvOpt = False, raw: RawOpt = False,
) -> None:
    """Scores over time with their level and change from the first score (MIC = minimal important change)."""
    from telecbt_cli.commands.content_opts import patient_lang
    from telecbt_cli.core.clinical import measures
    from telecbt_cli.core.clinical.scoring import band_label

    one_format(json_out, csv_out, raw)
    catalog = load_catalog(content)
    from telecbt_cli.commands.output import say
    from telecbt_cli.core.clinical import alerts
    from telecbt_cli.core.clinical.patients import patient_id_for

    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        code = patient_lang(access, patient, lang)
        rows = measures.history(access, catalog, patient, instrument)
        open_alerts = alerts.open_count(access, patient_id_for(access, patient))
        zone = device_zone(access.store)
    if open_alerts:
        say(catalog.text("safety.open_alerts", code, count=open_alerts), style="bold red")
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        inst = catalog.entries["instrument"].get(row["instrument_id"], {})
        change = row["change"] or {}
        row["date"] = catalog.date(row["completed_at"], code, zone=zone)
        row["score"] = catalog.number(row["total"], code)
        row["level"] = band_label(inst, row["band"], code) or "-"
        row["delta"] = "" if not change else catalog.number(change["delta"], code)
        row["mic"] = "" if not change else (catalog.text(f"values.change.{change['direction']}", code)
                                             + (" *" if change["meaningful"] else ""))
    if csv_out:
        emit_csv(rows, ["instrument_id", "completed_at", "total", "band", "delta", "mic"], raw, zone)
    else:
        # One language: the headings are in the language of the levels and numbers (the patient's, or --lang).
        emit_table(rows, [(key, catalog.text(f"cli.measure.col_{key}", code))
                          for key in ("date", "instrument_id", "score", "level", "delta", "mic")],
                   empty=catalog.text("cli.measure.empty", code))
