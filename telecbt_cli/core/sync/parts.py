"""Splitting bundles into parts small enough for email, and putting them back together.

A bundle at most `limit` bytes long travels whole as `<bundle_id>.tcb`. A larger one
becomes N part files `<bundle_id>.partIIIofNNN.tcbp`, each one JSON header line, a
newline, then a slice of the bundle:

    {"bundle_id": ..., "bundle_sha256": ..., "count": N, "format": "telecbt-part",
     "index": I, "part_sha256": ..., "version": 1}

`part_sha256` is the SHA-256 of the slice (not of the header), `bundle_sha256` that of the
whole bundle. Every part file, header included, is at most `limit` bytes. Parts can
arrive in any order and from several emails; `assemble` groups them by bundle id, checks
each one and says in plain words what is missing or wrong. The bundle itself stays
encrypted and signed: parts only add a transport checksum, so a damaged or stray part is
named before the bundle's own verification would reject the whole.
"""

from __future__ import annotations

import hashlib
import json
import re

from telecbt_cli.core.store.errors import IntegrityError

FORMAT = "telecbt-part"
VERSION = 1
PART_SUFFIX = ".tcbp"
WHOLE_SUFFIXES = (".tcb", ".age")
MAX_HEADER_BYTES = 4096
MAX_PARTS = 100_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def _header(bundle_id: str, index: int, count: int, bundle_sha: str, part_sha: str) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "bundle_id": bundle_id, "index": index,
                       "count": count, "bundle_sha256": bundle_sha, "part_sha256": part_sha},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


def part_name(bundle_id: str, index: int, count: int) -> str:
    return f"{bundle_id}.part{index:03d}of{count:03d}{PART_SUFFIX}"


def split(bundle: bytes, bundle_id: str, limit: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) pairs, each at most `limit` bytes: the bundle whole, or its parts."""
    if not _SAFE_ID.fullmatch(bundle_id or ""):
        raise ValueError("a bundle id is letters, digits, '-' and '_' (up to 128)")
    if len(bundle) <= limit:
        return [(f"{bundle_id}.tcb", bundle)]
    bundle_sha = hashlib.sha256(bundle).hexdigest()
    count = 1
    while True:
        # The longest header for this count: the index at its widest, a 64-digit part digest.
        room = limit - len(_header(bundle_id, count, count, bundle_sha, "0" * 64))
        if room <= 0:
            raise ValueError(f"a size limit of {limit} bytes leaves no room for data after the part header: "
                             "use a limit of at least a few kilobytes")
        needed = -(-len(bundle) // room)
        if needed <= count:
            break
        count = needed
    if count > MAX_PARTS:
        raise ValueError(f"the bundle would need {count} parts: raise the size limit")
    chunk = -(-len(bundle) // count)
    out = []
    for i in range(count):
        data = bundle[i * chunk:(i + 1) * chunk]
        header = _header(bundle_id, i + 1, count, bundle_sha, hashlib.sha256(data).hexdigest())
        out.append((part_name(bundle_id, i + 1, count), header + data))
    return out


def _numbers(values: list[int]) -> list[str]:
    """[2, 5] -> ['2', '5']; [2, 3, 4, 7] -> ['2-4', '7'] (a message says "2 and 5", "2-4 and 7")."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    words: list[str] = []
    for run in runs:
        words += [str(v) for v in run] if len(run) < 3 else [f"{run[0]}-{run[-1]}"]
    return words


def _bad_name(name: str) -> dict | None:
    if not isinstance(name, str) or not name.strip():
        return _problem(None, "{name} has no name: skipped", "no_name", name=_shown(name))
    if any(bad in name for bad in ("/", "\\", "..", "\0")):
        return _problem(None, "{name} has a name that is not a plain file name (it could point outside the folder): "
                        "skipped", "unsafe_name", name=_shown(name))
    return None


def _problem(bundle_id: str | None, english: str, key: str, **values: object) -> dict:
    """A problem: its message in English, and the error (`cause`) a UI words in the reader's language."""
    error = IntegrityError(english, key=f"errors.bundle_parts.{key}", **values)
    return {"bundle_id": bundle_id, "message": str(error), "cause": error}


