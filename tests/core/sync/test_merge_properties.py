"""Property: the same bundles give the same records whatever order they arrive in."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from tests.core.sync.sites import Site, link

TABLES = ("patients", "consents", "diary_entries")

edits = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.text("0123456789", min_size=3, max_size=6)),
                 max_size=6)
entries = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 10)), max_size=5)


def _snapshot(site: Site) -> dict:
    conn = site.access.store.conn
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(count=st.integers(1, 3), edits=edits, entries=entries, replay=st.integers(0, 2))
def test_bundles_merge_the_same_in_any_order(count, edits, entries, replay):
    root = Path(tempfile.mkdtemp(prefix="telecbt-merge-"))
    made: list[Site] = []
    try:
        a, b, c = made[:] = [Site(root, n) for n in ("a", "b", "c")]
        link(a, b, c)
        codes = []
        for i in range(count):
            p = patients.add_patient(a.access, PatientFields(display_name=f"P{i}"))
            patients.record_consent(a.access, p["code"], "verbal", "v1")
            codes.append(p["code"])
        first = [a.bundle_for(b, since_last=False), a.bundle_for(c, since_last=False)]
        b.import_(first[0])
        c.import_(first[1])
        sites = (a, b, c)
        for device, patient, phone in edits:
            patients.edit_patient(sites[device].access, codes[patient % count], PatientFields(phone=phone))
        for device, patient, pain in entries:
            diary.add_entry(sites[device].access, codes[patient % count], {"pain": pain})
        receiver_names = []
        results = []
        for n, order in enumerate(itertools.permutations(range(3))):
            receiver = Site(root, f"r{n}")
            made.append(receiver)
            link(receiver, a, b, c)
            receiver_names.append(receiver)
            bundles_for = [s.bundle_for(receiver, since_last=False) for s in sites]
            for index in order:
                receiver.import_(bundles_for[index])
            receiver.import_(bundles_for[replay])  # a replay changes nothing
            results.append(_snapshot(receiver))
        assert all(result == results[0] for result in results[1:])
        assert len(results[0]["patients"]) == count
        assert len(results[0]["diary_entries"]) == len(entries)
    finally:
        for site in made:
            site.access.close()
        shutil.rmtree(root, ignore_errors=True)
