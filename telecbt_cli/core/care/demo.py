"""A demo store with synthetic patients, for trying telecbt without real data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from telecbt_cli.core.care.pins import set_pin
from telecbt_cli.core.clinical.patients import (
    PatientFields,
    add_patient,
    record_consent,
)
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.unlock import create_store, unlock

DEMO_USER = "demo"
DEMO_PASSPHRASE = "telecbt-demo"
#: The first demo patients get this kiosk PIN (demo data only: a real PIN is chosen per patient).
DEMO_PIN = "1234"
DEMO_PIN_PATIENTS = 3

_GIVEN = ["Ana", "Luis", "Grace", "Samuel", "Amina", "Joseph", "Rosa", "Peter", "Fatuma", "Daniel",
          "Maria", "John", "Esther", "Carlos", "Mercy", "David", "Lucia", "Moses", "Sofia", "Isaac"]
_FAMILY = ["Mwangi", "Garcia", "Okello", "Lopez", "Achieng", "Banda", "Torres", "Phiri", "Ruiz", "Njoroge",
           "Mendoza", "Wanjiru", "Silva", "Otieno", "Castro", "Mutua"]


@dataclass
class DemoResult:
    access: Access
    created: bool
    added: int
    total: int
    pin_codes: list[str]  # demo patients who can sign in at the kiosk with DEMO_PIN


def open_demo(store_dir: Path, patients: int, kdf: KdfParams, seed: int = 7, catalog=None) -> DemoResult:
    """Create the demo store or reuse it; top it up to `patients` synthetic patients."""
    created = not kfmod.keyfile_exists(store_dir)
    if created:
        access = create_store(store_dir, DEMO_USER, DEMO_PASSPHRASE, kdf, strength=False).access  # published
    else:
        access = unlock(store_dir, DEMO_USER, DEMO_PASSPHRASE)
    try:
        count = access.store.conn.execute("SELECT count(*) FROM patients WHERE deleted = 0").fetchone()[0]
        rng = random.Random(seed + count)
        added = 0
        for _ in range(max(0, patients - count)):
            fields = PatientFields(
                display_name=f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)} (demo)",
                birth_year=rng.randint(1950, 2000),
                sex=rng.choice(["female", "male"]),
                language=rng.choice(["en", "es"]),
                notes="Synthetic demo patient.",
            )
            patient = add_patient(access, fields)
            record_consent(access, patient["code"], rng.choice(["verbal", "written"]), "demo-1")
            if count + added < DEMO_PIN_PATIENTS:  # each PIN costs a slow hash
                set_pin(access, patient["code"], DEMO_PIN)
            if catalog is not None:
                from telecbt_cli.core.care.demo_data import seed_history

                seed_history(access, catalog, patient["id"], rng, alert=count + added == 0,
                             checkins=("overdue", "today", "upcoming")[(count + added) % 3])
            added += 1
    except BaseException:
        access.close()
        raise
    pin_codes = [row[0] for row in access.store.conn.execute(
        "SELECT p.code FROM patient_pins k JOIN patients p ON p.id = k.patient_id ORDER BY p.created_at")]
    return DemoResult(access, created, added, count + added, pin_codes)
