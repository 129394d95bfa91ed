"""The bundle screen driven by Textual's pilot: real stores, real bundles, checked through core."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Button, Checkbox, Input, Select

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    get_patient,
    list_patients,
    record_consent,
)
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.unlock import create_store, unlock
from telecbt_cli.core.sync import devices
from telecbt_cli.tui.app import make_app
from telecbt_cli.tui.bundles import BundleScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import screen_text

HUB_USER, HUB_PASS = "hana", "hub passphrase 1"


async def _settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _open(app, pilot, store: Path, user: str, secret: str) -> BundleScreen:
    """Sign in without the sign-in screen, then open the bundle screen and let it load the devices."""
    app.signed_in(unlock(store, user, secret))
    await _settle(app, pilot)
    app.push_screen(BundleScreen())
    await _settle(app, pilot)
    assert isinstance(app.screen, BundleScreen)
    return app.screen


def _hub(tmp_path: Path, field, label: str = "clinic hub") -> Path:
    """Device B (the hub) in its own folder; A and B trust each other. Returns B's store folder."""
    hub_dir = tmp_path / "hub"
    hub = create_store(hub_dir, HUB_USER, HUB_PASS, KdfParams(10)).access
    try:
        devices.trust(field, devices.identity(hub)["card"], label, "hub")
        devices.trust(hub, devices.identity(field)["card"], "field laptop", "field")
    finally:
        hub.close()
    return hub_dir


def _enrol_with_diary(access) -> str:
    patient = add_patient(access, PatientFields(display_name="Ana"))
    record_consent(access, patient["code"], "verbal", "v1")
    diary.add_entry(access, patient["code"], {"pain": 7, "note": "bundle-sentinel"})
    return patient["code"]


def test_export_on_one_device_then_import_on_the_other(created, store_dir, tmp_path):
    field = created.access
    hub_dir = _hub(tmp_path, field)
    code = _enrol_with_diary(field)
    hub_id = devices.peer(field, "clinic hub")["id"]
    outbox = tmp_path / "outbox"
    outbox.mkdir()

    async def export() -> str:
        app = make_app(store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, store_dir, ADMIN, ADMIN_PASS)
            assert "clinic hub" in screen.query_one("#peer", Select)._options[-1][0].plain
            screen.query_one("#export", Button).press()
            await _settle(app, pilot)
            assert "Choose a trusted device first" in screen.results_text
            screen.query_one("#peer", Select).value = hub_id
            screen.query_one("#dest", Input).value = str(outbox)
            screen.query_one("#export", Button).press()
            await _settle(app, pilot)
            assert screen.query_one("#progress").percentage == 1
            assert not screen.query_one("#export", Button).disabled
            return screen.results_text

    text = asyncio.run(export())
    (bundle,) = outbox.glob("*.tcb")
    assert bundle.name in text and "3 change(s)" in text  # patient, consent, diary entry
    assert f"{bundle.stat().st_size} bytes" in text

    async def import_() -> str:
        app = make_app(hub_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, hub_dir, HUB_USER, HUB_PASS)
            screen.query_one("#import-path", Input).value = str(outbox)
            screen.query_one("#dry-run", Checkbox).value = True
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            assert "dry run: nothing changed" in screen.results_text
            screen.query_one("#dry-run", Checkbox).value = False
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            return screen.results_text

    text = asyncio.run(import_())
    assert f"{bundle.name}: 3 change(s), 3 new, 0 updated, 0 conflict(s)." in text
    hub = unlock(hub_dir, HUB_USER, HUB_PASS)
    try:
        assert get_patient(hub, code)["display_name"] == "Ana"
        assert [(e["pain"], e["note"]) for e in diary.list_entries(hub, code)] == [(7, "bundle-sentinel")]
    finally:
        hub.close()


def test_a_corrupt_bundle_shows_an_error_line_and_changes_nothing(created, store_dir, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "broken.tcb").write_bytes(b"age-encryption.org/v1\nnot really a bundle\n")
    before = list_patients(created.access)

    async def run() -> str:
        app = make_app(store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, store_dir, ADMIN, ADMIN_PASS)
            screen.query_one("#import-path", Input).value = str(folder / "broken.tcb")
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            screen.query_one("#import-path", Input).value = str(tmp_path / "no-such-file.tcb")
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            assert isinstance(app.screen, BundleScreen) and not screen.query_one("#import", Button).disabled
            return screen.results_text

    text = asyncio.run(run())
    assert "broken.tcb: skipped: the bundle cannot be decrypted" in text
    assert "Could not finish: " in text and "does not exist" in text
    assert list_patients(created.access) == before


