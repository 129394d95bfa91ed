"""Ids as people type them (issue 16, point 5): the whole id, or a unique start or end of it."""

from __future__ import annotations

import pytest

from telecbt_cli.core.clinical.patients import PatientFields, add_patient
from telecbt_cli.core.store import records
from telecbt_cli.core.store.errors import NotFoundError, UsageError
from telecbt_cli.core.store.ids import short_id


@pytest.fixture
def two_ids(admin) -> list[str]:
    return [add_patient(admin, PatientFields(display_name=f"P{i}"))["id"] for i in range(2)]


def test_the_whole_id_the_end_tables_show_or_a_start(admin, two_ids):
    first, _ = two_ids
    for typed in (first, first.upper(), first.replace("-", ""), short_id(first), short_id(first)[-6:],
                  first[:23], first[:23].replace("-", "").upper(), first[-17:]):
        assert records.resolve_id(admin.store, "patients", typed, "patient record") == first, typed


def test_ambiguous_unknown_and_malformed_ids(admin, two_ids):
    first, second = two_ids
    # UUIDv7 starts with the time: ids made a moment apart share their first digits.
    assert first[:6] == second[:6]
    with pytest.raises(UsageError, match="matches 2 patient record ids"):
        records.resolve_id(admin.store, "patients", first[:6], "patient record")
    with pytest.raises(NotFoundError):
        records.resolve_id(admin.store, "patients", "000000000000", "patient record")
    with pytest.raises(UsageError, match="at least 6"):
        records.resolve_id(admin.store, "patients", first[-5:], "patient record")
    with pytest.raises(UsageError, match="not an id"):
        records.resolve_id(admin.store, "patients", "zz9-not-hex", "patient record")
    with pytest.raises(NotFoundError):
        records.resolve_id(admin.store, "patients", first + "0", "patient record")


def test_a_tombstoned_record_is_not_found(admin, two_ids):
    first, _ = two_ids
    with admin.store.write():
        records.tombstone(admin.store, "patients", first)
    with pytest.raises(NotFoundError):
        records.resolve_id(admin.store, "patients", short_id(first), "patient record")
