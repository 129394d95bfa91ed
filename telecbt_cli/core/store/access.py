"""Who is signed in, and what their role lets them do. Core checks; UIs only report."""

from __future__ import annotations

from dataclasses import dataclass

from telecbt_cli.core.store.errors import AuthError, PermissionDenied
from telecbt_cli.core.store.vault import Store

ROLES = ("admin", "clinician", "chw", "viewer")

#: permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "write": frozenset({"admin", "clinician", "chw"}),
    "audit": frozenset({"admin", "clinician"}),
    "review": frozenset({"admin", "clinician"}),
    "manage": frozenset({"admin"}),
    "end_kiosk": frozenset({"admin", "clinician"}),
}

_DESCRIPTIONS = {
    "read": "reading records",
    "write": "changing records",
    "audit": "reading the audit log",
    "review": "acknowledging safety alerts",
    "manage": "managing users, keys and backups",
    "end_kiosk": "ending kiosk mode",
}


@dataclass
class Access:
    """An open store together with the staff user who unlocked it."""

    store: Store
    user: str
    role: str
    user_id: str

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def require(self, permission: str) -> None:
        if not self.can(permission):
            allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
            raise PermissionDenied(
                f"{_DESCRIPTIONS[permission]} needs the role {allowed}; "
                f"{self.user} is signed in as {self.role}"
            )

    def close(self) -> None:
        self.store.close()


def access_for(store: Store, user: str) -> Access:
    row = store.conn.execute(
        "SELECT id, role, disabled FROM users WHERE name = ? AND deleted = 0", (user,)
    ).fetchone()
    if not row:
        raise AuthError(f"user {user} is not known to this store")
    if row[2]:
        raise AuthError(f"user {user} is disabled: ask an admin")
    return Access(store, user, row[1], row[0])
