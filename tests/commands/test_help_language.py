"""Issue 17 point 4: `--help` pages in the reader's language. Every help text of the command tree (commands,
groups, options, arguments, the root's group lines) and Typer's own words have a Spanish translation in
content/locales/help/es/*.toml, no translation is stale or said two ways, and every page drawn for a Spanish
reader holds no English-only word (test_language_cli's detector); English pages read as before."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
import typer

from telecbt_cli import cli
from telecbt_cli.commands import help_i18n, i18n
from tests.command_tree import all_commands
from tests.commands.clirun import invoke
from tests.commands.test_language_cli import english_only, words_of

PACKAGE = Path(cli.__file__).parent
SPANISH = help_i18n.HELP_DIR / "es"
#: Wide enough that no help line is wrapped: a wrapped line would split the words the finder reads.
WIDE = {"COLUMNS": "1000"}
#: What a help page shows that a reader types back or reads as a name, not as a word: argument names
#: (PATIENT), command lines in backticks (`diary correct`), quoted values ('patient', 'all'), the choices of a
#: value (<tls|starttls|none>), defaults, field names (show_if, sleep_hours) and file extensions (.zst).
NOT_WORDS = re.compile(r"\b[A-Z]{2,}\b|`[^`\n]*`|'[^'\n]*'|<[^<>\n]*\|[^<>\n]*>|\[predeterminado: [^\]\n]*\]"
                       r"|\b[a-z]+(?:_[a-z]+)+\b|(?<![\w.])\.[a-z0-9]+\b")
#: Names of products, formats and protocols that help pages name (beside test_language_cli's ALLOWED), and Spanish
#: words that are English words too ("módulos locales", "compare la huella", "las variables TELECBT_SMTP_*").
NAMES = {"fitbit", "google", "fit", "icalendar", "ics", "mbox", "maildir", "bearer",
         "locales", "compare", "variables"}
#: FHIR's resource and bundle types, named on the pages of the FHIR export as FHIR writes them.
FHIR = {"bundle", "bundles", "transaction", "patient", "questionnaire"}
PARTLY = {"export": FHIR, "export fhir": FHIR}


@pytest.fixture
def lang(monkeypatch):
    """Set the reader's language for in-process runs (and forget it after)."""
    def choose(code: str) -> None:
        monkeypatch.setenv("TELECBT_LANG", code)
        i18n.reset()
        help_i18n.translations.cache_clear()
    yield choose
    i18n.reset()
    help_i18n.translations.cache_clear()


def _styled() -> list:
    """Every command and group, styled as `telecbt` styles them before drawing a page (flags without a type)."""
    nodes = all_commands()
    for node in nodes:
        cli._one_help_style(node.command)
    return nodes


def _context(command) -> typer.Context:
    return typer.Context(command, info_name=command.name or "telecbt", help_option_names=cli.HELP_NAMES)


def _type_name(param, ctx) -> str | None:
    """The type name Typer shows for `param` (`<int>`, or a metavar the code chose: `<zone>`), unless it lists the
    choices, which are codes."""
    shown = param.display_type_rich(ctx)
    return None if not shown or "|" in shown else shown


def _english_texts() -> dict[str, str]:
    """Every English text a help page can show -> where it is shown (a command's words after `telecbt`, or typer)."""
    from typer import rich_utils

    texts: dict[str, str] = {}
    for node in _styled():
        command, where = node.command, node.name or "telecbt"
        for text in (command.help, command.short_help):
            if text:
                texts.setdefault(help_i18n.normal(text), where)
        ctx = _context(command)
        for param in command.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.help:
                texts.setdefault(help_i18n.normal(param.help), f"{where} {param.opts[0] if param.opts else param.name}")
            if shown := _type_name(param, ctx):
                texts.setdefault(shown, "typer")
    for text in cli.GROUP_HELP.values():
        texts.setdefault(help_i18n.normal(text), "telecbt")
    for name in help_i18n.TYPER_WORDS:
        texts.setdefault(getattr(rich_utils, name).strip(), "typer")
    for word in help_i18n.USAGE_WORDS:
        texts.setdefault(word, "typer")
    return texts


def _modules_of() -> dict[str, set[str]]:
    """Normalised string literal -> the modules whose code writes it (cli, diary, common...), to name the
    translation file a missing text belongs in."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in [*sorted((PACKAGE / "commands").glob("*.py")), PACKAGE / "cli.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
                found[help_i18n.normal(node.value)].add(path.stem)
    return found


def _spanish_files() -> dict[str, list[dict]]:
    """Each help/es file's entries as written."""
    return {path.name: tomllib.loads(path.read_text(encoding="utf-8")).get("help", [])
            for path in sorted(SPANISH.glob("*.toml"))}


