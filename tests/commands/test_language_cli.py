"""Issue 17 point 4: one language at a time on the command line. Every command of the tree
(tests/command_tree.py) is either run here with TELECBT_LANG=es on a store with a week of care in it,
and its output must hold no English-only word, or listed in NOT_YET with the reason.

An English-only word is one of the English UI strings or of the commands' own string literals
(messages written in the code) that the Spanish UI strings never use. Allowed: codes, option
names, instrument and product names, and the test patient's own words."""

from __future__ import annotations

import ast
import json
import re
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest

from telecbt_cli.commands import i18n
from telecbt_cli.content.catalog import load_for_ui
from tests.command_tree import leaves
from tests.commands.clirun import invoke, invoke_json
from tests.conftest import ADMIN, ADMIN_PASS
from tests.core.sync.dovecot import HOST, PASSWORD, imap_server  # noqa: F401  (imap_server: a fixture)
from tests.core.sync.test_mailer import Sink, free_port, smtp  # noqa: F401  (smtp: a fixture)

COMMANDS = Path(__file__).parents[2] / "telecbt_cli" / "commands"
WORD = re.compile(r"[A-Za-zÁÉÍÓÚÜÑáéíóúüñ]{3,}")
#: A code listed with its word in the reader's language, as a user must type it (`phone (teléfono)`).
CODE_WORD = re.compile(r"\b[a-z][-a-z_]*(?= \([^()]+\)(?:, |\.|;|\n|$))")
#: Command lines, option names, placeholders, ids and file paths (`telecbt plan goal add`, `--patient`, `{code}`,
#: `diary.read`, `wind-down`, patient codes, short record ids, keys and fingerprints, `/tmp/store/telecbt.db`, environment variables (`TELECBT_SESSION`), and where in a content
#: file a finding is, `mine.toml: steps[0] (a).prompt:`) are not words.
CODE = re.compile(r"telecbt(?: [-a-z0-9{}]+)+|--[a-z][-a-z]*|{[^{}]*}|\S+\.toml: [^:\n]*:|\S*/\S*|\b[a-z_]+(?:\.[a-z_]+)+\b|\b[A-Z]+(?:_[A-Z]+)+\b"
                  r"|\b[a-z0-9]+(?:-[a-z0-9]+)+\b|\b[0-9A-Z]{4}-[0-9A-Z]{4}\b|\b[0-9a-f]{12}\b"
                  r"|[A-Za-z0-9+_=-]{20,}")  # keys and fingerprints (a random key may hold "Tue")
#: Codes, units, option values, instrument and product names, and the test clinic's people.
ALLOWED = {"telecbt", "phq", "peg", "gad", "usb", "eml", "https", "tel", "smtp", "imap", "utc", "json", "csv",
           "html", "fhir", "loinc", "cbt", "yyyy", "alice", "admin", "ana", "standard", "brief", "custom", "video",
           "verbal", "sha", "sqlcipher", "age", "zstd", "eat", "ndjson", "pin", "ok", "id",
           "kib", "mib", "gib", "wal",  # units, and the database's write-ahead log file (telecbt.db-wal)
           "intake",  # a module id
           "extra", "global",  # Spanish too
           "demo"}  # the demo user (and its synthetic patients' tag)

#: Commands run in Spanish: their words after `telecbt` ({code}, {session}... filled in by the fixture).
RUN = {
    "user list": [], "patient list": [], "patient show": ["{code}"], "diary list": ["{code}"],
    "plan show": ["{code}"], "plan homework list": ["{code}"], "session list": [], "message list": ["{code}"],
    "measure history": ["{code}"], "alerts list": ["--all"], "device list": [], "bundle status": [],
    "bundle conflicts": [], "bundle outbox list": [], "suggest": ["{code}"],
    "module list": [], "module show": ["cbt-09"], "measure list": [], "patient pin status": ["{code}"],
    "audit verify": [], "report patient": ["{code}", "--suggest"], "audit log": ["--limit", "200"],
    "paths": [], "settings": [], "store info": [], "content list": [], "content show": ["cbt-09"],
    "content validate": [], "report program": [], "device show": [],
}
#: Words a command run above may print in English because they are codes, with why (issue 17 point 4).
PARTLY = {
    # FHIR resource types named in the summary (Patient 1, Consent 1, Goal 1, ...) are FHIR codes, not UI words
    "export fhir": {"patient", "consent", "goal", "flag", "questionnaire", "observation", "appointment",
                    "communication", "condition", "encounter"},
}

#: The mail server `bundle outbox send` uses in the scenario below (ports filled in by the fixture).
SMTP = {"TELECBT_SMTP_HOST": "127.0.0.1", "TELECBT_SMTP_PORT": "{smtp_port}", "TELECBT_SMTP_SECURITY": "none",
        "TELECBT_SMTP_FROM": "clinic@example.org"}

