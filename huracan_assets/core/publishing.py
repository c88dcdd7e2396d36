"""Publishing an export: one layout and manifest, several places the bytes can go.

An :class:`ExportPlan` fixes what a day folder holds (files plus ``manifest.json``) and the
order it is written in; a :class:`Publisher` only decides where the bytes go. The order is the
contract with consumers: every file of the day, then ``manifest.json``, then ``LATEST`` naming
the day — so a reader who follows ``LATEST`` never sees a half-written day. Pure Python; no dagster.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from huracan_assets.core.manifest import (
    LATEST_NAME,
    MANIFEST_NAME,
    build_manifest,
    is_day,
    manifest_bytes,
    validate_day,
    verify_file,
)

STAGING_PREFIX = ".staging-"
_REPLACED_PREFIX = ".replaced-"


@dataclass(frozen=True)
class ExportPlan:
    """Everything one day's export writes.

    ``files`` maps POSIX paths relative to the day folder to their bytes (``manifest.json``
    excluded); ``manifest`` lists exactly those files with their size (bytes) and SHA-256.
    """

    day: str
    files: Mapping[str, bytes]
    manifest: dict[str, Any]

    def __post_init__(self) -> None:
        validate_day(self.day)
        # A frozen plan must not change under a publisher's feet: keep a private read-only copy.
        object.__setattr__(self, "files", MappingProxyType({p: bytes(b) for p, b in self.files.items()}))
        if self.manifest.get("day") != self.day:
            raise ValueError(f"manifest day {self.manifest.get('day')!r} differs from plan day {self.day!r}")
        listed = {entry["path"] for entry in self.manifest["files"]}
        if listed != set(self.files):
            raise ValueError(
                f"manifest and files disagree: unlisted {sorted(set(self.files) - listed)}, "
                f"absent {sorted(listed - set(self.files))}"
            )
        for path, data in self.files.items():
            verify_file(self.manifest, path, data)

    @classmethod
    def create(
        cls,
        day: str,
        files: Mapping[str, bytes],
        *,
        features_hash: str,
        code_hash: str,
        training_window: Mapping[str, str],
        created_at: str,
        extra: Mapping[str, Any] | None = None,
    ) -> ExportPlan:
        """Build the plan and its manifest (see :func:`huracan_assets.core.manifest.build_manifest`)."""
        manifest = build_manifest(
            day,
            files,
            features_hash=features_hash,
            code_hash=code_hash,
            training_window=training_window,
            created_at=created_at,
            extra=extra,
        )
        return cls(day=day, files=files, manifest=manifest)

    @property
    def manifest_bytes(self) -> bytes:
        """The exact bytes of ``manifest.json``."""
        return manifest_bytes(self.manifest)

    @property
    def latest_bytes(self) -> bytes:
        """The exact bytes of ``LATEST`` once this day is published: the day plus a newline."""
        return f"{self.day}\n".encode()

    def all_files(self) -> list[tuple[str, bytes]]:
        """The day folder's files in write order: sorted by path, ``manifest.json`` last."""
        ordered = [(path, self.files[path]) for path in sorted(self.files)]
        ordered.append((MANIFEST_NAME, self.manifest_bytes))
        return ordered

    def describe(self) -> list[dict[str, Any]]:
        """What a publish writes, in order: ``{"path": "<day>/<rel>", "bytes": n}`` per file, then ``LATEST``.

        Paths are relative to the export root; sizes are in bytes.
        """
        plan = [{"path": f"{self.day}/{path}", "bytes": len(data)} for path, data in self.all_files()]
        plan.append({"path": LATEST_NAME, "bytes": len(self.latest_bytes)})
        return plan


@dataclass
class PublishResult:
    """Outcome of one publish. ``bytes_written`` counts every byte written, ``LATEST`` included."""

    day: str
    location: str
    files_written: int
    bytes_written: int
    dry_run: bool
    plan: list[dict[str, Any]] = field(default_factory=list)
    # The day LATEST names after this publish; it only moves forward (see LocalFolderPublisher).
    latest: str | None = None


@runtime_checkable
class Publisher(Protocol):
    """Writes an :class:`ExportPlan` somewhere: all day files, then ``manifest.json``, then ``LATEST``."""

    def publish(self, plan: ExportPlan) -> PublishResult: ...


