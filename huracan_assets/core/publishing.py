"""Publishing an export: one layout and manifest, several places the bytes can go.

An :class:`ExportPlan` fixes what a day folder holds (files plus ``manifest.json``) and the
order it is written in. :class:`StorePublisher` is the one implementation of the layout, the
write order, ``LATEST`` and retention; an :class:`ExportStore` only decides where the bytes go
(a local folder here, Dropbox in :mod:`huracan_assets.stores.dropbox_store`).

The order is the contract with consumers: every file of the day is written into a staging
folder, then ``manifest.json``, then the staging folder becomes ``<day>/`` in one rename, and
only then ``LATEST`` names the day — so a reader who follows ``LATEST`` never sees a
half-written day. Pure Python; no dagster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from huracan_assets.core.hashing import sha256_bytes
from huracan_assets.core.manifest import (
    LATEST_NAME,
    MANIFEST_NAME,
    build_manifest,
    is_day,
    manifest_bytes,
    validate_day,
    verify_file,
)
from huracan_assets.core.signing import SIGNATURE_NAME, ManifestSigner

STAGING_PREFIX = ".staging-"
REPLACED_PREFIX = ".replaced-"

log = logging.getLogger("huracan.export")


class ExportStoreError(OSError):
    """A store operation failed for good (after any retries). The message names the path."""


@dataclass(frozen=True)
class ExportPlan:
    """Everything one day's export writes.

    ``files`` maps POSIX paths relative to the day folder to their bytes (``manifest.json``
    excluded); ``manifest`` lists exactly those files with their size (bytes) and SHA-256.
    """

    day: str
    files: Mapping[str, bytes]
    manifest: dict[str, Any]
    # manifest.json.sig (core/signing.py): written right after manifest.json when exports are signed
    signature: bytes | None = None

    def __post_init__(self) -> None:
        validate_day(self.day)
        if SIGNATURE_NAME in self.files:
            raise ValueError(f"{SIGNATURE_NAME} is reserved for the manifest's signature")
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
        signer: ManifestSigner | None = None,
    ) -> ExportPlan:
        """Build the plan and its manifest (see :func:`huracan_assets.core.manifest.build_manifest`),
        signed by ``signer`` when given."""
        manifest = build_manifest(
            day,
            files,
            features_hash=features_hash,
            code_hash=code_hash,
            training_window=training_window,
            created_at=created_at,
            extra=extra,
        )
        signature = signer.signature_bytes(manifest_bytes(manifest)) if signer is not None else None
        return cls(day=day, files=files, manifest=manifest, signature=signature)

    @property
    def manifest_bytes(self) -> bytes:
        """The exact bytes of ``manifest.json``."""
        return manifest_bytes(self.manifest)

    @property
    def latest_bytes(self) -> bytes:
        """The exact bytes of ``LATEST`` once this day is published: the day plus a newline."""
        return f"{self.day}\n".encode()

    def all_files(self) -> list[tuple[str, bytes]]:
        """The day folder's files in write order: sorted by path, ``manifest.json`` last (then its
        signature, when signed)."""
        ordered = [(path, self.files[path]) for path in sorted(self.files)]
        ordered.append((MANIFEST_NAME, self.manifest_bytes))
        if self.signature is not None:
            ordered.append((SIGNATURE_NAME, self.signature))
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
    """Outcome of one publish.

    ``files_written``/``bytes_written`` count what was actually written (``LATEST`` included);
    ``files_reused`` counts day files a resumable store already held with identical content
    (left there by an interrupted run). ``pruned`` lists the day folders deleted by retention.
    """

    day: str
    location: str
    files_written: int
    bytes_written: int
    dry_run: bool
    plan: list[dict[str, Any]] = field(default_factory=list)
    # The day LATEST names after this publish; it only moves forward (see StorePublisher).
    latest: str | None = None
    files_reused: int = 0
    pruned: list[str] = field(default_factory=list)
    # what killed publishes left and this one finished: "restored <folder> -> <day>", "removed <folder>"
    leftovers: list[str] = field(default_factory=list)


@runtime_checkable
class Publisher(Protocol):
    """Writes an :class:`ExportPlan` somewhere: all day files, then ``manifest.json``, then ``LATEST``."""

    def publish(self, plan: ExportPlan, leftovers_before: float | None = None) -> PublishResult: ...


@runtime_checkable
class ExportStore(Protocol):
    """Where an export's bytes live. The only thing that differs between publishers.

    Paths are POSIX and relative to the store's root (``""`` is the root itself). Every
    method either succeeds or raises :class:`ExportStoreError` (an ``OSError``) naming the path.

    ``keeps_partial_uploads``: True when a failed publish should leave its staging folder for the
    next run to resume (worth it when writing is slow and remote); False deletes it.
    """

    keeps_partial_uploads: bool

    def location(self, path: str = "") -> str:
        """A human-readable address of ``path`` (for logs, metadata and errors)."""
        ...

    def digest(self, data: bytes) -> str:
        """The store's own content digest of ``data``, as :meth:`list_tree` reports it."""
        ...

    def staging_folder(self, day: str) -> str:
        """The hidden folder a publish of ``day`` writes into before it becomes ``<day>/``."""
        ...

    def read(self, path: str) -> bytes | None:
        """The bytes of file ``path``, or None when there is no such file."""
        ...

    def write(self, path: str, data: bytes) -> None:
        """Write file ``path`` (parents created), replacing it whole; verified when the store can."""
        ...

    def list_tree(self, folder: str) -> tuple[dict[str, str], set[str]]:
        """Every file below ``folder`` as ``{relative path: digest}`` and every sub-folder's
        relative path; both empty when ``folder`` does not exist."""
        ...

    def list_folders(self, folder: str = "") -> list[str]:
        """Names of the direct sub-folders of ``folder``; empty when it does not exist."""
        ...

    def is_folder(self, path: str) -> bool:
        """True when ``path`` exists and is a folder."""
        ...

    def move(self, src: str, dst: str) -> None:
        """Rename folder ``src`` to ``dst`` in one step; ``dst`` must not exist."""
        ...

    def delete(self, path: str) -> None:
        """Delete file or folder ``path`` with everything below it; absent is fine."""
        ...

    def newest_change(self, folder: str) -> float | None:
        """When ``folder`` or anything below it last changed (UTC epoch seconds), as far as the
        store knows; None when it does not exist."""
        ...


