"""Issue 17 point 4: the rarer errors read in the reader's language. Each one is provoked for real with
TELECBT_LANG=es (real stores on disk, real files, real servers on loopback) and the command's whole output
(stdout and stderr) must hold no English-only word (the finder of tests/commands/test_language_cli.py)."""

from __future__ import annotations

import json
import os
import re

import pytest

from telecbt_cli.commands import i18n
from tests.commands.clirun import invoke
from tests.commands.test_language_cli import _english_only, _words
from tests.conftest import ADMIN_PASS

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


def english_left(said: str) -> list[str]:
    return sorted(_words([DATA.sub(" ", said)]) & _english_only())


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
    hub = shown["hub"]
    (files / "nuevo.tcb").write_bytes(_sealed({"format": "telecbt-bundle", "version": 99, "bundle_id": "b-1",
                                               "source_device": shown["field"]["device_id"]}, hub["recipient"]))
    (files / "otro.tcb").write_bytes(_sealed({"format": "telecbt-bundle", "version": 2, "bundle_id": "b-2",
                                              "source_device": shown["field"]["device_id"],
                                              "to_device": "0" * 32}, hub["recipient"]))
    bundle_id = "b-partes"
    three = next(split for limit in range(len(good) // 3, len(good))
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
