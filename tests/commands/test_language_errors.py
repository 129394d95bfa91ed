"""Issue 17 point 4: the rarer errors read in the reader's language. Each one is provoked for real with
TELECBT_LANG=es (real stores on disk, real files, real servers on loopback) and the command's whole output
(stdout and stderr) must hold no English-only word (the finder of tests/commands/test_language_cli.py)."""

from __future__ import annotations

import json
import os
import re
from functools import cache

import pytest

from telecbt_cli.commands import i18n
from tests.commands.clirun import invoke
from tests.commands import test_language_cli as language  # its English-only-word finder (owned by branch i17g)
from tests.conftest import ADMIN_PASS
from tests.core.sync.dovecot import HOST, PASSWORD, imap_server  # noqa: F401  (imap_server: a fixture)
from tests.core.sync.test_mailer import free_port, smtp  # noqa: F401  (smtp: a fixture)

#: Quoted file names ('x.part002of003.tcbp') and bundle ids are the sender's data, not UI words.
DATA = re.compile(r"'[^']*'|\b[0-9a-f]{8}-[0-9a-f-]{27,}\b")


def spanish(*args: str, env: dict | None = None) -> tuple[int, str]:
    """One command run with TELECBT_LANG=es: its exit code and what it printed (stdout and stderr)."""
    os.environ["TELECBT_LANG"] = "es"
    i18n.reset()
    try:
        result = invoke(*args, env=env)
    finally:
        del os.environ["TELECBT_LANG"]
        i18n.reset()
    return result.exit_code, result.stdout + result.stderr


@cache
def english_only() -> frozenset[str]:
    """test_language_cli's English-only words (its finder's helpers are not public yet), worked out once."""
    return frozenset(language.english_only())


