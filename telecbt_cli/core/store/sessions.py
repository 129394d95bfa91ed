"""Session tokens for scripts: derive the key once, reuse it until the token expires.

`telecbt unlock` seals the data key in a session file (runtime dir, mode 0600) under
a key derived from a random secret that exists only in the token. The file alone or
the token alone reveals nothing; the expiry is bound into the seal.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path

from telecbt_cli.core.store import audit, crypto
from telecbt_cli.core.store.access import Access, access_for
from telecbt_cli.core.store.errors import AuthError, UsageError
from telecbt_cli.core.store.fsutil import atomic_write, restrict_mode
from telecbt_cli.core.store.paths import require_store_dir, sessions_dir
from telecbt_cli.core.store.vault import WrongStoreKey, open_with_keys

PREFIX = "tcs1"  # token format; the file seal is "v2" (standard-library encrypt-then-MAC)
MAX_TTL = 7 * 24 * 3600
_TOKEN = re.compile(r"^tcs1\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_ttl(text: str) -> int:
    """'90s', '15m', '8h', '1d' (a bare number is minutes) into seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError("--ttl takes a duration such as 15m, 2h or 1d; got {text!r}", key="errors.ttl.format", text=text)
    value, unit = int(match.group(1)), match.group(2) or "m"
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if not 1 <= seconds <= MAX_TTL:
        raise UsageError("--ttl must be between 1 second and 7 days", key="errors.ttl.range")
    return seconds


def _header(session_id: str, store_dir: Path, store_id: str, user: str, expires: int) -> dict:
    return {"id": session_id, "store": str(store_dir.resolve()), "store_id": store_id,
            "user": user, "expires": expires}


def _aad(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def create(access: Access, ttl_seconds: int) -> tuple[str, int]:
    """A new session token and its expiry (epoch seconds)."""
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    restrict_mode(folder, 0o700)
    session_id = _b64u(os.urandom(9))
    secret = os.urandom(32)
    expires = int(time.time()) + ttl_seconds
    store = access.store
    header = _header(session_id, store.dir, store.store_id, access.user, expires)
    nonce, sealed = crypto.seal_light(crypto.hkdf(secret, b"telecbt session v2"), store.data_key, _aad(header))
    body = {**header, "nonce": base64.b64encode(nonce).decode(), "sealed": base64.b64encode(sealed).decode()}
    atomic_write(folder / f"{session_id}.json", json.dumps(body).encode())
    audit.append(store, access.user, "session.start", detail={"expires": expires})
    return f"{PREFIX}.{session_id}.{_b64u(secret)}", expires


def open_session(token: str, store_dir: Path, expect_user: str | None = None) -> Access:
    """The store opened with a session token; AuthError for forged, ended or expired tokens.

    `expect_user` is a user name the caller was also given (--user): a session belongs to
    one user, so naming another is refused rather than silently ignored."""
    match = _TOKEN.match(token.strip())
    if not match:
        raise AuthError("TELECBT_SESSION does not hold a valid session token: run `telecbt unlock`",
                        key="errors.token.format")
    session_id, secret_text = match.groups()
    path = sessions_dir() / f"{session_id}.json"
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise AuthError("this session has ended (telecbt lock) or belongs to another computer: "
                        "run `telecbt unlock` again", key="errors.token.ended") from None
    except (OSError, json.JSONDecodeError):
        raise AuthError("the session file is unreadable: run `telecbt unlock` again", key="errors.token.unreadable") from None
    header = {k: body.get(k) for k in ("id", "store", "store_id", "user", "expires")}
    if header["id"] != session_id:
        raise AuthError("the session token is not valid: run `telecbt unlock`", key="errors.token.invalid")
    if not isinstance(header["expires"], int) or header["expires"] <= time.time():
        path.unlink(missing_ok=True)
        raise AuthError("the session has expired: run `telecbt unlock` again", key="errors.token.expired")
    if header["store"] != str(store_dir.resolve()):
        raise AuthError("this session token was made for another store ({store})", key="errors.token.other_store",
                        store=header["store"])
    secret = base64.urlsafe_b64decode(secret_text + "=")
    try:
        key = crypto.open_light(
            crypto.hkdf(secret, b"telecbt session v2"),
            base64.b64decode(body["nonce"]), base64.b64decode(body["sealed"]), _aad(header),
        )
    except (crypto.DecryptError, KeyError, ValueError):
        raise AuthError("the session token is not valid: run `telecbt unlock`", key="errors.token.invalid") from None
    if expect_user and expect_user.strip().lower() != header["user"]:
        # The other name is not repeated: it may be a passphrase typed into the wrong field.
        raise AuthError("this session belongs to {user}, not the user given with --user or "
                        "TELECBT_USER: drop --user, or run `telecbt unlock --user NAME` for a session of your own",
                        key="errors.token.other_user", user=header["user"])
    require_store_dir(store_dir)
    try:
        store = open_with_keys(store_dir, [key], None, header["store_id"])
    except WrongStoreKey:
        raise AuthError("the store's key changed since this session began: run `telecbt unlock` again",
                        key="errors.token.rekeyed") from None
    try:
        return access_for(store, header["user"])
    except BaseException:
        store.close()
        raise


def lock_all() -> int:
    """End every session on this computer by deleting its file; returns how many."""
    folder = sessions_dir()
    count = 0
    if folder.is_dir():
        for path in folder.glob("*.json"):
            try:
                path.unlink()
                count += 1
            except OSError:
                pass
    return count
