"""Fixtures for sync tests: two stores on disk that trust each other."""

from __future__ import annotations

import pytest

from tests.core.sync.sites import linked


@pytest.fixture
def sites(tmp_path):
    with linked(tmp_path, "field", "hub") as made:
        yield made
