"""Bundle format 2 (issue 14 point 5): a shipped zstd dictionary named in the frame, the digest signed
but not sent, no repeated recipients; format-1 bundles still import, and every bound still holds."""

from __future__ import annotations

import io
import json

import pyrage
import pytest
import zstandard

from telecbt_cli.core.care import diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.sync import bundle_dict, bundle_read, bundles, devices
from tests.commands.clirun import invoke


def _week(site) -> str:
    p = patients.add_patient(site.access, patients.PatientFields(display_name="Ana Week", language="en"))
    patients.record_consent(site.access, p["code"], "verbal", "v1")
    for day in range(7):
        diary.add_entry(site.access, p["code"], {"pain": 3 + day % 4, "mood": 6, "note": "walked"})
    return p["code"]


def _export(field, hub, version: int) -> bytes:
    out = io.BytesIO()
    bundles.export_bundle(field.access, out, [devices.identity(hub.access)["recipient"]], hub.id, version=version)
    return out.getvalue()


def _plain(raw: bytes, hub) -> tuple[int, list[dict]]:
    compressed = pyrage.decrypt(raw, [devices.age_identity(hub.access)])
    dict_id = zstandard.get_frame_parameters(compressed).dict_id
    dictionary = bundle_dict.dictionary() if dict_id else None
    text = zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj().decompress(compressed)
    return dict_id, [json.loads(line) for line in text.splitlines()]


def _seal(hub, plain: bytes, **params) -> bytes:
    compressor = zstandard.ZstdCompressor(**params).compressobj()  # streamed: the window is written in the frame
    return pyrage.encrypt(compressor.compress(plain) + compressor.flush(), [pyrage.x25519.Recipient.from_str(
        devices.identity(hub.access)["recipient"])])


def test_format_2_names_its_dictionary_and_is_smaller_than_format_1(sites):
    field, hub = sites
    _week(field)
    v2, v1 = _export(field, hub, 2), _export(field, hub, 1)
    dict_id, lines = _plain(v2, hub)
    header, manifest = lines[0]["header"], lines[-1]["manifest"]
    assert dict_id == bundle_dict.DICT_ID and header["version"] == 2 and header["dict"] == bundle_dict.DICT_ID
    assert "recipients" not in header and "payload_sha256" not in manifest
    assert _plain(v1, hub)[0] == 0
    assert len(v2) < len(v1) - 300  # the dictionary and the shorter lines save about a third
    stats = hub.import_(v2)
    assert stats["inserted"] == 9


def test_a_format_1_bundle_still_imports_through_the_command(sites, tmp_path, monkeypatch):
    """Devices not yet upgraded keep sending format 1: the hub must take it (issue 14 point 5)."""
    field, hub = sites
    code = _week(field)
    path = tmp_path / "old.tcb"
    path.write_bytes(_export(field, hub, 1))
    assert _plain(path.read_bytes(), hub)[1][0]["header"]["version"] == 1
    hub.access.close()
    monkeypatch.setenv("TELECBT_PASSPHRASE", "admin passphrase")
    store = str(hub.access.store.dir)
    result = invoke("bundle", "import", str(path), "--json", "--store", store)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["inserted"] == 9
    listed = invoke("diary", "list", code, "--json", "--store", store)
    assert len(json.loads(listed.stdout)) == 7


def test_format_2_digest_is_still_signed(sites):
    """The digest is not sent, but a changed line still breaks the signature."""
    field, hub = sites
    _week(field)
    _, lines = _plain(_export(field, hub, 2), hub)
    lines[1]["change"]["data"]["pain"] = 10
    plain = "".join(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n" for obj in lines).encode()
    forged = _seal(hub, plain, dict_data=bundle_dict.dictionary(), write_dict_id=True)
    with pytest.raises(IntegrityError, match="signature is not valid"):
        hub.import_(forged)
    assert hub.access.store.conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0] == 0


def test_an_unknown_dictionary_is_refused_before_anything_is_read(sites):
    field, hub = sites
    other = zstandard.train_dictionary(1024, [b'{"x": %d, "y": "abc"}\n' % n for n in range(400)], dict_id=50001)
    sealed = _seal(hub, b'{"header":{}}\n', dict_data=other, write_dict_id=True)
    with pytest.raises(IntegrityError, match="dictionary this telecbt does not have"):
        hub.import_(sealed)


def test_the_window_bound_holds_with_the_dictionary(sites):
    """A frame that asks for a 32 MiB window is refused, dictionary or not."""
    field, hub = sites
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=25, write_dict_id=True)
    sealed = _seal(hub, b"x" * 100, compression_params=params, dict_data=bundle_dict.dictionary())
    with pytest.raises(IntegrityError, match="decompression failed"):
        hub.import_(sealed)
    assert bundle_read.MAX_WINDOW < 2**25
