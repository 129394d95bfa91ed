"""Identifiers: UUIDv7 record ids, typo-checked patient codes and recovery keys.

Codes that people read aloud or copy from paper use Crockford's base-32 alphabet
(no I, L, O or U) and a Luhn mod 32 check character, which catches every
single-character substitution and most swaps of neighbours.
"""

from __future__ import annotations

import os
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_READ_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})

_last_ms = 0
_last_seq = 0


def uuid7() -> str:
    """A time-ordered UUIDv7 string (RFC 9562), monotonic within this process."""
    global _last_ms, _last_seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _last_seq += 1
        if _last_seq > 0xFFF:
            ms += 1
            _last_seq = 0
    else:
        _last_seq = os.urandom(1)[0]
    _last_ms = ms
    seq = _last_seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= seq << 64
    value |= 0b10 << 62
    value |= rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def short_id(record_id: str) -> str:
    """The end of a record id that tables show (the random part of a UUIDv7); any command that
    takes an id takes this back (`records.resolve_id`)."""
    return record_id[-12:]


def normalize_code(text: str) -> str:
    """Upper-case, drop separators and map look-alike letters to digits."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- \t")
    return cleaned.translate(_READ_ALIKES)


def _luhn_sum(chars: str, start_factor: int) -> int:
    factor = start_factor
    total = 0
    for ch in reversed(chars):
        addend = factor * _INDEX[ch]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return total


def check_char(chars: str) -> str:
    """The Luhn mod 32 check character for a string of alphabet characters."""
    remainder = _luhn_sum(chars, 2) % 32
    return ALPHABET[(32 - remainder) % 32]


def has_valid_check(chars: str) -> bool:
    if not chars or any(ch not in _INDEX for ch in chars):
        return False
    return _luhn_sum(chars, 1) % 32 == 0


def new_patient_code() -> str:
    """Seven random characters and a check character, shown as XXXX-XXXX."""
    # 256 is a multiple of 32, so each random byte maps to a character without bias.
    body = "".join(ALPHABET[b % 32] for b in os.urandom(7))
    return format_patient_code(body + check_char(body))


def format_patient_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def parse_patient_code(text: str) -> str | None:
    """The canonical form of a typed patient code, or None if it fails its check."""
    code = normalize_code(text)
    if len(code) != 8 or not has_valid_check(code):
        return None
    return format_patient_code(code)


RECOVERY_GROUPS = 13
_GROUP_DATA = 4


def format_recovery_key(key: bytes) -> str:
    """256 bits as 13 groups of four characters, each followed by its check character."""
    if len(key) != 32:
        raise ValueError("a recovery key is 32 bytes")
    number = int.from_bytes(key, "big")
    chars = []
    for _ in range(RECOVERY_GROUPS * _GROUP_DATA):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    data = "".join(reversed(chars))
    groups = []
    for i in range(RECOVERY_GROUPS):
        part = data[i * _GROUP_DATA : (i + 1) * _GROUP_DATA]
        groups.append(part + check_char(part))
    return "-".join(groups)


#: What can be wrong with a typed recovery key (`errors.recovery_key.…` when a UI shows it).
RECOVERY_PROBLEMS = {
    "length": "a recovery key has {groups} groups of {size} characters; got {got} characters",
    "typo": "group {number} ({group}) has a typo: check it against the paper copy",
    "not_key": "this is not a telecbt recovery key",
}


class RecoveryKeyError(ValueError):
    """A typed recovery key is malformed; the message names the faulty group (`kind` and `values` say which)."""

    def __init__(self, kind: str, **values: object) -> None:
        self.kind, self.values = kind, values
        super().__init__(RECOVERY_PROBLEMS[kind].format(**values))


def parse_recovery_key(text: str) -> bytes:
    """Bytes of a typed recovery key; raises RecoveryKeyError naming the bad group."""
    code = normalize_code(text)
    size = _GROUP_DATA + 1
    if len(code) != RECOVERY_GROUPS * size:
        raise RecoveryKeyError("length", groups=RECOVERY_GROUPS, size=size, got=len(code))
    data = []
    for i in range(RECOVERY_GROUPS):
        group = code[i * size : (i + 1) * size]
        if not has_valid_check(group):
            raise RecoveryKeyError("typo", number=i + 1, group=group)
        data.append(group[:_GROUP_DATA])
    number = 0
    for ch in "".join(data):
        number = (number << 5) | _INDEX[ch]
    if number >> 256:
        raise RecoveryKeyError("not_key")
    return number.to_bytes(32, "big")
