"""`telecbt store …`: information, checks, passphrases, key rotation, backup and recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
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
    no_stdout,
    read_secret,
    reauthenticated,
    store_option,
    unlocked,
)
from telecbt_cli.commands.output import (
    emit_fields,
    emit_heading,
    emit_json,
    emit_table,
    say,
)
from telecbt_cli.core.store.errors import IntegrityError

app = typer.Typer(help="The encrypted store: info, check, passwd, rekey, backup, recover.",
                  no_args_is_help=True, add_completion=False)


def _human_bytes(size: int) -> str:
    """A size in B, KiB, MiB or GiB with the reader's decimal mark (`1,5 MiB` in Spanish)."""
    from telecbt_cli.commands.i18n import reader
    from telecbt_cli.content.languages import DECIMAL

    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f}".replace(".", DECIMAL.get(reader(), ".")) + f" {unit}"
        size /= 1024
    return str(size)


@app.command()
def info(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
         passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Path, schema version, sizes and key slots (never secrets)."""
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.vault import info as store_info
    from telecbt_cli.core.store.zones import device_zone, device_zone_name

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        data = store_info(access.store)
        zone, zone_name = device_zone(access.store), device_zone_name(access.store)
    if json_out:
        emit_json(data)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    emit_fields([(t(f"cli.store_info.{label}"), shown) for label, shown in [
        ("path", data["path"]), ("store_id", data["store_id"]), ("device_id", data["device_id"]),
        ("created", staff_time(data["created_at"], zone)), ("time_zone", zone_name),
        ("schema_version", data["schema_version"]),
        ("database", _human_bytes(data["database_bytes"])), ("wal", _human_bytes(data["wal_bytes"])),
        ("patients", data["counts"]["patients"]), ("users", data["counts"]["users"]),
        ("audit_entries", data["audit_entries"]),
    ]])
    emit_heading(t("cli.store_info.slots"))
    slots = [{**slot, "kind": value("slot", slot["kind"]),
              "label": t("cli.store_info.recovery_label") if slot["kind"] == "recovery" and slot["label"] == "recovery key"
              else slot["label"]} for slot in data["slots"]]
    emit_table(slots, columns("store_info", ["kind", "label", "created_at"]), zone=zone)


@app.command()
def check(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
          accept_rollback: Annotated[bool, typer.Option(
              "--accept-rollback", help="After putting back telecbt.db on purpose: trust the database as it is "
              "now (admin; asks first; recorded in the audit log).")] = False,
          yes: YesOpt = False) -> None:
    """Check the database pages, both key-file copies and the audit chain. Exit 6 on a problem."""
    from telecbt_cli.core.store import audit
    from telecbt_cli.core.store import keyfile as kfmod
    from telecbt_cli.core.store.vault import integrity_problems

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if accept_rollback:
            from telecbt_cli.core.store import anchor

            from telecbt_cli.commands.i18n import t

            access.require("manage")
            confirm(t("cli.store_write.rollback_ask"), yes)
            accepted = anchor.accept(access)
            say(t("cli.store_write.rollback_accepted", seq=accepted["now"]["audit_seq"],
                  changes=accepted["now"]["changes"]), style="yellow")
        report = kfmod.load(access.store.dir, repair=True)
        causes = report.causes  # the key file's lines as keyed errors, worded in the reader's language
        result = {
            "database": integrity_problems(access.store),
            "keyfile": report.problems,
            "keyfile_repaired": report.repaired,
            "audit": audit.verify(access.store),
        }
    problems = result["database"] + result["audit"] + [
        p for p in result["keyfile"] if p.split(":")[0] not in result["keyfile_repaired"]
    ]
    result["ok"] = not problems
    if json_out:
        emit_json(result)
    else:
        from telecbt_cli.commands.i18n import error_text, t

        for part in ("database", "keyfile", "audit"):
            label = t(f"cli.store_write.check_{part}")
            if result[part]:
                lines = ([error_text(c) for c in causes] if part == "keyfile" else
                         [error_text(e) if (e := audit.described(line)) else line for line in result[part]])
                for line in lines:
                    say(f"{label}: {line}", style="red")
            else:
                say(f"{label}: ok", style="green")
        for name in result["keyfile_repaired"]:
            say(t("cli.store_write.repaired", name=name), style="yellow")
    if problems:
        raise typer.Exit(int(IntegrityError.exit_code))


@app.command()
def passwd(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
           passphrase_fd: PassFdOpt = None, new_passphrase_file: NewPassFileOpt = None,
           new_passphrase_fd: NewPassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Change your own passphrase: always asks for the current one, even with a session set."""
    change_own_passphrase(store, user, passphrase_file, passphrase_fd, new_passphrase_file, new_passphrase_fd,
                          json_out)


def change_own_passphrase(store, user, passphrase_file, passphrase_fd, new_passphrase_file, new_passphrase_fd,
                          json_out: bool) -> None:
    """Shared by `store passwd` and `user passwd` without a name."""
    from telecbt_cli.core.store import users

    with reauthenticated(store, user, passphrase_file, passphrase_fd) as (access, current):
        secret = new_passphrase(new_passphrase_file, new_passphrase_fd, access.user)
        changed = users.set_user_passphrase(access, access.user, secret, kdf(), current=current)
    if json_out:
        emit_json({"user": changed.name, "changed": True})
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.user_write.passwd", name=changed.name), style="green")


@app.command()
def rekey(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Rotate the data key and rewrap it for every remaining slot (admin).

    Do this after disabling a user: it is what shuts out copies of old key files.
    """
    from telecbt_cli.core.store import keys

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        from telecbt_cli.commands.i18n import t

        confirm(t("cli.store_write.rekey_ask"), yes)
        result = keys.rekey(access)
    if json_out:
        emit_json(result)
    else:
        say(t("cli.store_write.rekeyed", slots=result["slots"]), style="green")


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="New folder for the copy (must not exist or be empty).")],
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Write a consistent encrypted copy while the store is in use; it opens with the same passphrases."""
    from telecbt_cli.core.store import audit
    from telecbt_cli.core.store.vault import backup as do_backup

    from telecbt_cli.commands.i18n import t

    no_stdout(dest, t("cli.store_write.backup_is_folder"))
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        result = do_backup(access.store, dest)
        audit.append(access.store, access.user, "store.backup", detail={"path": str(dest)})
    if json_out:
        emit_json(result)
    else:
        say(t("cli.store_write.backed_up", path=result["path"], size=_human_bytes(result["database_bytes"])),
            style="green")


@app.command()
def recover(
    user: Annotated[str, typer.Option("--user", "-u", help="Staff user who gets a new passphrase.")],
    store: StoreOpt = None,
    recovery_key_file: Annotated[Optional[Path], typer.Option(
        "--recovery-key-file", help="Read the recovery key from this file ('-' = standard input).")] = None,
    new_passphrase_file: NewPassFileOpt = None,
    new_passphrase_fd: NewPassFdOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Use the recovery key to set a new passphrase for a user (also rebuilds a damaged key file)."""
    from telecbt_cli.core.store.paths import resolve_store_dir
    from telecbt_cli.core.store.unlock import recover as do_recover

    from telecbt_cli.commands.i18n import t

    store_dir = resolve_store_dir(store_option(store))
    key_text = read_secret(file=recovery_key_file, fd=None, env="TELECBT_RECOVERY_KEY",
                           prompt=t("cli.store_write.recovery_prompt"), options="--recovery-key-file")
    # The new passphrase is asked for only once the recovery key has opened the store.
    access = do_recover(store_dir, key_text, user, lambda: new_passphrase(new_passphrase_file, new_passphrase_fd, user),
                        kdf())
    access.close()
    if json_out:
        emit_json({"user": access.user, "recovered": True})
        return
    say(t("cli.store_write.recovered", user=access.user), style="green")


