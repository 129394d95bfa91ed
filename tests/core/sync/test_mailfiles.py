"""Finding bundle attachments in mail (issue 14, point 3): forwarded messages, odd names, what is not mail."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

from telecbt_cli.core.sync import mailfiles


def _message(*attachments: tuple[str, bytes]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "field@clinic.example"
    message["To"] = "hub@clinic.example"
    message["Subject"] = "bundle"
    message.set_content("See attached.")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


def test_a_forwarded_message_and_a_name_with_folders_in_it():
    inner = _message(("C:\\Users\\chw\\Desktop\\b1.tcb", b"age-encryption.org/v1 one"))
    outer = _message(("notes.pdf", b"%PDF"))
    outer.add_attachment(inner)  # forwarded as an attachment (message/rfc822)
    found = mailfiles.bundle_attachments(bytes(outer))
    assert found == [("b1.tcb", b"age-encryption.org/v1 one")]


def test_parts_and_whole_bundles_by_their_suffix_and_nothing_else():
    message = _message(("b2.part001of002.tcbp", b"part"), ("b3.AGE", b"whole"), ("b4.tcb.txt", b"not"),
                       ("empty.tcb", b""))
    assert mailfiles.bundle_attachments(bytes(message)) == [("b2.part001of002.tcbp", b"part"), ("b3.AGE", b"whole")]


def test_what_counts_as_mail(tmp_path):
    bundle = tmp_path / "incoming"
    bundle.write_bytes(b"age-encryption.org/v1\n-> X25519 abc\n")
    armored = tmp_path / "armored"
    armored.write_bytes(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    saved = tmp_path / "saved"
    saved.write_bytes(bytes(_message()))
    named = tmp_path / "x.tcb"
    named.write_bytes(bytes(_message()))
    assert [mailfiles.is_mail_file(p) for p in (bundle, armored, saved, named)] == [False, False, True, False]
    box = mailbox.mbox(tmp_path / "box")
    box.add(_message(("b5.tcb", b"five")))
    box.flush()
    box.close()
    assert mailfiles.is_mail_file(tmp_path / "box")
    read = mailfiles.read_mail(tmp_path / "box")
    assert read.messages == 1 and [(a.origin, a.name) for a in read.attachments] == [("box message 1", "b5.tcb")]
    maildir = mailbox.Maildir(tmp_path / "md", create=True)
    assert mailfiles.is_maildir(tmp_path / "md") and not mailfiles.is_maildir(tmp_path)
    maildir.add(_message())
    assert mailfiles.read_mail(tmp_path / "md").without == ["md message 1"]
