"""Reading a bundle in constant memory, with every cost bounded before the sender is trusted.

A bundle is read twice, each time as a stream (file -> age -> zstd -> lines), never whole:

1. **verify**: nothing is parsed but the header and the manifest. The bytes are hashed as they
   come (SHA-256 over every line before the manifest, in C), newlines counted, and the
   signature checked at the end. The header is read first: a sender this store does not
   trust, a newer format or a bundle made for another device is refused at once.
2. **apply**: the same stream again, one parse per line, each change handed on as it comes;
   the digest is computed again and must match before the transaction commits (so a file
   swapped between the passes writes nothing).

Bounds, checked before any work they bound (the limits are in docs/bundle-format.md):
the file size with `fstat` before reading (`MAX_BUNDLE_BYTES`); the plaintext against the
file size (`MAX_RATIO`, above a floor) and an absolute cap (`MAX_PLAINTEXT_BYTES`), so a
small file that expands enormously is refused after a bounded amount of work; the zstd
window (`MAX_WINDOW`); the line length (`MAX_LINE_BYTES`); the scrypt work factor of a
passphrase seal, read from the age header before any scrypt runs. pyrage's streaming decrypt
may emit up to 64 KiB of plaintext before it notices a damaged stream: pass 1 only hashes
that, and pass 2 writes inside a transaction that is rolled back on any error.

Passphrase-sealed bundles (for peers without device keys) are decrypted in memory: pyrage
has no streaming passphrase decrypt. They are bounded by `MAX_BUNDLE_BYTES` like any file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import IntegrityError, TelecbtError, UsageError
from telecbt_cli.core.sync import devices

FORMAT = "telecbt-bundle"
#: Format 2 (the zstd frame names the shipped dictionary, `bundle_dict`) is written; 1 is still read.
VERSION = 2
MAX_BUNDLE_BYTES = 512 * 2**20
MAX_PLAINTEXT_BYTES = 4 * 2**30
#: Plaintext may be at most this many times the file's size (above RATIO_FLOOR). Real bundles
#: compress 8-15x; a decompression bomb compresses thousands of times (96 KiB -> 1 GiB).
MAX_RATIO = 100
RATIO_FLOOR = 16 * 2**20
MAX_LINE_BYTES = 4 * 2**20
#: The largest zstd window a bundle may ask for (telecbt writes 1-8 MiB windows).
MAX_WINDOW = 16 * 2**20
#: The highest scrypt work factor accepted in a passphrase-sealed bundle. pyrage calibrates its
#: own seal to about a second (19 or 20 here: 512 MiB-1 GiB); a hostile file could ask for 2^30
#: (minutes, many GiB), so the header is read and refused before decrypting.
MAX_WORK_FACTOR = 21
CHUNK = 1 << 17
#: A bundle file up to this size is decrypted once, kept in memory for the second pass.
SMALL_BYTES = 1 << 20
_AGE_MAGIC = b"age-encryption.org/v1\n"
_BEGIN, _END = b"-----BEGIN AGE ENCRYPTED FILE-----", b"-----END AGE ENCRYPTED FILE-----"
_SCRYPT = re.compile(rb"^age-encryption\.org/v1\n-> scrypt \S+ (\d+)\n")
#: A row's patient as telecbt writes it in a change line (a hint for sharing the work, never trusted as data).
PATIENT_ID = re.compile(rb'"patient_id": ?"([^"\\]{1,64})"')
#: Distinct patients counted in pass 1 at most (a bundle claiming more is treated as having this many).
MAX_COUNTED_PATIENTS = 1 << 16
#: Pass 1 looks for patients in one decompressed chunk (~128 KiB, a few hundred lines) of this many: a patient
#: whose changes run through the bundle is seen, one with a handful of changes may not be (and hardly touches
#: the indexes). Reading every chunk cost ~1 % of a 1,000 x 365 import; this costs an eighth of that.
COUNT_EVERY = 8


def b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def canonical(manifest: dict) -> bytes:
    """The signed form of a manifest: sorted keys, compact separators, ASCII escapes."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str | bytes) -> object:
    """JSON from a bundle: NaN and Infinity refused; too deep or too long a number is an error, not a crash."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise IntegrityError("the bundle's payload is corrupt (not valid JSON)", key="errors.bundle_read.not_json") from None


# --- the file ---------------------------------------------------------------------------------------

class Source:
    """A bundle's bytes: a regular file, opened once and checked with fstat before any read, or bytes."""

    def __init__(self, name: str, handle: BinaryIO, size: int) -> None:
        self.name, self.handle, self.size = name, handle, size
        self._sealed: bytes | None = None  # compressed plaintext kept for pass 2: passphrase seals, small files

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "bundle") -> "Source":
        if len(data) > MAX_BUNDLE_BYTES:
            raise IntegrityError("the bundle is larger than {mib} MiB: refusing it", key="errors.bundle_file.too_large",
                                 mib=MAX_BUNDLE_BYTES // 2**20)
        return cls(name, io.BytesIO(data), len(data))

    @classmethod
    def from_path(cls, path: Path, follow: bool = True) -> "Source":
        """Open without blocking (a FIFO would hang a read) and without following a link unless `follow`."""
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        if not follow:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags)
        except OSError as error:
            raise UsageError("{name}: cannot be opened ({why})", key="errors.bundle_file.cannot_open", name=path.name,
                             why=error.strerror or str(error)) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise IntegrityError("{name} is not a regular file (a device, pipe or socket): not read",
                                 key="errors.bundle_file.not_regular", name=path.name)
        if info.st_size > MAX_BUNDLE_BYTES:
            os.close(fd)
            raise IntegrityError("{name} is larger than {mib} MiB: refusing it", key="errors.bundle_file.file_too_large",
                                 name=path.name, mib=MAX_BUNDLE_BYTES // 2**20)
        return cls(path.name, os.fdopen(fd, "rb"), info.st_size)

    def close(self) -> None:
        self.handle.close()
        self._sealed = None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(self, access: Access, passphrase: str | None, sink: object) -> None:
        """Decrypt from the start and write the decompressed plaintext into `sink` in chunks."""
        import zstandard

        self.handle.seek(0)
        writer = _Frame(sink)
        try:
            if self._sealed is not None:
                self._feed(self._sealed, writer)
            else:
                self._decrypt(access, passphrase, writer)
            writer.finish()
        except TelecbtError:
            raise
        except zstandard.ZstdError:
            raise IntegrityError("the bundle's payload is corrupt (decompression failed)", key="errors.bundle_read.corrupt") from None
        except Exception:
            raise IntegrityError("the bundle cannot be decrypted: it is damaged, or it was sealed for another "
                                 "device (check `telecbt device show`)", key="errors.bundle_read.cannot_decrypt") from None

    def _decrypt(self, access: Access, passphrase: str | None, writer: "_Frame") -> None:
        import pyrage

        stream = _binary(self.handle)
        head = stream.read(256)
        scrypt = _SCRYPT.match(head)
        if scrypt:
            self._sealed = _open_sealed(head + stream.read(MAX_BUNDLE_BYTES), int(scrypt.group(1)), passphrase)
            self._feed(self._sealed, writer)
        elif self.size <= SMALL_BYTES:
            kept = io.BytesIO()
            pyrage.decrypt_io(_Chain(head, stream), kept, [devices.age_identity(access)])
            self._sealed = kept.getvalue()
            self._feed(self._sealed, writer)
        else:
            pyrage.decrypt_io(_Chain(head, stream), writer, [devices.age_identity(access)])

    @staticmethod
    def _feed(data: bytes, writer) -> None:
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            writer.write(view[start:start + CHUNK])


def _open_sealed(data: bytes, factor: int, passphrase: str | None) -> bytes:
    import pyrage

    if factor > MAX_WORK_FACTOR:
        raise IntegrityError("the bundle's passphrase seal asks for scrypt work factor 2^{factor} (more than "
                             "2^{most}): it would take minutes and gigabytes; refusing it",
                             key="errors.bundle_file.work_factor", factor=factor, most=MAX_WORK_FACTOR)
    if passphrase is None:
        raise UsageError("this bundle is sealed with a passphrase: give it with --bundle-passphrase-file "
                         "or TELECBT_BUNDLE_PASSPHRASE", key="errors.bundle_read.sealed")
    try:
        return pyrage.passphrase.decrypt(data, passphrase)
    except Exception:
        raise IntegrityError("the bundle cannot be opened: wrong bundle passphrase, or the file is damaged", key="errors.bundle_read.wrong_passphrase") from None


class _Frame:
    """A zstd decompressing writer chosen by the first frame's header: no dictionary (format 1) or
    the shipped one (format 2, `bundle_dict.DICT_ID`). The window bound holds either way."""

    HEADER_MAX = 18  # magic, descriptor, window, dictionary id and content size at their longest

    def __init__(self, sink: object) -> None:
        self.sink, self.head, self.writer = sink, b"", None

    def write(self, data) -> int:
        if self.writer is None:
            self.head += bytes(data)
            if len(self.head) >= self.HEADER_MAX:
                self._start()
            return len(data)
        self.writer.write(data)
        return len(data)

    def _start(self) -> None:
        import zstandard

        from telecbt_cli.core.sync import bundle_dict

        try:
            dict_id = zstandard.get_frame_parameters(self.head).dict_id
        except zstandard.ZstdError:
            raise IntegrityError("the bundle's payload is corrupt (decompression failed)", key="errors.bundle_read.corrupt") from None
        if dict_id not in (0, bundle_dict.DICT_ID):
            raise IntegrityError("the bundle was compressed with a dictionary this telecbt does not have "
                                 "({dict_id}): upgrade telecbt", key="errors.bundle_file.dictionary", dict_id=dict_id)
        dictionary = bundle_dict.dictionary() if dict_id else None
        self.writer = zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=MAX_WINDOW).stream_writer(
            self.sink, write_size=CHUNK, write_return_read=True, closefd=False)
        head, self.head = self.head, b""
        self.writer.write(head)

    def finish(self) -> None:
        """Hand on a stream shorter than a frame header (it then fails as corrupt)."""
        if self.writer is None and self.head:
            self._start()


