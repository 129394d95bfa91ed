"""A patient's progress report as one self-contained, printable HTML document.

Pure function over a plain dict (see ``render_patient_report``): no store, no clock, no
network. Charts are inline SVG, styling is one ``<style>`` block, there is no script and
no reference to any external file. Every text from the report is stripped of control
characters and escaped; the document is XHTML-compatible (it parses as XML once the
doctype line is removed), and the same input always gives the same string.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable

from telecbt_cli.content.languages import DECIMAL

W, H = 560, 140                      # SVG viewBox size
LEFT, TOP, BOTTOM = 40, 10, 24       # plot margins inside the viewBox
RIGHT_DIARY, RIGHT_MEASURE = 20, 100  # measures keep room for band labels at the right
METRICS = ("pain", "mood", "sleep_hours", "activity_min")
BAND_FILLS = ("#f0f0f0", "#e0e0e0")

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LANG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")

CSS = """
@page { size: A4; margin: 15mm; }
html { background: #fff; color: #000; }
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; font-size: 11pt;
  line-height: 1.35; margin: 0 auto; max-width: 180mm; padding: 8mm 0; }
h1 { font-size: 18pt; margin: 0 0 4pt; }
h2 { font-size: 14pt; border-bottom: 1pt solid #000; margin: 14pt 0 6pt; padding-bottom: 2pt; }
h3 { font-size: 12pt; margin: 8pt 0 2pt; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 1pt 8pt; margin: 0; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
section, .chart, .measure { page-break-inside: avoid; break-inside: avoid; }
svg.plot { display: block; width: 100%; max-width: 160mm; height: auto; }
svg.plot text { font-family: inherit; fill: #000; }
table.scores { border-collapse: collapse; margin: 4pt 0 8pt; }
table.scores th, table.scores td { border: 0.5pt solid #000; padding: 2pt 6pt; text-align: left; }
td.marker { text-align: center; }
.no-data { font-style: italic; }
ul.alerts li { font-weight: bold; }
.evidence { display: block; font-size: 9pt; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  h2 { page-break-after: avoid; break-after: avoid; }
}
"""


def _clean(value: object) -> str:
    """Text with C0/C1 control characters (except newline and tab) removed."""
    return _CONTROL.sub("", "" if value is None else str(value))


def _esc(value: object) -> str:
    """Cleaned and HTML-escaped text, safe in element content and quoted attributes."""
    return html.escape(_clean(value), quote=True)


def _num(x: float) -> str:
    """A number rounded to one decimal, without a trailing '.0' and never '-0'."""
    r = round(float(x), 1)
    if r == 0:
        return "0"
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _value(raw: object) -> float | None:
    """A finite float, or None for missing or non-numeric values."""
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        v = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= x (for auto ranges)."""
    if x <= 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * mag + 1e-9:
            return m * mag
    return 10 * mag


def _axis_range(spec: object, values: list[float]) -> tuple[float, float]:
    """[lo, hi] from a [min, max] spec where None means automatic; always holds the data."""
    lo_s, hi_s = (list(spec) + [None, None])[:2] if isinstance(spec, (list, tuple)) else (None, None)
    lo = _value(lo_s)
    hi = _value(hi_s)
    lo = min([0.0] + values) if lo is None else min([lo] + values)
    hi = _nice_ceiling(max(values + [lo])) if hi is None else max([hi] + values)
    return (lo, hi if hi > lo else lo + 1)


def _x_ticks(n: int, plot_w: float) -> list[int]:
    """Indexes of points that get an x label: first, last and evenly spaced ones if room."""
    if n <= 1:
        return list(range(n))
    room = max(2, int(plot_w // 60))
    step = max(1, math.ceil((n - 1) / (room - 1)))
    ticks = list(range(0, n - 1, step))
    if len(ticks) > 1 and (n - 1 - ticks[-1]) < step / 2:
        ticks.pop()
    return ticks + [n - 1]


def _band_rects(bands: list, lo: float, hi: float, y: Callable[[float], float],
                right: float) -> list[str]:
    """Light alternating grey rectangles for score bands, labelled at the right edge."""
    parsed = [(_value(b.get("min")), _value(b.get("max")), b.get("label", "")) for b in bands]
    clean = sorted((b for b in parsed if b[0] is not None and b[1] is not None), key=lambda t: t[0])
    out: list[str] = []
    for i, (bmin, bmax, label) in enumerate(clean):
        low = bmin if i == 0 else (clean[i - 1][1] + bmin) / 2
        high = bmax if i == len(clean) - 1 else (bmax + clean[i + 1][0]) / 2
        low, high = max(low, lo), min(high, hi)
        if high <= low:
            continue
        top, bottom = y(high), y(low)
        out.append(f'<rect class="band" x="{LEFT}" y="{_num(top)}" width="{_num(right - LEFT)}" '
                   f'height="{_num(bottom - top)}" fill="{BAND_FILLS[i % 2]}"/>')
        out.append(f'<text class="band-label" x="{_num(right + 4)}" y="{_num((top + bottom) / 2 + 3)}" '
                   f'font-size="8">{_esc(label)}</text>')
    return out


def _svg_chart(title: str, points: list[dict], lo: float, hi: float,
               bands: list | None = None, right_margin: int = RIGHT_DIARY, mark: str = ".") -> str:
    """A small line chart: optional bands, axes with min/max labels, a polyline and points."""
    right, bottom = W - right_margin, H - BOTTOM
    plot_w, plot_h = right - LEFT, bottom - TOP
    n = len(points)

    def x(i: int) -> float:
        return LEFT + plot_w / 2 if n == 1 else LEFT + i * plot_w / (n - 1)

    def y(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    parts = [f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" '
             f'preserveAspectRatio="xMinYMin meet">', f"<title>{_esc(title)}</title>"]
    parts += _band_rects(bands or [], lo, hi, y, right)
    parts.append(f'<path class="axis" d="M{LEFT} {TOP}V{bottom}H{right}" fill="none" '
                 f'stroke="#000" stroke-width="1"/>')
    for v in (lo, hi):
        parts.append(f'<text x="{LEFT - 4}" y="{_num(y(v) + 3)}" font-size="9" '
                     f'text-anchor="end">{_num(v).replace(".", mark)}</text>')
    for i in _x_ticks(n, plot_w):
        parts.append(f'<text x="{_num(x(i))}" y="{H - 8}" font-size="9" '
                     f'text-anchor="middle">{_esc(points[i].get("label", ""))}</text>')
    coords = [(i, v, p) for i, p in enumerate(points) if (v := _value(p.get("value"))) is not None]
    if len(coords) > 1:
        pts = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v, _ in coords)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#000" stroke-width="1.5"/>')
    for i, v, p in coords:
        tip = f'{_clean(p.get("label", ""))}: {_num(v).replace(".", mark)}'
        tip += f' ({_clean(p["band"])})' if p.get("band") else ""
        parts.append(f'<circle cx="{_num(x(i))}" cy="{_num(y(v))}" r="3" fill="#000">'
                     f"<title>{_esc(tip)}</title></circle>")
    parts.append("</svg>")
    return "\n".join(parts)


def _header(report: dict, labels: dict) -> str:
    """Title, patient, generation time and period."""
    patient = report.get("patient") or {}
    period = report.get("period") or {}
    who = f'{_esc(patient.get("display_name", ""))} ({_esc(patient.get("code", ""))})'
    span = f'{_esc(period.get("from", ""))} – {_esc(period.get("to", ""))}'
    rows = ((labels["patient"], who), (labels["generated"], _esc(report.get("generated_at", ""))),
            (labels["period"], span))
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<header>\n<h1>{_esc(labels["title"])}</h1>\n<dl class="meta">{items}</dl>\n</header>'


def _diary(diary: dict, labels: dict, mark: str = ".") -> str:
    """One chart per metric with data (a no-data line otherwise), then the completion text."""
    series = diary.get("series") or {}
    ranges = diary.get("ranges") or {}
    keys = [k for k in METRICS if k in series] + [k for k in series if k not in METRICS]
    parts = [f'<section class="diary">\n<h2>{_esc(labels["diary"])}</h2>']
    for key in keys:
        points = [p for p in series.get(key) or [] if isinstance(p, dict)]
        values = [v for p in points if (v := _value(p.get("value"))) is not None]
        name = labels.get(key, key)
        parts.append(f'<div class="chart metric-{_esc(key)}">\n<h3>{_esc(name)}</h3>')
        if values:
            lo, hi = _axis_range(ranges.get(key), values)
            parts.append(_svg_chart(name, points, lo, hi, mark=mark))
        else:
            parts.append(f'<p class="no-data">{_esc(labels["no_data"])}</p>')
        parts.append("</div>")
    parts.append(f'<p class="completion"><strong>{_esc(labels["completion"])}:</strong> '
                 f'{_esc(diary.get("completion_text", ""))}</p>\n</section>')
    return "\n".join(parts)


def _measure(m: dict, labels: dict, mark: str = ".") -> str:
    """A questionnaire's chart over its bands, and its first/latest/change table."""
    points = [p for p in m.get("points") or [] if isinstance(p, dict)]
    values = [v for p in points if (v := _value(p.get("value"))) is not None]
    bands = [b for b in m.get("bands") or [] if isinstance(b, dict)]
    band_values = [v for b in bands for v in (_value(b.get("min")), _value(b.get("max"))) if v is not None]
    lo, hi = _axis_range([m.get("min", 0), m.get("max")], values + band_values)
    title = m.get("title", "")
    parts = [f'<div class="measure">\n<h3>{_esc(title)}</h3>']
    if values:
        parts.append(_svg_chart(title, points, lo, hi, bands, RIGHT_MEASURE, mark))
    else:
        parts.append(f'<p class="no-data">{_esc(labels["no_data"])}</p>')
    direction = _clean(m.get("direction") or "none")
    marker = '<span title="{0}">★</span>'.format(_esc(labels["meaningful"])) if m.get("meaningful") else ""
    heads = "".join(f"<th>{_esc(labels[k])}</th>" for k in ("baseline", "latest", "change", "meaningful"))
    cells = (f'<td>{_esc(m.get("baseline_text", ""))}</td><td>{_esc(m.get("latest_text", ""))}</td>'
             f'<td class="change dir-{_esc(direction)}">{_esc(m.get("change_text", ""))}</td>'
             f'<td class="marker">{marker}</td>')
    parts.append(f'<table class="scores">\n<tr>{heads}</tr>\n<tr>{cells}</tr>\n</table>\n</div>')
    return "\n".join(parts)


def _list_section(cls: str, heading: str, items: list[str], none_text: str) -> str:
    """A section with a heading and a bulleted list, or the 'none' text when empty."""
    body = (f'<ul class="{cls}">\n' + "\n".join(f"<li>{i}</li>" for i in items) + "\n</ul>"
            if items else f'<p class="none">{_esc(none_text)}</p>')
    return f'<section class="{cls}">\n<h2>{_esc(heading)}</h2>\n{body}\n</section>'


def render_patient_report(report: dict) -> str:
    """A self-contained, printable HTML document (inline SVG charts, no JavaScript, no external files)."""
    labels = report.get("labels") or {}
    lang = _clean(report.get("lang", ""))
    lang = lang if _LANG.fullmatch(lang) else "und"
    measures = [m for m in report.get("measures") or [] if isinstance(m, dict)]
    mark = DECIMAL.get(lang.split("-")[0], ".")  # figures people read (axis ends, point values), not coordinates
    measure_html = "\n".join(_measure(m, labels, mark) for m in measures) or \
        f'<p class="no-data">{_esc(labels["no_data"])}</p>'
    alerts = [f'{_esc(a.get("opened", ""))} — {_esc(a.get("rule", ""))}'
              for a in report.get("alerts") or [] if isinstance(a, dict)]
    suggestions = [f'{_esc(s.get("text", ""))}<small class="evidence">{_esc(s.get("evidence", ""))}</small>'
                   for s in report.get("suggestions") or [] if isinstance(s, dict)]
    flags = [f'{_esc(f.get("raised", ""))} — <b>{_esc(f.get("label", ""))}</b>: {_esc(f.get("message", ""))}'
             + "".join(f'<small class="evidence">{_esc(d)}</small>' for d in f.get("details") or [])
             for f in report.get("flags") or [] if isinstance(f, dict)]
    name = _esc((report.get("patient") or {}).get("display_name", ""))
    body = [
        _header(report, labels),
        _diary(report.get("diary") or {}, labels, mark),
        f'<section class="measures">\n<h2>{_esc(labels["measures"])}</h2>\n{measure_html}\n</section>',
        f'<section class="homework">\n<h2>{_esc(labels["homework"])}</h2>\n'
        f'<p>{_esc((report.get("homework") or {}).get("text", ""))}</p>\n</section>',
        _list_section("alerts", labels["alerts"], alerts, labels["none"]),
        *([_list_section("flags", labels["flags"], flags, labels["none"])] if flags else []),
        _list_section("suggestions", labels["suggestions"], suggestions, labels["none"]),
    ]
    return ("<!DOCTYPE html>\n"
            f'<html lang="{lang}">\n<head>\n<meta charset="utf-8"/>\n'
            f'<title>{_esc(labels["title"])} – {name}</title>\n<style>{CSS}</style>\n</head>\n'
            "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
