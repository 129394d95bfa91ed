"""Issue 17 point 4: Click's own usage errors (missing argument, no such option or command, a value that is
not a number, an option without its value, extra arguments) in the reader's language, exit code 2 as before;
in English they read as Click writes them."""

from __future__ import annotations

import re

import pytest

from telecbt_cli.commands import i18n
from tests.commands.clirun import invoke
from tests.commands.test_language_cli import english_only, words_of

#: (command line, what Click says in English, what a Spanish reader sees instead)
CASES = [
    (["diary", "import"], "Missing argument 'PATIENT'.", "Error: Falta el argumento 'PATIENT'."),
    (["diary", "add", "7K3M-9Q4M", "--bogus"], "No such option: --bogus", "Error: No existe la opción --bogus"),
    (["diary", "add", "7K3M-9Q4M", "--pain", "abc"], "Invalid value for '--pain'",
     "Error: Valor no válido para '--pain': debe ser un número entero"),
    (["diary", "add", "7K3M-9Q4M", "--pain", "3", "--sleep-hours", "mucho"], "Invalid value for '--sleep-hours'",
     "Error: Valor no válido para '--sleep-hours': debe ser un número"),
    (["audit", "log", "--limit", "0"], "Input should be greater than or equal to 1",
     "Error: Valor no válido para '--limit': debe ser 1 o más"),
    (["demo", "--patients", "100001"], "Input should be less than or equal to 100000",
     "Error: Valor no válido para '--patients' / '-n': debe ser 100000 o menos"),
    (["diary", "add", "7K3M-9Q4M", "--pain"], "Option '--pain' requires an argument.",
     "Error: La opción '--pain' necesita un valor."),
    (["diarry"], "No such command 'diarry'.", "Error: No existe el comando 'diarry'."),
    (["diary", "lst"], "No such command 'lst'. Did you mean 'list'?",
     "Error: No existe el comando 'lst'. ¿Quiso decir 'list'?"),
    (["user", "list", "extra"], "Got unexpected extra argument(s) (extra)", "Error: Sobran argumentos: (extra)"),
    (["--bogus"], "No such option: --bogus", "Error: No existe la opción --bogus"),
]


@pytest.fixture
def lang(monkeypatch):
    """Set the reader's language for in-process runs (and forget it after)."""
    def choose(code: str) -> None:
        monkeypatch.setenv("TELECBT_LANG", code)
        i18n.reset()
    yield choose
    i18n.reset()


@pytest.mark.parametrize("args,english,spanish", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_clicks_usage_errors_speak_the_readers_language(args, english, spanish, lang):
    lang("en")
    before = invoke(*args)
    assert (before.exit_code, english in re.sub(r"[│\s]+", " ", before.stderr)) == (2, True), before.stderr
    lang("es")
    after = invoke(*args)
    assert (after.exit_code, spanish in after.stderr) == (2, True), after.stderr
    assert "Error" in before.stderr and not {"Usage", "Try", "Missing", "Invalid"} & set(after.stderr.split())
    shown = re.sub(r"\b[A-Z]{2,}\b|'[^']*'|\([^()]*\)", " ", after.stderr)  # argument names, quoted and echoed input
    assert not words_of([shown]) & english_only(), sorted(words_of([shown]) & english_only())


def test_the_usage_line_and_the_help_hint_in_spanish(lang):
    """The usage line names options and commands in Spanish and says how to ask for help; the help page it points
    to starts with the same usage line (tests/commands/test_help_language.py checks the rest of the page)."""
    lang("es")
    said = invoke("bundle", "outbox", "sendd").stderr.splitlines()
    assert said == ["Uso: telecbt bundle outbox [OPCIONES] COMANDO [ARGUMENTOS]...",
                    "Escriba 'telecbt bundle outbox -h' para ver la ayuda.",
                    "Error: No existe el comando 'sendd'. ¿Quiso decir 'send'?"]
    lang("en")
    english = invoke("bundle", "outbox", "sendd").stderr
    assert "Usage: telecbt bundle outbox [OPTIONS] COMMAND [ARGS]..." in english
    assert "Try 'telecbt bundle outbox -h' for help." in english
    lang("es")
    helped = invoke("diary", "-h")
    assert helped.exit_code == 0 and "Uso: telecbt diary [OPCIONES] COMANDO [ARGUMENTOS]..." in helped.stdout
