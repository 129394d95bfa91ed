"""Staff users: each has a role and a slot of their own in the key file."""

from __future__ import annotations

from dataclasses import dataclass

from telecbt_cli.core.store import audit, keys, records
from telecbt_cli.core.store import keyfile as kfmod
from telecbt_cli.core.store.access import ROLES, Access
from telecbt_cli.core.store.crypto import KdfParams
from telecbt_cli.core.store.errors import (
    AuthError,
    Codes,
    NotFoundError,
    StoreExistsError,
    UsageError,
    WrongPassphrase,
)
from telecbt_cli.core.store.unlock import check_passphrase, check_user_name


@dataclass(frozen=True)
class StaffUser:
    id: str
    name: str
    role: str
    disabled: bool
    can_unlock: bool
    created_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "role": self.role, "disabled": self.disabled,
            "can_unlock": self.can_unlock, "created_at": self.created_at,
        }


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError("role must be one of {roles}; got {role!r}", key="errors.user.role", roles=Codes("role", ROLES),
                         role=role)
    return role


def list_users(access: Access) -> list[StaffUser]:
    access.require("read")
    with_slot = keys.slot_users(access)
    rows = access.store.conn.execute(
        "SELECT id, name, role, disabled, created_at FROM users WHERE deleted = 0 ORDER BY name"
    ).fetchall()
    return [StaffUser(r[0], r[1], r[2], bool(r[3]), r[1] in with_slot and not r[3], r[4]) for r in rows]


def get_user(access: Access, name: str) -> StaffUser:
    for user in list_users(access):
        if user.name == name.strip().lower():
            return user
    raise NotFoundError("no staff user named {name}", key="errors.user.not_found", name=name)


def add_user(access: Access, name: str, role: str, passphrase: str, kdf: KdfParams) -> StaffUser:
    access.require("manage")
    name = check_user_name(name)
    check_role(role)
    check_passphrase(passphrase, name)
    store = access.store
    if store.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise StoreExistsError("a user named {name} already exists", key="errors.user.exists", name=name)
    with store.write():
        records.insert(store, "users", {"name": name, "role": role, "disabled": 0})
        audit.append(store, access.user, "user.add", detail={"name": name, "role": role})
    keys.set_passphrase(access, name, passphrase, kdf)
    return get_user(access, name)


def set_user_passphrase(access: Access, name: str, passphrase: str, kdf: KdfParams,
                        current: str | None = None) -> StaffUser:
    """A new passphrase for `name`: your own needs your `current` one (an open session is not
    proof enough); anyone else's is an admin's reset."""
    user = get_user(access, name)
    if user.name == access.user:
        _check_current(access, current)
    else:
        access.require("manage")
    if user.disabled:
        raise UsageError("{name} is disabled; a disabled user cannot be given a passphrase", key="errors.user.disabled",
                         name=user.name)
    keys.set_passphrase(access, user.name, passphrase, kdf)
    return get_user(access, name)


def _check_current(access: Access, current: str | None) -> None:
    slot = access.store.keyfile.user_slot(access.user)
    if not current or slot is None:
        raise AuthError("changing the passphrase of {name} needs the current one: nothing was changed",
                        key="errors.user.current_needed", name=access.user)
    try:
        kfmod.open_slot(slot, current.encode("utf-8"), access.store.store_id)
    except AuthError:
        raise WrongPassphrase("that is not the current passphrase of {name}: nothing was changed",
                              key="errors.user.not_current", name=access.user) from None


def disable_user(access: Access, name: str) -> StaffUser:
    """Mark disabled and remove the slot. Run `store rekey` to shut out copies of old key files."""
    access.require("manage")
    user = get_user(access, name)
    if user.name == access.user:
        raise UsageError("you cannot disable yourself: ask another admin", key="errors.user.not_yourself")
    admins = [u for u in list_users(access) if u.role == "admin" and not u.disabled]
    if user.role == "admin" and len(admins) <= 1:
        raise UsageError("refusing to disable the last admin", key="errors.user.last_admin")
    store = access.store
    with store.write():
        records.update(store, "users", user.id, {"disabled": 1})
        audit.append(store, access.user, "user.disable", detail={"name": user.name})
    keys.remove_user_slot(access, user.name)
    return get_user(access, name)
