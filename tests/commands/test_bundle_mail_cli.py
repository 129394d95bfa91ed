"""`bundle import` of mail as clinics save it: a `.eml` file, an mbox file, a Maildir folder (issue 14, point 3)."""

from __future__ import annotations

import json
import mailbox
import os
from email.message import EmailMessage
from pathlib import Path

from tests.commands.test_bundle_cli import invoke, pair  # noqa: F401  (pair is a fixture)
from tests.conftest import ADMIN_PASS


def eml_files(stores: dict, out: Path, size_limit: str | None = None) -> list[Path]:
    """Real `.eml` files from `bundle export --eml`, as a clinic would save them."""
    extra = ["--size-limit", size_limit] if size_limit else []
    made = invoke("bundle", "export", "--to", "hub", "--eml", str(out), "--eml-to", "hub@example.org", *extra,
                  "--json", "--store", str(stores["field"]))
    assert made.exit_code == 0, made.stderr
    return sorted(out.iterdir())


def chatter() -> EmailMessage:
    """An ordinary email with no bundle, as any clinic mailbox holds."""
    note = EmailMessage()
    note["From"] = "nurse@clinic.example"
    note["To"] = "hub@example.org"
    note["Subject"] = "Meeting on Friday"
    note.set_content("See you at nine.")
    note.add_attachment(b"%PDF-1.4 minutes", maintype="application", subtype="pdf", filename="minutes.pdf")
    return note


def diary_of(stores: dict, code: str) -> list[dict]:
    return json.loads(invoke("diary", "list", code, "--json", "--store", str(stores["hub"])).stdout)


def patients_of(stores: dict) -> list[str]:
    return [p["code"] for p in json.loads(invoke("patient", "list", "--json", "--store", str(stores["hub"])).stdout)]


def many_entries(stores: dict, code: str, count: int) -> None:
    from telecbt_cli.core.care import diary
    from telecbt_cli.core.store.unlock import unlock

    field = unlock(stores["field"], "admin", ADMIN_PASS)
    try:
        with field.store.write():
            for n in range(count):
                diary.add_entry(field, code, {"pain": n % 11, "note": os.urandom(120).hex()})
    finally:
        field.close()


def test_a_saved_eml_file_imports(pair, tmp_path):  # noqa: F811
    """Guards issue 14.3: a saved .eml failed as 'cannot be decrypted'."""
    stores, code = pair
    (eml,) = eml_files(stores, tmp_path / "eml")
    saved = tmp_path / "Telecbt bundle.eml"
    eml.rename(saved)
    result = invoke("bundle", "import", str(saved), "--json", "--store", str(stores["hub"]))
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["ok"] and row["inserted"] == 2 and "Telecbt bundle.eml" in row["file"]
    assert patients_of(stores) == [code]
    again = invoke("bundle", "import", str(saved), "--store", str(stores["hub"]))
    assert again.exit_code == 0 and "seen before" in again.stderr


def test_an_mbox_file_with_parts_duplicates_and_other_mail(pair, tmp_path):  # noqa: F811
    """Guards issue 14.3: an mbox file failed as 'cannot be decrypted'. Parts spread over several
    messages are put together, a message sent twice is harmless, other mail is reported."""
    stores, code = pair
    many_entries(stores, code, 300)
    emls = eml_files(stores, tmp_path / "eml", size_limit="20k")
    assert len(emls) > 2
    box = mailbox.mbox(tmp_path / "Inbox")
    box.add(chatter())
    for path in reversed(emls):  # arrival order does not matter
        box.add(mailbox.mboxMessage(path.read_bytes()))
    box.add(mailbox.mboxMessage(emls[0].read_bytes()))  # delivered twice
    box.flush()
    box.close()
    result = invoke("bundle", "import", str(tmp_path / "Inbox"), "--json", "--store", str(stores["hub"]))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    imported = [r for r in rows if r["ok"] and not r.get("no_bundle")]
    assert len(imported) == 1 and imported[0]["inserted"] == 302
    (other,) = [r for r in rows if r.get("no_bundle")]
    assert other["file"] == "Inbox message 1" and "no telecbt bundle" in other["note"]
    assert len(diary_of(stores, code)) == 300
    shown = invoke("bundle", "import", str(tmp_path / "Inbox"), "--store", str(stores["hub"]))
    assert shown.exit_code == 0 and "Inbox message 1: no telecbt bundle" in shown.stderr


def test_a_maildir_folder_imports(pair, tmp_path):  # noqa: F811
    """Guards issue 14.3: a Maildir folder imported silently nothing (exit 0)."""
    stores, code = pair
    (eml,) = eml_files(stores, tmp_path / "eml")
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(mailbox.MaildirMessage(eml.read_bytes()))
    folder.add(chatter())
    result = invoke("bundle", "import", str(tmp_path / "Maildir"), "--json", "--store", str(stores["hub"]))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["inserted"] for r in rows if not r.get("no_bundle")] == [2]
    assert len([r for r in rows if r.get("no_bundle")]) == 1
    assert patients_of(stores) == [code]


def test_mail_without_any_bundle_is_not_found_not_silence(pair, tmp_path):  # noqa: F811
    stores, _ = pair
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(chatter())
    result = invoke("bundle", "import", str(tmp_path / "Maildir"), "--store", str(stores["hub"]))
    assert result.exit_code == 4
    assert "no telecbt bundle" in result.stderr
    empty = tmp_path / "empty.eml"
    empty.write_bytes(bytes(chatter()))
    alone = invoke("bundle", "import", str(empty), "--store", str(stores["hub"]))
    assert alone.exit_code == 4 and "no telecbt bundle" in alone.stderr


def test_a_folder_of_saved_eml_files_imports(pair, tmp_path):  # noqa: F811
    stores, code = pair
    many_entries(stores, code, 300)
    emls = eml_files(stores, tmp_path / "saved", size_limit="20k")
    assert len(emls) > 2
    result = invoke("bundle", "import", str(tmp_path / "saved"), "--json", "--store", str(stores["hub"]))
    assert result.exit_code == 0, result.output
    assert [r["inserted"] for r in json.loads(result.stdout)] == [302]