def _ancestors(rel_path: str) -> list[str]:
    parts = rel_path.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


class StorePublisher:
    """Publishes an :class:`ExportPlan` into an :class:`ExportStore`: the one implementation of
    layout, write order, ``LATEST`` and retention.

    1. Every day file, then ``manifest.json``, is written into the store's staging folder. A
       resumable store may already hold some of them from an interrupted run: files with the
       same digest are kept, anything the plan does not hold is deleted.
    2. The staging folder becomes ``<day>/`` by rename. An existing ``<day>/`` is renamed aside
       first and deleted after, so ``<day>/`` is never half written (it is briefly absent during
       a same-day replace).
    3. ``LATEST`` is written last and only moves forward: publishing an older day than the one
       LATEST names (a backfill) leaves LATEST alone.
    4. ``retain_versions=N`` deletes, only after all of the above succeeded, every ``YYYY-MM-DD``
       folder older than the newest N; the folder LATEST names is always kept.

    ``dry_run=True`` writes nothing (it reads ``LATEST`` to report it) and returns the plan.

    Before step 1, ``leftovers_before`` (UTC epoch seconds, the current run's start) lets a publish
    finish what a killed one left: a ``.replaced-<day>…`` folder whose ``<day>/`` is gone (killed
    between the two renames of a same-day replace; ``LATEST`` may name that day) is renamed back
    to ``<day>/``; any other ``.replaced-`` folder, and every ``.staging-`` folder but the one this
    publish resumes, is deleted. Only folders that last changed before ``leftovers_before`` are
    touched, so a publish running now elsewhere keeps its own.
    """

    def __init__(
        self, store: ExportStore, dry_run: bool = False, *, retain_versions: int | None = None
    ) -> None:
        if retain_versions is not None and retain_versions < 1:
            raise ValueError(f"retain_versions must be at least 1 or None, got {retain_versions}")
        self.store = store
        self.dry_run = dry_run
        self.retain_versions = retain_versions

    def publish(self, plan: ExportPlan, leftovers_before: float | None = None) -> PublishResult:
        location = self.store.location(plan.day)
        if self.dry_run:
            return PublishResult(
                day=plan.day,
                location=location,
                files_written=0,
                bytes_written=0,
                dry_run=True,
                plan=plan.describe(),
                latest=self._read_latest(),
            )

        staging = self.store.staging_folder(plan.day)
        leftovers = self.finish_leftovers(leftovers_before, keep=staging) if leftovers_before else []
        try:
            files_written, bytes_written, files_reused = self._stage(plan, staging)
            self._promote(staging, plan.day)
        except BaseException:
            if not self.store.keeps_partial_uploads:
                with contextlib.suppress(Exception):
                    self.store.delete(staging)
            raise
        latest = self._advance_latest(plan)
        if latest == plan.day:
            files_written += 1
            bytes_written += len(plan.latest_bytes)
        pruned = self._prune(latest) if self.retain_versions is not None else []
        log.info(
            "event=published day=%s location=%s files_written=%d files_reused=%d bytes_written=%d latest=%s pruned=%s",
            plan.day,
            location,
            files_written,
            files_reused,
            bytes_written,
            latest,
            ",".join(pruned) or "-",
        )
        return PublishResult(
            day=plan.day,
            location=location,
            files_written=files_written,
            bytes_written=bytes_written,
            dry_run=False,
            plan=plan.describe(),
            latest=latest,
            files_reused=files_reused,
            pruned=pruned,
            leftovers=leftovers,
        )

    def finish_leftovers(self, before: float, keep: str = "") -> list[str]:
        """Complete or remove what killed publishes left (see the class docstring); returns one
        ``<what> <folder>`` line per folder handled, also logged."""
        done = []
        for name in self.store.list_folders(""):
            if name == keep or not name.startswith((STAGING_PREFIX, REPLACED_PREFIX)):
                continue
            changed = self.store.newest_change(name)
            if changed is None or changed >= before:
                continue  # gone meanwhile, or a publish running now
            day = name.removeprefix(REPLACED_PREFIX)[:10]
            if name.startswith(REPLACED_PREFIX) and is_day(day) and not self.store.is_folder(day):
                self.store.move(name, day)
                done.append(f"restored {name} -> {day}")
            else:
                self.store.delete(name)
                done.append(f"removed {name}")
            log.warning("event=export_leftover action=%s", done[-1])
        return done

    def _stage(self, plan: ExportPlan, staging: str) -> tuple[int, int, int]:
        present, folders = self.store.list_tree(staging)
        wanted = plan.all_files()
        wanted_paths = {rel for rel, _ in wanted}
        wanted_folders = {folder for rel in wanted_paths for folder in _ancestors(rel)}
        # Left by an interrupted run of another plan: remove, so the day ends exactly as planned.
        for rel in sorted(set(present) - wanted_paths):
            self.store.delete(f"{staging}/{rel}")
        stale_folders = folders - wanted_folders
        for folder in sorted(stale_folders):
            if not any(parent in stale_folders for parent in _ancestors(folder)):
                self.store.delete(f"{staging}/{folder}")

        files_written = bytes_written = files_reused = 0
        for rel, data in wanted:  # manifest.json last
            if present.get(rel) == self.store.digest(data):
                files_reused += 1
                continue
            self.store.write(f"{staging}/{rel}", data)
            files_written += 1
            bytes_written += len(data)
        return files_written, bytes_written, files_reused

    def _promote(self, staging: str, day: str) -> None:
        aside = REPLACED_PREFIX + staging.removeprefix(STAGING_PREFIX)
        if self.store.is_folder(aside):  # left by a swap that was interrupted between its renames
            self.store.delete(aside)
        replacing = self.store.is_folder(day)
        if replacing:
            self.store.move(day, aside)
        try:
            self.store.move(staging, day)
        except BaseException:
            if replacing:
                with contextlib.suppress(Exception):
                    self.store.move(aside, day)
            raise
        if replacing:
            try:
                self.store.delete(aside)
            except OSError as exc:
                log.warning("event=cleanup_failed path=%s error=%s", self.store.location(aside), exc)

    def _read_latest(self) -> str | None:
        data = self.store.read(LATEST_NAME)
        if data is None:
            return None
        try:
            text = data.decode().strip()
        except UnicodeDecodeError:
            return None
        return text if is_day(text) else None

    def _advance_latest(self, plan: ExportPlan) -> str:
        current = self._read_latest()
        if current is not None and current > plan.day and self.store.is_folder(current):
            return current
        self.store.write(LATEST_NAME, plan.latest_bytes)
        return plan.day

    def _prune(self, latest: str) -> list[str]:
        assert self.retain_versions is not None
        days = sorted((name for name in self.store.list_folders("") if is_day(name)), reverse=True)
        pruned = []
        for day in days[self.retain_versions :]:
            if day == latest:
                continue
            try:
                self.store.delete(day)
            except OSError as exc:  # housekeeping: the export itself is complete; try again next time
                log.warning("event=prune_failed path=%s error=%s", self.store.location(day), exc)
                continue
            pruned.append(day)
        return pruned


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


