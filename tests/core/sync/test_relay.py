"""Changes relayed through a hub: no echo back to the device they came from (issue 14, point 2)."""

from __future__ import annotations

import io
import time

import pytest

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.sync import bundles, devices
from tests.core.sync.sites import Site, applied_by, linked


@pytest.fixture
def star(tmp_path):
    """Two field devices and a hub, each trusting the others."""
    with linked(tmp_path, "a", "hub", "b") as made:
        yield made


def _send(sender: Site, receiver: Site) -> dict:
    """Export from sender to receiver and import it there; the manifest, with the bundle's size."""
    out = io.BytesIO()
    recipient = devices.identity(receiver.access)["recipient"]
    manifest = bundles.export_bundle(sender.access, out, [recipient], receiver.id)
    receiver.import_(out.getvalue())
    return {**manifest, "bytes": len(out.getvalue())}


def _origins(site: Site, manifest: dict) -> set[str]:
    """Devices that made the changes a bundle carried (read back from the receiver's change log)."""
    return set(applied_by(site, manifest["bundle_id"], "device_id"))


def test_relayed_changes_never_come_back(star):
    """Issue 14 point 2: field a -> hub -> field b and back; nothing returns to where it came from."""
    a, hub, b = star
    code = patients.add_patient(a.access, PatientFields(display_name="Ana"))["code"]
    patients.record_consent(a.access, code, "verbal", "v1")
    assert _send(a, hub)["changes"] == 2
    to_b = _send(hub, b)
    assert to_b["changes"] == 2 and _origins(b, to_b) == {a.id}
    diary.add_entry(b.access, code, {"pain": 3})
    back = _send(b, hub)
    # b holds a's patient and consent because the hub sent them: they do not go back to the hub.
    assert back["counts"] == {"diary_entries": 1} and back["changes"] == 1
    to_a = _send(hub, a)
    assert to_a["counts"] == {"diary_entries": 1} and _origins(a, to_a) == {b.id}
    # a's next bundle to the hub carries nothing: b's entry came from the hub, a's own rows the hub has.
    quiet = _send(a, hub)
    assert quiet["changes"] == 0 and quiet["counts"] == {}
    assert _send(hub, b)["changes"] == 0  # b's own entry is not sent back to b either
    for site in star:
        assert site.access.store.conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0] == 1
        assert site.access.store.conn.execute("SELECT count(*) FROM conflicts").fetchone()[0] == 0


def test_a_field_device_never_receives_its_own_changes(star):
    """Issue 14 point 2: even when every bundle is resent from the start (--all), a device's own rows stay out."""
    a, hub, b = star
    code = patients.add_patient(a.access, PatientFields(display_name="Ana"))["code"]
    patients.record_consent(a.access, code, "verbal", "v1")
    diary.add_entry(a.access, code, {"pain": 5})
    _send(a, hub)
    _send(hub, b)
    out = io.BytesIO()
    manifest = bundles.export_bundle(hub.access, out, [devices.identity(a.access)["recipient"]], a.id,
                                     since_last=False)
    assert manifest["changes"] == 0
    stats = a.import_(out.getvalue())
    assert stats["already"] == 0 and stats["inserted"] == 0


def test_a_change_that_waited_is_relayed_once_it_applies(star):
    """Issue 14 points 1 and 2: a change held back for its patient joins the change log when it applies, so the
    hub relays it to the other field device, and not back to the device that made it."""
    from telecbt_cli.core.store.clock import now_iso

    a, hub, b = star
    code = patients.add_patient(a.access, PatientFields(display_name="Ana"))["code"]
    patients.record_consent(a.access, code, "verbal", "v1")
    first = io.BytesIO()
    bundles.export_bundle(a.access, first, [devices.identity(hub.access)["recipient"]], hub.id)
    time.sleep(0.01)  # the mark falls strictly between the consent and the entry
    mark = now_iso()
    time.sleep(0.01)
    diary.add_entry(a.access, code, {"pain": 7})
    later = io.BytesIO()
    bundles.export_bundle(a.access, later, [devices.identity(hub.access)["recipient"]], hub.id, since=mark)
    assert hub.import_(later.getvalue())["waiting"] == 1
    assert _send(hub, b)["changes"] == 0  # a waiting change is not relayed
    assert hub.import_(first.getvalue())["released"] == 1
    relayed = _send(hub, b)
    assert relayed["counts"] == {"patients": 1, "consents": 1, "diary_entries": 1}
    assert _send(hub, a)["changes"] == 0
    assert b.access.store.conn.execute("SELECT pain FROM diary_entries").fetchall() == [(7,)]