def read_latest(root: str | Path) -> str | None:
    """The day ``<root>/LATEST`` names, or None when it is absent or does not hold a day."""
    try:
        text = (Path(root) / LATEST_NAME).read_text().strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    return text if is_day(text) else None


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes renames and new entries durable; not every platform allows it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class LocalFolderPublisher:
    """Publishes into a local (or Dropbox-synced) folder ``root``.

    The day's files are written into a hidden ``root/.staging-<day>-<random>/`` folder, fsynced,
    and renamed to ``root/<day>/`` in one step. An existing ``root/<day>/`` is renamed aside first
    and deleted after the new one is in place, so ``root/<day>/`` is never half written (it is
    briefly absent during a same-day replace). ``root/LATEST`` is written last (temp file +
    ``os.replace``) and only moves forward: publishing an older day than the one LATEST names
    (a backfill) leaves LATEST alone, because LATEST names the newest complete day.

    ``retain_versions=N`` deletes, after a successful publish, every ``YYYY-MM-DD`` folder older
    than the newest N; the folder LATEST names is always kept. ``dry_run=True`` writes nothing.
    """

    def __init__(
        self, root: str | Path, dry_run: bool = False, *, retain_versions: int | None = None
    ) -> None:
        if retain_versions is not None and retain_versions < 1:
            raise ValueError(f"retain_versions must be at least 1 or None, got {retain_versions}")
        self.root = Path(root)
        self.dry_run = dry_run
        self.retain_versions = retain_versions

    def publish(self, plan: ExportPlan) -> PublishResult:
        location = str(self.root / plan.day)
        if self.dry_run:
            return PublishResult(
                day=plan.day,
                location=location,
                files_written=0,
                bytes_written=0,
                dry_run=True,
                plan=plan.describe(),
                latest=read_latest(self.root),
            )

        self.root.mkdir(parents=True, exist_ok=True)
        files_written, bytes_written = self._write_day(plan)
        latest = self._advance_latest(plan)
        if latest == plan.day:
            files_written += 1
            bytes_written += len(plan.latest_bytes)
        if self.retain_versions is not None:
            self._prune(latest)
        return PublishResult(
            day=plan.day,
            location=location,
            files_written=files_written,
            bytes_written=bytes_written,
            dry_run=False,
            plan=plan.describe(),
            latest=latest,
        )

    def _write_day(self, plan: ExportPlan) -> tuple[int, int]:
        token = secrets.token_hex(6)
        staging = self.root / f"{STAGING_PREFIX}{plan.day}-{token}"
        target = self.root / plan.day
        staging.mkdir()
        files_written = bytes_written = 0
        try:
            made_dirs: set[Path] = {staging}
            for rel_path, data in plan.all_files():
                path = staging.joinpath(*rel_path.split("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(path.parent)
                _write_durable(path, data)
                files_written += 1
                bytes_written += len(data)
            # Deepest first, so each folder's entry is durable before its parent's.
            for directory in sorted(made_dirs, key=lambda d: len(d.parts), reverse=True):
                _fsync_dir(directory)

            replaced = None
            if target.exists():
                replaced = self.root / f"{_REPLACED_PREFIX}{plan.day}-{token}"
                os.rename(target, replaced)
            try:
                os.rename(staging, target)
            except OSError:
                if replaced is not None:
                    os.rename(replaced, target)
                raise
            _fsync_dir(self.root)
            if replaced is not None:
                shutil.rmtree(replaced, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return files_written, bytes_written

    def _advance_latest(self, plan: ExportPlan) -> str:
        current = read_latest(self.root)
        if current is not None and current > plan.day and (self.root / current).is_dir():
            return current
        tmp = self.root / f".{LATEST_NAME}.{secrets.token_hex(6)}.tmp"
        try:
            _write_durable(tmp, plan.latest_bytes)
            os.replace(tmp, self.root / LATEST_NAME)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.root)
        return plan.day

    def _prune(self, latest: str) -> None:
        assert self.retain_versions is not None
        days = sorted(
            (entry.name for entry in self.root.iterdir() if entry.is_dir() and is_day(entry.name)),
            reverse=True,
        )
        for day in days[self.retain_versions :]:
            if day != latest:
                shutil.rmtree(self.root / day, ignore_errors=True)