def test_the_screen_speaks_spanish(created, store_dir):
    async def run() -> None:
        app = make_app(store_dir, lang="es")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, store_dir, ADMIN, ADMIN_PASS)
            assert str(screen.query_one("#import", Button).label) == "Importar"
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            assert "Escriba la ruta" in screen.results_text

    asyncio.run(run())


SEAL = "violet kettle drums at noon"


def test_a_sealed_bundle_and_the_email_outbox(created, store_dir, tmp_path):
    """Issue 17 point 1: a passphrase-sealed export (no trusted device chosen) that the hub imports with
    the passphrase, and a bundle queued in the email outbox, all from the bundle screen."""
    from telecbt_cli.core.sync import mailer

    field = created.access
    hub_dir = _hub(tmp_path, field)
    code = _enrol_with_diary(field)
    folder = tmp_path / "sealed"
    folder.mkdir()

    async def export() -> str:
        app = make_app(store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, store_dir, ADMIN, ADMIN_PASS)
            screen.query_one("#seal", Checkbox).value = True
            await pilot.pause()
            screen.query_one("#seal-pass", Input).value = SEAL
            screen.query_one("#seal-again", Input).value = SEAL + " typo"
            screen.query_one("#dest", Input).value = str(folder)
            screen.query_one("#export", Button).press()
            await _settle(app, pilot)
            assert not list(folder.iterdir())  # the two passphrases differ: nothing written
            screen.query_one("#seal-again", Input).value = SEAL
            screen.query_one("#export", Button).press()
            await _settle(app, pilot)
            assert SEAL not in screen_text(app)
            screen.query_one("#seal", Checkbox).value = False
            screen.query_one("#peer", Select).value = devices.peer(field, "clinic hub")["id"]
            screen.query_one("#dest-kind-email").value = True
            screen.query_one("#email", Input).value = "hub@example.org"
            screen.query_one("#export", Button).press()
            await _settle(app, pilot)
            return screen.results_text

    text = asyncio.run(export())
    (bundle,) = folder.glob("*.tcb")
    assert bundle.name in text and "outbox" in text
    assert [row["address"] for row in mailer.list_outbox(field)] == ["hub@example.org"]

    async def import_(secret: str) -> str:
        app = make_app(hub_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, hub_dir, HUB_USER, HUB_PASS)
            screen.query_one("#import-path", Input).value = str(bundle)
            screen.query_one("#import-pass", Input).value = secret
            screen.query_one("#import", Button).press()
            await _settle(app, pilot)
            return screen.results_text

    assert "3 change(s)" not in asyncio.run(import_("not the right phrase"))
    assert "3 change(s), 3 new" in asyncio.run(import_(SEAL))
    hub = unlock(hub_dir, HUB_USER, HUB_PASS)
    try:
        assert [e["pain"] for e in diary.list_entries(hub, code)] == [7]
    finally:
        hub.close()


def test_an_import_report_names_parts_and_mails_in_spanish(created, store_dir, tmp_path):
    """The screen showed "parts of bundle …", a mail without a bundle and "inbox.mbox message 1" in
    English in a Spanish session."""
    import os

    from telecbt_cli.core.sync import parts
    from telecbt_cli.core.sync.transport import import_paths

    folder = tmp_path / "in"
    folder.mkdir()
    name, data = parts.split(os.urandom(3000), "b-lone", 1024)[0]  # part 1 of 3: the others never came
    (folder / name).write_bytes(data)
    (folder / "note.eml").write_bytes(b"From: a@example.org\r\nSubject: hello\r\n\r\njust text\r\n")
    box = tmp_path / "inbox.mbox"
    box.write_bytes(b"From a@example.org Mon Nov 30 10:00:00 2026\nSubject: hi\n\nno bundle here\n")
    results = import_paths(created.access, [folder, box], dry_run=True)
    assert "parts of bundle b-lone" in [r["file"] for r in results] and any(r.get("no_bundle") for r in results)

    async def run() -> None:
        app = make_app(store_dir, lang="es")
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await _open(app, pilot, store_dir, ADMIN, ADMIN_PASS)
            screen.show_import(str(folder), results)
            await _settle(app, pilot)
            shown = screen.results_text
            assert "partes del paquete b-lone" in shown, shown
            assert "inbox.mbox, mensaje 1: este mensaje no trae un paquete" in shown, shown
            assert "parts of bundle" not in shown and "no telecbt bundle" not in shown and " message " not in shown

    asyncio.run(run())
