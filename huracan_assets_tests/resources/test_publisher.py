import dagster as dg
import pytest

from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.core.publishing import ExportPlan, LocalFolderPublisher
from huracan_assets.resources.publisher import PublisherResource

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
