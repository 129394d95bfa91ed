"""`telecbt bundle fetch` against a real Dovecot on loopback (issue 14, point 3): STARTTLS and TLS,
parts across messages, other mail left alone, a dropped connection then a re-run, a wrong password."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.commands.test_bundle_cli import invoke, pair  # noqa: F401  (pair is a fixture)
from tests.commands.test_bundle_mail_cli import chatter, diary_of, eml_files, many_entries, patients_of
from tests.conftest import ADMIN_PASS, run_telecbt
from tests.core.sync.dovecot import HOST, PASSWORD, CutAtMove, imap_server  # noqa: F401  (a fixture)


@pytest.fixture
def mailbox_env(imap_server, tmp_path, monkeypatch):  # noqa: F811
    """A fresh mailbox on the server; the CLI trusts the server's certificate through SSL_CERT_FILE."""
    user = imap_server.new_user()
    secret = tmp_path / "imap.pass"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(imap_server.cert))
    monkeypatch.setenv("TELECBT_IMAP_HOST", HOST)
    monkeypatch.setenv("TELECBT_IMAP_USER", user)
    return user, secret


def _fetch(stores: dict, secret: Path, *extra: str):
    return invoke("bundle", "fetch", "--password-file", str(secret), *extra, "--store", str(stores["hub"]))


