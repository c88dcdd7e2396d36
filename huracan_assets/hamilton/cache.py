"""A local cache of verified export files, keyed by their SHA-256. Imports no dagster."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from huracan_assets.core.hashing import sha256_bytes

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ContentCache:
    """Export files on local disk under ``<root>/<sha256[:2]>/<sha256>``.

    Content-addressed: a file is found by the SHA-256 its manifest lists, so the same model in
    two days' exports is downloaded once, and a file keeps being available after the remote
    copy is replaced. Hamilton puts an entry only after its bytes matched the manifest; every
    read checks size (bytes) and SHA-256 again and deletes an entry that no longer matches.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def get(self, sha256: str, size: int) -> bytes | None:
        """The cached bytes with this SHA-256 and size, or None (absent or damaged)."""
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if len(data) != size or sha256_bytes(data) != sha256:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` (whose SHA-256 must be ``sha256``) atomically."""
        if sha256_bytes(data) != sha256:
            raise ValueError(f"bytes do not hash to {sha256}")
        path = self._path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{sha256}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def __contains__(self, sha256: str) -> bool:
        return self._path(sha256).is_file()
