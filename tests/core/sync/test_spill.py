"""Spill files keep the later shares of a large bundle between passes (issue 19): the lines come back
whole and in order, nothing is in clear on disk or left behind, and a file changed on disk is refused."""

from __future__ import annotations

import errno
import os

import pytest

import zstandard

from telecbt_cli.core.store.errors import IntegrityError, StorageError
from telecbt_cli.core.sync import spill
from telecbt_cli.core.sync.bundle_dict import dictionary

MARK = b"Secret-Patient-Name"


def lines_for(number: int, count: int) -> list[bytes]:
    return [b'{"change":{"n":%d,"file":%d,"note":"%s"}}' % (n, number, MARK) for n in range(count)]


def filled(folder, monkeypatch, block: int = 300) -> tuple[spill.Spills, list[list[bytes]]]:
    monkeypatch.setattr(spill, "BLOCK", block)  # many blocks from a few lines
    spills = spill.Spills(folder, 3)
    wanted = [lines_for(0, 40), [b"", b"x" * (3 * block), b"", b"after"], []]
    for n in range(40):  # interleaved, as a bundle's shares are
        for number, lines in enumerate(wanted):
            if n < len(lines):
                spills.add(number, lines[n])
    return spills, wanted


def raw(spills: spill.Spills, number: int) -> bytes:
    handle = spills.files[number]
    handle.flush()
    handle.seek(0)
    return handle.read()


def test_lines_come_back_in_order(tmp_path, monkeypatch):
    spills, wanted = filled(tmp_path, monkeypatch)
    with spills:
        for number, lines in enumerate(wanted):
            assert list(spills.lines(number)) == lines  # empty lines and a line longer than a block too


def test_nothing_in_clear_and_nothing_left(tmp_path, monkeypatch):
    before = sorted(os.listdir(tmp_path))
    spills, _ = filled(tmp_path, monkeypatch)
    with spills:
        written = raw(spills, 0)
        assert len(written) > 200 and MARK not in written and b"change" not in written
        # not merely compressed: no block is a zstd frame of the lines, with or without the bundles' dictionary
        size = int.from_bytes(written[12:16], "big")
        for decompressor in (zstandard.ZstdDecompressor(), zstandard.ZstdDecompressor(dict_data=dictionary())):
            with pytest.raises(zstandard.ZstdError):
                decompressor.decompress(written[17:17 + size])
        assert sorted(os.listdir(tmp_path)) == before  # the files have no name: a crash leaves nothing
        list(spills.lines(0))
    assert sorted(os.listdir(tmp_path)) == before


def _flip(spills, number):
    handle = spills.files[number]
    handle.flush()
    handle.seek(30)  # inside the first block's sealed bytes (after its 17-byte head)
    byte = handle.read(1)
    handle.seek(30)
    handle.write(bytes([byte[0] ^ 0x01]))


def _cut(spills, number):
    data = raw(spills, 0)
    handle = spills.files[number]
    handle.seek(0)
    handle.truncate()
    handle.write(data[: len(data) // 2])


def _swap(spills, number):
    mine, theirs = raw(spills, number), raw(spills, 1)
    for n, data in ((number, theirs), (1, mine)):
        handle = spills.files[n]
        handle.seek(0)
        handle.truncate()
        handle.write(data)


@pytest.mark.parametrize("damage", [_flip, _cut, _swap], ids=["byte changed", "cut short", "swapped with another"])
def test_a_changed_file_is_refused(tmp_path, monkeypatch, damage):
    spills, _ = filled(tmp_path, monkeypatch)
    with spills:
        damage(spills, 0)
        with pytest.raises(IntegrityError, match="changed on disk"):
            list(spills.lines(0))


def test_a_block_length_no_import_writes_is_refused_before_reading(tmp_path, monkeypatch):
    spills, _ = filled(tmp_path, monkeypatch)
    with spills:
        handle = spills.files[0]
        handle.flush()
        handle.seek(12)
        handle.write((2**32 - 1).to_bytes(4, "big"))  # the first block's length: 4 GiB
        with pytest.raises(IntegrityError, match="changed on disk"):
            list(spills.lines(0))


def test_a_lost_last_block_or_junk_after_it_is_refused(tmp_path, monkeypatch):
    """The last block is sealed as the last: a file cut between whole blocks, or with bytes added, is seen."""
    spills, _ = filled(tmp_path, monkeypatch)
    with spills:
        assert list(spills.lines(2)) == []  # an empty share: one empty last block, read fine
        before = raw(spills, 0)
        spills.finish(0)
        assert len(raw(spills, 0)) > len(before) > 0
        handle = spills.files[0]
        handle.seek(0)
        handle.truncate()
        handle.write(before)  # every block but the last, each one whole
        with pytest.raises(IntegrityError, match="changed on disk"):
            list(spills.lines(0))
        spills.finish(1)
        spills.files[1].seek(0, 2)
        spills.files[1].write(b"\0" * 8)
        with pytest.raises(IntegrityError, match="changed on disk"):
            list(spills.lines(1))


def test_a_full_disk_says_so(tmp_path, monkeypatch):
    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            pass

    spills, _ = filled(tmp_path, monkeypatch)
    with spills:
        spills.files[1] = Full()
        with pytest.raises(StorageError, match="disk is full"):
            for _ in range(20):
                spills.add(1, b"y" * 200)
