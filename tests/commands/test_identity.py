"""One identity per command (issue 16, point 3): a session is one user's, and a passphrase
changes only with the current one, or by an admin for someone else."""

from __future__ import annotations

import pytest

from telecbt_cli.core.store import users
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import AuthError, WrongPassphrase
from telecbt_cli.core.store.unlock import unlock
from tests.commands.clirun import invoke, invoke_json
from tests.conftest import ADMIN, ADMIN_PASS

AMINA_PASS = "amina passphrase 1"


@pytest.fixture
def team(cli_store, pass_file, tmp_path):
    """alice (admin) and amina (chw), each with a passphrase file; alice's session token."""
    amina_file = tmp_path / "amina.pass"
    amina_file.write_text(AMINA_PASS + "\n")
    added = invoke("user", "add", "amina", "--role", "chw", "--passphrase-file", str(pass_file),
                   "--new-passphrase-file", str(amina_file))
    assert added.exit_code == 0, added.stderr
    token = invoke("unlock", "--passphrase-file", str(pass_file)).stdout.strip()
    return {"store": cli_store, "alice": pass_file, "amina": amina_file, "session": {"TELECBT_SESSION": token}}


def _opens(store, user: str, passphrase: str) -> bool:
    try:
        unlock(store, user, passphrase).close()
        return True
    except AuthError:
        return False


def test_a_session_refuses_a_different_user(team):
    """Guards the finding: with TELECBT_SESSION set, --user was silently ignored."""
    session = team["session"]
    for env, args in ((session, ["--user", "amina"]), ({**session, "TELECBT_USER": "amina"}, []),
                      (session, ["--user", "AMINA"])):
        refused = invoke("patient", "list", *args, env=env)
        assert refused.exit_code == 3, args
        assert "session belongs to alice" in refused.stderr and "--user" in refused.stderr
    assert invoke("patient", "list", "--user", ADMIN, env=session).exit_code == 0
    before = invoke("--user", "amina", "patient", "list", env=session)
    assert before.exit_code == 3, "the same rule holds for --user given before the command"


def test_store_passwd_always_needs_the_current_passphrase(team, tmp_path):
    """Guards the finding: `store passwd --user amina` with the admin's session changed the
    admin's passphrase without asking for the old one."""
    new = tmp_path / "new.pass"
    new.write_text("a brand new passphrase\n")
    session = team["session"]
    refused = invoke("store", "passwd", "--user", "amina", "--new-passphrase-file", str(new), env=session)
    assert refused.exit_code == 3
    no_current = invoke("store", "passwd", "--new-passphrase-file", str(new), env=session)
    assert no_current.exit_code == 3 and "--passphrase-file" in no_current.stderr
    wrong = invoke("store", "passwd", "--passphrase-file", str(team["amina"]), "--user", ADMIN,
                   "--new-passphrase-file", str(new))
    assert wrong.exit_code == 3
    assert _opens(team["store"], ADMIN, ADMIN_PASS) and _opens(team["store"], "amina", AMINA_PASS)
    changed = invoke_json("store", "passwd", "--passphrase-file", str(team["alice"]), "--new-passphrase-file",
                          str(new), env=session)
    assert changed == {"user": ADMIN, "changed": True}
    assert _opens(team["store"], ADMIN, "a brand new passphrase") and not _opens(team["store"], ADMIN, ADMIN_PASS)


def test_user_passwd_is_an_admin_resetting_someone_else(team, tmp_path):
    new = tmp_path / "reset.pass"
    new.write_text("reset by the admin 1\n")
    session = team["session"]
    reset = invoke_json("user", "passwd", "amina", "--new-passphrase-file", str(new), env=session)
    assert reset == {"user": "amina", "changed": True}
    assert _opens(team["store"], "amina", "reset by the admin 1")
    yourself = invoke("user", "passwd", ADMIN, "--new-passphrase-file", str(new), env=session)
    assert yourself.exit_code == 2 and "store passwd" in yourself.stderr
    not_admin = invoke("user", "passwd", ADMIN, "--user", "amina", "--passphrase-file", str(new),
                       "--new-passphrase-file", str(new))
    assert not_admin.exit_code == 5
    own = invoke("user", "passwd", "--new-passphrase-file", str(new), env=session)
    assert own.exit_code == 3, "without a name it is your own change: the current passphrase is needed"
    assert _opens(team["store"], ADMIN, ADMIN_PASS)


def test_core_refuses_an_own_change_without_the_current_passphrase(admin):
    with pytest.raises(AuthError, match="needs the current one"):
        users.set_user_passphrase(admin, ADMIN, "another passphrase", KdfParams(10))
    with pytest.raises(WrongPassphrase):
        users.set_user_passphrase(admin, ADMIN, "another passphrase", KdfParams(10), current="not it at all")
    users.set_user_passphrase(admin, ADMIN, "another passphrase", KdfParams(10), current=ADMIN_PASS)
