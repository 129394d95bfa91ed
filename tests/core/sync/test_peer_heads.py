"""Peers compare the audit head and change counter each bundle carries (issue 14 point 4): bundles that
arrive late or twice are not a roll-back; a later bundle that shows less is."""

from __future__ import annotations

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.sync import devices


def _add(site, name: str) -> None:
    patients.add_patient(site.access, patients.PatientFields(display_name=name, language="en"))


def _warning(hub) -> str | None:
    return devices.peers(hub.access)[0]["warning"]


def test_bundles_arriving_out_of_order_or_twice_raise_no_warning(sites):
    field, hub = sites
    _add(field, "Kai Once")
    first = field.bundle_for(hub, since_last=False)
    _add(field, "Lea Doce")
    second = field.bundle_for(hub, since_last=False)
    assert "warning" not in hub.import_(second)
    assert "warning" not in hub.import_(first)
    assert "warning" not in hub.import_(second)
    assert _warning(hub) is None


def test_a_later_bundle_with_a_lower_counter_warns_and_trusting_again_clears_it(sites):
    field, hub = sites
    _add(field, "Max Trece")
    hub.import_(field.bundle_for(hub))
    conn = hub.access.store.conn
    seen = conn.execute("SELECT seen_head FROM peers").fetchone()[0]
    conn.execute("UPDATE peers SET seen_head = json_set(seen_head, '$.to_seq', 10000, '$.audit_seq', 10000)")
    _add(field, "Ned Catorce")
    stats = hub.import_(field.bundle_for(hub))
    assert stats["inserted"] == 1 and "went backwards" in stats["warning"]
    assert "went backwards" in _warning(hub)
    devices.trust(hub.access, devices.identity(field.access)["card"], "field", "field")
    assert _warning(hub) is None and seen