def english_left(said: str) -> list[str]:
    return sorted(language.words_of([DATA.sub(" ", said)]) & english_only())


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """A field store and a hub store that trust each other, a stranger the hub does not trust, and bundles
    for the hub: one good, the others damaged in every way a file met on a stick or in an email can be."""
    from telecbt_cli.core.sync import parts

    root = tmp_path_factory.mktemp("sites")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TELECBT_HOME", str(root / "home"))
        patch.setenv("TELECBT_KDF_LOG2N", "10")
        patch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
        stores = {name: root / name for name in ("field", "hub", "stranger")}
        for store in stores.values():
            assert invoke("init", "--store", str(store), "--admin", "alice").exit_code == 0
        shown = {n: json.loads(invoke("device", "show", "--json", "--store", str(s)).stdout) for n, s in stores.items()}
        for sender in ("field", "stranger"):
            assert invoke("device", "trust", shown["hub"]["card"], "--label", "hub", "--role", "hub", "--yes",
                          "--store", str(stores[sender])).exit_code == 0
        assert invoke("device", "trust", shown["field"]["card"], "--label", "field", "--yes",
                      "--store", str(stores["hub"])).exit_code == 0
        code = json.loads(invoke("patient", "add", "--name", "Ana", "--json", "--store", str(stores["field"])).stdout)["code"]
        assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1",
                      "--store", str(stores["field"])).exit_code == 0
        files = root / "files"
        files.mkdir()
        for sender, name in (("field", "bueno.tcb"), ("stranger", "extrano.tcb")):
            assert invoke("bundle", "export", "--to", "hub", "--out", str(files / name),
                          "--store", str(stores[sender])).exit_code == 0
    good = (files / "bueno.tcb").read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    (files / "danado.tcb").write_bytes(bytes(damaged))
    (files / "cortado.tcb").write_bytes(good[:len(good) // 2])
    (files / "texto.tcb").write_text("Hola, esto es una carta.\n")
    (files / "sin-fin.tcb").write_text("-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3Jn\n")
    (files / "base64.tcb").write_text("-----BEGIN AGE ENCRYPTED FILE-----\n!!!!\n-----END AGE ENCRYPTED FILE-----\n")
    with open(files / "enorme.tcb", "wb") as big:  # sparse: no disk is used
        big.truncate(513 * 2**20)
    with open(files / "enorme.eml", "wb") as big:
        big.truncate(701 * 2**20)
    hub = shown["hub"]
    (files / "nuevo.tcb").write_bytes(_sealed({"format": "telecbt-bundle", "version": 99, "bundle_id": "b-1",
                                               "source_device": shown["field"]["device_id"]}, hub["recipient"]))
    (files / "otro.tcb").write_bytes(_sealed({"format": "telecbt-bundle", "version": 2, "bundle_id": "b-2",
                                              "source_device": shown["field"]["device_id"],
                                              "to_device": "0" * 32}, hub["recipient"]))
    bundle_id = "b-partes"
    header = len(parts.split(good, bundle_id, len(good) - 1)[0][1]) - (len(good) + 1) // 2  # a part header's size
    three = next(split for limit in range(header + 16, len(good))
                 if len(split := parts.split(good, bundle_id, limit)) == 3)
    for folder, chosen in (("faltan", three[:1]), ("falta-una", three[:2]), ("mal", three)):
        (files / folder).mkdir()
        for name, data in chosen:
            (files / folder / name).write_bytes(data)
    broken = bytearray(three[1][1])
    broken[-5] ^= 0xFF
    (files / "mal" / three[1][0]).write_bytes(bytes(broken))
    (files / "mezcla").mkdir()
    for name, data in three + parts.split(good, bundle_id, len(good) - 10)[:1]:  # part 1 of 2: another export
        (files / "mezcla" / name).write_bytes(data)
    (files / "enlace").mkdir()
    (files / "enlace" / "bueno.tcb").symlink_to(files / "bueno.tcb")
    return {"hub": stores["hub"], "files": files}


def _sealed(header: dict, recipient: str) -> bytes:
    """A bundle whose first line is `header`, sealed for `recipient` (read up to the header, then refused)."""
    import pyrage
    import zstandard

    line = json.dumps({"header": header}).encode() + b"\n"
    return pyrage.encrypt(zstandard.ZstdCompressor().compress(line * 2), [pyrage.x25519.Recipient.from_str(recipient)])


#: (the file or folder given to `bundle import`, a Spanish phrase the report must hold).
BAD_BUNDLES = [
    ("danado.tcb", "no se puede descifrar el paquete"),
    ("cortado.tcb", "no se puede descifrar el paquete"),
    ("texto.tcb", "no se puede descifrar el paquete: está dañado, o no es un paquete"),
    ("sin-fin.tcb", "le falta la línea END"),
    ("base64.tcb", "base64 incorrecto"),
    ("enorme.tcb", "pesa más de 512 MiB: no se acepta"),
    ("nuevo.tcb", "usa la versión de formato 99"),
    ("otro.tcb", "el paquete se hizo para otro equipo"),
    ("extrano.tcb", "en el que este almacén no confía"),
    ("faltan", "faltan las partes 2 y 3 de 3"),
    ("falta-una", "falta la parte 3 de 3"),
    ("mal", "la parte 2 de 3"),
    ("mezcla", "viene de otro paquete o de otra exportación"),
    ("enlace", "es un enlace simbólico: no se siguió"),
    ("enorme.eml", "enorme.eml pesa más de 700 MiB: no se acepta"),
]


@pytest.mark.parametrize(("name", "phrase"), BAD_BUNDLES, ids=[name for name, _ in BAD_BUNDLES])
def test_a_bad_bundle_is_reported_in_spanish(sites, name, phrase):
    """Issue 17 point 4 (the rarer errors, 1): every way a bundle can be refused, and each line of
    `bundle import`'s report about it, reads in Spanish; the exit code still says integrity (6)."""
    code, said = spanish("bundle", "import", str(sites["files"] / name), "--dry-run", "--store", str(sites["hub"]),
                         env={"TELECBT_PASSPHRASE": ADMIN_PASS})  # a dry run: the shared hub store stays as it was
    assert (code, phrase in said) == (6, True), (code, said)
    assert not english_left(said), (english_left(said), said)


def test_the_same_refusals_still_read_in_english(sites):
    """The English messages are those of before (keys added, words unchanged)."""
    result = invoke("bundle", "import", str(sites["files"] / "faltan"), "--dry-run", "--store", str(sites["hub"]),
                    env={"TELECBT_PASSPHRASE": ADMIN_PASS})
    said = result.stdout + result.stderr
    assert result.exit_code == 6 and "parts of bundle b-partes: skipped: bundle b-partes: parts 2 and 3 of 3 are missing" in said


# --- 2. mail: the outbox's mail server (SMTP) and the hub's mailbox (IMAP) ---------------------------------

def test_every_mail_reason_has_its_english_in_the_catalog():
    """The mail messages built from tables (one key per kind) read in English exactly as the catalog's `en`."""
    from telecbt_cli.content.catalog import load_for_ui
    from telecbt_cli.core.sync import imapfetch, mailer

    en = load_for_ui([]).locales["en"]
    tail = {"mail_connect": ". Nothing was sent; the emails stay queued",
            "imap": " while {doing}. Bundles imported before that stay imported; run `telecbt bundle fetch` again: "
                    "nothing is imported twice"}
    for section, table in (("mail_connect", mailer.CONNECT_REASONS), ("mail_stored", mailer.STORED_REASONS),
                           ("mail_stopped", mailer.STOPPED_REASONS), ("imap", imapfetch.PROBLEMS)):
        for kind, english in table.items():
            assert en[f"errors.{section}.{kind}"] == english + tail.get(section, ""), (section, kind)
    found = mailer.stored_reason("refused by the server: 550 5.1.1 no such mailbox")
    assert (found.key, found.values) == ("errors.mail_stored.refused", {"reply": "550 5.1.1 no such mailbox"})
    assert mailer.stored_reason("something else") is None


@pytest.mark.slow
def test_mail_server_failures_read_in_spanish(cli_store, pass_file, tmp_path, smtp, monkeypatch):  # noqa: F811
    """Issue 17 point 4 (the rarer errors, 2): `bundle outbox send` against real SMTP servers on 127.0.0.1 that
    refuse the login and refuse the email, and `bundle outbox list` showing why, all in Spanish."""
    from tests.core.sync.test_mailer import PASSWORD as SMTP_PASSWORD
    from tests.core.sync.test_mailer import USER, Sink, check_password

    pw = ("--passphrase-file", str(pass_file))
    peer = tmp_path / "peer"
    assert invoke("init", "--store", str(peer), "--admin", "alice", *pw).exit_code == 0
    card = invoke("device", "show", "--card", "--store", str(peer), *pw).stdout.strip()
    assert invoke("device", "trust", card, "--label", "Nakuru", "--role", "hub", "--yes", *pw).exit_code == 0
    assert invoke("bundle", "export", "--to", "Nakuru", "--email", "nakuru@example.org", *pw).exit_code == 0
    _, login_port = smtp(authenticator=check_password, auth_required=True, auth_require_tls=False)
    _, refusing_port = smtp(Sink(reply="550 5.1.1 no such mailbox"))
    server = {"TELECBT_SMTP_HOST": "127.0.0.1", "TELECBT_SMTP_SECURITY": "none", "TELECBT_SMTP_FROM": "c@example.org"}
    wrong = tmp_path / "smtp.pass"
    wrong.write_text("not " + SMTP_PASSWORD + "\n")
    steps = [
        (("bundle", "outbox", "send", *pw), {**server, "TELECBT_SMTP_PORT": str(login_port), "TELECBT_SMTP_USER": USER,
                                             "TELECBT_SMTP_PASSWORD_FILE": str(wrong)}, 1,
         "rechazó el usuario o la contraseña (535)"),
        (("bundle", "outbox", "send", *pw), {**server, "TELECBT_SMTP_PORT": str(free_port())}, 1,
         "rechazó la conexión: revise TELECBT_SMTP_PORT"),
        (("bundle", "outbox", "send", *pw), {**server, "TELECBT_SMTP_PORT": str(refusing_port)}, 0,
         "se intentará otra vez más tarde"),
        (("bundle", "outbox", "list", *pw), {}, 0, "el servidor lo rechazó: 550 5.1.1 no such mailbox"),
    ]
    for args, env, code, phrase in steps:
        done, said = spanish(*args, env=env)
        assert (done, phrase in said) == (code, True), (args, done, said)
        left = english_left(said.replace("no such mailbox", ""))  # the server's own words, kept as it said them
        assert not left, (args, left, said)


@pytest.mark.slow
def test_mailbox_failures_read_in_spanish(cli_store, pass_file, tmp_path, imap_server, monkeypatch):  # noqa: F811
    """Issue 17 point 4 (the rarer errors, 2): `bundle fetch` against a real IMAP server (dovecot on 127.0.0.1):
    a closed port, a wrong password, a folder that is not there, and a message whose bundle is refused (the
    report's per-message line), all in Spanish with their exit codes."""
    from email.message import EmailMessage

    pw = ("--passphrase-file", str(pass_file))
    user = imap_server.new_user()
    note = EmailMessage()
    note["From"], note["To"], note["Subject"] = "enfermera@example.org", "c@example.org", "Paquete"
    note.set_content("Le mando el paquete.")
    note.add_attachment(b"Hola, esto no es un paquete.\n", maintype="application", subtype="octet-stream",
                        filename="semana.tcb")
    from telecbt_cli.core.sync import parts

    pieces = parts.split(b"telecbt " * 400, "b-imap", 1500)
    assert len(pieces) == 3
    parted = EmailMessage()
    parted["From"], parted["To"], parted["Subject"] = "enfermera@example.org", "c@example.org", "Partes"
    parted.set_content("Van las tres partes.")
    for n, (name, data) in enumerate(pieces, 1):
        data = data[:-1] + bytes([data[-1] ^ 0xFF]) if n == 2 else data  # part 2 damaged on the way
        parted.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    imap_server.deliver(user, PASSWORD, bytes(note), bytes(parted))
    right, wrong = tmp_path / "imap.pass", tmp_path / "wrong.pass"
    right.write_text(PASSWORD + "\n")
    wrong.write_text("not the password\n")
    env = {"SSL_CERT_FILE": str(imap_server.cert), "TELECBT_IMAP_USER": user, "TELECBT_IMAP_HOST": HOST}
    fetch = ("bundle", "fetch", "--security", "starttls", *pw)
    port = ("--port", str(imap_server.plain_port))
    steps = [
        ((*fetch, "--password-file", str(right), "--port", str(free_port())), 1, "rechazó la conexión (revise el puerto) al conectarse"),
        ((*fetch, "--password-file", str(wrong), *port), 3, "rechazó el usuario o la contraseña"),
        ((*fetch, "--password-file", str(right), *port, "--folder", "Nada"), 4, "no hay ninguna carpeta 'Nada' en el buzón"),
        ((*fetch, "--password-file", str(right), *port, "--dry-run"), 6,
         "semana.tcb: no se puede descifrar el paquete: está dañado, o no es un paquete"),
        ((*fetch, "--password-file", str(right), *port), 6,
         "la parte 2 de 3 ('b-imap.part002of003.tcbp') está dañada: su contenido no coincide con su suma de control"),
    ]
    for args, code, phrase in steps:
        done, said = spanish(*args, env=env)
        assert (done, phrase in said) == (code, True), (args, done, said)
        left = english_left(said)
        assert not left, (args, left, said)


# --- 3. the store: recovery key, key file copies, passphrase strength, a full disk -------------------------

def test_store_refusals_read_in_spanish(sites, tmp_path):
    """Issue 17 point 4 (the rarer errors, 3): a recovery key typed short or with a typo (`store recover`), a
    passphrase zxcvbn finds easy (our own reason, not zxcvbn's English), all in Spanish with their exit codes."""
    from telecbt_cli.core.store.ids import format_recovery_key

    key = format_recovery_key(bytes(32))
    typo = key[:4] + ("A" if key[4] != "A" else "B") + key[5:]  # group 1's check character changed
    files = {"short": "ABCD-EFGH", "typo": typo, "weak": "aaaaaaaaaaaa", "user": "bea1234567"}
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    hub = ("--store", str(sites["hub"]))
    new = ("--new-passphrase-file", str(tmp_path / "weak"))
    steps = [
        (("store", "recover", *hub, "--user", "alice", "--recovery-key-file", str(tmp_path / "short"), *new), 2,
         "una clave de recuperación tiene 13 grupos de 5 caracteres; se escribieron 8 caracteres"),
        (("store", "recover", *hub, "--user", "alice", "--recovery-key-file", str(tmp_path / "typo"), *new), 2,
         "el grupo 1 (" + typo[:5] + ") tiene un error: compárelo con la copia en papel"),
        (("user", "add", "bea", "--role", "chw", *hub, *new), 2, "demasiado fácil de adivinar (repite letras o palabras)"),
        (("user", "add", "bea", "--role", "chw", *hub, "--new-passphrase-file", str(tmp_path / "user")), 2,
         "demasiado fácil de adivinar (lleva el nombre de usuario)"),
    ]
    for args, code, phrase in steps:
        done, said = spanish(*args, env={"TELECBT_PASSPHRASE": ADMIN_PASS})
        assert (done, phrase in said) == (code, True), (args, done, said)
        assert not english_left(said), (args, english_left(said), said)


def test_a_damaged_key_file_copy_is_described_in_spanish(sites, tmp_path):
    """`store check`'s key-file line for a damaged copy, as keyed errors (`LoadReport.causes`). From the command
    line the copy is repaired by the sign-in before the check reads it, so it is read here without repair."""
    import shutil

    from telecbt_cli.content.catalog import load_for_ui
    from telecbt_cli.core.store import keyfile
    from telecbt_cli.core.store.paths import keyfile_paths

    folder = tmp_path / "copy"
    shutil.copytree(sites["hub"], folder)
    first, second = keyfile_paths(folder)
    second.write_bytes(b"{not json")
    report = keyfile.load(folder, repair=False)
    catalog = load_for_ui([])
    assert report.problems == [f"{second.name}: damaged: not valid JSON (JSONDecodeError)"]
    assert [catalog.error(c, "es") for c in report.causes] == [f"{second.name}: dañada: no es un JSON válido"]
    second.unlink()
    assert [catalog.error(c, "es") for c in keyfile.load(folder, repair=False).causes] == [f"{second.name}: falta"]


def test_the_weak_passphrase_reason_is_ours_in_english_too():
    """zxcvbn's own feedback (English only) is not shown: our reason, keyed, in either language."""
    from telecbt_cli.core.store.errors import UsageError
    from telecbt_cli.core.store.unlock import check_passphrase

    with pytest.raises(UsageError) as refused:
        check_passphrase("qwertyuiop", user="alice")
    assert "too easy to guess (it is a common password)." in str(refused.value)
    assert "top-100" not in str(refused.value)


@pytest.mark.slow
def test_a_full_disk_reads_in_spanish(small_disk):
    """Issue 17 point 4 (the rarer errors, 3): on a real full disk (a 4 MiB tmpfs), a read warns and a write is
    refused, in Spanish, as a real process; the exit codes are those of English."""
    from tests.conftest import ADMIN, fill_disk, run_telecbt

    store = small_disk / "store"
    env = {"TELECBT_STORE": str(store), "TELECBT_PASSPHRASE": ADMIN_PASS}
    assert run_telecbt("init", "--store", str(store), "--admin", ADMIN, env=env).returncode == 0
    assert run_telecbt("patient", "add", "--name", "Ana", env=env).returncode == 0
    fill_disk(small_disk / "filler")
    spanish = {**env, "TELECBT_LANG": "es"}
    listed = run_telecbt("patient", "list", env=spanish)
    assert listed.returncode == 0 and "Aviso: el disco del almacén está lleno: puede leer" in listed.stderr, listed.stderr
    refused = run_telecbt("patient", "add", "--name", "Rosa", env=spanish)
    assert refused.returncode == 1 and "está lleno: libere espacio" in refused.stderr, refused.stderr
    for said in (listed.stdout + listed.stderr, refused.stderr):
        assert not english_left(said.replace(str(store), " ")), (english_left(said), said)
    (small_disk / "filler").unlink()


# --- 4. the kiosk's passphrase prompt ----------------------------------------------------------------------

@pytest.mark.slow
def test_the_kiosk_asks_for_the_passphrase_in_spanish(created, store_dir, isolated_home):
    """Issue 17 point 4 (4): `telecbt kiosk` starts without the Typer layer; its passphrase prompt, before the
    first screen, read in English ("Passphrase: ") for a Spanish operator. It now reuses the catalog the kiosk
    loaded for its screens. In a real terminal (tmux): the prompt in Spanish, then the kiosk opens."""
    from tests.conftest import ADMIN_PASS as secret
    from tests.tui.helpers import telecbt_in_tmux

    created.access.close()
    with telecbt_in_tmux(isolated_home, "kiosk", "--store", str(store_dir), env={"TELECBT_LANG": "es"},
                         name="kiosk-es") as term:
        asked = term.wait_for("Frase de acceso:")
        assert "Passphrase" not in asked, asked
        term.type(secret)
        term.keys("Enter")
        term.wait_for("English")  # the kiosk's first screen: the patient chooses a language
        term.close()


def test_a_tampered_audit_log_is_reported_in_spanish(cli_store, pass_file):
    """Issue 17 point 4 (the rarer errors, 3): `store check` and `audit verify` on an audit log edited behind
    telecbt's back (a real SQLCipher file changed with its key): each problem line in Spanish, exit 6."""
    from telecbt_cli.core.store.unlock import unlock
    from tests.conftest import ADMIN

    access = unlock(cli_store, ADMIN, ADMIN_PASS)
    access.store.conn.execute("DROP TRIGGER audit_log_no_update")
    access.store.conn.execute("UPDATE audit_log SET action = 'nothing' WHERE seq = 2")
    access.close()
    for args, phrase in ((("store", "check"), "cadena de auditoría: entrada 2: su contenido se cambió después de escribirla"),
                         (("audit", "verify"), "entrada 2: su contenido se cambió después de escribirla")):
        done, said = spanish(*args, "--passphrase-file", str(pass_file))
        assert (done, phrase in said) == (6, True), (args, done, said)
        assert not english_left(said), (args, english_left(said), said)


def test_chain_and_anchor_problems_are_recognised_from_their_english():
    """The lines `audit.verify` returns (English, in JSON too) are keyed again for the screen, values and all."""
    from telecbt_cli.content.catalog import load_for_ui
    from telecbt_cli.core.store import anchor, audit

    en = load_for_ui([]).locales["en"]
    for section, table in (("audit_chain", audit.CHAIN_PROBLEMS), ("anchor", anchor.FINDINGS)):
        for kind, english in table.items():
            assert en[f"errors.{section}.{kind}"] == english
    found = audit.described(anchor.FINDINGS["log_ends"].format(head=7, seq=9))
    assert (found.key, found.values) == ("errors.anchor.log_ends", {"head": "7", "seq": "9"})
    assert audit.described("page check: something SQLite says") is None


def test_a_peer_that_went_backwards_is_reported_in_spanish(cli_store, pass_file, tmp_path):
    """Issue 17 point 4 (the rarer errors, 1): the warning line of `bundle import` (and of `device list`) for a
    sender whose store went backwards, in Spanish. The hub is made to have seen a later head than the sender's."""
    from telecbt_cli.core.store.unlock import unlock
    from tests.conftest import ADMIN

    pw = ("--passphrase-file", str(pass_file))
    field = ("--store", str(tmp_path / "field"), *pw)
    assert invoke("init", "--admin", ADMIN, *field).exit_code == 0
    cards = {"field": invoke("device", "show", "--card", *field).stdout.strip(),
             "hub": invoke("device", "show", "--card", *pw).stdout.strip()}
    assert invoke("device", "trust", cards["hub"], "--label", "hub", "--role", "hub", "--yes", *field).exit_code == 0
    assert invoke("device", "trust", cards["field"], "--label", "Nakuru", "--yes", *pw).exit_code == 0
    for n, name in enumerate(("Max", "Ned")):
        assert invoke("patient", "add", "--name", name, *field).exit_code == 0
        assert invoke("bundle", "export", "--to", "hub", "--out", str(tmp_path / f"b{n}.tcb"), *field).exit_code == 0
    assert invoke("bundle", "import", str(tmp_path / "b0.tcb"), *pw).exit_code == 0
    access = unlock(cli_store, ADMIN, ADMIN_PASS)
    access.store.conn.execute("UPDATE peers SET seen_head = json_set(seen_head, '$.to_seq', 10000, '$.audit_seq', 10000)")
    access.close()
    for args, phrase in ((("bundle", "import", str(tmp_path / "b1.tcb")), "aviso: el equipo que lo envió volvió atrás"),
                         (("device", "list"), "Aviso: Nakuru volvió atrás: un paquete hecho después de uno")):
        done, said = spanish(*args, *pw)
        assert (done, phrase in said) == (0, True), (args, done, said)
        assert not english_left(said), (args, english_left(said), said)
