"""Hand-made bundles for attack tests: real age seals, real Ed25519 signatures from a real store's device
key, with whatever lines the attacker chooses."""

from __future__ import annotations

import hashlib
import json

import pyrage
import zstandard

from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.sync import devices


def b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def canonical(manifest: dict) -> bytes:
    """How a manifest is signed (docs/bundle-format.md)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def header(sender, **overrides) -> dict:
    made = {"format": "telecbt-bundle", "version": 1, "bundle_id": uuid7(), "source_device": sender.store.device_id,
            "created": "2026-11-30T10:00:00.000Z", "recipients": [], "to_device": None, "from_seq": 0,
            "partial": True}
    return {**made, **overrides}


def line(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def change_line(table: str, row: dict, op: str = "insert", base: str | None = None) -> bytes:
    return line({"change": {"base_hlc": base, "data": row, "op": op, "table": table}})


def signed_payload(sender, head: dict, body: list[bytes], sign: bool = True, **manifest) -> bytes:
    """Header, change lines and a manifest over them, signed by `sender`'s device key (or not at all)."""
    first = line({"header": head})
    digest = hashlib.sha256(first + b"".join(body)).digest()
    trailer = {"bundle_id": head["bundle_id"], "to_seq": 0, "counts": {}, "changes": len(body),
               "payload_sha256": b64(digest), "acks": {}, "audit_head": None, **manifest}
    signature = devices.sign(sender, canonical(trailer)) if sign else "AAAA"
    return first + b"".join(body) + line({"manifest": trailer, "signature": signature})


def seal(receiver, payload: bytes) -> bytes:
    recipient = pyrage.x25519.Recipient.from_str(devices.identity(receiver)["recipient"])
    return pyrage.encrypt(zstandard.ZstdCompressor(level=3).compress(payload), [recipient])


def row(sender, table: str, ident: str | None = None, **values) -> dict:
    """A row with valid sync columns for `table`, made on `sender`'s device."""
    device = sender.store.device_id
    stamp = "2026-11-30T10:00:00.000Z"
    return {"id": ident or uuid7(), **values, "created_at": stamp, "updated_at": stamp, "device_id": device,
            "hlc": f"1795000000000.00000.{device}", "deleted": 0}
