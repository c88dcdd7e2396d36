"""Where an export goes: the publisher resource (a local folder, or Dropbox through its SDK).

Both kinds share one implementation of layout, manifest, write order, ``LATEST`` and retention
(:class:`huracan_assets.core.publishing.StorePublisher`); they differ only in the store.
Dropbox credentials come only from the environment: :meth:`PublisherResource.from_settings`
fills the credential fields with ``dg.EnvVar`` references, so Dagster's config, UI and event log
hold variable names, never values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from huracan_assets.config.settings import PublisherSettings
from huracan_assets.core.publishing import LocalFolderPublisher, Publisher, StorePublisher
from huracan_assets.stores.dropbox_credentials import CREDENTIAL_ENV_VARS, DropboxCredentials

PUBLISHER_KINDS = ("local", "dropbox")


def _resolve(value: str | None) -> str | None:
    # Outside a run Dagster leaves an EnvVar unresolved (a str holding the variable's *name*).
    if isinstance(value, dg.EnvVar):
        return value.get_value()
    return value


class PublisherResource(dg.ConfigurableResource):
    """Chooses the publisher for ``dropbox_export``.

    ``kind``: ``"local"`` writes to the folder ``export_root``; ``"dropbox"`` to the Dropbox
    folder ``dropbox_root``. ``retain_versions``: keep only the newest N day folders (None keeps
    all). Dropbox only: ``chunk_size_bytes`` (single upload up to this size, upload sessions
    above), ``timeout_s`` per response, ``max_attempts`` and ``retry_base_delay_s`` for retries,
    ``dropbox_ca_certs`` (a PEM bundle for a private CA). The four ``dropbox_*`` credential
    fields must be ``dg.EnvVar`` references (see :meth:`from_settings`); with none set the
    store reads the ``HURACAN_DROPBOX_*`` variables itself.
    """

    kind: str = "local"
    export_root: str = "exports"
    retain_versions: int | None = None
    dropbox_root: str = "/huracan"
    chunk_size_bytes: int = 8 * 1024 * 1024
    timeout_s: float = 100.0
    max_attempts: int = 5
    retry_base_delay_s: float = 1.0
    dropbox_ca_certs: str | None = None
    dropbox_access_token: str | None = None
    dropbox_app_key: str | None = None
    dropbox_app_secret: str | None = None
    dropbox_refresh_token: str | None = None

    @classmethod
    def from_settings(
        cls, settings: PublisherSettings, environ: Mapping[str, str] | None = None
    ) -> PublisherResource:
        """The resource for ``settings``; credentials as ``dg.EnvVar`` for each variable that is set."""
        env = os.environ if environ is None else environ
        credentials = (
            {
                f"dropbox_{field}": dg.EnvVar(name)
                for field, name in CREDENTIAL_ENV_VARS.items()
                if env.get(name)
            }
            if settings.kind == "dropbox"
            else {}
        )
        return cls(
            kind=settings.kind,
            export_root=settings.export_root,
            retain_versions=settings.retain_versions,
            dropbox_root=settings.dropbox_root,
            chunk_size_bytes=settings.chunk_size_bytes,
            timeout_s=settings.timeout_s,
            max_attempts=settings.max_attempts,
            retry_base_delay_s=settings.retry_base_delay_s,
            dropbox_ca_certs=settings.dropbox_ca_certs,
            **credentials,
        )

    def dropbox_credentials(self) -> DropboxCredentials:
        """The credentials from the ``dropbox_*`` fields, else straight from the environment."""
        values = {field: _resolve(getattr(self, f"dropbox_{field}")) for field in CREDENTIAL_ENV_VARS}
        if any(values.values()):
            return DropboxCredentials(**values)
        return DropboxCredentials.from_env()

    def preflight(self) -> None:
        """Before the day is computed: a Dropbox publisher's credentials authenticate and its root
        is a folder (or not there yet). Raises ``ExportStoreError`` naming the variables or the
        setting, never a value. A local root is checked by the command (``check_export_root``)."""
        if self.kind != "dropbox":
            return
        from huracan_assets.stores.dropbox_store import DropboxStore, RetryPolicy

        with DropboxStore(
            self.dropbox_root,
            self.dropbox_credentials(),
            timeout_s=self.timeout_s,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.retry_base_delay_s),
            ca_certs=self.dropbox_ca_certs,
        ) as store:
            store.check_access()

    def publisher(self, dry_run: bool) -> Publisher:
        if self.kind == "local":
            return LocalFolderPublisher(
                Path(self.export_root), dry_run=dry_run, retain_versions=self.retain_versions
            )
        if self.kind == "dropbox":
            # Imported here: the SDK fixes its hosts at import, and local runs never need it.
            from huracan_assets.stores.dropbox_store import DropboxStore, RetryPolicy

            store = DropboxStore(
                self.dropbox_root,
                self.dropbox_credentials(),
                chunk_size_bytes=self.chunk_size_bytes,
                timeout_s=self.timeout_s,
                retry=RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.retry_base_delay_s),
                ca_certs=self.dropbox_ca_certs,
            )
            return StorePublisher(store, dry_run=dry_run, retain_versions=self.retain_versions)
        raise ValueError(f"unknown publisher kind {self.kind!r}; known kinds: {list(PUBLISHER_KINDS)}")
