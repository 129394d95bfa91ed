"""`telecbt user …`: staff users, their roles and passphrases."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    RawOpt,
    JsonOpt,
    NewPassFdOpt,
    NewPassFileOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    YesOpt,
    confirm,
    kdf,
    new_passphrase,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import emit_csv, emit_json, emit_table, say, yes_no
from telecbt_cli.core.store.errors import UsageError

app = typer.Typer(help="Staff users: add, list, passwd, disable.", no_args_is_help=True, add_completion=False)

NameArg = Annotated[str, typer.Argument(help="User name (letters, digits, '.', '_', '-').")]
_COLUMNS = [("name", "name"), ("role", "role"), ("disabled", "disabled"), ("can_unlock", "can unlock"),
            ("created_at", "created")]


@app.command()
def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", "-r", help="admin, clinician, chw or viewer.")],
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, new_passphrase_file: NewPassFileOpt = None,
    new_passphrase_fd: NewPassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Add a staff user with their own passphrase (admin only)."""
    from telecbt_cli.core.store import users

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        users.check_role(role)
        secret = new_passphrase(new_passphrase_file, new_passphrase_fd, name)
        added = users.add_user(access, name, role, secret, kdf())
    if json_out:
        emit_json(added.to_dict())
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.user_write.added", name=added.name, role=t(f"cli.user_write.role_{added.role}")), style="green")


@app.command("list")
def list_(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False,
          raw: RawOpt = False) -> None:
    """List staff users and their roles."""
    from telecbt_cli.core.store import users
    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out, raw)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = [u.to_dict() for u in users.list_users(access)]
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
    elif csv_out:
        emit_csv(yes_no(rows), [c for c, _ in _COLUMNS], raw, zone)
    else:
        from telecbt_cli.commands.i18n import columns, value

        emit_table([{**r, "role": value("role", r["role"])} for r in rows],
                   columns("user", [key for key, _ in _COLUMNS]), zone=zone)


@app.command()
def passwd(
    name: Annotated[Optional[str], typer.Argument(
        help="Another user whose passphrase an admin resets. Without it: your own (as `store passwd`).")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, new_passphrase_file: NewPassFileOpt = None,
    new_passphrase_fd: NewPassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Reset another user's passphrase (admin); without a name, change your own (asks for the current one)."""
    from telecbt_cli.commands.store import change_own_passphrase
    from telecbt_cli.core.store import users

    if name is None:
        change_own_passphrase(store, user, passphrase_file, passphrase_fd, new_passphrase_file, new_passphrase_fd,
                              json_out)
        return
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if name.strip().lower() != access.user:
            access.require("manage")  # another user's passphrase: before looking the name up
        target = users.get_user(access, name)
        if target.name == access.user:
            raise UsageError("that is you: change your own passphrase with `telecbt store passwd` "
                             "(it asks for your current one)", key="errors.user.is_you")
        secret = new_passphrase(new_passphrase_file, new_passphrase_fd, target.name)
        users.set_user_passphrase(access, target.name, secret, kdf())
    if json_out:
        emit_json({"user": target.name, "changed": True})
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.user_write.passwd", name=target.name), style="green")


@app.command()
def disable(
    name: NameArg,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, yes: YesOpt = False, json_out: JsonOpt = False,
) -> None:
    """Disable a user and remove their key slot (admin). Then run `telecbt store rekey`."""
    from telecbt_cli.core.store import users

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        target = users.get_user(access, name)
        from telecbt_cli.commands.i18n import t

        confirm(t("cli.user_write.disable_ask", name=target.name, role=t(f"cli.user_write.role_{target.role}")), yes)
        disabled = users.disable_user(access, target.name)
    if json_out:
        emit_json(disabled.to_dict())
        return
    say(t("cli.user_write.disabled", name=target.name), style="green")
