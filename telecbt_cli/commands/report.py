"""`telecbt report …`: a patient's progress, and program figures for quality improvement."""

from __future__ import annotations

import sys
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
    ContentOpt,
    LangOpt,
    load_catalog,
    patient_lang,
)
from telecbt_cli.commands.output import emit_csv, emit_json, inert, say
from telecbt_cli.core.care.textchart import sparkline
from telecbt_cli.core.store.errors import UsageError

app = typer.Typer(help="Reports: patient progress, program figures.", no_args_is_help=True, add_completion=False)
LABEL_KEYS = ("title", "patient", "generated", "period", "diary", "pain", "mood", "sleep_hours", "activity_min",
              "completion", "measures", "score", "baseline", "latest", "change", "meaningful", "homework", "done",
              "alerts", "none", "suggestions", "no_data", "flags")


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{round(rate * 100)}%"


def _write(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _zone(report: dict):
    """The patient's zone the report was made in (days, and the times it shows)."""
    from datetime import timezone

    from telecbt_cli.core.store.zones import load

    return load(report.get("timezone")) or timezone.utc


def print_patient(report: dict, catalog, lang: str) -> None:
    t = lambda key, **v: catalog.text(f"report.{key}", lang, **v)  # noqa: E731
    p = report["patient"]
    zone = _zone(report)
    _write(inert(f"{t('title')}: {p['code']} {p['display_name']}"))
    _write(f"{t('generated')}: {catalog.date(report['generated_at'], lang, with_time=True, zone=zone)}")
    _write(f"{t('period')}: {catalog.date(report['period']['from'], lang)} - {catalog.date(report['period']['to'], lang)}")
    _write()
    _write(t("diary"))
    ranges = {"pain": 10, "mood": 10, "sleep_hours": 12, "activity_min": None}
    for metric, points in report["diary"]["weekly"].items():
        values = [pt["value"] for pt in points]
        last = catalog.number(values[-1], lang) if values else "-"
        _write(f"  {t(metric):<20} {sparkline(values[-26:], 0, ranges[metric]):<26} {last}")
    d = report["diary"]
    _write(f"  {t('completion')}: {t('completion_text', days=d['days_with_entry'], total=d['days'], percent=round((d['completion'] or 0) * 100))}")
    _write()
    _write(t("measures"))
    for m in report["measures"]:
        change = m["change"]
        mark = ""
        if change:
            mark = f" ({catalog.number(change['delta'], lang)}{' *' if change['meaningful'] else ''})"
        trail = " → ".join(catalog.number(pt["total"], lang) for pt in m["points"][-6:])
        _write(inert(f"  {m['title']:<10} {trail}{mark}   {m['points'][-1]['band_label'] or '-'}"))
    if not report["measures"]:
        _write(f"  {t('no_data')}")
    _write("  * = " + t("meaningful"))
    hw = report["homework"]
    _write()
    _write(f"{t('homework')}: {catalog.text('report.homework_text', lang, done=hw['done'], total=hw['assigned'], percent=round((hw['rate'] or 0) * 100))}")
    _write(f"{t('alerts')}: {len(report['open_alerts']) or t('none')}")
    for alert in report["open_alerts"]:
        _write(inert(f"  {catalog.date(alert['opened_at'], lang, zone=zone)} {alert['rule_id']}"))
    if report["flags"]:
        _write(f"{t('flags')}:")
    for flag in report["flags"]:
        _write(inert(f"  {catalog.date(flag['raised_at'], lang, zone=zone)} {flag['label']}: {flag['message']}"))
        for detail in flag["details"]:
            _write(inert(f"    - {detail}"))
    if report["suggestions"]:
        _write(t("suggestions") + ":")
        for s in report["suggestions"]:
            _write(inert(f"  - {s['text']}"))
            _write(inert(f"    ({catalog.phrase(s['because']['key'], lang, s['because']['values'])})"))


def html_shape(report: dict, catalog, lang: str) -> dict:
    """The report in the form report_html expects: localized labels, formatted dates and numbers."""
    t = lambda key, **v: catalog.text(f"report.{key}", lang, **v)  # noqa: E731
    diary = report["diary"]
    zone = _zone(report)
    measures = []
    for m in report["measures"]:
        change = m["change"] or {}
        low, high = m.get("range") or (0, 0)
        maximum = max([high] + [b["max"] for b in m["bands"]] + [pt["total"] for pt in m["points"]] + [1])
        measures.append({
            "title": m["title"], "min": min([low] + [pt["total"] for pt in m["points"]]), "max": maximum,
            "bands": [{"min": b["min"], "max": b["max"], "label": b["label"]} for b in m["bands"]],
            "points": [{"label": catalog.day(pt["date"], lang), "value": pt["total"],
                        "band": pt["band_label"] or "-"} for pt in m["points"]],
            "baseline_text": catalog.number(m["baseline"], lang), "latest_text": catalog.number(m["latest"], lang),
            "change_text": catalog.number(change["delta"], lang) if change else "",
            "meaningful": bool(change.get("meaningful")), "direction": change.get("direction")})
    hw = report["homework"]
    return {
        "lang": lang, "labels": {key: t(key) for key in LABEL_KEYS}, "patient": report["patient"],
        "generated_at": catalog.date(report["generated_at"], lang, with_time=True, zone=zone),
        "period": {"from": catalog.date(report["period"]["from"], lang), "to": catalog.date(report["period"]["to"], lang)},
        "diary": {"series": {metric: [{"label": catalog.day(pt["week"], lang), "value": pt["value"]} for pt in points]
                             for metric, points in diary["weekly"].items()},
                  "ranges": {"pain": [0, 10], "mood": [0, 10], "sleep_hours": [0, 12], "activity_min": [0, None]},
                  "completion_text": t("completion_text", days=diary["days_with_entry"], total=diary["days"],
                                       percent=round((diary["completion"] or 0) * 100))},
        "measures": measures,
        "homework": {"text": t("homework_text", done=hw["done"], total=hw["assigned"], percent=round((hw["rate"] or 0) * 100))},
        "alerts": [{"opened": catalog.date(a["opened_at"], lang, zone=zone), "rule": a["rule_id"]}
                   for a in report["open_alerts"]],
        "flags": [{"raised": catalog.date(f["raised_at"], lang, zone=zone), "label": f["label"], "message": f["message"],
                   "details": f["details"]} for f in report["flags"]],
        "suggestions": [{"text": s["text"], "evidence": catalog.phrase(s["because"]["key"], lang, s["because"]["values"])}
                        for s in report["suggestions"]],
    }


@app.command()
def patient(
    code: Annotated[str, typer.Argument(metavar="PATIENT", help="Patient code.")],
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=520, help="How many weeks of diary to show.")] = 26,
    html: Annotated[Optional[str], typer.Option("--html", metavar="<path>", help="Also write a printable HTML report to this file, or into this folder (existing, or ending in /); '-' prints only the HTML, on standard output.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file named by --html.")] = False,
    suggest: Annotated[bool, typer.Option("--suggest", help="Include tailoring suggestions (as `telecbt suggest`).")] = False,
    lang: LangOpt = None, content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """A patient's progress: diary trends, scores against their bands, homework, alerts, suggestions."""
    from telecbt_cli.core.care import reports
    from telecbt_cli.core.store.fsutil import atomic_write, output_path

    if html == "-" and json_out:
        raise UsageError("--html - prints the HTML on standard output: leave out --json", key="errors.cli_options.html_json")
    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        code_lang = patient_lang(access, code, lang)
        report = reports.patient_report(access, catalog, code, code_lang, weeks, with_suggestions=suggest)
    if html:
        from telecbt_cli.core.care.report_html import render_patient_report

        page = render_patient_report(html_shape(report, catalog, code_lang)).encode("utf-8")
        if html == "-":
            sys.stdout.buffer.write(page)
            sys.stdout.buffer.flush()
            return
        target = output_path(html, f"report-{report['patient']['code']}.html", force)
        atomic_write(target, page, mode=0o600)
        say(f"Wrote {target}: it holds patient data in clear; keep it safe and delete it after printing.", style="yellow")
    if json_out:
        emit_json(report)
    else:
        print_patient(report, catalog, code_lang)


