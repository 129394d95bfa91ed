"""Issue 11.6: the demo store shows the whole workflow, check-ins included."""

from __future__ import annotations

from telecbt_cli.content.catalog import load
from telecbt_cli.core.care import appointments, caseload
from telecbt_cli.core.care.demo import open_demo
from telecbt_cli.core.store.crypto import KdfParams


def test_demo_patients_have_upcoming_today_and_overdue_check_ins(tmp_path):
    result = open_demo(tmp_path / "demo", 3, KdfParams(10), catalog=load())
    try:
        rows = caseload.page(result.access)
        assert len(rows) == 3 and all(row["next_checkin"] for row in rows)  # "Next check-in" is never empty
        assert sum(1 for row in rows if row["overdue"]) >= 1
        listed = appointments.checkins(result.access)
        assert listed["today"] >= 1 and listed["overdue"] >= 1  # the check-ins screen has both kinds
        assert {row["code"] for row in listed["sessions"]} < {row["code"] for row in rows}  # some, not all
    finally:
        result.access.close()
