"""Bundles inside mail as clinics keep it: a saved `.eml` file, an mbox file, a Maildir folder, a raw message.

A bundle travels as an email attachment (`.tcb`/`.age` whole, `.tcbp` parts; see
`mailer` and `parts`). This module finds those attachments with the standard library's
`email` and `mailbox`, and names every message that carries none, so nothing is passed
over in silence. It never decrypts anything: the attachments go to the ordinary import.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from pathlib import Path

from telecbt_cli.core.store.errors import IntegrityError, Said, StorageError

ATTACHMENT_SUFFIXES = (".tcb", ".age", ".tcbp")
MAIL_SUFFIXES = (".eml", ".mbox")
#: No single message (base64 adds a third) nor the attachments of one import may exceed this.
MAX_MESSAGE_BYTES = 700 * 2**20
MAX_TOTAL_BYTES = 1024 * 2**20
NO_BUNDLE = "no telecbt bundle attached to this message: left alone"
_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:[ \t]?")


@dataclass(frozen=True)
class Attachment:
    """One bundle attachment: which message it came from, its file name, its bytes."""

    origin: str
    name: str
    data: bytes

    @property
    def is_part(self) -> bool:
        return self.name.lower().endswith(".tcbp")


@dataclass
class MailRead:
    """What a mail file or folder held: bundle attachments, and the messages that carried none."""

    messages: int = 0
    attachments: list[Attachment] = field(default_factory=list)
    without: list[str] = field(default_factory=list)


def is_maildir(path: Path) -> bool:
    """A Maildir folder: `cur` and `new` inside (`tmp` is often missing after a copy)."""
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def is_mail_file(path: Path) -> bool:
    """A saved message or an mbox file, by its name or by its first line (a header or mbox's 'From ')."""
    if path.suffix.lower() in ATTACHMENT_SUFFIXES:
        return False
    if path.suffix.lower() in MAIL_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(80)
    except OSError:
        return False
    return head.startswith(b"From ") or bool(_HEADER_LINE.match(head))


def _plain_name(name: str) -> str:
    """The attachment's own name, without any folder a sender put in front of it."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def bundle_attachments(raw: bytes) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each bundle attachment in one message, forwarded messages included."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = _plain_name(part.get_filename() or "")
        if not name.lower().endswith(ATTACHMENT_SUFFIXES):
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            found.append((name, data))
    return found


def _take(result: MailRead, origin: str, raw: bytes, total: list[int]) -> None:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise IntegrityError("{name} is larger than {mib} MiB: refusing it", key="errors.mail_file.too_large",
                             name=origin, mib=MAX_MESSAGE_BYTES // 2**20)
    result.messages += 1
    found = bundle_attachments(raw)
    if not found:
        result.without.append(origin)
    for name, data in found:
        total[0] += len(data)
        if total[0] > MAX_TOTAL_BYTES:
            raise IntegrityError("the attachments add up to more than {mib} MiB: import the mail in smaller pieces",
                                 key="errors.mail_file.attachments", mib=MAX_TOTAL_BYTES // 2**20)
        result.attachments.append(Attachment(origin, name, data))


def _message(path: Path, number: int) -> Said:
    """`inbox.mbox message 2`, said in the reader's language by a UI."""
    return Said("{name} message {number}", key="cli.bundle_report.mail_message", name=path.name, number=number)


def read_mail(path: Path) -> MailRead:
    """Every bundle attachment of a `.eml` file, an mbox file or a Maildir folder, message by message."""
    import mailbox

    result, total = MailRead(), [0]
    try:
        if is_maildir(path):
            box = mailbox.Maildir(path, factory=None, create=False)
            for number, key in enumerate(sorted(box.keys()), 1):
                _take(result, _message(path, number), box.get_bytes(key), total)
            return result
        with open(path, "rb") as handle:
            head = handle.read(5)
        if head == b"From ":
            box = mailbox.mbox(path, factory=None, create=False)
            try:
                for number, key in enumerate(box.keys(), 1):
                    _take(result, _message(path, number), box.get_bytes(key, from_=False), total)
            finally:
                box.close()
            return result
        if path.stat().st_size > MAX_MESSAGE_BYTES:
            raise IntegrityError("{name} is larger than {mib} MiB: refusing it", key="errors.mail_file.too_large",
                                 name=path.name, mib=MAX_MESSAGE_BYTES // 2**20)
        _take(result, path.name, path.read_bytes(), total)
    except OSError as error:
        raise StorageError("cannot read the mail in {path}: {why}", key="errors.mail_file.unreadable", path=str(path),
                           why=error.strerror or error.__class__.__name__) from None
    return result