#: Commands that write, run in this order with TELECBT_LANG=es on ONE fresh store (`test_the_writing_commands_speak_spanish`):
#: (command, its arguments from the scenario's state, the exit code expected[, a Spanish phrase it must print
#: [, environment]]). Each command is run once successfully and with its most common mistake. `{code}` is the
#: patient `patient add` enrolled; `{tmp}` is the scratch folder, `{bad}` a content folder with three mistakes;
#: a peer store (Nakuru) trusts this one and sent it `{from_peer}`.
WRITES = [
    ("patient add", ["--name", "Rosa", "--birth-year", "1850"], 2),  # a year out of range
    ("patient add", ["--name", "Rosa", "--sex", "mujer"], 2,
     "female (mujer), male (hombre), other (otro), unknown (no se sabe)."),
    ("patient add", ["--name", "Rosa", "--birth-year", "1968", "--sex", "female", "--language", "es"], 0),
    ("patient edit", ["{code}"], 2),  # nothing to change
    ("patient edit", ["{code}", "--phone", "+254 700 000000"], 0),
    ("patient consent", ["{code}", "--withdraw"], 2),  # no consent to withdraw yet
    ("patient consent", ["{code}", "--method", "firma", "--version", "v1"], 2,  # the codes to type, with their words
     "uno de: verbal, written (escrito), kiosk (quiosco)."),
    ("patient consent", ["{code}", "--method", "written", "--version", "v1"], 0),
    ("patient pin set", ["{code}", "--pin-file", "{pin_bad}"], 2),
    ("patient pin set", ["{code}", "--pin-file", "{pin}"], 0),
    ("patient pin unlock", ["7K3M-9Q4M"], 4),
    ("patient pin unlock", ["{code}"], 0),
    ("patient archive", ["{code}"], 2),  # no terminal to confirm on, no --yes
    ("diary add", ["{code}", "--pain", "12"], 2),
    ("diary add", ["{code}", "--pain", "4", "--locations", "espalda"], 2, "head (cabeza), neck (cuello)"),
    ("diary add", ["{code}", "--pain", "4", "--mood", "6"], 0),
    ("diary correct", ["{entry}", "--pain", "5"], 0),
    ("diary correct", ["{entry}", "--pain", "6"], 2),  # already corrected
    ("diary correct", ["abcdef12"], 4),
    ("diary import", ["{code}", "{missing}"], 2),
    ("diary import", ["{code}", "{blank}"], 2),  # an empty file
    ("diary import", ["{code}", "{mixed}"], 2, "están en dos órdenes"),
    ("diary import", ["{code}", "{ambiguous}"], 2, "así que no se sabe el orden. Dígalo con --date-format DD/MM/YYYY o"),
    ("diary import", ["{code}", "{wearable}", "--person", "X"], 2, "--person es solo para archivos"),
    ("diary import", ["{code}", "{pasos}", "--map", "nada=steps"], 2, "--map nombra una columna 'nada'"),
    ("diary import", ["{code}", "{wearable}", "--dry-run"], 0),
    ("diary import", ["{code}", "{wearable}"], 0),
    ("plan set", ["{code}", "--course", "todo"], 4),  # no such course
    ("plan set", ["{code}", "--course", "standard"], 0),
    ("plan goal add", ["{code}", " "], 2),
    ("plan goal add", ["{code}", "Caminar diez minutos"], 0),
    ("plan goal update", ["{goal}", "--progress", "150"], 2),
    ("plan goal update", ["{goal}", "--status", "hecha"], 2,
     "uno de: active (activa), achieved (lograda), revised (revisada), dropped (dejada)."),
    ("plan goal update", ["{goal}", "--progress", "50", "--status", "achieved"], 0),
    ("session schedule", ["{code}", "--at", "2020-01-05 10:00", "--mode", "phone"], 2),  # in the past
    ("session schedule", ["{code}", "--at", "2099-01-05 10:00", "--mode", "fax"], 2,
     "--mode debe ser uno de: video, phone (teléfono), in-person (en persona), kiosk (quiosco)."),
    ("session schedule", ["{code}", "--at", "2099-01-05 10:00", "--mode", "phone", "--module", "cbt-01"], 0),
    ("session reschedule", ["{session}", "--at", "2099-01-06 10:00", "--mode", "in-person"], 0),
    ("session ics", [], 2),
    ("session ics", ["{code}", "--out", "{calendar}"], 0),
    ("session record", ["{session}"], 2),  # no outcome given
    ("session record", ["{session}", "--attended", "--fidelity", "all", "--feedback", "4"], 0),
    ("session reschedule", ["{session}", "--at", "2099-01-08 10:00"], 2),  # recorded: not movable
    ("plan homework done", ["{homework}"], 0),
    ("plan homework done", ["{homework}"], 2),  # already done
    ("message send", ["{code}", "  "], 2),
    ("message send", ["{code}", "Hola, nos vemos el lunes"], 0),
    ("user add", ["vera", "--role", "viewer", "--new-passphrase-file", "{short}"], 2),
    ("user add", ["vera", "--role", "jefa", "--new-passphrase-file", "{vera}"], 2,
     "admin (administrador), clinician (clínico), chw (promotor), viewer (solo lectura)"),
    ("user add", ["vera", "--role", "viewer", "--new-passphrase-file", "{vera}"], 0),
    ("user passwd", ["nadie", "--new-passphrase-file", "{vera}"], 4),
    ("user passwd", ["vera", "--new-passphrase-file", "{vera2}"], 0),
    ("user disable", ["alice", "--yes"], 2),  # not yourself
    ("user disable", ["vera", "--yes"], 0),
    ("settings", ["--timezone", "Africa/Nairobi"], 0, "La zona horaria de este equipo ahora es Africa/Nairobi."),
    ("settings", ["--timezone", "Africa/Nairobbi"], 2, "no es el nombre de una zona horaria"),
    ("settings", ["--system-timezone"], 0, "(la del sistema, que se seguirá desde ahora)"),
    ("settings", ["--timezone", "Africa/Nairobi", "--system-timezone"], 2, "indique solo una de"),
    ("content show", ["no-such-thing"], 4, "no hay ningún módulo, curso ni cuestionario"),
    ("content validate", ["{bad}"], 1, "Se encontraron 3 problema(s)."),
    ("module run", ["{code}", "cbt-03", "--answers", "{tmp}/cbt03.json"], 0, "Usted terminó: Metas que sí funcionan."),
    ("module run", ["{code}", "cbt-03"], 2, "no hay una terminal para hacer las preguntas"),
    ("module run", ["{code}", "cbt-03", "--answers", "{tmp}/phq9-safe.json"], 2, "pasos desconocidos phq9_1"),
    ("module run", ["{code}", "cbt-99", "--answers", "{tmp}/cbt03.json"], 4, "no hay ningún módulo llamado 'cbt-99'"),
    ("measure take", ["{code}", "phq9", "--answers", "{tmp}/phq9-safe.json"], 0, "Puntaje"),
    ("measure take", ["{code}", "phq9", "--answers", "{tmp}/phq9-wrong.json"], 2, "paso phq9_1: Por favor dé un número del 0 al 3."),
    ("measure take", ["{code}", "phq9", "--answers", "{tmp}/missing.json"], 2, "no existe"),
    ("measure take", ["{code}", "pcs", "--answers", "{tmp}/phq9-safe.json"], 4, "es un cuestionario con licencia"),
    ("measure take", ["{code}", "phq9", "--answers", "{tmp}/phq9-risk.json"], 0,
     "Se abrió una alerta de seguridad para el equipo de salud."),
    ("assess", ["{code}", "--answers", "{tmp}/intake.json"], 0, "Usted terminó: Primera visita"),
    ("assess", ["{code}", "--answers", "{tmp}/phq9-safe.json"], 2, "las respuestas no corresponden a intake"),
    ("alerts ack", ["{alert}", "--note", "Llamé a la paciente, está a salvo"], 0, "atendida."),
    ("alerts ack", ["{alert}", "--note", "otra vez"], 2, "esa alerta ya fue revisada"),
    ("alerts ack", ["abcdef123456", "--note", "nota"], 4, "no se encontró abcdef123456 (alerta de seguridad)"),
    ("alerts ack", ["{alert}", "--note", " "], 2, "diga en pocas palabras qué se hizo"),
    # devices and bundles: a peer store (Nakuru) has trusted this one and sent it {from_peer}
    ("device trust", ["{card}", "--label", "Nakuru", "--role", "jefe", "--yes"], 2, "hub (central), field (de campo)"),
    ("device trust", ["{card}", "--label", "Nakuru", "--role", "hub", "--yes"], 0, "Ahora se confía en Nakuru (central)."),
    ("device trust", ["telecbt-device:v1:nada", "--label", "X", "--yes"], 2, "eso no es una tarjeta de equipo"),
    ("device trust", ["{card}", "--label", "Nakuru"], 2, "Agregue --yes para confirmar sin una terminal."),
    ("device export-identity", ["--out", "{tmp}/clinic.agekey", "--yes"], 0, "Se escribió"),
    ("device export-identity", ["--out", "{tmp}/clinic.agekey", "--yes"], 2, "ya existe"),
    ("bundle export", ["--to", "Nakuru", "--out", "{tmp}/to-kisumu.tcb"], 0, "Se escribió"),
    ("bundle export", ["--to", "Nakuru"], 2, "dé un solo destino"),
    ("bundle export", ["--to", "Nadie", "--out", "{tmp}/x.tcb"], 4, "no hay ningún equipo de confianza 'Nadie'"),
    ("bundle export", ["--to", "Nakuru", "--eml", "{tmp}/eml", "--eml-to", "nakuru@example.org"], 0, "archivo(s) .eml"),
    ("bundle import", ["{from_peer}"], 0, "cambio(s)"),
    ("bundle import", ["{from_peer}"], 0, "ya recibido antes"),
    ("bundle import", ["{tmp}/to-kisumu.tcb"], 6, "omitido: no se puede descifrar el paquete"),
    ("bundle import", ["{tmp}/nothing-here"], 2, "no existe"),
    ("bundle import", ["{bad}"], 4, "no hay paquetes"),
    ("export csv", ["--out", "{tmp}/csv", "--plaintext"], 0, "Se escribieron"),
    ("export csv", ["--out", "{tmp}/csv", "--plaintext"], 2, "no está vacía"),
    ("export ndjson", ["--out", "{tmp}/ndjson", "--encrypt-to", "{recipient}"], 0, "(comprimidos con zstd, cifrados con age)"),
    ("export ndjson", ["--out", "{tmp}/ndjson2"], 2, "una exportación lleva datos de pacientes"),
    ("export fhir", ["--out", "{tmp}/fhir", "--plaintext"], 0, "Se escribieron"),
    ("export fhir", ["--plaintext"], 2, "dé --out CARPETA para escribir archivos, o --post URL"),
    # the email outbox, against mail servers on 127.0.0.1 (one takes the email, one refuses it)
    ("bundle export", ["--to", "Nakuru", "--email", "nakuru@example.org"], 0, "quedó en la bandeja de salida"),
    ("bundle outbox send", [], 2, "no hay ningún servidor de correo"),
    ("bundle outbox send", [], 1, "rechazó la conexión", {**SMTP, "TELECBT_SMTP_PORT": "{closed_port}"}),
    ("bundle outbox send", [], 0, "Se enviaron 1 de 1 correo(s) por", SMTP),
    ("bundle outbox send", [], 0, "No hay nada pendiente.", SMTP),
    ("bundle export", ["--to", "Nakuru", "--email", "nakuru@example.org"], 0, "quedó en la bandeja de salida"),
    ("bundle outbox send", [], 0, "1 rechazado(s) o interrumpido(s): se intentará otra vez más tarde",
     {**SMTP, "TELECBT_SMTP_PORT": "{refusing_port}"}),
    ("bundle outbox retry", [], 0, "No hay correos fallidos para reintentar."),
    ("bundle outbox retry", ["{email}"], 0, "Se pusieron otra vez en cola 1 correo(s)"),
    ("bundle outbox retry", ["abcdef123456"], 4, "no se encontró abcdef123456 (correo de la bandeja de salida)"),
    ("device revoke", ["Nakuru", "--yes"], 0, "Nakuru revocado."),
    ("device revoke", ["Nadie", "--yes"], 4, "no hay ningún equipo de confianza"),
    ("bundle import", ["{from_peer}"], 6, "que fue revocado"),
    ("audit log", ["--limit", "500"], 0, "alerta: "),  # the details of all the above
    # the terminal UIs: only what they say before a screen opens (the screens: tests/tui/test_language.py)
    ("tui", [], 2, "la interfaz de pantalla necesita una terminal"),
    ("tui", ["--idle", "5"], 2, "--idle debe ir de 60 a 28800 segundos; se escribió 5"),
    ("kiosk", [], 2, "la interfaz de pantalla necesita una terminal"),
    ("kiosk", ["--idle", "5"], 2, "--idle debe ir de 10 a 3600 segundos; se escribió 5"),
    ("kiosk", ["--store", "{tmp}/no-hay"], 4, "no hay ningún almacén de telecbt en"),
    ("init", ["--store", "{store2}", "--admin", "bea"], 0),
    ("init", ["--store", "{store2}", "--admin", "bea"], 1),  # a store is there already
    ("unlock", ["--ttl", "9y"], 2),
    ("unlock", ["--ttl", "1h"], 0),
    ("lock", [], 0),
    ("demo", ["--patients", "3", "--no-tui"], 0),
    ("store check", ["--accept-rollback"], 2),  # no terminal to confirm on, no --yes
    ("store check", [], 0),
    ("store rekey", [], 2),
    ("store rekey", ["--yes"], 0),
    ("store backup", ["-"], 2),
    ("store backup", ["{backup}"], 0),
    ("store recover", ["--store", "{store}", "--user", "alice", "--recovery-key-file", "{rk}",
                       "--new-passphrase-file", "{vera}"], 3),  # the other store's key
    ("store recover", ["--store", "{store2}", "--user", "bea", "--recovery-key-file", "{rk}",
                       "--new-passphrase-file", "{vera}"], 0),
    ("store passwd", ["--new-passphrase-file", "{short}"], 2),
    ("store passwd", ["--new-passphrase-file", "{admin2}"], 0),  # alice's passphrase is admin2's from here on
    ("patient archive", ["{code}", "--yes"], 0),  # last: everything above needs the patient active
]
#: Commands whose standard output is data, not words: the recovery key, the session token.
DATA_OUT = {"init", "unlock"}
#: After these commands succeed, the short record id they print is kept under this name.
CAPTURE = {"plan goal add": "goal", "session schedule": "session"}

