"""Issue 13 across devices: a patient's zone travels in bundles; each device keeps its own zone."""

from __future__ import annotations

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store import zones


def test_the_patients_zone_travels_and_the_devices_zone_stays(sites):
    field, hub = sites
    zones.set_device_zone(field.access, "Africa/Nairobi")
    zones.set_device_zone(hub.access, "Asia/Kathmandu")
    code = patients.add_patient(field.access, PatientFields(display_name="Ana"))["code"]
    assert patients.get_patient(field.access, code)["timezone"] == "Africa/Nairobi"  # the enrolling device's
    hub.import_(field.bundle_for(hub))
    assert patients.get_patient(hub.access, code)["timezone"] == "Africa/Nairobi"
    assert zones.device_zone_name(hub.access.store) == "Asia/Kathmandu"
    patients.edit_patient(hub.access, code, PatientFields(timezone="America/Mexico_City"))
    field.import_(hub.bundle_for(field))
    assert patients.get_patient(field.access, code)["timezone"] == "America/Mexico_City"
    assert zones.device_zone_name(field.access.store) == "Africa/Nairobi"
