"""An error raised in a helper process (the FHIR export's second process) crosses a pipe by pickle:
its key and the words inside it must arrive whole, or the parent can only say "a helper failed"."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path

from telecbt_cli.content.catalog import load_for_ui
from telecbt_cli.core.store.errors import Codes, Figures, Joined, Said, StorageError, Term
from telecbt_cli.core.store.fsutil import storage_error


def test_worded_values_survive_pickling():
    values = [Term("values.storage_hint.full", "the disk is full"), Figures(["11-25 4.5", "11-26 5"]),
              Said("{n} rows", key="x.y", n=3), Joined(["a", "b"]), Codes("mode", ["video", "phone"])]
    for value in values:
        back = pickle.loads(pickle.dumps(value))
        assert type(back) is type(value) and str(back) == str(value) and back.__dict__ == value.__dict__


def test_a_storage_error_from_another_process_still_reads_in_spanish():
    error = storage_error("write", Path("/media/stick/x.tcb"), OSError(errno.ENOSPC, "No space left on device"))
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, StorageError) and str(back) == str(error)
    catalog = load_for_ui([])
    assert catalog.error(back, "es") == catalog.error(error, "es") != str(error)
