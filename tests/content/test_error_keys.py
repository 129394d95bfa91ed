"""Issue 17 point 4: every error core raises with a locale key has that key in every language,
with the same {placeholders}, and the English entry is the code's own message."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import telecbt_cli
from telecbt_cli.content.catalog import load_for_ui
from telecbt_cli.content.languages import LANGS
from telecbt_cli.core.store.errors import Term, UsageError

PACKAGE = Path(telecbt_cli.__file__).parent


def _raised_with_keys() -> list[tuple[str, str, str]]:
    """(file, key, English template) for each error built with key="errors.…" in the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            key = next((k.value.value for k in node.keywords if k.arg == "key" and isinstance(k.value, ast.Constant)
                        and str(k.value.value).startswith("errors.")), None)
            if key and node.args and isinstance(node.args[0], ast.Constant):
                found.append((path.name, key, node.args[0].value))
    return found


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_error_key_is_in_every_language_with_its_placeholders():
    locales = load_for_ui([]).locales
    raised = _raised_with_keys()
    assert len(raised) >= 8  # the sweep so far: session and time errors
    for where, key, english in raised:
        assert locales["en"].get(key) == english, f"{where}: en.toml {key} is not the code's message"
        for lang in LANGS:
            assert key in locales[lang], f"{where}: {key} missing in {lang}"
            assert _fields(locales[lang][key]) == _fields(english), f"{key} in {lang}: other placeholders"


def test_an_error_reads_english_and_each_ui_shows_it_in_its_language():
    error = UsageError("this session was already recorded as {status} on {day}; a session is recorded once",
                       key="errors.session.recorded_once", status=Term("values.session.no_show", "no-show"),
                       day="2026-12-01")
    assert str(error) == "this session was already recorded as no-show on 2026-12-01; a session is recorded once"
    catalog = load_for_ui([])
    spanish = catalog.error(error, "es")
    assert "no asistió" in spanish and "2026-12-01" in spanish and "recorded" not in spanish
    assert catalog.error(ValueError("plain"), "es") == "plain"  # no key: as raised

