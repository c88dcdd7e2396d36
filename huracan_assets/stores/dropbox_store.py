"""The Dropbox export store: the bytes of an export in a Dropbox folder, through the official SDK.

:class:`DropboxStore` implements :class:`huracan_assets.core.publishing.ExportStore`, so the
layout, write order, ``LATEST`` and retention are exactly those of the local folder
(:class:`~huracan_assets.core.publishing.StorePublisher`); Hamilton reads through it too.

- Files up to ``chunk_size_bytes`` go up in one ``files/upload``; larger ones through an upload
  session (``upload_session/start``, ``append_v2``, ``finish``). Every write replaces the file
  (``WriteMode.overwrite``) and is checked: the ``content_hash`` and size the server reports must
  equal those computed locally (Dropbox's content-hash algorithm), else the upload is retried.
- Downloads are checked the same way against the metadata the server sends with them.
- HTTP 429 (waiting as long as its Retry-After says), 5xx, timeouts, dropped connections,
  hash mismatches and lost upload sessions are retried with exponential backoff, up to
  ``RetryPolicy.max_attempts``; then :class:`ExportStoreError` names the operation, the path
  and the last reason. The SDK's own retries are switched off so there is one policy.
- Staging folders have fixed names (``.staging-<day>``) and survive a failure, so a re-run
  resumes: files already uploaded with the right content hash are not sent again.

Credentials come only from the environment (:mod:`huracan_assets.stores.dropbox_credentials`)
and are redacted from every error. Imports no dagster.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import dropbox
import requests
from dropbox import files as dbx_files
from dropbox.exceptions import (
    ApiError,
    AuthError,
    BadInputError,
    HttpError,
    InternalServerError,
    RateLimitError,
)

from huracan_assets.core.hashing import dropbox_content_hash
from huracan_assets.core.publishing import STAGING_PREFIX, ExportStoreError
from huracan_assets.stores.dropbox_credentials import DropboxCredentials, redact

DEFAULT_CHUNK_SIZE_BYTES = 8 * 1024 * 1024
# Dropbox refuses a single files/upload call above 150 MiB.
MAX_CHUNK_SIZE_BYTES = 150 * 1024 * 1024

log = logging.getLogger("huracan.export.dropbox")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a Dropbox call is retried.

    ``max_attempts`` counts the first try. Between attempts the wait is the server's Retry-After
    (seconds) when it sent one, else ``base_delay_s * 2**(attempt-1)`` capped at ``max_delay_s``,
    with jitter (×0.5–1) so parallel publishers do not retry in lockstep.
    """

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry delays must not be negative")

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after_s is not None:
            return max(float(retry_after_s), 0.0)
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.0)


class _Retryable(Exception):
    """A failure worth another attempt: a bad hash, a truncated transfer, a lost upload session."""


def normalize_dropbox_root(root: str) -> str:
    """The Dropbox folder ``root`` as the API wants it: ``/a/b`` (``""`` for the app's top level).

    Raises ValueError unless ``root`` starts with ``/`` and has no empty segment.
    """
    if root in ("", "/"):
        return ""
    stripped = root.rstrip("/")
    if not stripped.startswith("/") or "//" in stripped or "\\" in stripped:
        raise ValueError(f"dropbox root must be an absolute Dropbox path like '/huracan', got {root!r}")
    return stripped


def _lookup_not_found(error: Any) -> bool:
    """True when a route error says the path (or the move's source) does not exist."""
    for name in ("path", "path_lookup", "from_lookup"):
        is_variant = getattr(error, f"is_{name}", None)
        if is_variant is not None and is_variant():
            inner = getattr(error, f"get_{name}")()
            return bool(getattr(inner, "is_not_found", lambda: False)())
    return False


def _session_lost(error: Any) -> bool:
    """True when an upload-session error means "start this file again" (offset, closed, expired)."""
    if getattr(error, "is_lookup_failed", lambda: False)():
        error = error.get_lookup_failed()
    return any(
        getattr(error, f"is_{name}", lambda: False)() for name in ("incorrect_offset", "not_found", "closed")
    )