#: Still to do (issue 17 point 4): commands that print English today. Empty: every command is run in
#: Spanish above or below; a new command must join a scenario (or be listed here with why).
NOT_YET: set[str] = set()


def _words(texts) -> set[str]:
    return {w.lower() for text in texts for w in WORD.findall(CODE_WORD.sub(" ", CODE.sub(" ", text)))}


def _literals() -> list[str]:
    """Every string written in the commands' code (messages, headings, help)."""
    found = []
    for path in COMMANDS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return found


@cache
def _english_only() -> frozenset[str]:
    locales = load_for_ui([]).locales
    return frozenset(_words([*locales["en"].values(), *_literals()]) - _words(locales["es"].values()) - ALLOWED)


def _in(lang: str, *args: str):
    """One command run in-process for a reader of `lang` (TELECBT_LANG), the strings read afresh."""
    i18n.reset()
    try:
        return invoke(*args, env={"TELECBT_LANG": lang})
    finally:
        i18n.reset()


#: The detector, for the other language tests (tests/commands/test_usage_language.py).
english_only, words_of = _english_only, _words


def _fill_week(pass_file: Path) -> dict:
    """A patient with consent, a diary entry, a plan with a goal and homework, a recorded session, a message."""
    pw = ("--passphrase-file", str(pass_file))
    code = invoke_json("patient", "add", "--name", "Ana", "--language", "es", *pw)["code"]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", *pw).exit_code == 0
    assert invoke("diary", "add", code, "--pain", "4", "--mood", "6", *pw).exit_code == 0
    for back in range(1, 6):  # five short nights: `suggest` has a reason to give
        at = f"{date.today() - timedelta(days=back)} 08:00"
        assert invoke("diary", "add", code, "--pain", "5", "--sleep-hours", "4.5", "--at", at, *pw).exit_code == 0
    assert invoke("plan", "set", code, "--course", "standard", *pw).exit_code == 0
    assert invoke("plan", "goal", "add", code, "Caminar diez minutos", *pw).exit_code == 0
    session = invoke_json("session", "schedule", code, "--at", "2099-01-05 10:00", "--mode", "phone", *pw)["id"]
    assert invoke("message", "send", code, "Hola", *pw).exit_code == 0
    return {"code": code, "session": session, "pw": pw}


@pytest.fixture
def week(cli_store, pass_file, monkeypatch) -> dict:
    """The week on a store of this test's own (for tests that write to it)."""
    monkeypatch.setenv("TELECBT_PASSPHRASE_FILE", str(pass_file))
    return _fill_week(pass_file)


@pytest.fixture(scope="module")
def _module_week(tmp_path_factory) -> dict:
    """One week's store for the tests of this file that only read it (built once: it costs a dozen commands)."""
    root = tmp_path_factory.mktemp("week")
    with pytest.MonkeyPatch.context() as env:  # what the function-scoped `isolated_home` gives a test
        env.setenv("TELECBT_HOME", str(root / "home"))
        env.setenv("TELECBT_KDF_LOG2N", "10")
        env.setenv("NO_COLOR", "1")
        env.delenv("TELECBT_LANG", raising=False)
        pass_file = root / "admin.pass"
        pass_file.write_text(ADMIN_PASS + "\n")
        store = root / "cli-store"
        assert invoke("init", "--store", str(store), "--admin", ADMIN, *("--passphrase-file", str(pass_file))).exit_code == 0
        env.setenv("TELECBT_STORE", str(store))
        return {**_fill_week(pass_file), "store": store, "pass_file": pass_file}


@pytest.fixture
def read_week(_module_week, monkeypatch) -> dict:
    """The shared week's store, chosen for this test: only for tests that do not change it."""
    monkeypatch.setenv("TELECBT_STORE", str(_module_week["store"]))
    monkeypatch.setenv("TELECBT_PASSPHRASE_FILE", str(_module_week["pass_file"]))
    return _module_week


def test_every_command_is_run_in_spanish_or_listed_as_not_yet():
    names = {c.name for c in leaves()}
    written = ({name for name, _, code, *_ in WRITES if code == 0}
               | {"bundle fetch"}  # test_bundle_fetch_speaks_spanish
               | {"tui", "kiosk"})  # WRITES: only what they say before a screen opens (screens: tests/tui/test_language.py)
    assert set(RUN) | written | NOT_YET == names, "run a new command in Spanish here, or list it in NOT_YET with why"
    assert not (set(RUN) | written) & NOT_YET