@app.command()
def program(
    frm: Annotated[Optional[str], typer.Option("--from", help="First day, YYYY-MM-DD (default: 90 days ago).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Last day, YYYY-MM-DD (default: today).")] = None,
    clinician: Annotated[Optional[str], typer.Option("--clinician", help="Only this clinician's patients and sessions.")] = None,
    content: ContentOpt = None, store: StoreOpt = None, user: UserOpt = None,
    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
    csv_out: CsvOpt = False, raw: RawOpt = False,
) -> None:
    """Program figures: enrolment, sessions, attendance, homework, diaries, improvement, workload, feedback, alerts."""
    from telecbt_cli.core.care import reports

    one_format(json_out, csv_out, raw)
    catalog = load_catalog(content)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        report = reports.program_report(access, catalog, frm, to, clinician)
    if json_out:
        emit_json(report)
        return
    pairs = reports.flatten(report)
    if csv_out:
        emit_csv([{"metric": k, "value": v} for k, v in pairs], ["metric", "value"], raw)
        return
    from telecbt_cli.commands.i18n import catalog, t

    words = catalog().locales.get("en", {})
    join = t("cli.program.join")
    lines = []
    for key, value in pairs:
        shown = _pct(value) if key.endswith(("rate", "adherence", "completion", "share")) else ("-" if value is None else value)
        parts = key.split(".")
        named = 1 if parts[0] in ("improvement", "workload") else 2  # an instrument, a clinician, a flag: as stored
        lines.append((join.join(t(f"cli.program.{part}") if i != named and f"cli.program.{part}" in words else part
                                for i, part in enumerate(parts)), shown))
    width = max([45, *(len(label) + 1 for label, _ in lines)])
    for label, shown in lines:
        _write(inert(f"{label:<{width}} {shown}"))
