"""Issue 11.3 in the staff TUI: the caseload and the patient's record show what the intake found."""

from __future__ import annotations

import asyncio

from telecbt_cli.content.catalog import load
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.patients import PatientScreen
from tests.core.clinical.test_flags import FLAGGED
from tests.tui.helpers import screen_text, settle, staff_app


def test_caseload_and_record_show_the_intake_findings(created, store_dir):
    access = created.access
    code = add_patient(access, PatientFields(display_name="Rosa Example", language="es"))["code"]
    record_consent(access, code, "verbal", "v1")
    engine.run_all(access, code, load().get("module", "intake"), "es", FLAGGED)
    access.close()

    async def run() -> None:
        async with staff_app(store_dir, size=(120, 40)) as (app, pilot):
            row = app.screen.query_one("#patients").get_row_at(0)
            assert row[-1].plain == "Medical review, Not suitable now" and row[3].plain == "1"
            app.push_screen(PatientScreen(code))
            await settle(app, pilot)
            shown = " ".join(screen_text(app).split())
            assert "Medical review: Red flag found: arrange a medical review before starting CBT." in shown
            assert "- Severe pain at night that rest does not ease" in shown
            assert "Not suitable now" in shown and "needs the review first; will call in two weeks" in shown

    asyncio.run(run())