def test_no_english_word_in_any_spanish_output(read_week, monkeypatch):
    english = _english_only()
    assert {"patient", "homework", "status", "goals", "nothing"} <= english  # the detector sees UI words
    monkeypatch.setenv("TELECBT_LANG", "es")
    monkeypatch.setenv("COLUMNS", "200")
    i18n.reset()
    try:
        found = {}
        options = {c.name: c.options() for c in leaves()}
        for name, args in RUN.items():
            pw = read_week["pw"] if "--passphrase-file" in options[name] else ()
            result = invoke(*name.split(), *[a.format(**read_week) for a in args], *pw)
            assert result.exit_code == 0, (name, result.stderr)
            words = sorted(_words([result.stdout, result.stderr]) & english - PARTLY.get(name, set()))
            if words:
                found[name] = words
        assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
    finally:
        i18n.reset()


def test_the_english_output_is_caught_by_the_same_check(read_week):
    """The detector works: the same listings in English are full of English-only words."""
    i18n.reset()
    shown = invoke("plan", "show", read_week["code"], *read_week["pw"]).stdout
    assert {"goals", "homework", "status"} <= _words([shown]) & _english_only()


def test_the_errors_a_chw_meets_read_in_spanish(week, monkeypatch, tmp_path):
    """The most common core errors (wrong code, no such patient, no consent, a role that may not,
    a number out of range) come in the reader's language, with the same exit codes."""
    pw = week["pw"]
    viewer = tmp_path / "viewer.pass"
    viewer.write_text("viewer passphrase 1\n")
    assert invoke("user", "add", "vera", "--role", "viewer", "--new-passphrase-file", str(viewer), *pw).exit_code == 0
    unconsented = invoke_json("patient", "add", "--name", "Ana", *pw)["code"]
    monkeypatch.setenv("TELECBT_LANG", "es")
    i18n.reset()
    try:
        cases = [
            (("patient", "show", "7K3M-9Q4X", *pw), 2, "no es un código de paciente válido"),
            (("patient", "show", "7K3M-9Q4M", *pw), 4, "No hay ningún paciente con el código 7K3M-9Q4M"),
            (("diary", "add", unconsented, "--pain", "3", *pw), 5, "no tiene un consentimiento activo"),
            (("diary", "add", week["code"], "--pain", "12", *pw), 2, "dolor: debe ir de 0 a 10; se escribió 12"),
            (("diary", "add", week["code"], "--pain", "3", "--user", "vera", "--passphrase-file", str(viewer)), 5,
             "Para cambiar los registros se necesita el rol administrador, clínico o promotor; "
             "vera entró con el rol solo lectura."),
        ]
        english = _english_only()
        for args, code, spanish in cases:
            result = invoke(*args)
            assert (result.exit_code, spanish in result.stderr) == (code, True), (args, result.exit_code, result.stderr)
            assert not _words([result.stderr]) & english, (args, _words([result.stderr]) & english)
    finally:
        i18n.reset()


ANSWERS = {
    "cbt03": {"goal": {"specific": "caminar", "measurable": "tres veces", "achievable": "sí", "relevant": "familia",
                       "time_bound": "mayo"}, "confidence": 8},
    "phq9-safe": {f"phq9_{n}": 1 for n in range(1, 9)} | {"phq9_9": 0},
    "phq9-wrong": {f"phq9_{n}": 7 for n in range(1, 10)},
    "phq9-risk": {f"phq9_{n}": 1 for n in range(1, 10)},
    "intake": {"pain-type": "mixed", "locations": ["lower_back"], "duration": "y1_5", "intensity": 6, "stressors": [],
               "coping": [], "self-harm": "no", "functional-goals": "caminar", "tech-access": ["phone_basic"],
               "readiness": 7, "suitable": "yes", "red-flags": []},
}



@pytest.fixture
def scene(cli_store, pass_file, tmp_path, smtp, monkeypatch) -> dict:  # noqa: F811
    """The WRITES scenario's files on a fresh store: PIN and passphrase files, a wearable's CSV, a content
    folder with a module that has three mistakes, answer files, a peer store (Nakuru) that trusts this one
    and sent it a bundle, and mail servers on 127.0.0.1 (one takes email, one refuses it)."""
    monkeypatch.setenv("TELECBT_PASSPHRASE_FILE", str(pass_file))
    pw = ("--passphrase-file", str(pass_file))
    state = {"pw": pw, "tmp": tmp_path, "pin": tmp_path / "pin.txt", "pin_bad": tmp_path / "pin-bad.txt",
             "wearable": tmp_path / "steps.csv", "missing": tmp_path / "no-such-file.csv",
             "blank": tmp_path / "blank.csv", "calendar": tmp_path / "citas.ics",
             "store": cli_store, "store2": tmp_path / "segunda", "backup": tmp_path / "copia"}
    state["pin"].write_text("4821\n")
    state["pin_bad"].write_text("48\n")
    state["wearable"].write_text("date,steps,sleep_hours\n2026-11-01,4000,7\n2026-11-02,5200,6.5\n", encoding="utf-8")
    state["blank"].write_text("\n")
    for name, rows in (("mixed", "date,pain\n13/04/2026,3\n04/13/2026,4\n"), ("pasos", "fecha,pasos\n2026-11-01,4000\n"),
                       ("ambiguous", "date,pain\n01/02/2026,3\n02/03/2026,4\n")):
        state[name] = tmp_path / f"{name}.csv"
        state[name].write_text(rows, encoding="utf-8")
    for name, secret in (("short", "corta"), ("vera", "viewer passphrase 1"), ("vera2", "viewer passphrase 2"),
                         ("admin2", "admin passphrase 2"), ("rk", "")):
        state[name] = tmp_path / f"{name}.pass"
        state[name].write_text(secret + "\n")
    bad = state["bad"] = tmp_path / "bad-content"
    (bad / "modules").mkdir(parents=True)
    (bad / "modules" / "mine.toml").write_text(
        'id = "mine"\nversion = "1.0.0"\nkind = "module"\ntitle = { en = "Mine", es = "Mío" }\n'
        'summary = { en = "S", es = "R" }\nphase = "skills"\nminutes = 10\ncolour = "blue"\n'
        'goals = [{ en = "G", es = "" }]\n'
        'homework = [{ id = "h", text = { en = "H", es = "T" } }]\nfidelity = [{ id = "f", text = { en = "F", es = "F" } }]\n'
        '[[steps]]\nid = "a"\nkind = "scale"\nmin = 0\nmax = 10\n', encoding="utf-8")
    for name, answers in ANSWERS.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(answers), encoding="utf-8")
    peer = ("--store", str(tmp_path / "peer"), *pw)
    assert invoke("init", "--admin", "alice", *peer).exit_code == 0
    ours = invoke_json("device", "show", *pw)
    assert invoke("device", "trust", ours["card"], "--label", "clinic", "--yes", *peer).exit_code == 0
    assert invoke("bundle", "export", "--to", "clinic", "--out", str(tmp_path / "from-peer.tcb"), *peer).exit_code == 0
    _, smtp_port = smtp()
    _, refusing_port = smtp(Sink(reply="550 5.1.1 no such mailbox"))
    return {**state, "card": invoke("device", "show", "--card", *peer).stdout.strip(),
            "from_peer": tmp_path / "from-peer.tcb", "recipient": ours["recipient"], "smtp_port": smtp_port,
            "refusing_port": refusing_port, "closed_port": free_port()}


