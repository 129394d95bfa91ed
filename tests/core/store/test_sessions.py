"""Session tokens: the token alone or the file alone reveals nothing; expiry and lock end them."""

from __future__ import annotations

import json
import time

import pytest

from telecbt_cli.core.store import keys, sessions
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import AuthError, UsageError
from telecbt_cli.core.store.paths import sessions_dir
from telecbt_cli.core.store.unlock import create_store
from tests.conftest import ADMIN


def test_a_token_opens_the_store_as_its_user(admin, store_dir):
    token, _ = sessions.create(admin, 60)
    again = sessions.open_session(token, store_dir)
    try:
        assert again.user == ADMIN and again.role == "admin"
    finally:
        again.close()


def test_the_session_file_does_not_hold_the_key(admin):
    token, _ = sessions.create(admin, 60)
    (path,) = sessions_dir().glob("*.json")
    raw = path.read_bytes()
    assert admin.store.data_key not in raw and admin.store.data_key.hex().encode() not in raw
    assert token.split(".")[2].encode() not in raw
    assert path.stat().st_mode & 0o077 == 0


def test_token_without_its_file_is_useless(admin, store_dir):
    token, _ = sessions.create(admin, 60)
    for path in sessions_dir().glob("*.json"):
        path.unlink()
    with pytest.raises(AuthError, match="ended"):
        sessions.open_session(token, store_dir)


def test_a_forged_token_is_refused(admin, store_dir):
    token, _ = sessions.create(admin, 60)
    prefix, sid, secret = token.split(".")
    forged = f"{prefix}.{sid}.{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    with pytest.raises(AuthError, match="not valid"):
        sessions.open_session(forged, store_dir)
    with pytest.raises(AuthError, match="not hold a valid"):
        sessions.open_session("garbage", store_dir)


def test_extending_the_expiry_in_the_file_breaks_the_seal(admin, store_dir):
    token, _ = sessions.create(admin, 60)
    (path,) = sessions_dir().glob("*.json")
    body = json.loads(path.read_text())
    body["expires"] += 3600
    path.write_text(json.dumps(body))
    with pytest.raises(AuthError, match="not valid"):
        sessions.open_session(token, store_dir)


def test_an_expired_token_is_refused(admin, store_dir):
    token, _ = sessions.create(admin, 1)
    time.sleep(1.2)
    with pytest.raises(AuthError, match="expired"):
        sessions.open_session(token, store_dir)


def test_lock_ends_every_session(admin, store_dir):
    first, _ = sessions.create(admin, 60)
    second, _ = sessions.create(admin, 60)
    assert sessions.lock_all() == 2
    for token in (first, second):
        with pytest.raises(AuthError):
            sessions.open_session(token, store_dir)


def test_a_token_for_another_store_is_refused(admin, tmp_path):
    other = create_store(tmp_path / "other", "bob", "bob passphrase", KdfParams(10))
    other.access.close()
    token, _ = sessions.create(admin, 60)
    with pytest.raises(AuthError, match="another store"):
        sessions.open_session(token, tmp_path / "other")


def test_rekey_ends_older_sessions(admin, store_dir):
    token, _ = sessions.create(admin, 60)
    keys.rekey(admin)
    with pytest.raises(AuthError, match="key changed"):
        sessions.open_session(token, store_dir)


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("10", 600)])
def test_ttl_parsing(text, seconds):
    assert sessions.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0m", "30d", "-5m"])
def test_bad_ttl(text):
    with pytest.raises(UsageError):
        sessions.parse_ttl(text)


def test_disabled_user_session_stops_working(admin, store_dir):
    from telecbt_cli.core.store import users
    from telecbt_cli.core.store.unlock import unlock

    users.add_user(admin, "bob", "chw", "bob passphrase", KdfParams(10))
    bob = unlock(store_dir, "bob", "bob passphrase")
    token, _ = sessions.create(bob, 60)
    bob.close()
    users.disable_user(admin, "bob")
    with pytest.raises(AuthError, match="disabled"):
        sessions.open_session(token, store_dir)


def test_light_seal_round_trips_and_detects_tampering():
    import os

    from telecbt_cli.core.store import crypto

    key, secret, aad = os.urandom(32), os.urandom(32), b"header"
    nonce, sealed = crypto.seal_light(key, secret, aad)
    assert secret not in sealed and crypto.open_light(key, nonce, sealed, aad) == secret
    for bad in (sealed[:-1] + bytes([sealed[-1] ^ 1]), bytes([sealed[0] ^ 1]) + sealed[1:]):
        with pytest.raises(crypto.DecryptError):
            crypto.open_light(key, nonce, bad, aad)
    with pytest.raises(crypto.DecryptError):
        crypto.open_light(key, nonce, sealed, b"other header")
    with pytest.raises(crypto.DecryptError):
        crypto.open_light(os.urandom(32), nonce, sealed, aad)
    assert crypto.seal_light(key, secret, aad)[1] != sealed  # a fresh nonce each time
