"""Property: two field devices and a hub; bundles arrive late, out of order and twice, and nothing is lost.

Issue 14 point 1. A history of enrolments, diary entries, corrections (also of another device's
entries) and syncs runs once with every bundle imported as soon as it is made. Copies of the
three stores taken before the history (same device ids and keys) then receive the same bundles
in a drawn order, some twice. At the end the hub's copy holds exactly what the hub holds; a
field device's copy holds every row the field device received, applied or still waiting, and
waits only for rows that device made itself (they never travel back to it: no echo).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.unlock import unlock
from tests.core.sync.sites import Site, link

TABLES = ("patients", "consents", "diary_entries")
FIELD = st.sampled_from("ab")
STEP = st.one_of(
    st.tuples(st.just("enrol"), FIELD, st.just(0), st.just(0)),
    st.tuples(st.just("diary"), FIELD, st.integers(0, 5), st.integers(0, 10)),
    st.tuples(st.just("correct"), FIELD, st.integers(0, 5), st.integers(0, 10)),
    st.tuples(st.just("up"), FIELD, st.just(0), st.just(0)),
    st.tuples(st.just("down"), FIELD, st.just(0), st.just(0)),
)


def _reopen(site: Site, store_dir: Path) -> None:
    site.access = unlock(store_dir, "admin", "admin passphrase")


def _twins(root: Path) -> tuple[dict[str, Site], dict[str, Site]]:
    """The three linked sites, and a copy of each taken before anything happened (same keys and ids)."""
    sites = {name: Site(root, name) for name in ("a", "b", "hub")}
    link(*sites.values())
    copies = {}
    for name, site in sites.items():
        site.access.close()
        shutil.copytree(root / name, root / f"{name}-copy")
        _reopen(site, root / name)
        copies[name] = Site.__new__(Site)
        copies[name].name = name
        _reopen(copies[name], root / f"{name}-copy")
    return sites, copies


def _run(sites: dict[str, Site], steps: list[tuple]) -> dict[str, list[bytes]]:
    """The history, every bundle imported at once; the bundles each device received, in order."""
    received: dict[str, list[bytes]] = {name: [] for name in sites}
    hub = sites["hub"]
    for what, device, pick, pain in steps:
        site = sites[device]
        conn = site.access.store.conn
        if what == "enrol":
            code = patients.add_patient(site.access, PatientFields(display_name=f"P{len(received[device])}"))["code"]
            patients.record_consent(site.access, code, "verbal", "v1")
        elif what == "diary":
            codes = [r[0] for r in conn.execute("SELECT code FROM patients ORDER BY id")]
            if codes:
                diary.add_entry(site.access, codes[pick % len(codes)], {"pain": pain})
        elif what == "correct":
            newest = [r[0] for r in conn.execute("SELECT id FROM diary_entries d WHERE NOT EXISTS "
                                                 "(SELECT 1 FROM diary_entries n WHERE n.supersedes = d.id) ORDER BY id")]
            if newest:
                diary.correct_entry(site.access, newest[pick % len(newest)], {"pain": pain})
        else:
            sender, receiver = (site, hub) if what == "up" else (hub, site)
            raw = sender.bundle_for(receiver)
            receiver.import_(raw)
            received[receiver.name].append(raw)
    return received


def _rows(site: Site, table: str, where: str = "1", params: tuple = ()) -> list[tuple]:
    return sorted(site.access.store.conn.execute(f"SELECT * FROM {table} WHERE {where}", params).fetchall())


def _keys(site: Site, where: str = "1", params: tuple = ()) -> set[tuple]:
    conn = site.access.store.conn
    return {(t, *r) for t in TABLES for r in conn.execute(f"SELECT id, hlc FROM {t} WHERE {where}", params)}


def _deliver(copy: Site, bundles: list[bytes], order: list[int]) -> None:
    for index in order:
        copy.import_(bundles[index])  # never refused: a change without its parent waits


def _check_hub(hub: Site, copy: Site) -> None:
    for table in TABLES:
        assert _rows(copy, table) == _rows(hub, table)
    log = "SELECT change_id, data, via FROM change_log WHERE via IS NOT NULL"
    assert sorted(copy.access.store.conn.execute(log)) == sorted(hub.access.store.conn.execute(log))
    assert copy.access.store.conn.execute("SELECT count(*) FROM waiting_changes").fetchone()[0] == 0


def _check_field(field: Site, copy: Site) -> None:
    me = field.id
    expected = _keys(field, "device_id != ?", (me,))  # every row it received; its own never come back
    applied = _keys(copy)
    conn = copy.access.store.conn
    waiting = {tuple(r) for r in conn.execute("SELECT table_name, row_id, hlc FROM waiting_changes")}
    assert applied | waiting == expected and not applied & waiting  # nothing lost, nothing twice
    for table in TABLES:  # the rows it applied are those the field device holds, column for column
        theirs = {r[0]: r for r in _rows(field, table, "device_id != ?", (me,))}
        assert all(theirs[r[0]] == r for r in _rows(copy, table))
    own = _keys(field, "device_id = ?", (me,))
    own_ids = {(t, row_id) for t, row_id, _ in own}
    for needs_table, needs_id in conn.execute("SELECT needs_table, needs_id FROM waiting_changes"):
        assert (needs_table, needs_id) in own_ids  # it waits only for what this device made itself


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=4, max_size=14), data=st.data())
def test_late_missing_and_repeated_bundles_end_in_the_same_state(steps, data):
    root = Path(tempfile.mkdtemp(prefix="telecbt-order-"))
    sites, copies = _twins(root)
    try:
        # Always traffic both ways, and a second bundle to the hub that needs the first (after its ack).
        steps = [("enrol", "a", 0, 0), ("up", "a", 0, 0), ("down", "a", 0, 0), ("diary", "a", 0, 5),
                 ("up", "a", 0, 0), *steps, ("up", "a", 0, 0), ("up", "b", 0, 0),
                 ("down", "a", 0, 0), ("down", "b", 0, 0)]
        received = _run(sites, steps)
        for name, copy in copies.items():
            bundles = received[name]
            order = data.draw(st.permutations(range(len(bundles))), label=f"order at {name}")
            for again in data.draw(st.lists(st.integers(0, len(bundles) - 1), max_size=2), label=f"twice at {name}"):
                order.insert(data.draw(st.integers(0, len(order)), label="when"), again)
            _deliver(copy, bundles, order)
        _check_hub(sites["hub"], copies["hub"])
        _check_field(sites["a"], copies["a"])
        _check_field(sites["b"], copies["b"])
    finally:
        for site in [*sites.values(), *copies.values()]:
            site.access.close()
        shutil.rmtree(root, ignore_errors=True)
