"""Where an export goes: the publisher resource (local folder now; Dropbox later)."""

from pathlib import Path

import dagster as dg

from huracan_assets.core.publishing import LocalFolderPublisher, Publisher

PUBLISHER_KINDS = ("local",)


class PublisherResource(dg.ConfigurableResource):
    """Chooses the publisher for ``dropbox_export``.

    ``kind``: ``"local"`` writes to the folder ``export_root``. ``retain_versions``: keep only the
    newest N day folders (None keeps all).
    """

    kind: str = "local"
    export_root: str = "exports"
    retain_versions: int | None = None

    def publisher(self, dry_run: bool) -> Publisher:
        if self.kind == "local":
            return LocalFolderPublisher(
                Path(self.export_root), dry_run=dry_run, retain_versions=self.retain_versions
            )
        raise ValueError(f"unknown publisher kind {self.kind!r}; known kinds: {list(PUBLISHER_KINDS)}")
