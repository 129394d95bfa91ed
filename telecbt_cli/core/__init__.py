"""All behaviour of telecbt, in four layers; each imports only the layers below it, and none a UI library.

    store     the vault: database, keys, users, roles, audit chain, records and change log, basics
    clinical  the clinical record: patients and consent, questionnaires, scoring, the step engine, safety alerts
    care      the care workflow: diary, plans, check-ins, messages, caseload, reports, kiosk, demo data
    sync      moving data out: devices, bundles, transports, email, bulk exports, FHIR

Clinical content (`telecbt_cli.content`) sits between `store` and `clinical`: it may import only
`core.store.errors` and `core.store.paths`. `tests/test_boundaries.py` enforces these rules.
"""
