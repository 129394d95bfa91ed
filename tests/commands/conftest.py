"""Fixtures for command tests: a store made by `telecbt init`, chosen through TELECBT_STORE."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.clirun import invoke
from tests.conftest import ADMIN


@pytest.fixture
def cli_store(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new store (admin alice, passphrase in pass_file) that every command uses; its path."""
    store = tmp_path / "cli-store"
    result = invoke("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file), "--json")
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("TELECBT_STORE", str(store))
    return store
