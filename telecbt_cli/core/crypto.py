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


def derive_key(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    kdf = Scrypt(salt=salt, length=32, n=1 << params.log2n, r=params.r, p=params.p)
    return kdf.derive(secret)


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
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def new_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw (private, public) bytes."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def wrap_to_public(public: bytes, plaintext: bytes, aad: bytes) -> dict[str, bytes]:
    """Seal for the holder of `public`: ephemeral X25519, HKDF-SHA256, AES-256-GCM."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    eph_public = ephemeral.public_key().public_bytes_raw()
    key = hkdf(shared, b"telecbt slot wrap v1", salt=eph_public + public)
    nonce, sealed = seal(key, plaintext, aad)
    return {"ephemeral": eph_public, "nonce": nonce, "sealed": sealed}


def unwrap_with_private(private: bytes, wrapped: dict[str, bytes], aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    key_obj = X25519PrivateKey.from_private_bytes(private)
    public = key_obj.public_key().public_bytes_raw()
    shared = key_obj.exchange(X25519PublicKey.from_public_bytes(wrapped["ephemeral"]))
    key = hkdf(shared, b"telecbt slot wrap v1", salt=wrapped["ephemeral"] + public)
    return open_sealed(key, wrapped["nonce"], wrapped["sealed"], aad)
