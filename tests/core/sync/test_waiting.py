"""Changes that wait for their parent row: chains, copies that arrive again, what `bundle status` shows (issue 14.1)."""

from __future__ import annotations

import io
import json
import time

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.sync import bundles, devices, waiting
from tests.core.sync.sites import Site, applied_by


def _mark() -> str:
    time.sleep(0.01)
    moment = now_iso()
    time.sleep(0.01)
    return moment


def _since(sender: Site, receiver: Site, mark: str | None) -> bytes:
    out = io.BytesIO()
    bundles.export_bundle(sender.access, out, [devices.identity(receiver.access)["recipient"]], receiver.id,
                          since=mark)
    return out.getvalue()


def _count(site: Site, table: str) -> int:
    return site.access.store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_chain_of_waiting_changes_applies_in_one_import(sites):
    """A correction of an entry of a patient: all three arrive in reverse order; the last import applies both."""
    field, hub = sites
    code = patients.add_patient(field.access, PatientFields(display_name="Sentinel Name"))["code"]
    patients.record_consent(field.access, code, "verbal", "v1")
    first = _since(field, hub, None)
    mark = _mark()
    entry = diary.add_entry(field.access, code, {"pain": 8, "note": "sentinel note"})
    second = _since(field, hub, mark)
    mark = _mark()
    diary.correct_entry(field.access, entry["id"], {"pain": 2})
    third = _since(field, hub, mark)
    third_stats, second_stats = hub.import_(third), hub.import_(second)
    assert third_stats["waiting"] == second_stats["waiting"] == 1  # the entry waits for its patient; the correction for the entry
    status = waiting.status(hub.access)
    assert status["waiting"] == 2 and [c["needs"] for c in status["changes"]] == ["patient", "patient"]
    shown = json.dumps(status)
    assert "Sentinel" not in shown and "sentinel" not in shown and code not in shown  # ids only
    stats = hub.import_(first)
    assert stats["inserted"] == 2 and stats["released"] == 2 and _count(hub, "waiting_changes") == 0
    rows = hub.access.store.conn.execute("SELECT id, pain, supersedes FROM diary_entries ORDER BY id").fetchall()
    assert rows == field.access.store.conn.execute("SELECT id, pain, supersedes FROM diary_entries ORDER BY id"
                                                   ).fetchall()
    logged = hub.access.store.conn.execute("SELECT count(*) FROM change_log WHERE via IS NOT NULL").fetchone()[0]
    assert logged == 4  # every applied change logged once
    # each change is counted to the bundle it came in, as runs of change-log numbers: the patient and its
    # consent (first), then the entry (second) and its correction (third), released in that order
    conn = hub.access.store.conn
    runs = conn.execute("SELECT bundle_id, first_seq, last_seq FROM applied_ranges ORDER BY first_seq").fetchall()
    assert [(bundle, last - start + 1) for bundle, start, last in runs] == \
        [(stats["bundle_id"], 2), (second_stats["bundle_id"], 1), (third_stats["bundle_id"], 1)]
    assert all(runs[n][2] + 1 == runs[n + 1][1] for n in range(2))
    assert runs[-1][2] == conn.execute("SELECT max(seq) FROM change_log").fetchone()[0]
    assert applied_by(hub, second_stats["bundle_id"], "row_id") == [entry["id"]]


def test_a_waiting_change_that_arrives_again_with_its_parent_is_applied_once(sites):
    field, hub = sites
    code = patients.add_patient(field.access, PatientFields(display_name="Ana"))["code"]
    patients.record_consent(field.access, code, "verbal", "v1")
    mark = _mark()
    diary.add_entry(field.access, code, {"pain": 4})
    assert hub.import_(_since(field, hub, mark))["waiting"] == 1
    stats = hub.import_(_since(field, hub, None))  # everything: the patient and the same entry again
    assert stats["inserted"] == 3 and stats["released"] == 0
    assert _count(hub, "waiting_changes") == 0 and _count(hub, "diary_entries") == 1
    assert hub.access.store.conn.execute("SELECT count(*) FROM change_log WHERE table_name = 'diary_entries'"
                                         ).fetchone()[0] == 1