def _shown(name: str) -> str:
    return repr(name[:80]) if isinstance(name, str) else "a file"


class _Part:
    __slots__ = ("name", "bundle_id", "index", "count", "bundle_sha", "part_sha", "data")

    def __init__(self, name: str, header: dict, data: bytes) -> None:
        self.name, self.data = name, data
        self.bundle_id, self.index, self.count = header["bundle_id"], header["index"], header["count"]
        self.bundle_sha, self.part_sha = header["bundle_sha256"], header["part_sha256"]


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(name: str, raw: bytes) -> tuple[_Part | None, dict | None]:
    """A checked part, or a problem (bundle id known when the header could be read)."""
    cut = raw.find(b"\n", 0, MAX_HEADER_BYTES + 1)
    if cut < 0:
        if len(raw) <= MAX_HEADER_BYTES:
            return None, _problem(None, "{name} has no part header: it is not a telecbt bundle part", "no_header",
                                  name=_shown(name))
        return None, _problem(None, "{name} has a part header longer than 4 KiB: it is not a telecbt bundle part",
                              "long_header", name=_shown(name))
    try:
        header = json.loads(raw[:cut])
    except (ValueError, UnicodeDecodeError):
        return None, _problem(None, "{name} has a part header that is not JSON: it is not a telecbt bundle part",
                              "not_json", name=_shown(name))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None, _problem(None, "{name} is not a telecbt bundle part (unknown format)", "unknown_format",
                              name=_shown(name))
    bundle_id = header.get("bundle_id")
    bundle_id = bundle_id if isinstance(bundle_id, str) and _SAFE_ID.fullmatch(bundle_id) else None
    version = header.get("version")
    if not _int(version) or version < 1:
        return None, _problem(bundle_id, "{name} has no valid part format version", "no_version", name=_shown(name))
    if version > VERSION:
        return None, _problem(bundle_id, "{name} uses part format version {version}, newer than this telecbt "
                              "understands ({known}): upgrade telecbt", "newer", name=_shown(name), version=version,
                              known=VERSION)
    index, count = header.get("index"), header.get("count")
    if (bundle_id is None or not _int(index) or not _int(count) or not 1 <= index <= count <= MAX_PARTS
            or not _HEX64.fullmatch(str(header.get("bundle_sha256")))
            or not _HEX64.fullmatch(str(header.get("part_sha256")))):
        return None, _problem(bundle_id, "{name} has an incomplete or invalid part header", "bad_header",
                              name=_shown(name))
    data = raw[cut + 1:]
    if hashlib.sha256(data).hexdigest() != header["part_sha256"]:
        return None, _problem(bundle_id, "part {index} of {count} ({name}) is damaged: its contents do not match "
                              "its checksum. Save that attachment again from the email", "damaged", index=index,
                              count=count, name=_shown(name))
    return _Part(name, header, data), None


