"""Shares of a large bundle kept between passes: written once while the bundle is read, read back once.

A bundle that touches many patients is applied one share of them at a time (`bundle_apply.passes`).
The bundle is decrypted and read once: the first share is applied as it streams by, and the
change lines of every other share are written to that share's spill file, then read back in
turn. Reading the bundle again for each share cost a decryption, a decompression, a digest and
a split of every line per share, which grew with the square of the data.

Nothing in clear reaches the disk: each file is unnamed (`tempfile.TemporaryFile` in the store's
folder: gone when closed, or when the process dies), its lines are packed in blocks of about
`BLOCK` bytes, each block compressed (zstd, the bundles' dictionary) and sealed with the store's
AES-256-GCM (`crypto.seal`) under a key made for this import and held only in memory. Each
block's associated data names its file, its place in the file and whether it is the last, so a
file that was changed, cut short, reordered, extended or swapped for another share's is refused
(IntegrityError) and the import, one transaction, writes nothing.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

from telecbt_cli.core.store import crypto
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.store.fsutil import storage_error
from telecbt_cli.core.sync.bundle_read import MAX_LINE_BYTES

#: Bytes of lines per sealed block: small, so that memory stays flat however many shares wait.
BLOCK = 64 * 1024
_HEAD = struct.Struct(">12sI?")  # nonce, sealed length, last block
_PLACE = struct.Struct(">IQ?")  # associated data: file number, block number, last block


#: The largest block `_seal` writes: a block's lines, the last of which may be as long as a bundle line allows,
#: compressed (zstd never grows data by more than a small margin) and sealed (a 16-byte tag).
_MAX_SEALED = 2 * (BLOCK + MAX_LINE_BYTES) + 4096


def _changed() -> IntegrityError:
    return IntegrityError("a temporary file of this import was changed on disk while the bundle was being imported: "
                          "nothing was imported; import it again", key="errors.bundle_spill.changed")


class Spills:
    """One spill file per share after the first, for one import; use as a context manager (closes them all)."""

    def __init__(self, folder: Path, count: int) -> None:
        import os

        from telecbt_cli.core.sync import bundle_dict

        self.folder = folder
        self.key = os.urandom(32)
        self.dictionary = bundle_dict.dictionary()
        self.files: list = []
        self.pending: list[list[bytes]] = [[] for _ in range(count)]
        self.sizes = [0] * count
        self.blocks = [0] * count
        self.finished: set[int] = set()
        self._compressor = None
        try:
            for _ in range(count):
                self.files.append(tempfile.TemporaryFile(dir=folder))
        except OSError as error:
            self.close()
            raise storage_error("write", folder, error) from None

    def __enter__(self) -> "Spills":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for handle in self.files:
            handle.close()
        self.files, self.pending = [], []

    def add(self, number: int, line: bytes) -> None:
        """Keep one change line for share file `number` (0 for the second share, and so on)."""
        pending = self.pending[number]
        pending.append(line)
        self.sizes[number] += len(line) + 1
        if self.sizes[number] >= BLOCK:
            self._seal(number, last=False)

    def _seal(self, number: int, last: bool) -> None:
        import zstandard

        if self._compressor is None:
            self._compressor = zstandard.ZstdCompressor(level=1, dict_data=self.dictionary)
        pending = self.pending[number]
        data = b"\n".join(pending) + b"\n" if pending else b""
        pending.clear()
        self.sizes[number] = 0
        nonce, sealed = crypto.seal(self.key, self._compressor.compress(data),
                                    _PLACE.pack(number, self.blocks[number], last))
        self.blocks[number] += 1
        try:
            self.files[number].write(_HEAD.pack(nonce, len(sealed), last) + sealed)
        except OSError as error:
            raise storage_error("write", self.folder, error) from None

    def finish(self, number: int) -> None:
        """Seal file `number`'s last block (with the lines not yet written): nothing more is added to it."""
        if number not in self.finished:
            self._seal(number, last=True)
            self.finished.add(number)

    def lines(self, number: int) -> Iterator[bytes]:
        """Every line kept for file `number`, in the order it was added; IntegrityError if the file was changed."""
        import zstandard

        self.finish(number)
        handle = self.files[number]
        decompressor = zstandard.ZstdDecompressor(dict_data=self.dictionary)
        try:
            handle.flush()
            handle.seek(0)
            block, last = 0, False
            while not last:
                head = handle.read(_HEAD.size)
                if len(head) != _HEAD.size:
                    raise _changed()  # cut short: the last block never came
                nonce, size, last = _HEAD.unpack(head)
                if size > _MAX_SEALED:
                    raise _changed()  # no block this import wrote is that large
                try:
                    data = crypto.open_sealed(self.key, nonce, handle.read(size), _PLACE.pack(number, block, last))
                    text = decompressor.decompress(data)  # its size is in the sealed frame
                except (crypto.DecryptError, zstandard.ZstdError):
                    raise _changed() from None
                block += 1
                found = text.split(b"\n")
                found.pop()  # after the last newline
                yield from found
            if handle.read(1):
                raise _changed()  # something after the last block
        except OSError as error:
            raise storage_error("read back", self.folder, error) from None
        finally:
            handle.close()  # read once: its blocks leave the disk now
