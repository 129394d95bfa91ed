"""`telecbt device …`: this device's identity and the devices it trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telecbt_cli.commands.common import (
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    YesOpt,
    confirm,
    unlocked,
)
from telecbt_cli.commands.output import (
    emit_fields,
    emit_json,
    emit_table,
    emit_text,
    say,
)

app = typer.Typer(help="Device identity and trusted peers: show, trust, list, revoke.", no_args_is_help=True,
                  add_completion=False)


@app.command()
def show(card: Annotated[bool, typer.Option("--card", help="Print only the one-line device card to give to a peer.")] = False,
         store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
         passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Show this device's id, public signing key, age recipient and fingerprint (never a secret)."""
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        info = devices.identity(access)
    if json_out:
        emit_json(info)
    elif card:
        emit_text(info["card"])
    else:
        emit_fields([("device id", info["device_id"]), ("age recipient", info["recipient"]),
                     ("signing key", info["signing_public"]), ("fingerprint", info["fingerprint"]),
                     ("card", info["card"])])


@app.command()
def trust(
    card: Annotated[str, typer.Argument(help="The peer's device card ('-' reads it from standard input).")],
    label: Annotated[str, typer.Option("--label", help="A name for the peer, e.g. 'Kisumu hub'.")],
    role: Annotated[str, typer.Option("--role", help="hub or field.")] = "field",
    yes: YesOpt = False, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Trust a peer device (admin). Compare the fingerprint with the peer over the phone first."""
    import sys

    from telecbt_cli.core.sync import devices

    text = sys.stdin.readline() if card == "-" else card
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        peer = devices.parse_card(text)
        say(f"Fingerprint of {peer['device_id']}: {peer['fingerprint']} — it must match `telecbt device show` "
            "there.", style="bold")
        confirm("Trust this device?", yes)
        row = devices.trust(access, text, label, role)
    emit_json(row) if json_out else say(f"Trusted {label} ({role}).", style="green")


@app.command("list")
def list_(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """List trusted devices with what each has acknowledged."""
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = devices.peers(access)
    if json_out:
        emit_json(rows)
        return
    emit_table([{**r, "state": "revoked" if r["revoked_at"] else "trusted"} for r in rows],
               [("label", "label"), ("role", "role"), ("id", "device id"), ("fingerprint", "fingerprint"),
                ("acked_seq", "acked"), ("state", "state")], empty="No trusted devices yet.")


@app.command()
def revoke(device: Annotated[str, typer.Argument(help="Device id or label.")], yes: YesOpt = False,
           store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
           passphrase_fd: PassFdOpt = None) -> None:
    """Stop trusting a device: its bundles are refused from now on (admin)."""
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        confirm(f"Revoke {device}? Bundles from it will be refused.", yes)
        devices.revoke(access, device)
    say(f"Revoked {device}.", style="green")


@app.command("export-identity")
def export_identity(out: Annotated[Path, typer.Option("--out", help="File to write the secret age identity to (mode 0600).")],
                    yes: YesOpt = False, store: StoreOpt = None, user: UserOpt = None,
                    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None) -> None:
    """Write this device's SECRET age identity to a file, to open bundles with the standard `age` tool (admin)."""
    from telecbt_cli.core.store import audit
    from telecbt_cli.core.store.fsutil import atomic_write
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        confirm("This file opens every bundle sent to this device. Write it?", yes)
        atomic_write(out, (str(devices.age_identity(access)) + "\n").encode(), mode=0o600)
        audit.append(access.store, access.user, "device.export_identity")
    say(f"Wrote {out} (mode 0600). Keep it as safe as the store; delete it when done.", style="yellow")
