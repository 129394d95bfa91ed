"""Reading a wearable or phone export into pain-diary days: recognise the format, check every row, report.

`read_export` looks at the file and hands it to the right reader: an Apple Health
export (export.xml or export.zip, read as a stream), or a CSV (a known profile such as
Fitbit, Google Fit or Samsung Health, else a generic diary CSV). Every reader returns a
ParsedImport: one row per calendar day, the rows it skipped with line numbers and
reasons, the rows folded into another day's row, and which columns it used. It stores
nothing: `diary.import_rows` does that. Formats and rules: docs/diary-import.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path

from telecbt_cli.core.care.diary_import_apple import looks_like_apple_xml, read_apple_health
from telecbt_cli.core.care.diary_import_csv import MAX_BYTES, MAX_ROWS, parse_diary_csv
from telecbt_cli.core.store.errors import Figures
from telecbt_cli.core.care.diary_import_dates import parse_date_format
from telecbt_cli.core.care.diary_import_profiles import parse_mapping
from telecbt_cli.core.care.diary_import_values import ImportFileError, ParsedImport, Skipped

__all__ = ["MAX_BYTES", "MAX_ROWS", "ImportFileError", "ParsedImport", "Skipped", "parse_date_format",
           "parse_diary_csv", "parse_mapping", "read_export"]


def _is_apple_zip(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.rsplit("/", 1)[-1] == "export.xml" for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def read_export(path: Path, *, now: datetime, zone: tzinfo | None = None, date_format: str | None = None,
                mapping: dict[str, str] | None = None, person: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> ParsedImport:
    """Read any supported export from `path`; ImportFileError when the file as a whole cannot be used.

    `zone` (None = this device's zone) decides "today" and the day of UTC times. `date_format`,
    `mapping` and `person` apply to CSV files; `progress(bytes_done, bytes_total)` to XML.
    """
    with open(path, "rb") as handle:
        head = handle.read(512)
    apple = (head.startswith(b"PK\x03\x04") and _is_apple_zip(path)) or looks_like_apple_xml(head)
    if apple:
        given = [name for name, value in (("--date-format", date_format), ("--map", mapping),
                                          ("--person", person)) if value]
        if given:
            raise ImportFileError("{options} are for CSV files; an Apple Health export needs none.",
                                  key="errors.import_file.csv_only", options=", ".join(given))
        return read_apple_health(path, now=now, zone=zone, progress=progress)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ImportFileError(
            "The file is {size} MB; the limit for a CSV file is {limit} MB. "
            "Export a shorter period or split the file, then import each part.", key="errors.import_file.too_big_csv",
            size=Figures([f"{size / (1024 * 1024):.1f}"]), limit=MAX_BYTES // (1024 * 1024))
    return parse_diary_csv(path.read_bytes(), now=now, zone=zone, date_format=date_format, mapping=mapping,
                           person=person)