class OutsideRootError(PermissionError):
    """A path under the export root that a link leads out of it; nothing of its target is read."""


class LocalFolderStore:
    """An :class:`ExportStore` in a local (or Dropbox-synced) folder ``root``.

    Files are written to a temporary name, fsynced and renamed over the target, so a file is
    whole or absent. Staging folders carry a random suffix, so two publishers of one day never
    share one, and a failed publish deletes its staging folder (rewriting local bytes is cheap).
    Digests are SHA-256 (hex).
    """

    keeps_partial_uploads = False

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, path: str) -> Path:
        return self.root.joinpath(*path.split("/")) if path else self.root

    def location(self, path: str = "") -> str:
        return str(self._path(path))

    def digest(self, data: bytes) -> str:
        return sha256_bytes(bytes(data))

    def staging_folder(self, day: str) -> str:
        return f"{STAGING_PREFIX}{day}-{secrets.token_hex(6)}"

    def read(self, path: str) -> bytes | None:
        target = self._path(path)
        try:
            inside = target.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):  # a link loop
            inside = False
        if not inside:
            # a link out of the root: refused before anything of the target is read or shown
            raise OutsideRootError(
                f"{target} leads out of the export root {self.root} through a link; refused"
            )
        try:
            return target.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            _write_durable(tmp, data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(target.parent)

    def list_tree(self, folder: str) -> tuple[dict[str, str], set[str]]:
        base = self._path(folder)
        if not base.is_dir():
            return {}, set()
        files: dict[str, str] = {}
        folders: set[str] = set()
        for entry in base.rglob("*"):
            rel = entry.relative_to(base).as_posix()
            if entry.is_dir():
                folders.add(rel)
            elif entry.is_file():
                files[rel] = self.digest(entry.read_bytes())
        return files, folders

    def list_folders(self, folder: str = "") -> list[str]:
        base = self._path(folder)
        if not base.is_dir():
            return []
        return sorted(entry.name for entry in base.iterdir() if entry.is_dir())

    def is_folder(self, path: str) -> bool:
        return self._path(path).is_dir()

    def move(self, src: str, dst: str) -> None:
        source, target = self._path(src), self._path(dst)
        # Deepest first, so each folder's entries are durable before the folder is renamed.
        folders = [source, *(p for p in source.rglob("*") if p.is_dir())]
        for folder in sorted(folders, key=lambda d: len(d.parts), reverse=True):
            _fsync_dir(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        _fsync_dir(target.parent)

    def newest_change(self, folder: str) -> float | None:
        base = self._path(folder)
        try:
            newest = base.lstat().st_mtime
        except FileNotFoundError:
            return None
        for entry in base.rglob("*"):
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, entry.lstat().st_mtime)
        return newest

    def delete(self, path: str) -> None:
        target = self._path(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()


class LocalFolderPublisher(StorePublisher):
    """Publishes into a local (or Dropbox-synced) folder ``root``; see :class:`StorePublisher`."""

    def __init__(
        self, root: str | Path, dry_run: bool = False, *, retain_versions: int | None = None
    ) -> None:
        super().__init__(LocalFolderStore(root), dry_run, retain_versions=retain_versions)
        self.root = Path(root)
