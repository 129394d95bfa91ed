"""Explicit settings read from the environment, in one place."""

from __future__ import annotations

import os

from telecbt_cli.core.store.crypto import DEFAULT_LOG2N, MIN_LOG2N, KdfParams
from telecbt_cli.core.store.errors import UsageError


def kdf_params() -> KdfParams:
    """scrypt cost for new slots. TELECBT_KDF_LOG2N lowers it for tests; never in production."""
    value = os.environ.get("TELECBT_KDF_LOG2N")
    if not value:
        return KdfParams(DEFAULT_LOG2N)
    try:
        log2n = int(value)
    except ValueError:
        raise UsageError(f"TELECBT_KDF_LOG2N must be a whole number, not {value!r}") from None
    if not MIN_LOG2N <= log2n <= 22:
        raise UsageError(f"TELECBT_KDF_LOG2N must be between {MIN_LOG2N} and 22")
    return KdfParams(log2n)
