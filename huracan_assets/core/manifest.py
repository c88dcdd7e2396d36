"""The export manifest: what a day folder holds, with every file's size and SHA-256.

The manifest is the contract between the exporter and every consumer (Hamilton): a consumer
trusts a file only after its bytes match the manifest entry. Pure Python; no dagster.

Shape (``version`` 1)::

    {"version": 1, "day": "YYYY-MM-DD", "created_at": "<ISO-8601 UTC>",
     "features_hash": "...", "code_hash": "...",
     "training_window": {"start": "...", "end": "..."},
     "files": [{"path": "<POSIX path relative to the day folder>", "bytes": int, "sha256": "<hex>"}, ...],
     ...extra keys}

``files`` is sorted by path and never lists ``manifest.json`` itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from huracan_assets.core.hashing import sha256_bytes

MANIFEST_NAME = "manifest.json"
LATEST_NAME = "LATEST"
MANIFEST_VERSION = 1

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_RESERVED_KEYS = frozenset(
    {"version", "day", "created_at", "features_hash", "code_hash", "training_window", "files"}
)


class ManifestMismatchError(ValueError):
    """A file's bytes do not match its manifest entry, or the file is not listed at all."""


def is_day(name: str) -> bool:
    """True when ``name`` is a real calendar day written ``YYYY-MM-DD``."""
    if not _DAY_RE.match(name):
        return False
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return True


def validate_day(day: str) -> str:
    """Return ``day`` when it is ``YYYY-MM-DD`` (it becomes a folder name), else raise ValueError."""
    if not isinstance(day, str) or not is_day(day):
        raise ValueError(f"day must be a calendar day written YYYY-MM-DD, got {day!r}")
    return day


def validate_rel_path(path: str) -> str:
    """Return ``path`` when it is a safe POSIX path relative to the day folder, else raise ValueError.

    Refused: empty paths, absolute paths, ``.``/``..``/empty segments, backslashes, and the
    manifest's own name at the top of the day folder.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"export file path must be a non-empty string, got {path!r}")
    if "\\" in path:
        raise ValueError(f"export file path {path!r} contains a backslash; use POSIX '/' separators")
    if path.startswith("/"):
        raise ValueError(f"export file path {path!r} is absolute; it must be relative to the day folder")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"export file path {path!r} has an empty, '.' or '..' segment")
    if path == MANIFEST_NAME:
        raise ValueError(f"export file path {path!r} is reserved for the manifest itself")
    return path


def _check_no_file_dir_clash(paths: list[str]) -> None:
    """Refuse ``a`` next to ``a/b``: a name cannot be both a file and a folder."""
    as_files = set(paths)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in as_files:
                raise ValueError(f"export file path {path!r} lies under {parent!r}, which is also a file")


def build_manifest(
    day: str,
    files: Mapping[str, bytes],
    *,
    features_hash: str,
    code_hash: str,
    training_window: Mapping[str, str],
    created_at: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the version-1 manifest of one day folder.

    ``files`` maps POSIX paths relative to the day folder to their bytes (the manifest itself
    excluded). ``training_window`` needs ``start`` and ``end`` (ISO dates or UTC timestamps);
    ``created_at`` is an ISO-8601 UTC timestamp. ``extra`` keys are added at the top level and
    must not shadow the standard keys.
    """
    validate_day(day)
    for name, value in (
        ("features_hash", features_hash),
        ("code_hash", code_hash),
        ("created_at", created_at),
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    missing_window = [key for key in ("start", "end") if key not in training_window]
    if missing_window:
        raise ValueError(f"training_window lacks {missing_window}; got keys {sorted(training_window)}")
    paths = sorted(files)
    for path in paths:
        validate_rel_path(path)
        if not isinstance(files[path], bytes | bytearray | memoryview):
            raise ValueError(f"export file {path!r} must be bytes, got {type(files[path]).__name__}")
    _check_no_file_dir_clash(paths)
    extra = dict(extra or {})
    clash = sorted(_RESERVED_KEYS & set(extra))
    if clash:
        raise ValueError(f"extra manifest keys {clash} would shadow standard manifest keys")

    entries = [{"path": p, "bytes": len(files[p]), "sha256": sha256_bytes(bytes(files[p]))} for p in paths]
    return {
        "version": MANIFEST_VERSION,
        "day": day,
        "created_at": created_at,
        "features_hash": features_hash,
        "code_hash": code_hash,
        "training_window": {"start": str(training_window["start"]), "end": str(training_window["end"])},
        "files": entries,
        **extra,
    }


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The bytes written to ``manifest.json``: indented, key-sorted JSON plus a trailing newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse and structurally check ``manifest.json`` bytes; raise ValueError saying what is wrong."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST_NAME} must hold a JSON object, got {type(manifest).__name__}")
    if manifest.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{MANIFEST_NAME} version {manifest.get('version')!r} is not {MANIFEST_VERSION}")
    missing = sorted(_RESERVED_KEYS - set(manifest))
    if missing:
        raise ValueError(f"{MANIFEST_NAME} lacks keys {missing}")
    validate_day(manifest["day"])
    if not isinstance(manifest["files"], list):
        raise ValueError(f"{MANIFEST_NAME} 'files' must be a list")
    seen: set[str] = set()
    for entry in manifest["files"]:
        if not isinstance(entry, dict) or not {"path", "bytes", "sha256"} <= set(entry):
            raise ValueError(f"{MANIFEST_NAME} file entry {entry!r} needs path, bytes and sha256")
        path = validate_rel_path(entry["path"])
        if path in seen:
            raise ValueError(f"{MANIFEST_NAME} lists {path!r} twice")
        seen.add(path)
        size = entry["bytes"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{MANIFEST_NAME} entry {path!r} has a bad size {entry['bytes']!r}")
        if not isinstance(entry["sha256"], str) or not _SHA256_RE.match(entry["sha256"]):
            raise ValueError(f"{MANIFEST_NAME} entry {path!r} has a bad sha256 {entry['sha256']!r}")
    return manifest


def manifest_entry(manifest: Mapping[str, Any], rel_path: str) -> dict[str, Any] | None:
    """The ``files`` entry for ``rel_path``, or None when the manifest does not list it."""
    for entry in manifest["files"]:
        if entry["path"] == rel_path:
            return entry
    return None


def verify_file(manifest: Mapping[str, Any], rel_path: str, data: bytes) -> None:
    """Raise ManifestMismatchError unless ``data`` matches the manifest entry of ``rel_path``.

    Sizes are compared in bytes, content by SHA-256 (hex).
    """
    entry = manifest_entry(manifest, rel_path)
    if entry is None:
        raise ManifestMismatchError(f"{rel_path!r} is not listed in {MANIFEST_NAME}")
    actual_sha = sha256_bytes(bytes(data))
    if len(data) != entry["bytes"] or actual_sha != entry["sha256"]:
        raise ManifestMismatchError(
            f"{rel_path!r} does not match {MANIFEST_NAME}: "
            f"expected {entry['bytes']} bytes sha256={entry['sha256']}, "
            f"got {len(data)} bytes sha256={actual_sha}"
        )
