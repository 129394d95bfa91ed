"""Tables whose rows arrive from a worker show every cell whole, whenever the screen paints.

Textual measures a table's auto-width columns when the table is next idle after rows are added.
If the screen paints in between (its refresh timer came first), the new rows are drawn at the
headers' widths; a CI run of the tmux staff test showed the caseload as `DD9C  Rosa  -  -` under
full-width headers for 40 s. These tests paint the screen at that moment on purpose."""

from __future__ import annotations

import asyncio

from telecbt_cli.content.catalog import load
from telecbt_cli.core.clinical import engine
from telecbt_cli.core.clinical.patients import PatientFields, add_patient, record_consent
from telecbt_cli.tui.dashboard import AlertsScreen
from telecbt_cli.tui.patients import PatientsScreen
from tests.tui.helpers import screen_text, settle, staff_app


def _paint_after(monkeypatch, screen_class, method: str, painted: list[str]) -> None:
    """Paint the whole screen right after `screen_class.method` fills its table, before the table is idle."""
    original = getattr(screen_class, method)

    def fill_then_paint(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        painted.append(screen_text(self.app))
        return result

    monkeypatch.setattr(screen_class, method, fill_then_paint)


def test_a_caseload_row_painted_before_its_columns_are_measured_is_drawn_again_whole(
        created, store_dir, monkeypatch):
    access = created.access
    code = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))["code"]
    record_consent(access, code, "verbal", "v1")
    access.close()
    painted: list[str] = []
    _paint_after(monkeypatch, PatientsScreen, "show_page", painted)

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            assert painted and code[:4] in painted[0]  # the early paint drew the row (cut to "Code")
            await settle(app, pilot)
            shown = screen_text(app)
            assert any(code in line and "Rosa Example" in line for line in shown.splitlines()), shown

    asyncio.run(run())


def test_an_alerts_row_painted_before_its_columns_are_measured_is_drawn_again_whole(
        created, store_dir, monkeypatch):
    """The alerts and check-ins lists fill their table the same way (their shared _fill)."""
    access = created.access
    code = add_patient(access, PatientFields(display_name="Rosa Example", language="en"))["code"]
    record_consent(access, code, "verbal", "v1")
    engine.run_all(access, code, load().get("instrument", "phq9"), "en",
                   {f"phq9_{i}": 0 for i in range(1, 9)} | {"phq9_9": 2})
    access.close()
    painted: list[str] = []

    async def run() -> None:
        async with staff_app(store_dir) as (app, pilot):
            _paint_after(monkeypatch, AlertsScreen, "_fill", painted)
            await pilot.press("f4")
            await settle(app, pilot)
            assert isinstance(app.screen, AlertsScreen)
            assert painted and code[:4] in painted[-1]  # the early paint drew the row (cut to "Code")
            shown = screen_text(app)
            assert any(code in line and "phq9-self-harm" in line for line in shown.splitlines()), shown

    asyncio.run(run())
