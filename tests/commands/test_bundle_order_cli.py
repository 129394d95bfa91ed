"""Bundles imported out of order through the real commands: changes wait for their parents (issue 14, point 1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from telecbt_cli.core.store.clock import now_iso
from tests.commands.clirun import invoke
from tests.conftest import ADMIN_PASS


def _ok(*args: str) -> dict | list:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (args, result.stderr)
    return json.loads(result.stdout)


def _mark() -> str:
    """A moment strictly after every change made so far (for `bundle export --since`)."""
    time.sleep(0.01)
    moment = now_iso()
    time.sleep(0.01)
    return moment


@pytest.fixture
def three_bundles(tmp_path, pass_file, monkeypatch):
    """A field device's a1 (patient, consent), a2 (a diary entry) and a3 (its correction), each alone.

    a2 and a3 are `--since` bundles, as a worker sends "today's changes": a3 needs a1's patient and
    a2's entry. Returns (hub store, field store, bundle paths, the patient's code)."""
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    field, hub = tmp_path / "field", tmp_path / "hub"
    for store in (field, hub):
        assert invoke("init", "--store", str(store), "--passphrase-file", str(pass_file)).exit_code == 0
    cards = {s: invoke("device", "show", "--card", "--store", str(s)).stdout.strip() for s in (field, hub)}
    assert invoke("device", "trust", cards[hub], "--label", "hub", "--role", "hub", "--yes",
                  "--store", str(field)).exit_code == 0
    assert invoke("device", "trust", cards[field], "--label", "field", "--yes", "--store", str(hub)).exit_code == 0
    code = _ok("patient", "add", "--name", "Ana", "--store", str(field))["code"]
    _ok("patient", "consent", code, "--method", "verbal", "--version", "v1", "--store", str(field))
    paths = {name: tmp_path / f"{name}.tcb" for name in ("a1", "a2", "a3")}
    _ok("bundle", "export", "--to", "hub", "--out", str(paths["a1"]), "--store", str(field))
    since = _mark()
    entry = _ok("diary", "add", code, "--pain", "6", "--store", str(field))
    _ok("bundle", "export", "--to", "hub", "--since", since, "--out", str(paths["a2"]), "--store", str(field))
    since = _mark()
    _ok("diary", "correct", entry["id"], "--pain", "4", "--store", str(field))
    made = _ok("bundle", "export", "--to", "hub", "--since", since, "--out", str(paths["a3"]), "--store", str(field))
    assert made["counts"] == {"diary_entries": 1}
    return hub, field, paths, code


def _diary(store: Path, code: str) -> list[tuple]:
    rows = _ok("diary", "list", code, "--all-versions", "--store", str(store))
    return sorted((r["id"], r["pain"], r.get("supersedes")) for r in rows)


def _waiting(store: Path) -> dict:
    return _ok("bundle", "status", "--store", str(store))


def test_a_later_bundle_before_its_parents_waits_and_applies_when_they_arrive(three_bundles):
    """Issue 14 point 1: `import a3 a1` failed (raw constraint error, whole command aborted)."""
    hub, field, paths, code = three_bundles
    result = invoke("bundle", "import", str(paths["a3"]), str(paths["a1"]), "--json", "--store", str(hub))
    assert result.exit_code == 0, result.stderr
    a3, a1 = json.loads(result.stdout)
    assert a3["ok"] and a3["waiting"] == 1 and a3["inserted"] == 0
    shown = invoke("bundle", "import", str(paths["a3"]), "--dry-run", "--store", str(hub))
    assert shown.exit_code == 0 and "seen before" in shown.stderr and "dry run" in shown.stderr
    assert a1["ok"] and a1["inserted"] == 2 and a1["released"] == 0  # the correction still needs a2's entry
    status = _waiting(hub)
    assert status["waiting"] == 1 and status["changes"][0]["table"] == "diary_entries"
    assert status["changes"][0]["needs"] == "diary entry"
    listed = invoke("bundle", "status", "--store", str(hub))
    assert listed.exit_code == 0 and "1 change" in listed.stdout + listed.stderr
    again = _ok("bundle", "import", str(paths["a3"]), "--store", str(hub))  # a replay keeps one copy waiting
    assert again[0]["seen_before"] and _waiting(hub)["waiting"] == 1
    last = invoke("bundle", "import", str(paths["a2"]), "--store", str(hub))
    assert last.exit_code == 0 and "1 new" in last.stderr
    assert "1 waiting change(s) from earlier bundles applied" in last.stderr
    assert _waiting(hub)["waiting"] == 0
    assert _diary(hub, code) == _diary(field, code)
    assert [e["pain"] for e in _ok("diary", "list", code, "--store", str(hub))] == [4]


def test_the_dry_run_tells_what_the_real_run_does(three_bundles):
    """Issue 14 point 1: --dry-run said fine where the real run failed; now both report the same, in one batch."""
    hub, field, paths, code = three_bundles
    order = [str(paths[n]) for n in ("a3", "a1", "a2")]
    dry = _ok("bundle", "import", *order, "--dry-run", "--store", str(hub))
    assert _waiting(hub)["waiting"] == 0 and _ok("patient", "list", "--store", str(hub)) == []
    real = _ok("bundle", "import", *order, "--store", str(hub))
    keys = ("file", "ok", "changes", "inserted", "updated", "conflicts", "already", "waiting", "released")
    assert [{k: r[k] for k in keys} for r in dry] == [{k: r[k] for k in keys} for r in real]
    assert [r["waiting"] for r in real] == [1, 0, 0] and [r["released"] for r in real] == [0, 0, 1]
    assert all(r["dry_run"] for r in dry) and not any(r["dry_run"] for r in real)
    assert _diary(hub, code) == _diary(field, code) and _waiting(hub)["waiting"] == 0


def test_a_bad_bundle_in_the_batch_is_reported_and_the_others_import(three_bundles, tmp_path):
    hub, field, paths, code = three_bundles
    broken = tmp_path / "broken.tcb"
    broken.write_bytes(paths["a2"].read_bytes()[:-40])
    result = invoke("bundle", "import", str(paths["a3"]), str(broken), str(paths["a1"]), "--json", "--store", str(hub))
    assert result.exit_code == 6
    a3, bad, a1 = json.loads(result.stdout)
    assert a3["ok"] and a1["ok"] and not bad["ok"] and bad["exit_code"] == 6
    assert _waiting(hub)["waiting"] == 1
    _ok("bundle", "import", str(paths["a2"]), "--store", str(hub))
    assert _diary(hub, code) == _diary(field, code)
