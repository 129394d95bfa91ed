"""Fixtures for sync tests: two stores on disk that trust each other."""

from __future__ import annotations

import pytest

from tests.core.sync.sites import Site, link


@pytest.fixture
def sites(tmp_path):
    made = [Site(tmp_path, n) for n in ("field", "hub")]
    link(*made)
    yield made
    for site in made:
        site.access.close()
