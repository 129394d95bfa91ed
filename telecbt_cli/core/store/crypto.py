"""Primitives for key slots and sessions: scrypt, AES-256-GCM and X25519 key wrapping.

Each function imports the parts of `cryptography` it uses, so a command that only
opens a session pays for AES-GCM and HKDF, not for the whole package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_LOG2N = 17
MIN_LOG2N = 10


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost; stored with each slot so old slots keep opening when defaults change."""

    log2n: int = DEFAULT_LOG2N
    r: int = 8
    p: int = 1

    def to_dict(self) -> dict:
        return {"name": "scrypt", "log2n": self.log2n, "r": self.r, "p": self.p}

    @classmethod
    def from_dict(cls, data: dict) -> "KdfParams":
        if data.get("name") != "scrypt":
            raise ValueError(f"unknown key derivation {data.get('name')!r}")
        return cls(int(data["log2n"]), int(data["r"]), int(data["p"]))


class DecryptError(Exception):
    """Authentication failed: wrong key or altered data."""


#: Set by long-running UIs (see `isolate_kdf`); scripts and one-shot commands derive in-process.
_KDF_IN_CHILD = False


def isolate_kdf(enabled: bool = True) -> None:
    """Run scrypt in a short-lived child process from now on.

    scrypt's work buffer (128 MiB at the default n=2^17) would otherwise stay in this
    process's peak memory for as long as it runs: the terminal UI and the kiosk, which
    run for hours on 2 GB laptops, keep their footprint small this way. The secret goes
    to the child over a pipe, never in its arguments or environment.
    """
    global _KDF_IN_CHILD
    _KDF_IN_CHILD = enabled


def derive_key(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    if _KDF_IN_CHILD and params.log2n >= 14:
        derived = _derive_in_child(secret, salt, params)
        if derived is not None:
            return derived
    return derive_in_process(secret, salt, params)


def derive_in_process(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    kdf = Scrypt(salt=salt, length=32, n=1 << params.log2n, r=params.r, p=params.p)
    return kdf.derive(secret)


def _derive_in_child(secret: bytes, salt: bytes, params: KdfParams) -> bytes | None:
    """scrypt in `python -m telecbt_cli.core.store.kdf_child`; None if the child cannot run (then derive here)."""
    import subprocess
    import sys

    request = " ".join((secret.hex(), salt.hex(), str(params.log2n), str(params.r), str(params.p))).encode()
    try:
        # -P: the working folder is not put on sys.path, so a `telecbt_cli` there cannot read the secret
        done = subprocess.run([sys.executable, "-P", "-m", "telecbt_cli.core.store.kdf_child"], input=request,
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        derived = bytes.fromhex(done.stdout.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    return derived if done.returncode == 0 and len(derived) == 32 else None


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM; returns (nonce, ciphertext)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptError("authentication failed") from None


def hkdf(secret: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    """HKDF-SHA256 (RFC 5869) for one 32-byte output block.

    Written with the standard library's hmac: it is the same function as
    cryptography's HKDF (a test checks), without importing that module on the
    session path of every command.
    """
    import hashlib
    import hmac

    prk = hmac.new(salt or bytes(32), secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def new_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw (private, public) bytes."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def wrap_to_public(public: bytes, plaintext: bytes, aad: bytes) -> dict[str, bytes]:
    """Seal for the holder of `public`: ephemeral X25519, HKDF-SHA256, AES-256-GCM."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    eph_public = ephemeral.public_key().public_bytes_raw()
    key = hkdf(shared, b"telecbt slot wrap v1", salt=eph_public + public)
    nonce, sealed = seal(key, plaintext, aad)
    return {"ephemeral": eph_public, "nonce": nonce, "sealed": sealed}


def unwrap_with_private(private: bytes, wrapped: dict[str, bytes], aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    key_obj = X25519PrivateKey.from_private_bytes(private)
    public = key_obj.public_key().public_bytes_raw()
    shared = key_obj.exchange(X25519PublicKey.from_public_bytes(wrapped["ephemeral"]))
    key = hkdf(shared, b"telecbt slot wrap v1", salt=wrapped["ephemeral"] + public)
    return open_sealed(key, wrapped["nonce"], wrapped["sealed"], aad)


def _expand(key: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869) with SHA-256: a keystream of `length` bytes."""
    import hashlib
    import hmac

    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(key, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def seal_light(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt-then-MAC from the standard library, for short secrets in session files.

    Separate encryption and MAC keys come from `key` by HKDF; the keystream is
    HKDF-Expand keyed by the encryption key over a random 16-byte nonce; the tag is
    HMAC-SHA256 over the associated data, nonce and ciphertext. It avoids importing
    `cryptography` on the path every scripted command takes; the key slots keep
    AES-256-GCM.
    """
    import hashlib
    import hmac

    enc, mac = hkdf(key, b"telecbt light enc"), hkdf(key, b"telecbt light mac")
    nonce = os.urandom(16)
    cipher = bytes(a ^ b for a, b in zip(plaintext, _expand(enc, nonce, len(plaintext))))
    tag = hmac.new(mac, len(aad).to_bytes(8, "big") + aad + nonce + cipher, hashlib.sha256).digest()
    return nonce, cipher + tag


def open_light(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    import hashlib
    import hmac

    if len(nonce) != 16 or len(sealed) < 32:
        raise DecryptError("malformed")
    enc, mac = hkdf(key, b"telecbt light enc"), hkdf(key, b"telecbt light mac")
    cipher, tag = sealed[:-32], sealed[-32:]
    expected = hmac.new(mac, len(aad).to_bytes(8, "big") + aad + nonce + cipher, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise DecryptError("authentication failed")
    return bytes(a ^ b for a, b in zip(cipher, _expand(enc, nonce, len(cipher))))