def test_fetch_over_starttls_imports_parts_and_moves_the_messages(pair, imap_server, mailbox_env, tmp_path):  # noqa: F811
    stores, code = pair
    user, secret = mailbox_env
    many_entries(stores, code, 300)
    emls = [p.read_bytes() for p in eml_files(stores, tmp_path / "eml", size_limit="20k")]
    assert len(emls) > 2
    imap_server.deliver(user, PASSWORD, bytes(chatter()), *emls[1:])  # the first part is still on its way
    port = ["--security", "starttls", "--port", str(imap_server.plain_port)]
    early = _fetch(stores, secret, *port, "--json")
    assert early.exit_code == 0, early.output
    result = json.loads(early.stdout)
    assert [m["status"] for m in result["messages"]] == ["no_bundle"] + ["waiting"] * (len(emls) - 1)
    assert patients_of(stores) == []
    imap_server.deliver(user, PASSWORD, emls[0], emls[2])  # the missing part, and one part a second time
    done = _fetch(stores, secret, *port)
    assert done.exit_code == 0, done.output
    assert "no telecbt bundle attached: left in the mailbox" in done.stderr
    assert "302 new" in done.stderr and "moved to telecbt-imported" in done.stderr
    assert len(diary_of(stores, code)) == 300
    folders = imap_server.folders(user, PASSWORD)
    assert len(folders["INBOX"]) == 1 and b"Meeting on Friday" in folders["INBOX"][0]
    assert len(folders["telecbt-imported"]) == len(emls) + 1
    again = _fetch(stores, secret, *port, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["imported"] == 0


def test_fetch_over_implicit_tls_and_a_refused_bundle_goes_to_the_failed_folder(pair, imap_server, mailbox_env,  # noqa: F811
                                                                                tmp_path):
    stores, code = pair
    user, secret = mailbox_env
    (good,) = eml_files(stores, tmp_path / "good")
    other = tmp_path / "other"
    assert invoke("init", "--store", str(other), "--passphrase-file", str(tmp_path / "admin.pass")).exit_code == 0
    card = invoke("device", "show", "--card", "--store", str(other)).stdout.strip()
    assert invoke("device", "trust", card, "--label", "other", "--yes", "--store", str(stores["field"])).exit_code == 0
    made = invoke("bundle", "export", "--to", "other", "--all", "--eml", str(tmp_path / "bad"), "--eml-to",
                  "hub@example.org", "--store", str(stores["field"]))
    assert made.exit_code == 0, made.stderr
    (bad,) = sorted((tmp_path / "bad").iterdir())  # sealed for another device: the hub cannot open it
    imap_server.deliver(user, PASSWORD, good.read_bytes(), bad.read_bytes())
    result = _fetch(stores, secret, "--security", "tls", "--port", str(imap_server.tls_port), "--json")
    assert result.exit_code == 6, result.output
    rows = json.loads(result.stdout)["messages"]
    assert [(m["status"], m["moved_to"]) for m in rows] == [("imported", "telecbt-imported"),
                                                            ("failed", "telecbt-failed")]
    assert rows[1]["errors"] and patients_of(stores) == [code]
    folders = imap_server.folders(user, PASSWORD)
    assert folders["INBOX"] == [] and len(folders["telecbt-failed"]) == 1


def test_a_dropped_connection_then_a_rerun_imports_each_bundle_once(pair, imap_server, mailbox_env, tmp_path):  # noqa: F811
    stores, code = pair
    user, secret = mailbox_env
    invoke("diary", "add", code, "--pain", "4", "--store", str(stores["field"]))
    (eml,) = eml_files(stores, tmp_path / "eml")
    imap_server.deliver(user, PASSWORD, eml.read_bytes())
    relay = CutAtMove(imap_server.plain_port)
    try:
        cut = _fetch(stores, secret, "--security", "none", "--port", str(relay.port))
    finally:
        relay.close()
    assert relay.cut.is_set()
    assert cut.exit_code == 1, cut.output
    assert "closed the connection while moving the messages" in cut.stderr and "run `telecbt bundle fetch` again" in cut.stderr
    assert [e["pain"] for e in diary_of(stores, code)] == [4]  # imported before the cut
    assert len(imap_server.folders(user, PASSWORD)["INBOX"]) == 1  # not moved
    rerun = _fetch(stores, secret, "--security", "starttls", "--port", str(imap_server.plain_port), "--json")
    assert rerun.exit_code == 0, rerun.output
    (message,) = json.loads(rerun.stdout)["messages"]
    assert message["status"] == "imported" and message["bundles"][0]["seen_before"] is True
    assert [e["pain"] for e in diary_of(stores, code)] == [4]
    folders = imap_server.folders(user, PASSWORD)
    assert folders["INBOX"] == [] and len(folders["telecbt-imported"]) == 1


def test_a_wrong_password_is_exit_3_and_never_shown(pair, imap_server, mailbox_env, tmp_path):  # noqa: F811
    stores, _ = pair
    user, _ = mailbox_env
    wrong = "Wr0ng-SENTINEL-pa55-8812"
    env = {**os.environ, "TELECBT_PASSPHRASE": ADMIN_PASS, "TELECBT_IMAP_PASSWORD": wrong,
           "TELECBT_IMAP_SECURITY": "starttls", "TELECBT_IMAP_PORT": str(imap_server.plain_port)}
    result = run_telecbt("bundle", "fetch", "--store", str(stores["hub"]), env=env)
    assert result.returncode == 3, result.stderr
    assert "refused the user name or password" in result.stderr
    assert wrong not in result.stdout + result.stderr
    nobody = run_telecbt("bundle", "fetch", "--store", str(stores["hub"]),
                         env={k: v for k, v in env.items() if k != "TELECBT_IMAP_PASSWORD"})
    assert nobody.returncode == 3 and "--password-file" in nobody.stderr


def test_plain_imap_with_a_password_is_refused_off_loopback(pair, mailbox_env):  # noqa: F811
    stores, secret = pair[0], mailbox_env[1]
    result = invoke("bundle", "fetch", "--host", "mail.example.org", "--security", "none", "--password-file",
                    str(secret), "--store", str(stores["hub"]))
    assert result.exit_code == 2 and "in clear" in result.stderr


def test_a_dry_run_imports_and_moves_nothing(pair, imap_server, mailbox_env, tmp_path):  # noqa: F811
    stores, code = pair
    user, secret = mailbox_env
    (eml,) = eml_files(stores, tmp_path / "eml")
    imap_server.deliver(user, PASSWORD, eml.read_bytes())
    port = ["--security", "starttls", "--port", str(imap_server.plain_port)]
    checked = _fetch(stores, secret, *port, "--dry-run", "--json")
    assert checked.exit_code == 0, checked.output
    (message,) = json.loads(checked.stdout)["messages"]
    assert message["bundles"][0]["inserted"] == 2 and message["moved_to"] is None
    assert patients_of(stores) == [] and list(imap_server.folders(user, PASSWORD)) == ["INBOX"]
    assert _fetch(stores, secret, *port).exit_code == 0
    assert patients_of(stores) == [code]