class _Chain(io.RawIOBase):
    """`head` (already read) followed by the rest of `rest`."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _binary(handle: BinaryIO) -> BinaryIO:
    """The binary age stream: the file itself, or its ASCII armor decoded as it is read."""
    head = handle.read(len(_AGE_MAGIC))
    handle.seek(0)
    return handle if head == _AGE_MAGIC else io.BufferedReader(_Dearmor(handle), CHUNK)


class _Dearmor(io.RawIOBase):
    """ASCII-armored age (as email clients deliver it: text around it, stray whitespace) as binary."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw, self.state, self.pending, self.out = raw, "before", b"", memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        import base64
        import binascii

        while not self.out and self.state != "done":
            line = self.raw.readline(1 << 16)
            if not line:
                if self.state == "before":
                    raise IntegrityError("the bundle cannot be decrypted: it is damaged, or it is not a bundle",
                                         key="errors.bundle_file.no_armor")
                raise IntegrityError("the armored bundle is damaged (it has no END line)", key="errors.bundle_file.no_end")
            text = line.strip()
            if self.state == "before":
                self.state = "body" if text == _BEGIN else "before"
                continue
            if text == _END:
                self.state, text = "done", b""
            self.pending += b"".join(text.split())
            usable = len(self.pending) if self.state == "done" else len(self.pending) // 4 * 4
            try:
                self.out = memoryview(base64.b64decode(self.pending[:usable], validate=True))
            except binascii.Error:
                raise IntegrityError("the armored bundle is damaged (bad base64)", key="errors.bundle_file.base64") from None
            self.pending = self.pending[usable:]
        size = min(len(buffer), len(self.out))
        buffer[:size], self.out = self.out[:size], self.out[size:]
        return size


