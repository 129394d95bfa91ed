"""Issue 17 point 4: one language at a time. Every Spanish screen and dialog of the staff app and
the kiosk (the 80x24 snapshots, which test_snapshots.py proves are what the screens draw) holds
no English-only word: a word of the English UI strings that the Spanish ones never use.

Allowed: instrument names and codes, names of things (telecbt, USB), and the test patient's
own words (patient data is shown as typed)."""

from __future__ import annotations

import re
from pathlib import Path

from telecbt_cli.content.catalog import load_for_ui

SNAPSHOTS = Path(__file__).parent / "snapshots"
WORD = re.compile(r"[A-Za-zÁÉÍÓÚÜÑáéíóúüñ]{3,}")
#: Codes, instrument and product names, and what the test clinic's patient and goal are called.
ALLOWED = {"telecbt", "phq", "peg", "gad", "usb", "eml", "https", "tel", "smtp", "host", "yyyy", "xxxx",
           "alice", "admin", "rosa", "example", "cbt", "harm", "self",
           "trust"}  # `telecbt device trust`, quoted in a Spanish message and wrapped at 80 columns


#: Command lines and options quoted in a message (`telecbt patient consent`, `--patient`) are not words,
#: also when the screen wraps one onto the next line (`telecbt device⏎ trust`).
COMMAND = re.compile(r"telecbt(?:\s+[-a-z0-9{}]+)+|--[a-z][-a-z]*|\b[A-Z]+(?:_[A-Z]+)+\b")


def _words(texts) -> set[str]:
    return {w.lower() for text in texts for w in WORD.findall(COMMAND.sub(" ", text))}


def _english_only() -> set[str]:
    locales = load_for_ui([]).locales
    return _words(locales["en"].values()) - _words(locales["es"].values()) - ALLOWED


def test_no_english_word_on_any_spanish_screen():
    english = _english_only()
    assert {"patient", "homework", "check", "session", "cancel"} <= english  # the detector sees UI words
    files = sorted(SNAPSHOTS.glob("*-es.txt"))
    assert len(files) >= 25  # every staff screen and dialog, and the kiosk's
    found = {f.name: sorted(_words([f.read_text(encoding="utf-8")]) & english) for f in files}
    assert not {name: words for name, words in found.items() if words}


def test_the_english_screens_are_caught_by_the_same_check():
    """The detector works: an English snapshot of the same screen is full of English-only words."""
    english = _english_only()
    assert _words([(SNAPSHOTS / "staff-patient-plan-en.txt").read_text(encoding="utf-8")]) & english