def _keep(state: dict, name: str, result, shown: str) -> None:
    """What a later row of WRITES needs from a command that just succeeded (a code, an id, a key, a token)."""
    pw = state["pw"]
    if name == "init":  # the recovery key, in groups on standard output
        state["rk"].write_text("-".join(result.stdout.split()) + "\n")
    if name == "unlock":
        state["token"] = result.stdout.strip()
    if name == "store passwd":
        Path(pw[1]).write_text(state["admin2"].read_text())
    if name == "patient add":
        state["code"] = re.search(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b", shown).group()
    if name in CAPTURE:
        state[CAPTURE[name]] = re.search(r"\b[0-9a-f]{12}\b", shown).group()
    if name == "session record":
        state["homework"] = invoke_json("plan", "homework", "list", state["code"], *pw)[0]["id"]
    if name == "diary add":
        state["entry"] = invoke_json("diary", "list", state["code"], *pw)[-1]["id"]


def test_the_writing_commands_speak_spanish(scene, monkeypatch):
    """Issue 17 point 4: each writing command of WRITES, run in order on one fresh store in Spanish, succeeds
    or fails as expected, says what it must, and prints no English-only word (success line, warning, error)."""
    english = _english_only()
    state = scene
    monkeypatch.setenv("TELECBT_LANG", "es")
    options = {c.name: c.options() for c in leaves()}
    i18n.reset()
    try:
        found = {}
        for name, args, code, *rest in WRITES:
            spanish, env = (rest + [None, None])[:2]
            pw = state["pw"] if "--passphrase-file" in options[name] else ()
            if any("{alert}" in a for a in args):  # the alert the risky PHQ-9 above opened
                state["alert"] = invoke_json("alerts", "list", "--all", *pw)[-1]["id"][-12:]
            if any("{email}" in a for a in args):  # the email the server above refused
                state["email"] = next(r["id"] for r in invoke_json("bundle", "outbox", "list", *pw) if r["attempts"])
            result = invoke(*name.split(), *[str(a).format(**state) for a in args], *pw,
                            env={k: v.format(**state) for k, v in env.items()} if env else None)
            said = result.stdout + result.stderr
            assert result.exit_code == code, (name, args, result.exit_code, said)
            assert spanish is None or spanish in said, (name, args, spanish, said)
            shown = ("" if name in DATA_OUT else result.stdout) + result.stderr
            assert shown.strip(), (name, args)  # every run says something
            if code == 0:
                _keep(state, name, result, shown)
            # the test's folders (a path's file name is a code) and the file's column names (`pasos <- steps`) are not UI words
            words = sorted(_words([re.sub(r"<- \w+|(?<!\w)/[^\s;()]*/", " ", shown)]) & english - PARTLY.get(name, set()))
            if words:
                found[f"{name} {' '.join(map(str, args))}"] = words
        assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
        ended = invoke("patient", "list", env={"TELECBT_SESSION": state["token"]})  # after `lock`
        assert (ended.exit_code, ended.stderr) == (3, "Error: Esta sesión terminó (telecbt lock) o es de otro equipo: "
                                                      "ejecute `telecbt unlock` otra vez.\n")
    finally:
        i18n.reset()


@pytest.mark.slow
def test_a_questionnaire_taken_at_a_terminal_speaks_spanish(week, monkeypatch):
    """Issue 17 point 4: `measure take` asked at a real terminal (pty) in Spanish: the questions, the
    prompts and the score hold no English-only word."""
    import os
    import pty

    from tests.conftest import read_until, telecbt_cmd

    monkeypatch.setenv("TELECBT_LANG", "es")
    monkeypatch.setenv("COLUMNS", "200")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "measure", "take", week["code"], "phq9", *week["pw"]], os.environ)
    out = read_until(fd, b"(0-3):")
    assert b"(0-3):" in out, out.decode(errors="replace")[-600:]
    os.write(fd, "".join(line + "\r" for line in ["1"] * 8 + ["0", ""]).encode())
    out += read_until(fd, b"Puntaje", timeout=30)
    out += read_until(fd, b"\x00", timeout=3)
    os.waitpid(pid, 0)
    os.close(fd)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))
    assert "Puntaje" in shown and "Leve" in shown, shown[-600:]
    assert not _words([shown]) & _english_only(), sorted(_words([shown]) & _english_only())


def test_suggest_writes_its_figures_with_the_readers_decimal_mark(read_week, monkeypatch):
    """Issue 17 point 6: the nights of 4.5 hours behind a suggestion read "4,5" in Spanish (and the days
    are parted by ";" there, since "," is the decimal mark), "4.5" in English."""
    monkeypatch.setenv("COLUMNS", "200")
    shown = {}
    for lang in ("en", "es"):
        monkeypatch.setenv("TELECBT_LANG", lang)
        i18n.reset()
        try:
            for command in (("suggest", read_week["code"], "--lang", lang), ("report", "patient", read_week["code"], "--suggest", "--lang", lang)):
                result = invoke(*command, *read_week["pw"])
                assert result.exit_code == 0, result.stderr
                shown[lang, command[0]] = result.stdout
        finally:
            i18n.reset()
    for command in ("suggest", "report"):
        assert re.search(r"\d\d-\d\d 4\.5, \d\d-\d\d 4\.5", shown["en", command]), shown["en", command]
        assert re.search(r"\d\d-\d\d 4,5; \d\d-\d\d 4,5", shown["es", command]), shown["es", command]
        assert "4.5" not in shown["es", command]


def test_audit_details_read_in_the_readers_language(monkeypatch):
    """Issue 17 point 5: an audit entry's detail names its fields and says yes/no/none in the reader's
    language; without a translation (CSV) and in English it reads as before."""
    from datetime import timezone

    from telecbt_cli.core.store.audit import describe

    detail = {"expires": 1764590400, "rebuilt_keyfile": False, "files": [], "role": "clinician", "count": 3,
              "bundle": "b-17"}
    english = "expires: 2025-12-01 12:00:00 UTC; rebuilt keyfile: no; files: none; role: clinician; count: 3; bundle: b-17"
    assert describe(detail, timezone.utc) == english
    try:
        for lang, expected in (("en", english), ("es", "vence: 2025-12-01 12:00:00 UTC; archivo de claves rehecho: no; "
                                                      "archivos: ninguno; rol: clínico; cantidad: 3; paquete: b-17")):
            monkeypatch.setenv("TELECBT_LANG", lang)
            i18n.reset()
            assert describe(detail, timezone.utc, i18n.value) == expected
    finally:
        i18n.reset()


def test_the_quick_start_of_the_terminal_uis_speaks_spanish(tmp_path):
    """Issue 17 point 4: `telecbt tui` and `telecbt kiosk` start without the Typer layer (tui/launch.py);
    their refusals there come in the reader's language too, with the same exit codes."""
    from tests.conftest import run_telecbt

    spanish = {"TELECBT_LANG": "es", "TELECBT_STORE": str(tmp_path / "nowhere")}
    english = _english_only()
    for command, code, said in ((["tui"], 2, "la interfaz de pantalla necesita una terminal"),
                                (["kiosk", "--passphrase-file", str(tmp_path / "none.pass")], 4,
                                 "no hay ningún almacén de telecbt en")):
        done = run_telecbt(*command, env=spanish)
        assert (done.returncode, said in done.stderr) == (code, True), (command, done.returncode, done.stderr)
        assert not _words([done.stderr]) & english, sorted(_words([done.stderr]) & english)


