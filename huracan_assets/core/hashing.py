"""Content hashes that travel with every model: files, canonical JSON, and source code."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> bytes:
    """JSON with sorted keys and no whitespace: equal objects give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def json_hash(obj: Any) -> str:
    return sha256_bytes(canonical_json(obj))


def source_hash(modules: Iterable[ModuleType]) -> str:
    """SHA-256 over the source text of the given modules (order-independent)."""
    digest = hashlib.sha256()
    for name, text in sorted((m.__name__, inspect.getsource(m)) for m in modules):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(text.encode())
    return digest.hexdigest()


def package_code_hash(package_dir: str | Path) -> str:
    """SHA-256 over every ``*.py`` file below ``package_dir`` (relative path + content)."""
    root = Path(package_dir)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


DROPBOX_BLOCK_BYTES = 4 * 1024 * 1024


def dropbox_content_hash(data: bytes) -> str:
    """Dropbox's ``content_hash`` of ``data`` (hex).

    The documented algorithm: split the bytes into blocks of 4 MiB (4,194,304 bytes; the last
    block may be shorter), take the SHA-256 of each block, and return the SHA-256 of the
    concatenated binary block digests. Empty data has no blocks: the SHA-256 of empty input.
    """
    view = memoryview(data)
    overall = hashlib.sha256()
    for start in range(0, len(view), DROPBOX_BLOCK_BYTES):
        overall.update(hashlib.sha256(view[start : start + DROPBOX_BLOCK_BYTES]).digest())
    return overall.hexdigest()
