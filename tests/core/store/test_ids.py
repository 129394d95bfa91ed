"""Record ids, patient codes and recovery keys: typos must never pass silently."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telecbt_cli.core.store import ids


def test_uuid7_has_version_7_and_sorts_by_creation():
    values = [ids.uuid7() for _ in range(2000)]
    assert all(uuid.UUID(v).version == 7 for v in values)
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def _single_typos(text: str):
    """Every string that differs from `text` in exactly one character."""
    raw = text.replace("-", "")
    for pos in range(len(raw)):
        for ch in ids.ALPHABET:
            if ch != raw[pos]:
                yield pos, raw[:pos] + ch + raw[pos + 1 :]


def test_every_single_character_typo_in_a_patient_code_is_caught():
    for _ in range(20):
        code = ids.new_patient_code()
        assert ids.parse_patient_code(code) == code
        for _, typo in _single_typos(code):
            assert ids.parse_patient_code(typo) is None, (code, typo)


def test_patient_code_accepts_lower_case_missing_dash_and_look_alikes():
    code = ids.new_patient_code()
    loose = code.replace("-", "").lower().replace("0", "o").replace("1", "l")
    assert ids.parse_patient_code(loose) == code


@given(st.binary(min_size=32, max_size=32))
def test_recovery_key_round_trips(key):
    assert ids.parse_recovery_key(ids.format_recovery_key(key)) == key


def test_every_single_character_typo_in_a_recovery_key_is_caught():
    text = ids.format_recovery_key(os.urandom(32))
    for pos, typo in _single_typos(text):
        with pytest.raises(ids.RecoveryKeyError) as err:
            ids.parse_recovery_key(typo)
        assert f"group {pos // 5 + 1} " in str(err.value)


def test_recovery_key_is_grouped_for_paper():
    text = ids.format_recovery_key(os.urandom(32))
    groups = text.split("-")
    assert len(groups) == 13 and all(len(g) == 5 for g in groups)
