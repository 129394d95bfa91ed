"""Text snapshots of the main screens at 80x24, in English and Spanish.

Each snapshot is the screen as plain text (what a terminal without colour shows), with
patient codes and dates replaced so the files do not change from day to day. A missing
snapshot is written and the test fails once, so that a person reads it before it counts;
`UPDATE_SNAPSHOTS=1` rewrites them all after a deliberate change. Review a changed file
with `git diff` like any other code.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from telecbt_cli.core.care import diary, pins
from telecbt_cli.core.clinical.engine import content_for
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.tui.app import make_app
from telecbt_cli.tui.kiosk import make_kiosk
from telecbt_cli.tui.patients import PatientScreen
from telecbt_cli.tui.runner import RunScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import screen_text, settle

SNAPSHOTS = Path(__file__).parent / "snapshots"
LANGS = ("en", "es")


def _normalise(text: str) -> str:
    text = re.sub(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b", "XXXX-XXXX", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "YYYY-MM-DD", text)
    text = re.sub(r"\b\d{2}/\d{2}/\d{4}\b", "DD/MM/YYYY", text)
    text = re.sub(r"\b\d{2}-\d{2}\b", "MM-DD", text)  # chart labels
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _compare(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    shown = _normalise(text)
    assert len(text.splitlines()) == 24 and all(len(line) <= 80 for line in text.splitlines())
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8", newline="\n")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"new snapshot {path.name} written: read it, then run again")
        return
    assert shown == path.read_text(encoding="utf-8"), f"{name} changed: compare with {path}"


@pytest.fixture
def clinic(created, monkeypatch):
    monkeypatch.setenv("TZ", "Africa/Nairobi")  # the device's zone is on screen: the same on every machine
    access = created.access
    patient = add_patient(access, PatientFields(display_name="Rosa Example", birth_year=1970, language="en"))
    record_consent(access, patient["code"], "verbal", "v1")
    for pain in (6, 5, 4):
        diary.add_entry(access, patient["code"], {"pain": pain})
    pins.set_pin(access, patient["code"], "4821")
    return access, patient["code"]


@pytest.mark.parametrize("lang", LANGS)
def test_staff_screens(clinic, store_dir, lang):
    access, code = clinic
    access.close()

    async def run() -> None:
        app = make_app(store_dir, lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            _compare(f"staff-signin-{lang}", screen_text(app))
            app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
            await settle(app, pilot)
            _compare(f"staff-caseload-{lang}", screen_text(app))
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            _compare(f"staff-patient-{lang}", screen_text(app))
            app.push_screen(RunScreen(app.access, code, content_for(app.catalog, "instrument", "peg3"), lang))
            await settle(app, pilot)
            _compare(f"staff-question-{lang}", screen_text(app))

    asyncio.run(run())


@pytest.mark.parametrize("lang", LANGS)
def test_kiosk_screens(clinic, store_dir, lang):
    access, code = clinic

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            if lang == "en":
                _compare("kiosk-languages", screen_text(app))
            app.screen.query_one(f"#lang-{lang}").press()
            await pilot.pause()
            _compare(f"kiosk-signin-{lang}", screen_text(app))
            await pilot.press(*code, "enter", *"4821", "enter")
            await settle(app, pilot)
            _compare(f"kiosk-home-{lang}", screen_text(app))
            await pilot.press("f4")
            await settle(app, pilot)
            _compare(f"kiosk-progress-{lang}", screen_text(app))

    asyncio.run(run())