@pytest.mark.slow
def test_bundle_fetch_speaks_spanish(week, tmp_path, imap_server, monkeypatch):  # noqa: F811
    """Issue 17 point 4: `bundle fetch` against a real IMAP server (dovecot on 127.0.0.1), in Spanish: a
    message with a bundle is imported and moved, one without is left alone, and a missing server is refused."""
    from email.message import EmailMessage

    peer = ("--store", str(tmp_path / "peer"), *week["pw"])
    assert invoke("init", "--admin", "alice", *peer).exit_code == 0
    ours = invoke_json("device", "show", *week["pw"])
    assert invoke("device", "trust", ours["card"], "--label", "clinic", "--yes", *peer).exit_code == 0
    made = invoke("bundle", "export", "--to", "clinic", "--eml", str(tmp_path / "eml"), "--eml-to", "c@example.org", *peer)
    assert made.exit_code == 0, made.stderr
    card = invoke("device", "show", "--card", *peer).stdout.strip()
    assert invoke("device", "trust", card, "--label", "Nakuru", "--yes", *week["pw"]).exit_code == 0
    note = EmailMessage()
    note["From"], note["To"], note["Subject"] = "enfermera@example.org", "c@example.org", "Reunión"
    note.set_content("Nos vemos a las nueve.")
    user = imap_server.new_user()
    imap_server.deliver(user, PASSWORD, bytes(note), *[p.read_bytes() for p in sorted((tmp_path / "eml").iterdir())])
    secret = tmp_path / "imap.pass"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(imap_server.cert))
    monkeypatch.setenv("TELECBT_IMAP_USER", user)
    monkeypatch.setenv("TELECBT_LANG", "es")
    i18n.reset()
    fetch = ("bundle", "fetch", "--password-file", str(secret), "--security", "starttls",
             "--port", str(imap_server.plain_port), *week["pw"])
    try:
        refused = invoke(*fetch)
        assert (refused.exit_code, "no hay ningún servidor de buzón" in refused.stderr) == (2, True), refused.stderr
        monkeypatch.setenv("TELECBT_IMAP_HOST", HOST)
        done = invoke(*fetch)
        assert done.exit_code == 0, done.stderr
        assert "(Reunión): no trae un paquete de telecbt: se deja en el buzón." in done.stderr, done.stderr
        assert "importado, movido a telecbt-imported" in done.stderr and "cambio(s)" in done.stderr, done.stderr
        for said in (refused.stderr, done.stderr):
            assert not _words([said]) & _english_only(), sorted(_words([said]) & _english_only())
    finally:
        i18n.reset()


@pytest.mark.slow
def test_a_confirmation_at_a_terminal_asks_and_answers_in_spanish(week, tmp_path, monkeypatch):
    """Issue 17 point 4: the question before something hard to undo (here `device revoke`), asked at a real
    terminal: "[s/N]", "s" for yes, and anything else changes nothing, all in Spanish."""
    import os
    import pty

    from tests.conftest import read_until, telecbt_cmd

    peer = ("--store", str(tmp_path / "peer"), *week["pw"])
    assert invoke("init", "--admin", "alice", *peer).exit_code == 0
    card = invoke("device", "show", "--card", *peer).stdout.strip()
    assert invoke("device", "trust", card, "--label", "Nakuru", "--yes", *week["pw"]).exit_code == 0
    monkeypatch.setenv("TELECBT_LANG", "es")

    def answer(typed: str) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(telecbt_cmd()[0], [*telecbt_cmd(), "device", "revoke", "Nakuru", *week["pw"]], os.environ)
        out = read_until(fd, b"[s/N]")
        os.write(fd, typed.encode() + b"\r")
        out += read_until(fd, b"\x00", timeout=5)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))

    code, shown = answer("n")
    assert (code, "¿Revocar Nakuru? Se rechazarán sus paquetes. [s/N]" in shown, "No se cambió nada." in shown) \
        == (1, True, True), shown
    code, said = answer("s")
    assert (code, "Nakuru revocado." in said) == (0, True), said
    assert not _words([shown, said]) & _english_only(), sorted(_words([shown, said]) & _english_only())


@pytest.mark.slow
def test_patient_add_asks_each_field_in_spanish(tmp_path, pass_file, monkeypatch):
    """Issue 17 point 4: `patient add`'s prompts in a real terminal, a refused value and the success line in Spanish."""
    from tests.commands.helpers import cli_store
    from tests.commands.test_validate_as_you_go import Terminal

    cli_store(tmp_path, pass_file, monkeypatch)
    monkeypatch.setenv("TELECBT_LANG", "es")
    term = Terminal("patient", "add")
    typed = [("Nombre o apodo:", "Rosa"), ("Año de nacimiento:", "sesenta"), ("Año de nacimiento:", "1968"),
             ("Sexo (", "female"), ("Idioma preferido", "es"), ("Teléfono:", ""), ("Correo:", ""),
             ("Nombre del cuidador:", ""), ("Contacto del cuidador:", ""), ("Notas:", ""),
             ("Zona horaria (Intro:", "nairobi"), ("Zona horaria (Intro:", "Africa/Nairobi")]
    for prompt, line in typed:  # a refused year and zone are asked for again
        term.answer(prompt, line)
    shown = term.close()
    assert "debe ser un número, como 1968. Por favor, escríbalo otra vez." in shown
    assert "¿Quiso decir Africa/Nairobi?" in shown
    assert "inscrito" in shown
    words = _words([re.sub(r"Rosa|\b[A-Z][a-z]+/[A-Za-z_]+", " ", shown)])  # the name and zone typed are not UI words
    assert not words & _english_only(), words & _english_only()


@pytest.mark.slow
def test_session_record_asks_the_fidelity_checklist_in_spanish(tmp_path, pass_file, monkeypatch):
    """Issue 17 point 4: `session record --attended` in a real terminal asks each checklist item in the reader's
    language, takes s for sí, and says what it saved in Spanish."""
    from tests.commands.helpers import cli_store, enrol
    from tests.commands.test_validate_as_you_go import Terminal

    cli_store(tmp_path, pass_file, monkeypatch)
    code = enrol("es")
    session = invoke_json("session", "schedule", code, "--at", "2099-01-05 10:00", "--mode", "phone",
                          "--module", "cbt-01")["id"]
    monkeypatch.setenv("TELECBT_LANG", "es")
    term = Terminal("session", "record", session, "--attended")
    term.answer("Acordó con el paciente los temas de la sesión. [s/n]", "s")
    term.answer("Explicó el programa", "n")
    for _ in range(6):
        term.answer("[s/n]", "s")
    shown = term.close()
    assert "Lista de fidelidad: responda s (sí) o n (no) a cada punto." in shown
    assert "registrada: asistió; fidelidad 7/8." in shown, shown[-400:]
    assert not _words([shown]) & _english_only(), _words([shown]) & _english_only()


@pytest.mark.slow
def test_passphrase_questions_and_confirmations_in_spanish(tmp_path, pass_file, monkeypatch):
    """Issue 17 point 4: `init`'s passphrase questions (a refused one asked again) and a confirmation
    answered "s" in a real terminal, all in Spanish."""
    from tests.commands.helpers import enrol
    from tests.commands.test_validate_as_you_go import Terminal

    monkeypatch.setenv("TELECBT_LANG", "es")
    store = tmp_path / "store"
    term = Terminal("init", "--store", str(store), "--admin", "bea")
    term.answer("Elija una frase de acceso para bea:", "corta")
    term.answer("Elija una frase de acceso para bea:", "una frase larga de prueba 42")
    term.answer("Repítala:", "una frase larga de prueba 42")
    shown = term.close()
    assert "La frase de acceso necesita al menos 8 caracteres. Por favor, elija otra." in shown
    assert "CLAVE DE RECUPERACIÓN" in shown and (store / "telecbt.db").exists()
    spoken = re.sub(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4})+\b|(?<!\w)/[^\s;()]+", " ", shown)  # the key, the folder
    assert not _words([spoken]) & _english_only(), _words([spoken]) & _english_only()

    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", "una frase larga de prueba 42")
    code = enrol("es")
    term = Terminal("patient", "archive", code)
    term.answer(f"¿Archivar al paciente {code}? Sus registros se guardan. [s/N]", "s")
    shown = term.close()
    assert f"Paciente {code} archivado." in shown
    assert json.loads(invoke("patient", "list", "--archived", "--json").stdout)[0]["status"] == "archived"
    term = Terminal("user", "disable", "bea")  # answered "n": nothing changes
    term.answer("¿Desactivar a bea (administrador)? Ya no podrá entrar. [s/N]", "n")
    assert "No se cambió nada." in term.close()


