import dagster as dg
import pytest

from huracan_assets.config.settings import PublisherSettings
from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.core.publishing import ExportPlan, LocalFolderPublisher, StorePublisher
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.stores.dropbox_credentials import DropboxCredentialsError
from huracan_assets.stores.dropbox_store import DropboxStore

DAY = "2026-04-01"


def _plan() -> ExportPlan:
    return ExportPlan.create(
        DAY,
        {"reports/summary.json": b"{}"},
        features_hash="f" * 64,
        code_hash="c" * 64,
        training_window={"start": "2026-01-01", "end": "2026-03-31"},
        created_at=f"{DAY}T00:05:00+00:00",
    )


def test_local_kind_gives_a_local_folder_publisher(tmp_path):
    resource = PublisherResource(export_root=str(tmp_path / "exports"), retain_versions=3)
    publisher = resource.publisher(dry_run=True)
    assert isinstance(publisher, LocalFolderPublisher)
    assert publisher.root == tmp_path / "exports"
    assert publisher.dry_run is True and publisher.retain_versions == 3


def test_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="'ftp'"):
        PublisherResource(kind="ftp").publisher(dry_run=False)


def test_resource_publishes_from_an_asset(tmp_path):
    root = tmp_path / "exports"

    @dg.asset
    def export(publisher: PublisherResource) -> dg.MaterializeResult:
        result = publisher.publisher(dry_run=False).publish(_plan())
        return dg.MaterializeResult(metadata={"files_written": result.files_written})

    outcome = dg.materialize([export], resources={"publisher": PublisherResource(export_root=str(root))})

    assert outcome.success
    assert (root / LATEST_NAME).read_text() == f"{DAY}\n"
    assert (root / DAY / MANIFEST_NAME).is_file()
    materialization = outcome.asset_materializations_for_node("export")[0]
    assert materialization.metadata["files_written"].value == 3


def _dropbox_settings(ca_certs: str, **extra: object) -> PublisherSettings:
    return PublisherSettings(
        kind="dropbox",
        export_root="unused",
        dropbox_root="/team/huracan",
        chunk_size_bytes=4096,
        retain_versions=2,
        max_attempts=2,
        retry_base_delay_s=0.01,
        timeout_s=5.0,
        dropbox_ca_certs=ca_certs,
        **extra,
    )


def test_from_settings_refers_to_credentials_by_variable_name_only(dropbox_account):
    resource = PublisherResource.from_settings(_dropbox_settings(dropbox_account.ca_certs))
    for field, name in (
        ("dropbox_app_key", "HURACAN_DROPBOX_APP_KEY"),
        ("dropbox_app_secret", "HURACAN_DROPBOX_APP_SECRET"),
        ("dropbox_refresh_token", "HURACAN_DROPBOX_REFRESH_TOKEN"),
    ):
        value = getattr(resource, field)
        assert isinstance(value, dg.EnvVar) and value.env_var_name == name
    assert resource.dropbox_access_token is None  # not set in the environment
    assert dropbox_account.app_secret not in repr(resource)
    local = PublisherResource.from_settings(PublisherSettings(export_root="exports"))
    assert local.dropbox_app_secret is None and local.dropbox_refresh_token is None


def test_dropbox_kind_gives_a_store_publisher_on_dropbox(dropbox_account):
    resource = PublisherResource.from_settings(_dropbox_settings(dropbox_account.ca_certs))
    publisher = resource.publisher(dry_run=False)
    assert isinstance(publisher, StorePublisher) and isinstance(publisher.store, DropboxStore)
    assert publisher.retain_versions == 2 and publisher.store.root == "/team/huracan"
    assert publisher.store.chunk_size_bytes == 4096 and publisher.store.retry.max_attempts == 2
    assert publisher.store.location(DAY) == f"dropbox:/team/huracan/{DAY}"


def test_dropbox_without_credentials_names_the_variables(monkeypatch):
    for name in (
        "HURACAN_DROPBOX_ACCESS_TOKEN",
        "HURACAN_DROPBOX_APP_KEY",
        "HURACAN_DROPBOX_APP_SECRET",
        "HURACAN_DROPBOX_REFRESH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        DropboxCredentialsError, match="HURACAN_DROPBOX_APP_KEY.*HURACAN_DROPBOX_ACCESS_TOKEN"
    ):
        PublisherResource(kind="dropbox").publisher(dry_run=False)


def test_resource_publishes_to_dropbox_from_an_asset(dropbox_account):
    server = dropbox_account.server
    resource = PublisherResource.from_settings(_dropbox_settings(dropbox_account.ca_certs))

    @dg.asset
    def export(publisher: PublisherResource) -> dg.MaterializeResult:
        result = publisher.publisher(dry_run=False).publish(_plan())
        return dg.MaterializeResult(metadata={"location": result.location})

    outcome = dg.materialize([export], resources={"publisher": resource})

    assert outcome.success
    assert server.files("/team/huracan")["/team/huracan/LATEST"] == f"{DAY}\n".encode()
    assert f"/team/huracan/{DAY}/{MANIFEST_NAME}" in server.files()
    materialization = outcome.asset_materializations_for_node("export")[0]
    assert materialization.metadata["location"].value == f"dropbox:/team/huracan/{DAY}"
    assert server.issued_tokens  # the refresh-token flow, with values Dagster resolved from the environment
