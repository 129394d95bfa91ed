"""Bundles split into email-sized parts and put back together, with every way it can go wrong."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telecbt_cli.core.sync import parts

BID = "0190f0aa-1234-7abc-8def-0123456789ab"


def _split_header(data: bytes) -> tuple[dict, bytes]:
    head, _, body = data.partition(b"\n")
    return json.loads(head), body


def _rewrite(data: bytes, **changes) -> bytes:
    header, body = _split_header(data)
    header.update(changes)
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n" + body


@settings(max_examples=150, deadline=None)
@given(bundle=st.binary(min_size=0, max_size=6000), limit=st.integers(min_value=400, max_value=7000),
       seed=st.integers(min_value=0, max_value=2**32))
def test_shuffled_parts_always_reassemble(bundle, limit, seed):
    pieces = parts.split(bundle, BID, limit)
    assert all(len(data) <= limit for _, data in pieces)
    if len(bundle) <= limit:
        assert pieces == [(f"{BID}.tcb", bundle)]
    else:
        assert len(pieces) >= 2
        names = [name for name, _ in pieces]
        assert len(set(names)) == len(names)
        assert names[0] == f"{BID}.part001of{len(pieces):03d}.tcbp"
    random.Random(seed).shuffle(pieces)
    bundles, problems = parts.assemble(dict(pieces))
    assert problems == [] and bundles == [bundle]


def test_headers_are_one_sorted_json_line():
    bundle = bytes(range(256)) * 40
    pieces = parts.split(bundle, BID, 1000)
    header, body = _split_header(pieces[1][1])
    assert list(header) == sorted(header)
    assert header == {"format": "telecbt-part", "version": 1, "bundle_id": BID, "index": 2, "count": len(pieces),
                      "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
                      "part_sha256": hashlib.sha256(body).hexdigest()}
    assert b"".join(_split_header(data)[1] for _, data in pieces) == bundle


def test_a_limit_too_small_for_the_header_is_refused():
    with pytest.raises(ValueError, match="no room"):
        parts.split(b"x" * 1000, BID, 100)
    with pytest.raises(ValueError, match="bundle id"):
        parts.split(b"x" * 1000, "../evil", 5000)


def _pieces(size=10_000, limit=1000, bundle_id=BID, seed=1):
    bundle = random.Random(seed).randbytes(size)
    return bundle, dict(parts.split(bundle, bundle_id, limit))


def test_missing_parts_are_listed_by_number():
    bundle, files = _pieces(12000, 2000)
    names = sorted(files)
    count = len(names)
    assert count == 7
    del files[names[1]], files[names[4]]
    bundles, problems = parts.assemble(files)
    assert bundles == []
    assert problems == [{"bundle_id": BID, "message": problems[0]["message"], "cause": problems[0]["cause"]}]
    assert problems[0]["cause"].key == "errors.bundle_parts.missing"  # worded in the reader's language by a UI
    assert "parts 2 and 5 of 7 are missing" in problems[0]["message"]
    del files[names[2]], files[names[3]]
    assert "parts 2-5 of 7 are missing" in parts.assemble(files)[1][0]["message"]
    only = {names[0]: files[names[0]]}
    assert "parts 2-7 of 7 are missing" in parts.assemble(only)[1][0]["message"]
    _, files = _pieces(12000, 2000)
    del files[names[6]]
    assert "part 7 of 7 is missing" in parts.assemble(files)[1][0]["message"]


def test_an_identical_duplicate_is_harmless_a_different_one_is_named():
    bundle, files = _pieces()
    name = sorted(files)[2]
    files["copy of " + name.replace(".tcbp", "") + ".tcbp"] = files[name]
    assert parts.assemble(files) == ([bundle], [])
    # A self-consistent copy (its own checksum fits) with other contents: someone edited it.
    _, body = _split_header(files[name])
    other_body = bytes([body[0] ^ 1]) + body[1:]
    header_line = _rewrite(files[name], part_sha256=hashlib.sha256(other_body).hexdigest()).split(b"\n", 1)[0]
    files["other.tcbp"] = header_line + b"\n" + other_body
    bundles, problems = parts.assemble(files)
    assert bundles == []
    (problem,) = problems
    assert problem["bundle_id"] == BID and "part 3 of" in problem["message"]
    assert "twice with different contents" in problem["message"]


def test_a_damaged_part_is_named_and_the_bundle_waits_for_a_good_copy():
    bundle, files = _pieces()
    name = sorted(files)[3]
    damaged = bytearray(files[name])
    damaged[-10] ^= 0xFF
    good = files[name]
    files[name] = bytes(damaged)
    bundles, problems = parts.assemble(files)
    assert bundles == []
    assert any("part 4 of" in p["message"] and "damaged" in p["message"] for p in problems)
    assert any("part 4 of" in p["message"] and "missing" in p["message"] for p in problems)
    files["saved again.tcbp"] = good
    bundles, problems = parts.assemble(files)
    assert bundles == [bundle] and len(problems) == 1 and "damaged" in problems[0]["message"]


def test_a_part_from_another_export_or_bundle_is_left_out():
    bundle, files = _pieces(10_000, 1000)
    # The same bundle split with another limit: same id and checksum, another count.
    other = dict(parts.split(bundle, BID, 3000))
    stray_name = sorted(other)[0]
    files["stray.tcbp"] = other[stray_name]
    bundles, problems = parts.assemble(files)
    assert bundles == [bundle]
    (problem,) = problems
    assert "'stray.tcbp'" in problem["message"] and "another bundle" in problem["message"]
    assert f"the bundle has {len(files) - 1} parts" in problem["message"]
    # A part claiming this bundle id but carrying another bundle's checksum.
    _, foreign = _pieces(10_000, 1000, seed=2)
    del files["stray.tcbp"]
    files["foreign.tcbp"] = sorted(foreign.items())[0][1]
    bundles, problems = parts.assemble(files)
    assert bundles == [bundle]
    assert len(problems) == 1 and "checksum differs" in problems[0]["message"]


def test_a_header_index_past_the_count_or_a_wrong_bundle_checksum():
    bundle, files = _pieces(3000, 1000)
    name = sorted(files)[0]
    files[name] = _rewrite(files[name], index=9)
    problems = parts.assemble(files)[1]
    assert any("invalid part header" in p["message"] for p in problems)
    bundle, files = _pieces(3000, 1000)
    forged = "0" * 64
    files = {n: _rewrite(d, bundle_sha256=forged) for n, d in files.items()}
    bundles, problems = parts.assemble(files)
    assert bundles == [] and "do not match the bundle's checksum" in problems[0]["message"]


@pytest.mark.parametrize("raw, expected", [
    (b"no newline at all", "no part header"),
    (b"x" * 5000 + b"\n" + b"data", "longer than 4 KiB"),
    (b"{not json\nrest", "not JSON"),
    (b'["a", "list"]\nrest', "unknown format"),
    (b'{"format": "zip"}\nrest', "unknown format"),
    (b'{"format": "telecbt-part", "version": 2, "bundle_id": "abc"}\nrest', "version 2, newer than"),
    (b'{"format": "telecbt-part", "version": "1"}\nrest', "no valid part format version"),
    (b'{"format": "telecbt-part", "version": 1, "bundle_id": "abc", "index": true, "count": 1}\nx',
     "invalid part header"),
    (b'{"format": "telecbt-part", "version": 1, "bundle_id": "../x", "index": 1, "count": 1}\nx',
     "invalid part header"),
    ("\u00e9\u00e8".encode("latin-1") + b"\nrest", "not JSON"),
])
def test_bad_headers(raw, expected):
    bundles, problems = parts.assemble({"thing.tcbp": raw})
    assert bundles == []
    (problem,) = problems
    assert expected in problem["message"] and "'thing.tcbp'" in problem["message"]


@pytest.mark.parametrize("name", ["../evil.tcbp", "sub/part.tcbp", "a\\b.tcb", "x\0.tcb", "..tcb", "", " "])
def test_odd_or_traversal_names_are_refused(name):
    bundle, files = _pieces(100, 1000)  # one whole .tcb
    data = next(iter(files.values()))
    bundles, problems = parts.assemble({name: data})
    assert bundles == []
    assert len(problems) == 1 and problems[0]["bundle_id"] is None


def test_whole_bundles_pass_through_and_unknown_files_are_named():
    one, two = b"age-encryption.org/v1 first", b"-----BEGIN AGE ENCRYPTED FILE-----\nsecond"
    bundles, problems = parts.assemble({"a.tcb": one, "b.age": two, "notes.txt": b"hello"})
    assert bundles == [one, two]
    assert len(problems) == 1 and "'notes.txt' is neither a bundle" in problems[0]["message"]


def test_a_bundle_given_whole_and_in_parts_comes_out_once_and_groups_stay_apart():
    first, files = _pieces(5000, 1000, seed=3)
    other_id = "0190f0aa-9999-7abc-8def-0123456789ab"
    second, more = _pieces(7000, 1500, bundle_id=other_id, seed=4)
    files.update(more)
    files[f"{BID}.tcb"] = first
    shuffled = list(files.items())
    random.Random(5).shuffle(shuffled)
    bundles, problems = parts.assemble(dict(shuffled))
    assert problems == []
    assert sorted(bundles) == sorted([first, second])
