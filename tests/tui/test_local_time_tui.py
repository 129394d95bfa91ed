"""Issue 13 in the staff TUI: times in this device's zone, labelled; the patient's zone on the record."""

from __future__ import annotations

import asyncio

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import appointments, diary
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.core.store import zones
from telecbt_cli.core.store.unlock import unlock
from telecbt_cli.tui.app import make_app
from telecbt_cli.tui.patients import PatientScreen
from tests.conftest import ADMIN, ADMIN_PASS
from tests.tui.helpers import settle


def test_the_record_shows_times_in_the_devices_zone_and_the_patients_zone(created, store_dir):
    """Device in Kathmandu (+05:45), patient in Nairobi: 07:00 UTC reads 12:45 +05:45 to staff."""
    access = created.access
    zones.set_device_zone(access, "Asia/Kathmandu")
    code = add_patient(access, PatientFields(display_name="Rosa", language="en", timezone="Africa/Nairobi"))["code"]
    record_consent(access, code, "verbal", "v1")
    diary.add_entry(access, code, {"pain": 4, "entry_at": "2026-11-02T07:00:00Z"})
    appointments.schedule(access, load(), code, "2030-12-03 10:00+03:00", "phone")
    access.close()

    async def run() -> None:
        app = make_app(store_dir, lang="en")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.signed_in(unlock(store_dir, ADMIN, ADMIN_PASS))
            await settle(app, pilot)
            assert "Asia/Kathmandu" in app.sub_title
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            body = lambda name: str(app.screen.query_one(f"#{name}").render())  # noqa: E731
            assert "Time zone: Africa/Nairobi" in body("overview-body")
            assert "2026-11-02 12:45 +05:45" in body("diary-body")
            table = app.screen.query_one("#sessions-table")
            assert "2030-12-03 12:45 +05:45" in [str(table.get_row_at(n)[0]) for n in range(table.row_count)]

    asyncio.run(run())


def test_the_kiosk_shows_message_times_on_the_patients_clock(created, store_dir):
    """Issue 13: the kiosk names the patient's zone once and shows each time in it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from telecbt_cli.core.care import messages, pins
    from telecbt_cli.tui.kiosk import MessagesScreen, make_kiosk
    from tests.tui.helpers import screen_text

    access = created.access
    zones.set_device_zone(access, "America/New_York")
    code = add_patient(access, PatientFields(display_name="Rosa", language="en", timezone="Asia/Kathmandu"))["code"]
    record_consent(access, code, "verbal", "v1")
    pins.set_pin(access, code, "4821")
    sent = messages.send(access, code, "See you soon")
    local = datetime.fromisoformat(sent["sent_at"].replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Kathmandu"))

    async def run() -> None:
        app = make_kiosk(access, store_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("enter")  # English
            await pilot.pause()
            await pilot.press(*code, "enter", *"4821", "enter")
            await settle(app, pilot)
            await pilot.press("f5")
            await settle(app, pilot)
            assert isinstance(app.screen, MessagesScreen)
            shown = screen_text(app)
            assert "All times: Kathmandu time." in shown
            assert f"{local.day} {local:%b}, {local:%H:%M} Care team: See you soon" in shown

    asyncio.run(run())