def _oversized() -> IntegrityError:
    return IntegrityError("the bundle holds an oversized line: refusing it", key="errors.bundle_file.long_line")


# --- pass 1: verify ---------------------------------------------------------------------------------

@dataclass
class Verified:
    """What pass 1 established: the signed manifest (with the header) and the digested span."""

    manifest: dict
    digest: bytes
    digested_bytes: int
    total_bytes: int
    #: Distinct patients the change lines name (`PATIENT_ID`, in a sample of the chunks: `COUNT_EVERY`), counted
    #: for a file above SMALL_BYTES; else None.
    patients: int | None = None
    #: Those patients' ids, sorted (None when not counted): where a large import cuts its shares.
    patient_ids: list[bytes] | None = None

    def take_patient_ids(self) -> list[bytes] | None:
        """The patients' ids, handed over once (up to 65,536 of them): the import keeps only the share bounds."""
        ids, self.patient_ids = self.patient_ids, None
        return ids


class _Verify:
    """A sink that hashes every line but the last (the manifest) without parsing it."""

    def __init__(self, access: Access, limit: int, count_patients: bool = False) -> None:
        self.access, self.limit = access, limit
        self.digest, self.hashed, self.lines, self.total = hashlib.sha256(), 0, 0, 0
        self.patients: set[bytes] | None = set() if count_patients else None
        self.chunks = 0
        self.held = b""  # the last complete line and what follows it: not hashed yet
        self.header: dict | None = None
        self.signer: dict | None = None

    def write(self, chunk) -> int:
        size = len(chunk)
        self.total += size
        if self.total > self.limit:
            raise IntegrityError("the bundle expands far beyond its size: refusing it (decompression bomb?)",
                                 key="errors.bundle_file.bomb")
        data = self.held + bytes(chunk)
        last = data.rfind(b"\n")
        if last == -1:
            self.held = data
        else:
            if self.header is None:
                self._header(data[:data.index(b"\n")])
            start = data.rfind(b"\n", 0, last) + 1
            if start:
                self.digest.update(memoryview(data)[:start])
                self.hashed += start
                self.lines += data.count(b"\n", 0, start)
                if self.chunks % COUNT_EVERY == 0:  # the first, then one in COUNT_EVERY
                    self._count(data, start)
                self.chunks += 1
            self.held = data[start:]
            if last + 1 - start > MAX_LINE_BYTES:
                raise _oversized()
        if len(data) - last - 1 > MAX_LINE_BYTES:  # the line still being read
            raise _oversized()
        return size

    def _header(self, line: bytes) -> None:
        """The first line, checked before the rest is read: format, version, a trusted sender, the receiver."""
        obj = parse_json(line)
        header = obj.get("header") if isinstance(obj, dict) else None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise IntegrityError("this is not a telecbt bundle", key="errors.bundle_read.not_a_bundle")
        if not isinstance(header.get("version"), int) or header["version"] > VERSION:
            raise IntegrityError("the bundle uses format version {version}, newer than this telecbt understands "
                                 "({known}): upgrade telecbt", key="errors.bundle_file.newer",
                                 version=str(header.get("version")), known=VERSION)
        self.signer = devices.trusted_signer(self.access, str(header.get("source_device")))
        if header.get("to_device") not in (None, self.access.store.device_id):
            raise IntegrityError("the bundle was made for another device", key="errors.bundle_read.other_device")
        self.header = header

    def finish(self) -> Verified:
        if self.header is None or self.signer is None:
            raise IntegrityError("this is not a telecbt bundle", key="errors.bundle_read.not_a_bundle")
        held = self.held  # the manifest line, and any complete line before it not hashed yet
        if held.endswith(b"\n"):
            cut = held.rfind(b"\n", 0, len(held) - 1) + 1
        else:
            cut = held.rfind(b"\n") + 1
        if cut:
            self.digest.update(held[:cut])
            self.hashed += cut
            self.lines += held.count(b"\n", 0, cut)
            self._count(held, cut)
        line = held[cut:].rstrip(b"\n")
        if not line.strip():
            raise IntegrityError("the bundle is truncated: its signed manifest is missing", key="errors.bundle_read.truncated")
        obj = parse_json(line)
        trailer = obj.get("manifest") if isinstance(obj, dict) else None
        if not isinstance(trailer, dict):
            raise IntegrityError("the bundle is truncated: its signed manifest is missing", key="errors.bundle_read.truncated")
        digest = self.digest.digest()
        if self.header["version"] >= 2:  # the digest is signed but not sent: the one computed here must fit
            trailer.setdefault("payload_sha256", b64(digest))
        if not devices.verify(self.signer["signing_public"], canonical(trailer), str(obj.get("signature", ""))):
            raise IntegrityError("the bundle's signature is not valid: it was altered or forged", key="errors.bundle_read.signature")
        if trailer.get("payload_sha256") != b64(digest) or trailer.get("changes") != self.lines - 1 \
                or trailer.get("bundle_id") != self.header.get("bundle_id"):
            raise IntegrityError("the bundle's contents do not match its signed digest (altered or truncated)", key="errors.bundle_read.digest")
        ids = None if self.patients is None else sorted(self.patients)
        self.patients = None
        return Verified({**self.header, **trailer}, digest, self.hashed, self.total,
                        None if ids is None else len(ids), ids)

    def _count(self, data: bytes, end: int) -> None:
        """The patients named in the complete lines data[:end] (each line is seen once at most)."""
        if self.patients is not None and len(self.patients) < MAX_COUNTED_PATIENTS:
            self.patients.update(PATIENT_ID.findall(data, 0, end))


