"""The printable HTML progress report: well-formed, self-contained, escaped, localized."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

import pytest

from telecbt_cli.core.care.report_html import render_patient_report

HOSTILE = "<script>alert(1)</script> & [bold]x[/bold] \x1b]52;c;aGk=\x07"

EN = {
    "title": "Progress report", "patient": "Patient", "generated": "Generated", "period": "Period",
    "diary": "Pain diary", "pain": "Pain", "mood": "Mood", "sleep_hours": "Sleep (hours)",
    "activity_min": "Activity (minutes)", "completion": "Diary completion", "measures": "Questionnaires",
    "score": "Score", "baseline": "First score", "latest": "Latest score", "change": "Change",
    "meaningful": "meaningful change", "homework": "Homework", "done": "done",
    "alerts": "Open safety alerts", "none": "None", "suggestions": "Suggestions", "no_data": "No data yet",
}

ES = {
    "title": "Informe de progreso", "patient": "Paciente", "generated": "Generado", "period": "Periodo",
    "diary": "Diario de dolor", "pain": "Dolor", "mood": "Ánimo", "sleep_hours": "Sueño (horas)",
    "activity_min": "Actividad (minutos)", "completion": "Diario completado", "measures": "Cuestionarios",
    "score": "Puntuación", "baseline": "Primera puntuación", "latest": "Última puntuación",
    "change": "Cambio", "meaningful": "cambio significativo", "homework": "Tareas", "done": "hechas",
    "alerts": "Alertas de seguridad abiertas", "none": "Ninguna", "suggestions": "Sugerencias",
    "no_data": "Aún no hay datos",
}

PHQ9_BANDS = [
    {"min": 0, "max": 4, "label": "Minimal"}, {"min": 5, "max": 9, "label": "Mild"},
    {"min": 10, "max": 14, "label": "Moderate"}, {"min": 15, "max": 19, "label": "Moderately severe"},
    {"min": 20, "max": 27, "label": "Severe"},
]
GAD7_BANDS = [
    {"min": 0, "max": 4, "label": "Minimal"}, {"min": 5, "max": 9, "label": "Mild"},
    {"min": 10, "max": 14, "label": "Moderate"}, {"min": 15, "max": 21, "label": "Severe"},
]


WEEKS = ["02/06", "09/06", "16/06", "23/06", "30/06", "07/07", "14/07", "21/07"]


def weekly(values: list[float]) -> list[dict]:
    return [{"label": label, "value": v} for label, v in zip(WEEKS, values)]


def make_report(labels: dict = EN, lang: str = "en") -> dict:
    return {
        "lang": lang,
        "labels": dict(labels),
        "patient": {"code": "7K3M-9QXD", "display_name": "Ana " + HOSTILE, "language": "es"},
        "generated_at": "27/11/2026 11:40",
        "period": {"from": "01/06/2026", "to": "27/11/2026"},
        "diary": {
            "series": {
                "pain": weekly([6.1, 5.87, 5.4, 5.0, 4.66, 4.2]),
                "mood": weekly([3.0, 3.5, 4.25, 5.0, 5.5, 6.0]),
                "sleep_hours": weekly([5.5, 5.0, 4.5, 6.0, 6.5, 7.0]),
                "activity_min": [],
            },
            "ranges": {"pain": [0, 10], "mood": [0, 10], "sleep_hours": [0, 12], "activity_min": [0, None]},
            "completion_text": "142 of 180 days (79%)",
        },
        "measures": [
            {"title": "PHQ-9", "max": 27, "bands": PHQ9_BANDS,
             "points": [{"label": "01/06", "value": 16, "band": "Moderately severe"},
                        {"label": "01/08", "value": 12, "band": "Moderate"},
                        {"label": "01/10", "value": 9, "band": "Mild"}],
             "baseline_text": "16", "latest_text": "9", "change_text": "-7", "meaningful": True,
             "direction": "better"},
            {"title": "GAD-7", "max": 21, "bands": GAD7_BANDS,
             "points": [{"label": "01/06", "value": 8, "band": "Mild"},
                        {"label": "01/10", "value": 7, "band": "Mild"}],
             "baseline_text": "8", "latest_text": "7", "change_text": "-1", "meaningful": False,
             "direction": "same"},
            {"title": "PEG", "max": 10, "bands": [],
             "points": [{"label": "01/06", "value": 6.7, "band": None}],
             "baseline_text": "6.7", "latest_text": "6.7", "change_text": "", "meaningful": False,
             "direction": None},
        ],
        "homework": {"text": "7 of 10 done (70%)"},
        "alerts": [{"opened": "03/11/2026", "rule": "phq9-self-harm"}],
        "suggestions": [
            {"text": "Slept under 5 hours on 5 of the last 7 days: consider the sleep session.",
             "evidence": "sleep_hours: 4.5, 4, 6, 4, 3.5, 4, 4"},
            {"text": "Try again " + HOSTILE, "evidence": "evidence " + HOSTILE},
        ],
    }


def parse(doc: str) -> ET.Element:
    # The doctype is the whole first line ("<!DOCTYPE html>"): drop everything up to and
    # including the first newline, and parse the rest (the <html> element) as XML.
    assert doc.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(doc.split("\n", 1)[1])


def text_of(el: ET.Element) -> str:
    return "".join(el.itertext())


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(tag) if cls in (e.get("class") or "").split()]


@pytest.fixture
def doc() -> str:
    return render_patient_report(make_report())


def test_document_is_well_formed(doc: str) -> None:
    root = parse(doc)
    assert root.tag == "html" and root.get("lang") == "en"
    assert root.find("head/meta").get("charset") == "utf-8"
    assert len(root.findall("head/style")) == 1


def test_one_svg_per_metric_with_data_and_per_measure(doc: str) -> None:
    root = parse(doc)
    svgs = list(root.iter("svg"))
    report = make_report()
    with_data = [k for k, pts in report["diary"]["series"].items() if pts]
    assert len(svgs) == len(with_data) + len(report["measures"]) == 6
    assert doc.count("<svg") == 6
    for svg in svgs:
        assert svg.get("viewBox") == "0 0 560 140"
        assert svg.find("title") is not None and svg.find("title").text
        assert len(svg.findall("circle")) >= 1
    titles = [svg.find("title").text for svg in svgs]
    assert titles == ["Pain", "Mood", "Sleep (hours)", "PHQ-9", "GAD-7", "PEG"]


def test_self_contained_and_hostile_text_escaped(doc: str) -> None:
    lowered = doc.lower()
    for banned in ("<script", "http://", "https://", "url(", "<link", "<img", "@import"):
        assert banned not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; [bold]x[/bold]" in doc
    assert "\x1b" not in doc and "\x07" not in doc
    # Any remaining control character (other than newline) would be a leak too.
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", doc)
    root = parse(doc)
    name = text_of(root.find("body/header/dl"))
    assert "Ana <script>alert(1)</script> & [bold]x[/bold] ]52;c;aGk=" in name


def test_svg_coordinates_rounded_to_one_decimal(doc: str) -> None:
    root = parse(doc)
    for el in root.iter():
        for attr in ("x", "y", "width", "height", "cx", "cy"):
            if el.get(attr) is not None:
                assert re.fullmatch(r"-?\d+(\.\d)?", el.get(attr)), (el.tag, attr, el.get(attr))
    for line in root.iter("polyline"):
        for num in re.split(r"[ ,]", line.get("points")):
            assert re.fullmatch(r"-?\d+(\.\d)?", num)


def test_bands_and_meaningful_marker(doc: str) -> None:
    root = parse(doc)
    measures = {text_of(d.find("h3")): d for d in by_class(root, "div", "measure")}
    assert list(measures) == ["PHQ-9", "GAD-7", "PEG"]
    phq9 = measures["PHQ-9"]
    assert len(by_class(phq9, "rect", "band")) >= len(PHQ9_BANDS)
    fills = [r.get("fill") for r in by_class(phq9, "rect", "band")]
    assert len(set(fills)) == 2 and fills[0] != fills[1]  # alternating greys
    assert [text_of(t) for t in by_class(phq9, "text", "band-label")] == [b["label"] for b in PHQ9_BANDS]
    assert by_class(measures["PEG"], "rect", "band") == []
    assert "★" in text_of(phq9.find("table"))
    assert "★" not in text_of(measures["GAD-7"].find("table"))
    assert "★" not in text_of(measures["PEG"].find("table"))
    # Single point: just the point, no line; multi-point charts do draw the line.
    assert measures["PEG"].find("svg/polyline") is None
    assert len(measures["PEG"].findall("svg/circle")) == 1
    assert phq9.find("svg/polyline") is not None
    cells = [text_of(td) for td in phq9.find("table").iter("td")]
    assert cells[:3] == ["16", "9", "-7"]


def test_labels_are_localized() -> None:
    doc = render_patient_report(make_report(ES, "es"))
    root = parse(doc)
    assert root.get("lang") == "es"
    assert '<html lang="es">' in doc
    headings = [text_of(h) for h in root.iter("h2")]
    assert headings == ["Diario de dolor", "Cuestionarios", "Tareas", "Alertas de seguridad abiertas",
                        "Sugerencias"]
    assert text_of(root.find("body/header/h1")) == "Informe de progreso"
    assert "Aún no hay datos" in doc and "Primera puntuación" in doc
    for english in ("Pain diary", "Questionnaires", "Homework", "No data yet", "First score",
                    "Open safety alerts", "Suggestions", "Progress report"):
        assert english not in doc


def test_empty_series_renders_no_data_instead_of_chart(doc: str) -> None:
    root = parse(doc)
    diary = by_class(root, "section", "diary")[0]
    activity = by_class(diary, "div", "metric-activity_min")[0]
    assert activity.find("svg") is None
    assert text_of(activity.find("p")) == "No data yet"
    assert "Activity (minutes)" not in [svg.find("title").text for svg in root.iter("svg")]
    assert "142 of 180 days (79%)" in text_of(diary)


def test_auto_range_and_empty_lists() -> None:
    report = make_report()
    report["diary"]["series"]["activity_min"] = weekly([20, 35, 47])
    report["alerts"] = []
    report["suggestions"] = []
    root = parse(render_patient_report(report))
    activity = by_class(root, "div", "metric-activity_min")[0]
    axis_labels = [t.text for t in activity.find("svg").findall("text")]
    assert "0" in axis_labels and "50" in axis_labels  # null upper bound -> rounded up from 47
    assert text_of(by_class(root, "section", "alerts")[0].find("p")) == "None"
    assert text_of(by_class(root, "section", "suggestions")[0].find("p")) == "None"


def test_deterministic_and_input_untouched() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    assert render_patient_report(report) == render_patient_report(report)
    assert report == before


def test_intake_findings_are_listed_only_when_there_are_some() -> None:
    """Issue 11.3: red flags and "not suitable" from the intake reach the printed report."""
    finding = {"raised": "27/11/2026", "label": "Medical review", "message": "Arrange a medical review.",
               "details": ["Chest pain " + HOSTILE]}
    root = parse(render_patient_report({**make_report(), "labels": {**EN, "flags": "Intake findings"},
                                        "flags": [finding]}))
    section = by_class(root, "section", "flags")[0]
    assert text_of(section.find("h2")) == "Intake findings"
    assert "Medical review" in text_of(section) and "Chest pain" in text_of(section)
    assert by_class(parse(render_patient_report(make_report())), "section", "flags") == []


def test_chart_figures_use_the_reports_decimal_mark() -> None:
    """Issue 17 point 4 (figures): a point's tooltip and an axis label read 6,7 in a Spanish report, 6.7 in an
    English one; SVG coordinates keep their decimal point."""
    report = make_report(ES, "es")
    report["measures"][2]["max"] = 10.5  # an axis end with a decimal
    spanish = parse(render_patient_report(report))
    tips = [text_of(t) for t in spanish.iter("title")]
    assert "01/06: 6,7" in tips and not any(": 6.7" in t for t in tips), tips
    assert "10,5" in [text_of(t) for t in spanish.iter("text")]
    english = make_report()
    english["measures"][2]["max"] = 10.5
    root = parse(render_patient_report(english))
    assert "01/06: 6.7" in [text_of(t) for t in root.iter("title")]
    assert "10.5" in [text_of(t) for t in root.iter("text")]
    assert all("," not in c.get("cx", "") for c in spanish.iter("circle"))
