"""Shared pieces for command tests: a store opened through the CLI, and an enrolled patient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telecbt_cli.cli import app
from tests.conftest import ADMIN_PASS

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def cli_store(tmp_path: Path, pass_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`telecbt init` a store; later commands find it (and its passphrase) in the environment."""
    store = tmp_path / "store"
    assert invoke("init", "--store", str(store), "--passphrase-file", str(pass_file)).exit_code == 0
    monkeypatch.setenv("TELECBT_STORE", str(store))
    monkeypatch.setenv("TELECBT_PASSPHRASE", ADMIN_PASS)
    return store


def enrol(lang: str = "es", name: str = "Ana") -> str:
    """`patient add` and `patient consent`; the new patient's code."""
    code = json.loads(invoke("patient", "add", "--name", name, "--language", lang, "--json").stdout)["code"]
    assert invoke("patient", "consent", code, "--method", "verbal", "--version", "v1").exit_code == 0
    return code
