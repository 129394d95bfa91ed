"""The size limit bounds each email as sent, headers and base64 included (issue 14, point 3).

Guards the finding: the limit counted the attachment only, and base64 adds a third, so
17,000-byte parts became 20,014-byte emails that a 17 kB mail gateway refuses."""

from __future__ import annotations

import io
import os

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.sync import bundles, devices, mailer, parts
from tests.core.sync.sites import linked
from tests.core.sync.test_mailer import TO, settings_for, smtp  # noqa: F401  (smtp: a fixture)

LIMIT = 17_000


def _big_bundle(tmp_path) -> tuple:
    """A real bundle of about 70 kB from a real store, for a hub that trusts the sender."""
    with linked(tmp_path, "field", "hub") as (field, hub):
        code = patients.add_patient(field.access, PatientFields(display_name="Ana", language="en"))["code"]
        patients.record_consent(field.access, code, "verbal", "v1")
        with field.access.store.write():
            for n in range(250):
                diary.add_entry(field.access, code, {"pain": n % 11, "note": os.urandom(250).hex()})
        out = io.BytesIO()
        manifest = bundles.export_bundle(field.access, out, [devices.identity(hub.access)["recipient"]], hub.id)
        raw, bundle_id = out.getvalue(), manifest["bundle_id"]
        yield field, hub, raw, bundle_id


def test_every_email_as_received_by_the_server_fits_the_limit(tmp_path, smtp):  # noqa: F811
    for field, hub, raw, bundle_id in _big_bundle(tmp_path):
        assert len(raw) > 3 * LIMIT
        queued = mailer.queue_bundle(field.access, raw, bundle_id, TO, LIMIT)
        sink, port = smtp()
        assert mailer.send_due(field.access, settings_for(port))["sent"] == len(queued)
        sizes = [len(envelope.original_content) for envelope in sink.messages]
        assert len(sizes) == len(queued) and max(sizes) <= LIMIT, sizes
        assert max(sizes) > LIMIT * 0.75  # the room is used, not wasted (parts share the bundle evenly)
        files = {}
        for message in sink.parsed():
            (attachment,) = message.iter_attachments()
            files[attachment.get_filename()] = attachment.get_content()
        assembled, problems = parts.assemble(files)
        assert problems == [] and assembled == [raw]
        assert hub.import_(raw)["inserted"] == 252


def test_eml_files_fit_the_limit_with_a_long_sender_address(tmp_path, monkeypatch):
    monkeypatch.setenv("TELECBT_SMTP_FROM", "a-rather-long-mailbox-name." + "x" * 40 + "@district-hospital.example.org")
    for field, _, raw, bundle_id in _big_bundle(tmp_path):
        out = tmp_path / "eml"
        out.mkdir()
        written = mailer.write_eml(field.access, raw, bundle_id, out, TO, LIMIT)
        assert len(written) > 3
        assert max(path.stat().st_size for path in written) <= LIMIT


def test_a_small_bundle_still_travels_whole(tmp_path):
    for field, _, raw, bundle_id in _big_bundle(tmp_path):
        (row,) = mailer.queue_bundle(field.access, raw, bundle_id, TO, 5_000_000)
        assert row["attachment_name"] == f"{bundle_id}.tcb" and row["size"] == len(raw)