def test_every_help_text_has_its_spanish():
    """All missing translations at once, by the module whose code holds the English (the file to add it to)."""
    translated = {help_i18n.normal(e["en"]) for entries in _spanish_files().values() for e in entries
                  if str(e.get("es", "")).strip()}
    modules = _modules_of()
    missing: dict[str, list[str]] = defaultdict(list)
    for text, where in _english_texts().items():
        if text not in translated:
            owner = "typer" if where == "typer" else ",".join(sorted(modules.get(text, {"?"})))
            missing[owner].append(f"{where}: {text}")
    assert not missing, "help texts with no Spanish, by module:\n" + "\n".join(
        f"{owner} ({len(texts)}):\n  " + "\n  ".join(texts) for owner, texts in sorted(missing.items()))


def test_no_translation_is_stale_empty_or_said_two_ways():
    """A translation whose English no help page shows any more, an entry without its Spanish, and the same English
    with two different Spanish texts (in one file or two) are all mistakes in the files."""
    shown = set(_english_texts())
    spanish: dict[str, set[str]] = defaultdict(set)
    stale, empty = [], []
    for name, entries in _spanish_files().items():
        for entry in entries:
            english = help_i18n.normal(str(entry.get("en", "")))
            said = help_i18n.normal(str(entry.get("es", "")))
            if not english or not said:
                empty.append(f"{name}: {entry}")
                continue
            spanish[english].add(said)
            if english not in shown:
                stale.append(f"{name}: {english}")
    twice = {english: sorted(said) for english, said in spanish.items() if len(said) > 1}
    assert (stale, empty, twice) == ([], [], {})


def test_translations_keep_what_a_user_types():
    """Option names, command lines in backticks, environment variables, file names and Typer's `{}` are kept
    exactly in the Spanish (a translated `--pain` or `diary correct` would send the reader to nothing)."""
    kept = re.compile(r"--[a-z][-a-z]*|`[^`]+`|\bTELECBT_[A-Z_]+\b|\b[\w-]+\.(?:toml|db|md|xml|zip|ics)\b|\{\}")
    lost = []
    for name, entries in _spanish_files().items():
        for entry in entries:
            english, said = help_i18n.normal(entry["en"]), help_i18n.normal(entry["es"])
            lost += [f"{name}: {token} ({english})" for token in kept.findall(english) if token not in said]
    assert not lost, "\n".join(lost)


def _page(*args: str) -> str:
    result = invoke(*args, env=WIDE)
    assert result.exit_code in (0, 2), (args, result.exit_code, result.stderr)
    return result.stdout


def _english_words_on(page: str, command) -> set[str]:
    """The English-only words of a Spanish help page; the names of its subcommands (typed as they are) left out."""
    names = "|".join(re.escape(name) for name in getattr(command, "commands", {})) or "(?!)"
    spoken = re.sub(rf"^│ (?:{names})\s", "│ ", NOT_WORDS.sub(" ", page), flags=re.M)
    return words_of([spoken]) & english_only() - NAMES


def test_every_help_page_reads_in_spanish(lang):
    """`-h` on every command and group, and the pages a group called with nothing shows (`telecbt`, `telecbt
    diary`), drawn for a Spanish reader: no English-only word on any of them."""
    lang("es")
    found = {}
    for node in _styled():
        page = _page(*node.path, "-h")
        assert "Uso: telecbt" in page, (node.name, page)
        if words := _english_words_on(page, node.command) - PARTLY.get(node.name, set()):
            found[node.name or "telecbt"] = sorted(words)
    for path in [(), ("diary",), ("patient", "pin")]:
        node = next(n for n in _styled() if n.path == path)
        page = _page(*path)
        assert "Comandos" in page, (path, page)
        if words := _english_words_on(page, node.command):
            found[" ".join(path) + " (no arguments)"] = sorted(words)
    assert not found, found