def _assemble_group(bundle_id: str, group: list[_Part], problems: list[dict]) -> bytes | None:
    # Parts of one bundle agree on count and checksum; the most common pair is the bundle,
    # the others belong to another export (a different size limit) or were mixed in.
    kinds: dict[tuple[int, str], set[int]] = {}
    first: dict[tuple[int, str], str] = {}
    for part in sorted(group, key=lambda p: p.name):
        kinds.setdefault((part.count, part.bundle_sha), set()).add(part.index)
        first.setdefault((part.count, part.bundle_sha), part.name)
    # A complete set wins, then the one with most parts, then the first file name.
    count, bundle_sha = min(kinds, key=lambda k: (len(kinds[k]) < k[0], -len(kinds[k]), first[k]))
    by_index: dict[int, _Part] = {}
    clash = False
    for part in sorted(group, key=lambda p: p.name):
        if (part.count, part.bundle_sha) != (count, bundle_sha):
            values = {"name": _shown(part.name), "index": part.index, "of": part.count, "bundle": bundle_id}
            if part.count != count:
                problems.append(_problem(bundle_id, "{name} says it is part {index} of {of} of bundle {bundle}, but "
                                         "the other parts say the bundle has {count} parts: it comes from another "
                                         "bundle or another export of it, and was left out", "stray_count",
                                         count=count, **values))
            else:
                problems.append(_problem(bundle_id, "{name} says it is part {index} of {of} of bundle {bundle}, but "
                                         "its bundle checksum differs from the other parts': it comes from another "
                                         "bundle or another export of it, and was left out", "stray_sum", **values))
            continue
        seen = by_index.get(part.index)
        if seen is None:
            by_index[part.index] = part
        elif seen.data != part.data:
            clash = True
            problems.append(_problem(bundle_id, "part {index} of {count} of bundle {bundle} is there twice with "
                                     "different contents ({first} and {second}): cannot tell which is right. Remove "
                                     "the wrong one (or save the attachments again) and import again", "twice",
                                     index=part.index, count=count, bundle=bundle_id, first=_shown(seen.name),
                                     second=_shown(part.name)))
    if clash:
        return None
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        words = _numbers(missing)
        if len(missing) == 1:
            problems.append(_problem(bundle_id, "bundle {bundle}: part {part} of {count} is missing. Save the missing "
                                     "attachment(s) into the same folder and import again", "missing_one",
                                     bundle=bundle_id, part=words[0], count=count))
        elif len(words) == 1:  # a run: 2-4
            problems.append(_problem(bundle_id, "bundle {bundle}: parts {parts} of {count} are missing. Save the "
                                     "missing attachment(s) into the same folder and import again", "missing_run",
                                     bundle=bundle_id, parts=words[0], count=count))
        else:
            problems.append(_problem(bundle_id, "bundle {bundle}: parts {parts} and {last} of {count} are missing. "
                                     "Save the missing attachment(s) into the same folder and import again",
                                     "missing", bundle=bundle_id, parts=", ".join(words[:-1]), last=words[-1],
                                     count=count))
        return None
    bundle = b"".join(by_index[i].data for i in range(1, count + 1))
    if hashlib.sha256(bundle).hexdigest() != bundle_sha:
        problems.append(_problem(bundle_id, "bundle {bundle}: all {count} parts are there, but together they do not "
                                 "match the bundle's checksum: export the bundle again", "mismatch", bundle=bundle_id,
                                 count=count))
        return None
    return bundle


def assemble(files: dict[str, bytes]) -> tuple[list[bytes], list[dict]]:
    """Whole bundles from files (base names -> bytes): `.tcb`/`.age` as they are, `.tcbp` parts joined.

    Returns (bundles, problems); each problem is {"bundle_id" (or None), "message"}. A bundle
    given twice (whole and in parts, or twice whole) is returned once.
    """
    bundles: list[bytes] = []
    problems: list[dict] = []
    groups: dict[str, list[_Part]] = {}
    for name in sorted(files, key=str):
        raw = files[name]
        bad = _bad_name(name)
        if bad:
            problems.append(bad)
            continue
        lower = name.lower()
        if lower.endswith(WHOLE_SUFFIXES):
            bundles.append(bytes(raw))
        elif lower.endswith(PART_SUFFIX):
            part, problem = _parse(name, bytes(raw))
            if problem:
                problems.append(problem)
            else:
                assert part is not None
                groups.setdefault(part.bundle_id, []).append(part)
        else:
            problems.append(_problem(None, "{name} is neither a bundle (.tcb, .age) nor a bundle part (.tcbp): skipped",
                                     "not_a_part", name=_shown(name)))
    for bundle_id in sorted(groups):
        whole = _assemble_group(bundle_id, groups[bundle_id], problems)
        if whole is not None:
            bundles.append(whole)
    unique, seen = [], set()
    for bundle in bundles:
        digest = hashlib.sha256(bundle).digest()
        if digest not in seen:
            seen.add(digest)
            unique.append(bundle)
    return unique, problems
