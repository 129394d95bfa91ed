"""The question `confirm` asks at a terminal names devices and users, whose names come from other
machines: it is shown inert (issue 12.2), and only a yes in the reader's language goes ahead."""

from __future__ import annotations

import io

import pytest
import typer

from telecbt_cli.commands import i18n
from telecbt_cli.commands.common import confirm


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def answer(monkeypatch):
    def typed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", _Terminal(text + "\n"))
    i18n.reset()
    yield typed
    i18n.reset()


def test_the_question_reaches_the_terminal_inert(answer, capsys, monkeypatch):
    monkeypatch.setenv("TELECBT_LANG", "en")
    answer("n")
    with pytest.raises(typer.Exit):
        confirm("Revoke \x1b]52;c;cm0gLXJmIH4=\x07Nakuru?", False)
    shown = capsys.readouterr().err
    assert "\x1b" not in shown and "\x07" not in shown and "Nakuru?" in shown
    assert "Nothing was changed." in shown


@pytest.mark.parametrize(("lang", "typed", "goes_on"), [
    ("en", "y", True), ("en", "yes", True), ("en", "s", False), ("en", "", False),
    ("es", "s", True), ("es", "sí", True), ("es", "y", True), ("es", "n", False),
])
def test_only_a_yes_in_the_readers_language_goes_on(answer, monkeypatch, lang, typed, goes_on):
    monkeypatch.setenv("TELECBT_LANG", lang)
    answer(typed)
    try:
        confirm("Go on?", False)
        went_on = True
    except typer.Exit:
        went_on = False
    assert went_on is goes_on