def test_a_spanish_page_says_each_part_in_spanish(lang):
    """What a Spanish reader sees on `diary add -h`: the usage line as usage errors say it, the command's and options'
    help, Typer's words, the type names; and the root lists the groups it has not loaded in Spanish too."""
    lang("es")
    page = _page("diary", "add", "-h")
    for spanish in ("Uso: telecbt diary add [OPCIONES]", "Anota una entrada del diario (solo --pain es obligatorio).",
                    "Argumentos", "Opciones", "[obligatorio]", "<entero>", "<texto>",
                    "Dolor ahora, de 0 a 10 (obligatorio).", "[variable de entorno: TELECBT_STORE]",
                    "Muestra esta ayuda y termina."):
        assert spanish in page, (spanish, page)
    for english in ("Usage:", "Add a diary entry", "Options", "[required]", "<int>", "Show this message"):
        assert english not in page, (english, page)
    assert "Uso: telecbt bundle outbox [OPCIONES] COMANDO [ARGUMENTOS]..." in _page("bundle", "outbox", "-h")
    assert "[predeterminado: admin]" in _page("init", "-h")
    code = ("import sys\nfrom telecbt_cli.cli import app\nsys.argv = ['telecbt', '--help']\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n")
    listing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**_clean_env(), "TELECBT_LANG": "es", **WIDE}, timeout=60)
    assert "Diario del dolor: anotar, corregir, listar, importar." in listing.stdout, listing.stdout + listing.stderr
    assert "Pain diary" not in listing.stdout


def test_english_pages_are_unchanged_after_a_spanish_one(lang):
    """An English reader's page is Typer's, word for word, before and after a Spanish page was drawn in the same
    process (the translations are put back: the command tree stays English)."""
    lang("en")
    before = _page("diary", "add", "-h")
    assert "Usage: telecbt diary add [OPTIONS]" in before and "Add a diary entry (only --pain is required)." in before
    assert {"Arguments", "Options", "[required]", "<int>", "Show this message and exit."} <= set(
        re.findall(r"Arguments|Options|\[required\]|<int>|Show this message and exit\.", before))
    assert help_i18n.translations.cache_info().currsize == 0  # no help file read for an English reader
    lang("es")
    assert "Anota una entrada" in _page("diary", "add", "-h")
    assert "Diario del dolor" in _page()
    lang("en")
    assert _page("diary", "add", "-h") == before
    assert "Pain diary: add, correct, list, import." in _page()


def test_a_text_with_no_translation_stays_english(lang, monkeypatch, tmp_path):
    """Help files that lack a text (or cannot be read) leave that text in English: never a key, never a crash."""
    folder = tmp_path / "help" / "es"
    folder.mkdir(parents=True)
    (folder / "typer.toml").write_text('[[help]]\nen = "Options"\nes = "Opciones"\n', encoding="utf-8")
    (folder / "broken.toml").write_text('[[help]]\nen = "Pain now', encoding="utf-8")
    monkeypatch.setattr(help_i18n, "HELP_DIR", tmp_path / "help")
    lang("es")
    page = _page("diary", "add", "-h")
    assert "Opciones" in page and "Pain now, 0-10 (required)." in page and "Usage: telecbt diary add" in page, page


def test_a_clinic_folder_may_say_a_help_text_its_own_way(lang, monkeypatch, tmp_path):
    """A content folder (TELECBT_CONTENT_PATH) with locales/help/es/*.toml: its translation wins over the built-in."""
    folder = tmp_path / "locales" / "help" / "es"
    folder.mkdir(parents=True)
    (folder / "clinic.toml").write_text('[[help]]\nen = "Pain now, 0-10 (required)."\n'
                                        'es = "Cuánto duele ahora, de 0 a 10 (obligatorio)."\n', encoding="utf-8")
    monkeypatch.setenv("TELECBT_CONTENT_PATH", str(tmp_path))
    lang("es")
    page = _page("diary", "add", "-h")
    assert "Cuánto duele ahora, de 0 a 10 (obligatorio)." in page and "Dolor ahora" not in page, page
    assert "Horas de sueño." in page  # the built-in translations still apply


def _clean_env() -> dict[str, str]:
    """This test's environment (its own TELECBT_HOME) without a clinic content folder."""
    return {k: v for k, v in os.environ.items() if k != "TELECBT_CONTENT_PATH"}


@pytest.mark.parametrize("language", ["en", "es"])
def test_help_starts_light_in_each_language(language):
    """`telecbt --help` imports no Textual in either language, and in English reads no help file (tomllib unloaded)."""
    code = ("import sys\nfrom telecbt_cli.cli import app\nsys.argv = ['telecbt', '--help']\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('textual', 'tomllib') if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**_clean_env(), "TELECBT_LANG": language}, timeout=60)
    loaded = done.stderr.strip().splitlines()[-1]
    assert loaded == ("[]" if language == "en" else "['tomllib']"), done.stderr