#: A diary CSV with each kind of row `diary import` skips or folds into another (issue 17 point 4, the import's reasons).
BAD_ROWS = "\n".join([
    "date,pain,mood,steps,sleep_hours,note",
    "13/04/2026,3,5,4000,7,bien",               # 2: decides the order: the day comes first
    "14/04/2026,x,5,,,",                        # 3: not a number
    "15/04/2026,3.5,,,,",                       # 4: not a whole number
    "16/04/2026,12,,,,",                        # 5: out of range
    "2026-13-01,3,,,,",                         # 6: not a month
    "31/02/2026,3,,,,",                         # 7: no such day
    "20/04/2099,3,,,,",                         # 8: in the future
    ",3,,,,",                                   # 9: no date
    "21/04/2026,3,5,4000,7,bien,de más",        # 10: a cell too many
    "22/04/2026 25:00,3,,,,",                   # 11: not a time of day
    "23/04/2026,,,,,",                          # 12: nothing for the diary
    "25/04/2026,3,,,,x" + "y" * 2001,           # 13: a note too long
    "13/04/2026,4,6,5000,6.5,otra",             # 14: the day of line 2 again
    "13/04/2026,3,5,5000,7,bien",               # 15: and again, nothing new
    '24/04/2026,x,,,,"uno',                     # 16-17: a row on two lines (a quoted note), with a bad value
    'dos"',
    '26/04/2026,3,,,,"sin cerrar',              # 18: a quote that is not closed
    "27/04/2026,3,,,,",
])


def test_diary_import_says_why_each_row_was_skipped_in_spanish(read_week, tmp_path):
    """Issue 17 point 4 (diary import's reasons): each kind of skipped or folded row, and how the dates were
    read, in Spanish with no English-only word; the same file in English reads as core writes it."""
    rows = tmp_path / "diario.csv"
    rows.write_text(BAD_ROWS + "\n", encoding="utf-8")
    command = ("diary", "import", read_week["code"], str(rows), "--dry-run", *read_week["pw"])
    shown = {}
    for lang in ("en", "es"):
        result = _in(lang, *command)
        assert result.exit_code == 0, result.stderr
        shown[lang] = result.stdout + result.stderr
    for english in ("day/month/year: '13/04/2026' on line 2 has the day first", "pain 'x' is not a number",
                    "pain '3.5' is not a whole number", "pain '12' is out of range (allowed 0 to 10)",
                    "date '2026-13-01' is not valid: 13 is not a month", "February 2026 has no day 31",
                    "date 20/04/2099 is in the future", "date is empty", "row has 7 cells but the header has 6",
                    "25:00 is not a time of day", "no diary values", "note is too long (2002 characters",
                    "same day as line 2 (2026-04-13): pain 4 is not used, the first value 3 is kept; mood 6",
                    "sleep hours 6.5 is not used, the larger 7 is kept; steps 5000 is used, the larger value",
                    "its note is not used, the first note is kept", "same day as line 2 (2026-04-13) with nothing new",
                    "(this row runs from line 16 to line 17: check for a quote (\") that is not closed)",
                    "a quote (\") opened in this row is never closed, so lines 18 to 19 could not be read"):
        assert english in shown["en"], (english, shown["en"])
    for spanish in ("día/mes/año: '13/04/2026' en la línea 2 tiene el día primero", "dolor 'x' no es un número",
                    "dolor '3.5' no es un número entero", "dolor '12' está fuera del rango (se permite de 0 a 10)",
                    "13 no es un mes", "febrero de 2026 no tiene día 31", "la fecha 20/04/2099 es en el futuro",
                    "la fecha está vacía", "la fila tiene 7 celdas pero el encabezado tiene 6",
                    "25:00 no es una hora del día", "no hay datos para el diario", "la nota es demasiado larga (2002",
                    "mismo día que la línea 2 (2026-04-13): no se usa dolor 4 (se queda el primer valor: 3); "
                    "no se usa ánimo 6", "no se usa horas de sueño 6,5 (se queda el mayor: 7); se usa pasos 5000, "
                    "el valor mayor", "no se usa su nota (se queda la primera nota)", "sin nada nuevo",
                    "(esta fila va de la línea 16 a la línea 17: busque unas comillas (\") que no se cierran)",
                    "unas comillas (\") abiertas en esta fila no se cierran, así que no se pudieron leer las líneas 18 a 19"):
        assert spanish in shown["es"], (spanish, shown["es"])
    words = _words([re.sub(r"<- \w+|(?<!\w)/[^\s;()]*/", " ", shown["es"])]) & _english_only()  # the file's column names
    assert not words, sorted(words)


def test_an_apple_health_import_says_why_in_spanish(read_week, tmp_path):
    """Issue 17 point 4 (diary import's reasons): the records an Apple Health export skips, its note on two
    sources and how its dates are read, in Spanish with no English-only word."""
    from tests.core.care.test_diary_import_apple import export, record, sleep, steps

    exercise = "HKQuantityTypeIdentifierAppleExerciseTime"
    body = (steps("Phone", "2024-03-01 08:00:00 +0000", 100) + steps("Watch", "2024-03-01 09:00:00 +0000", 200)
            + record("HKQuantityTypeIdentifierStepCount", "Phone", "2024-03-02 08:00:00 +0000",
                     "2024-03-02 08:00:00 +0000", "abc", "count")
            + record(exercise, "Watch", "2024-03-03 11:00:00 +0000", "2024-03-03 11:01:00 +0000", "60", "s")
            + steps("Phone", "2024-02-30 08:00:00 +0000", 10)
            + sleep("Watch", "2024-13-01 01:00:00 +0000", "2024-13-01 02:00:00 +0000")
            + sleep("Watch", "2024-03-05 09:00:00 +0000", "2024-03-05 01:00:00 +0000")
            + steps("Phone", "2099-03-21 08:00:00 +0000", 20)
            + steps("Phone", "2024-03-08 08:00:00 +0000", 60_000) + steps("Phone", "2024-03-08 09:00:00 +0000", 50_000))
    command = ("diary", "import", read_week["code"], str(export(tmp_path, body)), "--dry-run", *read_week["pw"])
    result = _in("es", *command)
    shown = result.stdout + result.stderr
    assert result.exit_code == 0, shown
    for spanish in ("año-mes-día, con la diferencia horaria de cada registro", "pasos 'abc' no es un número",
                    "registro de minutos activos en 's', no en 'min'",
                    "registro de pasos: la fecha de inicio '2024-02-30 08:00:00 +0000' no es una fecha",
                    "registro de sueño: '2024-13-01 01:00:00 +0000' a '2024-13-01 02:00:00 +0000' no son fechas",
                    "no es una noche posible", "la fecha 2099-03-21 es en el futuro",
                    "2024-03-08: pasos '110000' está fuera del rango (se permite de 0 a 100000), así que no se usaron",
                    "pasos vino de 2 fuentes"):
        assert spanish in shown, (spanish, shown)
    # the file's own record types (HKQuantityTypeIdentifier…) are Apple's names; what the columns came from is ours
    assert "la fecha de cada registro (sueño: el día en que termina)" in shown, shown
    spoken = re.sub(r"\bHK\w+|(?<!\w)/[^\s;()]*/", " ", shown)
    words = _words([spoken]) & _english_only()
    assert not words, (sorted(words), shown)


def test_sizes_use_the_readers_decimal_mark(read_week, tmp_path):
    """Issue 17 point 4 (sizes): the database's size in `store info` reads "1,5 MiB" in Spanish and "1.5 MiB" in
    English, like the other figures; so does the size of a diary file too big to import."""
    big = tmp_path / "grande.csv"
    with big.open("wb") as out:
        out.truncate(21 * 1024 * 1024 + 100_000)  # over the 20 MB limit, refused before it is read
    shown, refused = {}, {}
    for lang in ("en", "es"):
        result = _in(lang, "store", "info", *read_week["pw"])
        refused[lang] = _in(lang, "diary", "import", read_week["code"], str(big), *read_week["pw"])
        assert result.exit_code == 0, result.stderr
        shown[lang] = result.stdout
    assert (refused["en"].exit_code, "The file is 21.1 MB; the limit for a CSV file is 20 MB." in refused["en"].stderr) \
        == (2, True), refused["en"].stderr
    assert (refused["es"].exit_code, "El archivo tiene 21,1 MB; el límite para un archivo CSV es 20 MB." in
            refused["es"].stderr) == (2, True), refused["es"].stderr
    assert re.search(r"\b\d+\.\d (KiB|MiB)\b", shown["en"]), shown["en"]
    assert re.search(r"\b\d+,\d (KiB|MiB)\b", shown["es"]) and not re.search(r"\d\.\d (KiB|MiB)", shown["es"]), shown["es"]


