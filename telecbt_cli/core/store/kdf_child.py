"""The child process behind `crypto.isolate_kdf`: reads one scrypt request on stdin, writes the key in hex."""

from __future__ import annotations

import sys


def main() -> int:
    from telecbt_cli.core.store.crypto import KdfParams, derive_in_process

    try:
        secret, salt, log2n, r, p = sys.stdin.buffer.read().decode("ascii").split()
        key = derive_in_process(bytes.fromhex(secret), bytes.fromhex(salt), KdfParams(int(log2n), int(r), int(p)))
    except (ValueError, UnicodeDecodeError):
        return 2
    sys.stdout.write(key.hex() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