class DropboxStore:
    """An :class:`~huracan_assets.core.publishing.ExportStore` under the Dropbox folder ``root``.

    ``chunk_size_bytes``: files up to this size go up in one call, larger ones in chunks of
    this size through an upload session (default 8 MiB). ``timeout_s``: the longest wait for
    any one response, in seconds. ``ca_certs``: a PEM bundle to trust instead of the system's
    (for a private CA); when given, ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` and proxy
    variables are ignored, because requests would otherwise let them override it.
    """

    keeps_partial_uploads = True

    def __init__(
        self,
        root: str,
        credentials: DropboxCredentials,
        *,
        chunk_size_bytes: int = DEFAULT_CHUNK_SIZE_BYTES,
        timeout_s: float = 100.0,
        retry: RetryPolicy | None = None,
        ca_certs: str | None = None,
    ) -> None:
        if not 1 <= chunk_size_bytes <= MAX_CHUNK_SIZE_BYTES:
            raise ValueError(
                f"chunk_size_bytes must be between 1 and {MAX_CHUNK_SIZE_BYTES}, got {chunk_size_bytes}"
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.root = normalize_dropbox_root(root)
        self.chunk_size_bytes = chunk_size_bytes
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._secrets = credentials.secret_values()
        self._credential_vars = credentials.env_vars()
        session = dropbox.create_session(ca_certs=ca_certs)
        if ca_certs is not None:
            session.trust_env = False
        self._client = dropbox.Dropbox(
            **credentials.client_kwargs(),
            session=session,
            timeout=timeout_s,
            max_retries_on_error=0,
            max_retries_on_rate_limit=0,
            user_agent="huracan",
        )

    def check_access(self) -> None:
        """Before any compute: the credentials authenticate (the SDK's ``check_user``, which echoes
        a string with a valid token) and ``root`` is a folder or not there yet (it is created on
        the first publish). Raises :class:`ExportStoreError` naming the variables or the setting,
        never a value."""
        try:
            echoed = self._call("check_user", "", lambda: self._client.check_user("huracan").result)
        except ExportStoreError as error:
            raise ExportStoreError(
                f"{self._redact(str(error))} [{', '.join(self._credential_vars)}]"
            ) from None
        if echoed != "huracan":
            raise ExportStoreError(f"dropbox check_user answered {echoed!r}, not the query it was sent")
        if self.root and not self.is_folder("") and self._exists(""):
            raise ExportStoreError(
                f"publisher.dropbox_root {self.root} (HURACAN_PUBLISHER__DROPBOX_ROOT, --dropbox-root) "
                "is a file in Dropbox, not a folder"
            )

    def _exists(self, path: str) -> bool:
        full = self._full(path)

        def metadata() -> bool:
            try:
                self._client.files_get_metadata(full)
            except ApiError as exc:
                if _lookup_not_found(exc.error):
                    return False
                raise
            return True

        return self._call("get_metadata", path, metadata)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> DropboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- paths ----------------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def location(self, path: str = "") -> str:
        return f"dropbox:{self._full(path) or '/'}"

    def digest(self, data: bytes) -> str:
        return dropbox_content_hash(bytes(data))

    def staging_folder(self, day: str) -> str:
        # A fixed name, so the next run finds and resumes an interrupted upload.
        return f"{STAGING_PREFIX}{day}"

    # -- calls with retries ---------------------------------------------------------------------

    def _call(self, op: str, path: str, attempt_once: Callable[[], T]) -> T:
        where = self.location(path)
        policy = self.retry
        reason = "no attempt made"
        for attempt in range(1, policy.max_attempts + 1):
            retry_after: float | None = None
            try:
                return attempt_once()
            except RateLimitError as exc:
                reason, retry_after = "rate limited (HTTP 429)", exc.backoff
            except InternalServerError as exc:
                reason = f"server error (HTTP {exc.status_code})"
            except requests.Timeout:
                reason = f"no response within {self.timeout_s:g} s"
            except requests.exceptions.SSLError:
                # A certificate problem does not go away by waiting.
                raise ExportStoreError(
                    f"dropbox {op} of {where} failed: TLS verification of the server failed "
                    "(for a private CA set publisher.dropbox_ca_certs)"
                ) from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                reason = f"connection failed ({type(exc).__name__})"
            except _Retryable as exc:
                reason = str(exc)
            except AuthError as exc:
                raise ExportStoreError(
                    self._redact(
                        f"dropbox {op} of {where} refused: authentication failed ({exc.error}); "
                        "check the HURACAN_DROPBOX_* credentials"
                    )
                ) from None
            except ApiError as exc:
                raise ExportStoreError(self._redact(f"dropbox {op} of {where} failed: {exc.error}")) from None
            except (BadInputError, HttpError) as exc:
                body = str(getattr(exc, "body", None) or getattr(exc, "message", ""))[:300]
                raise ExportStoreError(
                    self._redact(f"dropbox {op} of {where} failed: HTTP {exc.status_code} {body}")
                ) from None
            if attempt == policy.max_attempts:
                break
            delay = policy.delay_s(attempt, retry_after)
            log.warning(
                "event=dropbox_retry op=%s path=%s attempt=%d max_attempts=%d delay_s=%.3f reason=%s",
                op,
                where,
                attempt,
                policy.max_attempts,
                delay,
                self._redact(reason),
            )
            time.sleep(delay)
        raise ExportStoreError(
            self._redact(f"dropbox {op} of {where} failed after {policy.max_attempts} attempts: {reason}")
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # -- ExportStore ----------------------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        full = self._full(path)

        def download() -> bytes | None:
            try:
                metadata, response = self._client.files_download(full)
            except ApiError as exc:
                if _lookup_not_found(exc.error):
                    return None
                raise
            with contextlib.closing(response):
                body = response.content
            if len(body) != metadata.size:
                raise _Retryable(f"download truncated: got {len(body)} of {metadata.size} bytes")
            if dropbox_content_hash(body) != metadata.content_hash:
                raise _Retryable("downloaded bytes do not match the server's content_hash")
            return body

        return self._call("download", path, download)

    def write(self, path: str, data: bytes) -> None:
        data = bytes(data)
        full = self._full(path)
        expected = dropbox_content_hash(data)

        def upload() -> None:
            if len(data) <= self.chunk_size_bytes:
                metadata = self._client.files_upload(
                    data, full, mode=dbx_files.WriteMode.overwrite, mute=True
                )
            else:
                metadata = self._upload_session(full, data)
            if metadata.content_hash != expected or metadata.size != len(data):
                raise _Retryable(
                    f"server holds {metadata.size} bytes content_hash={metadata.content_hash}, "
                    f"sent {len(data)} bytes content_hash={expected}"
                )

        self._call("upload", path, upload)

    def _upload_session(self, full: str, data: bytes) -> dbx_files.FileMetadata:
        chunk = self.chunk_size_bytes
        try:
            started = self._client.files_upload_session_start(data[:chunk])
            offset = chunk
            while len(data) - offset > chunk:
                cursor = dbx_files.UploadSessionCursor(session_id=started.session_id, offset=offset)
                self._client.files_upload_session_append_v2(data[offset : offset + chunk], cursor)
                offset += chunk
            cursor = dbx_files.UploadSessionCursor(session_id=started.session_id, offset=offset)
            commit = dbx_files.CommitInfo(path=full, mode=dbx_files.WriteMode.overwrite, mute=True)
            return self._client.files_upload_session_finish(data[offset:], cursor, commit)
        except ApiError as exc:
            if _session_lost(exc.error) or getattr(exc.error, "is_content_hash_mismatch", lambda: False)():
                raise _Retryable(f"upload session failed ({exc.error}); starting the file again") from None
            raise

    def _list(self, folder: str, recursive: bool) -> list[Any]:
        full = self._full(folder)

        def list_all() -> list[Any]:
            try:
                page = self._client.files_list_folder(full, recursive=recursive)
            except ApiError as exc:
                if _lookup_not_found(exc.error):
                    return []
                raise
            entries = list(page.entries)
            while page.has_more:
                page = self._client.files_list_folder_continue(page.cursor)
                entries.extend(page.entries)
            return entries

        return self._call("list", folder, list_all)

    def list_tree(self, folder: str) -> tuple[dict[str, str], set[str]]:
        prefix = self._full(folder).lower() + "/"
        files: dict[str, str] = {}
        folders: set[str] = set()
        for entry in self._list(folder, recursive=True):
            if not entry.path_lower.startswith(prefix):
                continue  # the listed folder itself
            rel = entry.path_display[len(prefix) :]
            if isinstance(entry, dbx_files.FileMetadata):
                files[rel] = entry.content_hash
            elif isinstance(entry, dbx_files.FolderMetadata):
                folders.add(rel)
        return files, folders

    def newest_change(self, folder: str) -> float | None:
        """The newest ``server_modified`` of the files below ``folder`` (folders carry no time in
        Dropbox: an empty folder reads as changed at 0.0); None when it does not exist."""
        if not self.is_folder(folder):
            return None
        times = [
            entry.server_modified.replace(tzinfo=UTC).timestamp()
            for entry in self._list(folder, recursive=True)
            if isinstance(entry, dbx_files.FileMetadata)
        ]
        return max(times, default=0.0)

    def list_folders(self, folder: str = "") -> list[str]:
        return sorted(
            entry.name
            for entry in self._list(folder, recursive=False)
            if isinstance(entry, dbx_files.FolderMetadata)
        )

    def is_folder(self, path: str) -> bool:
        full = self._full(path)

        def metadata() -> bool:
            try:
                entry = self._client.files_get_metadata(full)
            except ApiError as exc:
                if _lookup_not_found(exc.error):
                    return False
                raise
            return isinstance(entry, dbx_files.FolderMetadata)

        return self._call("get_metadata", path, metadata)

    def move(self, src: str, dst: str) -> None:
        source, target = self._full(src), self._full(dst)

        def move_once() -> None:
            try:
                self._client.files_move_v2(source, target)
            except ApiError as exc:
                # A retry after a lost response: the first attempt already moved it.
                if _lookup_not_found(exc.error) and self.is_folder(dst) and not self.is_folder(src):
                    return
                raise

        self._call("move", src, move_once)

    def delete(self, path: str) -> None:
        full = self._full(path)

        def delete_once() -> None:
            try:
                self._client.files_delete_v2(full)
            except ApiError as exc:
                if not _lookup_not_found(exc.error):
                    raise

        self._call("delete", path, delete_once)