def test_lists_of_codes_show_their_words_in_spanish(read_week):
    """Issue 17 point 4 (codes in errors): the modes a Spanish reader may type are listed as the codes the command
    takes, each with its Spanish word; in English the list reads as before."""
    command = ("session", "schedule", read_week["code"], "--at", "2099-01-05 10:00", "--mode", "fax", *read_week["pw"])
    said = {lang: _in(lang, *command) for lang in ("en", "es")}
    assert (said["en"].exit_code, said["en"].stderr) == (2, "Error: --mode must be one of video, phone, in-person, kiosk\n")
    assert (said["es"].exit_code, said["es"].stderr) == (
        2, "Error: --mode debe ser uno de: video, phone (teléfono), in-person (en persona), kiosk (quiosco).\n")


def test_every_audit_action_has_a_word_in_each_language():
    """Issue 17 point 4 (audit log): each action code core writes (`audit.append(…, "diary.add")`, and the ones
    built from a kind: module/instrument/assessment start and complete, export.csv/ndjson/fhir) has its word in
    English and Spanish, which `audit log` shows beside the code to a Spanish reader."""
    source = Path(__file__).parents[2] / "telecbt_cli"
    written = set()
    for path in source.rglob("*.py"):
        written |= set(re.findall(r"append\(\s*[\w.]+,\s*(?:[^,()]|\([^()]*\))+,\s*\"([a-z_.]+)\"", path.read_text(encoding="utf-8")))
    built = {f"{kind}.{step}" for kind in ("module", "instrument", "assessment") for step in ("start", "complete")}
    built |= {f"export.{fmt}" for fmt in ("csv", "ndjson", "fhir")}
    assert {"diary.add", "unlock", "unlock.failed", "store.init"} <= written  # the search finds them
    locales = load_for_ui([]).locales
    missing = {lang: sorted(a for a in written | built if f"values.audit_action.{a.replace('.', '_')}" not in locales[lang])
               for lang in ("en", "es")}
    assert missing == {"en": [], "es": []}


def test_audit_log_shows_each_action_with_its_word_in_spanish(read_week):
    """Issue 17 point 4 (audit log): a Spanish reader sees `unlock (entrada)`, `patient.add (paciente inscrito)`;
    the code stays (auditors search for it), and English shows the code alone as before."""
    said = {lang: _in(lang, "audit", "log", "--limit", "500", *read_week["pw"]).stdout for lang in ("en", "es")}
    assert "unlock (entrada)" in said["es"] and "patient.add (paciente inscrito)" in said["es"], said["es"]
    assert re.search(r"\bunlock\s", said["en"]) and "(entrada)" not in said["en"] and "patient.add  " in said["en"]


def test_every_content_finding_reads_in_spanish():
    """Issue 17 point 4 (content validate), every kind of finding at once: each `cli.content_problem.*` string
    the validator uses exists in both languages and its Spanish holds no English-only word (the run above
    checks eleven kinds end to end; this one checks the words of all of them)."""
    import string

    validators = Path(__file__).parents[2] / "telecbt_cli" / "content"
    used = {m for path in validators.glob("validate*.py")
            for m in re.findall(r"cli\.content_problem\.([a-z_]+)", path.read_text(encoding="utf-8"))}
    locales = load_for_ui([]).locales
    kinds = {key.removeprefix("cli.content_problem.") for key in locales["en"] if key.startswith("cli.content_problem.")}
    assert used - {"type_"} <= kinds and len(kinds) > 60, sorted(used - kinds)
    english = set()
    for kind in sorted(kinds):
        key = f"cli.content_problem.{kind}"
        template = locales["es"][key]
        assert template != locales["en"][key] or not _words([template]), (key, template)  # not left in English
        filled = template.format(**{name: "x" for _, name, _, _ in string.Formatter().parse(template) if name})
        english |= {(kind, word) for word in _words([filled]) & _english_only()}
    assert not english, sorted(english)


def test_content_validate_names_rarer_findings_in_spanish(tmp_path):
    """Issue 17 point 4 (content validate): the validator's rarer findings (types, shapes, ranges, conditions,
    duplicate ids, bands, courses) come in the reader's language; the file and key they name stay as written."""
    from telecbt_cli.content import catalog as cat
    from tests.content.test_validator import GOOD_MODULE, clinic_folder

    module = (GOOD_MODULE.replace("minutes = 20", 'minutes = "twenty"').replace('phase = "skills"', 'phase = "later"')
              .replace('fidelity = [{ id = "f1"', 'fidelity = [{ id = "f1", text = { en = "a", es = "b" } }, { id = "f1"')
              .replace('op = "gte", value = 7', 'op = "in", value = 7')
              + '\n[[steps]]\nid = "pick"\nkind = "choice"\nprompt = { en = "a", es = "b" }\noptions = []\n'
              + '\n[[steps]]\nid = "rate"\nkind = "scale"\nprompt = { en = "a", es = "b" }\nmin = 5\nmax = 3\n'
              + '\n[[steps]]\nid = "say"\nkind = "text"\nprompt = { en = "a", es = "b" }\nmax_length = 0\n'
              + '\n[[steps]]\nid = "note"\nkind = "info"\n')
    phq9 = (cat.BUILTIN_DIR / "instruments" / "phq9.toml").read_text(encoding="utf-8")
    gap = phq9.replace("phq9", "phq9-copy").replace("min = 5\n", "min = 6\n", 1)
    course = ('id = "mine"\nversion = "1"\nkind = "course"\nminutes_per_session = 30\ntitle = { en = "a", es = "b" }\n'
              'summary = { en = "a", es = "b" }\nsessions = ["cbt-01", "cbt-01", "cbt-99"]\nmeasures = { nada = 7 }\n')
    root = clinic_folder(tmp_path, {"modules/local-01.toml": module, "instruments/phq9-copy.toml": gap,
                                    "courses/mine.toml": course})
    said = {}
    for lang in ("en", "es"):
        result = _in(lang, "content", "validate", str(root))
        assert result.exit_code == 1, result.stderr
        said[lang] = result.stdout + result.stderr
    for english in ("minutes: must be a whole number", "phase: must be one of", "duplicate id 'f1'",
                    "must be a list for 'in'", "options: must be a non-empty list of { value, label }",
                    "max: must be greater than min", "max_length: must be between 1 and 10000",
                    "an info step needs a title or a body", "bands must cover every score without gaps or overlaps",
                    "sessions: lists a module twice", "names no questionnaire 'nada'"):
        assert english in said["en"], (english, said["en"])
    for spanish in ("minutes: debe ser un número entero", "phase: debe ser uno de: assessment (", "id repetido 'f1'",
                    "debe ser una lista para 'in'", "options: debe ser una lista de { value, label }, no vacía",
                    "max: debe ser mayor que min", "max_length: debe estar entre 1 y 10000",
                    "un paso de información necesita un título o un texto",
                    "las franjas deben cubrir cada puntaje sin huecos ni solapes", "sessions: nombra un módulo dos veces",
                    "no nombra ningún cuestionario 'nada'"):
        assert spanish in said["es"], (spanish, said["es"])
    spoken = re.sub(r"^.*?\.toml(?:: [^:\n]*)?:", " ", said["es"], flags=re.M)  # the file and key named
    words = _words([spoken]) & _english_only()
    assert not words, (sorted(words), said["es"])
