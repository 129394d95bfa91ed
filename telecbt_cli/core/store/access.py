"""Who is signed in, and what their role lets them do. Core checks; UIs only report."""

from __future__ import annotations

from dataclasses import dataclass

from telecbt_cli.core.store.errors import AuthError, PermissionDenied, Term
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


#: What each command needs, checked right after sign-in so that a refusal of a role (exit 5)
#: comes before any other check; None for commands that open no store (or sign in inside
#: their own screens). docs/roles.md shows the same table; tests/security/test_roles.py
#: runs every command as every role against it. Core functions check again, whatever calls them.
COMMANDS: dict[str, str | None] = {
    "init": None, "unlock": "read", "lock": None, "paths": None, "demo": None, "tui": None, "kiosk": "write",
    "settings": "read",
    "assess": "write", "suggest": "read",
    "store info": "read", "store check": "read", "store passwd": "read", "store rekey": "manage",
    "store backup": "manage", "store recover": None,
    "user add": "manage", "user list": "read", "user passwd": "read", "user disable": "manage",
    "patient add": "write", "patient list": "read", "patient show": "read", "patient edit": "write",
    "patient archive": "write", "patient consent": "write", "patient pin set": "write",
    "patient pin unlock": "write", "patient pin status": "read",
    "diary add": "write", "diary correct": "write", "diary list": "read", "diary import": "write",
    "plan show": "read", "plan set": "write", "plan goal add": "write", "plan goal update": "write",
    "plan homework list": "read", "plan homework done": "write",
    "session schedule": "write", "session reschedule": "write", "session record": "write", "session list": "read", "session ics": "read",
    "message send": "write", "message list": "read",
    "content list": None, "content show": None, "content validate": None,
    "module list": None, "module show": None, "module run": "write",
    "measure list": None, "measure take": "write", "measure history": "read",
    "alerts list": "read", "alerts ack": "review",
    "report patient": "read", "report program": "read",
    "device show": "read", "device trust": "manage", "device list": "read", "device revoke": "manage",
    "device export-identity": "manage",
    "bundle export": "write", "bundle import": "write", "bundle fetch": "write", "bundle conflicts": "read",
    "bundle status": "read",
    "bundle outbox list": "read", "bundle outbox send": "write", "bundle outbox retry": "write",
    "audit log": "audit", "audit verify": "read",
    "export csv": "read", "export ndjson": "read", "export fhir": "read",
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
                "{action} needs the role {allowed}; {user} is signed in as {role}", key="errors.access.role",
                action=Term(f"values.permission.{permission}", _DESCRIPTIONS[permission]),
                allowed=Term(f"values.permission_roles.{permission}", allowed), user=self.user,
                role=Term(f"values.role.{self.role}", self.role))

    def require_command(self, command: str) -> None:
        """Refuse a command (`patient add`) that this role may not run; see COMMANDS."""
        need = COMMANDS.get(command)
        if need:
            self.require(need)

    def close(self) -> None:
        self.store.close()


def access_for(store: Store, user: str) -> Access:
    row = store.conn.execute(
        "SELECT id, role, disabled FROM users WHERE name = ? AND deleted = 0", (user,)
    ).fetchone()
    if not row:
        raise AuthError("user {user} is not known to this store", key="errors.unlock.unknown_user", user=user)
    if row[2]:
        raise AuthError("user {user} is disabled: ask an admin", key="errors.unlock.disabled_user", user=user)
    return Access(store, user, row[1], row[0])
