"""Bundle commands as a user runs them, and a USB write killed halfway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from telecbt_cli.core.care import diary
from telecbt_cli.core.store.unlock import unlock
from tests.conftest import ADMIN_PASS, run_telecbt, telecbt_cmd

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def pair(tmp_path, pass_file, monkeypatch):
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    stores = {name: tmp_path / name for name in ("field", "hub")}
    for store in stores.values():
        assert invoke("init", "--store", str(store), "--passphrase-file", str(pass_file)).exit_code == 0
    cards = {n: invoke("device", "show", "--card", "--store", str(s)).stdout.strip() for n, s in stores.items()}
    assert invoke("device", "trust", cards["hub"], "--label", "hub", "--role", "hub", "--yes",
                  "--store", str(stores["field"])).exit_code == 0
    assert invoke("device", "trust", cards["field"], "--label", "field", "--yes", "--store", str(stores["hub"])).exit_code == 0
    code = json.loads(invoke("patient", "add", "--name", "Ana", "--json", "--store", str(stores["field"])).stdout)["code"]
    invoke("patient", "consent", code, "--method", "verbal", "--version", "v1", "--store", str(stores["field"]))
    return stores, code


def _diary(store: Path, code: str, notes: list[str]) -> None:
    """One diary entry per note, written in one transaction (300 CLI runs took most of a test's time)."""
    access = unlock(store, "admin", ADMIN_PASS)  # `init`'s default admin
    try:
        with access.store.write():
            for n, note in enumerate(notes):
                diary.add_entry(access, code, {"pain": n % 11, "note": note})
    finally:
        access.close()


def test_export_import_conflicts_and_fingerprints(pair, tmp_path):
    stores, code = pair
    shown = json.loads(invoke("device", "show", "--json", "--store", str(stores["hub"])).stdout)
    listed = json.loads(invoke("device", "list", "--json", "--store", str(stores["field"])).stdout)
    assert listed[0]["fingerprint"] == shown["fingerprint"]
    assert "AGE-SECRET-KEY" not in json.dumps(shown)
    outbox = tmp_path / "outgoing"
    outbox.mkdir()
    made = invoke("bundle", "export", "--to", "hub", "--out", str(outbox), "--json", "--store", str(stores["field"]))
    assert made.exit_code == 0, made.stderr
    result = json.loads(made.stdout)
    assert result["changes"] == 2 and Path(result["path"]).stat().st_mode & 0o077 == 0
    imported = invoke("bundle", "import", str(outbox), "--json", "--store", str(stores["hub"]))
    assert imported.exit_code == 0 and json.loads(imported.stdout)[0]["inserted"] == 2
    assert [p["code"] for p in json.loads(invoke("patient", "list", "--json", "--store", str(stores["hub"])).stdout)] == [code]
    assert json.loads(invoke("bundle", "conflicts", "--json", "--store", str(stores["hub"])).stdout) == []


def test_a_bad_bundle_in_a_folder_is_skipped_and_the_good_ones_import(pair, tmp_path):
    stores, code = pair
    folder = tmp_path / "inbox"
    folder.mkdir()
    invoke("bundle", "export", "--to", "hub", "--out", str(folder), "--store", str(stores["field"]))
    invoke("diary", "add", code, "--pain", "3", "--store", str(stores["field"]))
    invoke("bundle", "export", "--to", "hub", "--out", str(folder / "second.tcb"), "--store", str(stores["field"]))
    (folder / "broken.tcb").write_bytes(b"age-encryption.org/v1\n-> X25519 garbage\n")
    result = invoke("bundle", "import", str(folder), "--store", str(stores["hub"]))
    assert result.exit_code == 6
    assert "broken.tcb: skipped" in result.stderr
    entries = json.loads(invoke("diary", "list", code, "--json", "--store", str(stores["hub"])).stdout)
    assert [e["pain"] for e in entries] == [3]


def test_passphrase_sealed_bundle_from_the_command_line(pair, tmp_path, monkeypatch):
    stores, _ = pair
    secret = tmp_path / "bundle.pass"
    secret.write_text("correct horse battery staple\n")
    out = tmp_path / "sealed.tcb"
    made = invoke("bundle", "export", "--to", "hub", "--seal-with-passphrase", "--bundle-passphrase-file", str(secret),
                  "--out", str(out), "--store", str(stores["field"]))
    assert made.exit_code == 0, made.stderr
    assert invoke("bundle", "import", str(out), "--store", str(stores["hub"])).exit_code == 2
    ok = invoke("bundle", "import", str(out), "--bundle-passphrase-file", str(secret), "--store", str(stores["hub"]))
    assert ok.exit_code == 0, ok.stderr


@pytest.mark.slow
def test_a_write_killed_halfway_leaves_no_bundle_under_its_name(pair, tmp_path):
    stores, code = pair
    _diary(stores["field"], code, ["x" * 500] * 300)
    stick = tmp_path / "stick"
    stick.mkdir()
    env = {**os.environ, "TELECBT_PASSPHRASE": ADMIN_PASS}
    for delay in (0.25, 0.35, 0.45, 0.55):
        proc = subprocess.Popen([*telecbt_cmd(), "bundle", "export", "--to", "hub", "--all", "--usb", str(stick),
                                 "--store", str(stores["field"])], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for path in stick.iterdir():
            if path.suffix == ".tcb":  # a complete bundle made it: it must import cleanly
                result = run_telecbt("bundle", "import", str(path), "--dry-run", "--store", str(stores["hub"]), env=env)
                assert result.returncode == 0, result.stderr
            else:
                assert path.name.startswith(".telecbt-") and path.name.endswith(".partial")


@pytest.fixture
def tiny_stick(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_stick_is_refused_and_leaves_nothing(pair, tiny_stick):
    stores, code = pair
    _diary(stores["field"], code, [os.urandom(200).hex() for _ in range(200)])
    result = invoke("bundle", "export", "--to", "hub", "--usb", str(tiny_stick), "--store", str(stores["field"]))
    assert result.exit_code == 1
    assert "free" in result.stderr or "full" in result.stderr
    assert list(tiny_stick.iterdir()) == []


def test_email_parts_via_eml_files_reassemble_in_any_order(pair, tmp_path):
    import email
    import email.policy

    from telecbt_cli.core.care import diary
    from telecbt_cli.core.store.unlock import unlock

    stores, code = pair
    field = unlock(stores["field"], "admin", ADMIN_PASS)
    try:
        with field.store.write():
            for n in range(300):
                diary.add_entry(field, code, {"pain": n % 11, "note": os.urandom(120).hex()})
    finally:
        field.close()
    eml_dir = tmp_path / "eml"
    made = invoke("bundle", "export", "--to", "hub", "--eml", str(eml_dir), "--eml-to", "hub@example.org",
                  "--size-limit", "20k", "--json", "--store", str(stores["field"]))
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["parts"] > 2
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in reversed(sorted(eml_dir.iterdir())):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in message.iter_attachments():
            (inbox / part.get_filename()).write_bytes(part.get_payload(decode=True))
    missing = sorted(inbox.iterdir())[1]
    kept = missing.read_bytes()
    missing.unlink()
    partial = invoke("bundle", "import", str(inbox), "--store", str(stores["hub"]))
    assert partial.exit_code == 6 and "missing" in partial.stderr
    missing.write_bytes(kept)
    done = invoke("bundle", "import", str(inbox), "--json", "--store", str(stores["hub"]))
    assert done.exit_code == 0, done.stdout
    assert len(json.loads(invoke("diary", "list", code, "--json", "--store", str(stores["hub"])).stdout)) == 300


def test_email_export_queues_in_the_outbox(pair):
    stores, _ = pair
    queued = invoke("bundle", "export", "--to", "hub", "--email", "hub@example.org", "--json", "--store", str(stores["field"]))
    assert queued.exit_code == 0, queued.stderr
    rows = json.loads(invoke("bundle", "outbox", "list", "--json", "--store", str(stores["field"])).stdout)
    assert [(r["kind"], r["status"], r["address"]) for r in rows] == [("bundle", "queued", "hub@example.org")]