def verify(access: Access, source: Source, passphrase: str | None = None) -> Verified:
    """Pass 1: the signed manifest, or IntegrityError; bounded work whoever sent the file."""
    limit = min(MAX_PLAINTEXT_BYTES, max(RATIO_FLOOR, MAX_RATIO * source.size))
    sink = _Verify(access, limit, count_patients=source.size > SMALL_BYTES)
    source.push(access, passphrase, sink)
    return sink.finish()


# --- pass 2: the changes ----------------------------------------------------------------------------

class _Lines:
    """A sink that splits the stream into lines, hashes the digested span again, and hands on change lines."""

    def __init__(self, verified: Verified, on_change: Callable[[bytes], None]) -> None:
        self.verified, self.on_change = verified, on_change
        self.digest, self.position, self.index, self.pending = hashlib.sha256(), 0, 0, b""
        self.changes = verified.manifest["changes"]

    def write(self, chunk) -> int:
        size = len(chunk)
        data = bytes(chunk)
        if self.position < self.verified.digested_bytes:
            self.digest.update(memoryview(data)[:self.verified.digested_bytes - self.position])
        self.position += size
        if self.position > self.verified.total_bytes:
            raise IntegrityError("the bundle changed while it was being imported: nothing was imported", key="errors.bundle_read.changed")
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > MAX_LINE_BYTES:
            raise _oversized()
        for line in lines:
            if 0 < self.index <= self.changes:
                self.on_change(line)
            self.index += 1
        return size

    def finish(self) -> None:
        if self.digest.digest() != self.verified.digest or self.position != self.verified.total_bytes:
            raise IntegrityError("the bundle changed while it was being imported: nothing was imported", key="errors.bundle_read.changed")


def replay(access: Access, source: Source, verified: Verified, on_change: Callable[[bytes], None],
           passphrase: str | None = None) -> None:
    """Pass 2: every change line, in order, to `on_change`; then the digest must match pass 1."""
    sink = _Lines(verified, on_change)
    source.push(access, passphrase, sink)
    sink.finish()
