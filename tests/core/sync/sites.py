"""Stores on disk that trust each other, for sync tests (a `Site` is one device)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.unlock import create_store
from telecbt_cli.core.sync import bundles, devices


class Site:
    def __init__(self, root: Path, name: str) -> None:
        self.access = create_store(root / name, "admin", "admin passphrase", KdfParams(10)).access
        self.name = name

    @property
    def id(self) -> str:
        return self.access.store.device_id

    def bundle_for(self, other: "Site", since_last: bool = True) -> bytes:
        out = io.BytesIO()
        recipient = devices.identity(other.access)["recipient"]
        bundles.export_bundle(self.access, out, [recipient], other.id, since_last=since_last)
        return out.getvalue()

    def import_(self, raw: bytes) -> dict:
        return bundles.import_bundle(self.access, raw)


def link(*sites: Site) -> None:
    for a in sites:
        for b in sites:
            if a is not b:
                devices.trust(a.access, devices.identity(b.access)["card"], b.name, "field")


@contextlib.contextmanager
def linked(root: Path, *names: str) -> Iterator[list[Site]]:
    """Sites that trust each other, closed afterwards."""
    made = [Site(root, name) for name in names]
    link(*made)
    try:
        yield made
    finally:
        for site in made:
            site.access.close()


def applied_by(site: Site, bundle_id: str, column: str) -> list:
    """`column` of each change-log row that bundle `bundle_id` applied at `site`, in log order (`applied_ranges`
    keeps them as runs of change-log numbers)."""
    rows = site.access.store.conn.execute(
        f"SELECT c.{column} FROM change_log c JOIN applied_ranges a ON c.seq BETWEEN a.first_seq AND a.last_seq "
        "WHERE a.bundle_id = ? ORDER BY c.seq", (bundle_id,)).fetchall()
    return [row[0] for row in rows]
