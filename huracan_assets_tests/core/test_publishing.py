import os
import subprocess
import sys
from pathlib import Path

import pytest

from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME, parse_manifest, verify_file
from huracan_assets.core.publishing import ExportPlan, LocalFolderPublisher, Publisher, read_latest

WINDOW = {"start": "2026-01-01", "end": "2026-03-31"}


def _plan(day: str, files: dict[str, bytes] | None = None) -> ExportPlan:
    if files is None:
        files = {
            "champions/BTC/1h/model.cbm": b"model-" + day.encode(),
            "champions/BTC/1h/metadata.json": b'{"coin": "BTC"}',
            "reports/ranking.json": b'{"entries": []}',
        }
    return ExportPlan.create(
        day,
        files,
        features_hash="f" * 64,
        code_hash="c" * 64,
        training_window=WINDOW,
        created_at=f"{day}T00:05:00+00:00",
    )


def _day_files(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_plan_writes_manifest_last_and_describes_latest_last():
    plan = _plan("2026-04-01")
    paths = [path for path, _ in plan.all_files()]
    assert paths == [
        "champions/BTC/1h/metadata.json",
        "champions/BTC/1h/model.cbm",
        "reports/ranking.json",
        MANIFEST_NAME,
    ]
    described = plan.describe()
    assert [d["path"] for d in described] == [f"2026-04-01/{p}" for p in paths] + [LATEST_NAME]
    assert described[-1]["bytes"] == len(b"2026-04-01\n")
    assert described[-2]["bytes"] == len(plan.manifest_bytes)


def test_plan_refuses_files_its_manifest_does_not_describe():
    plan = _plan("2026-04-01")
    with pytest.raises(ValueError, match="unlisted.*reports/extra.json"):
        ExportPlan(day=plan.day, files={**plan.files, "reports/extra.json": b"{}"}, manifest=plan.manifest)
    tampered = {**plan.files, "reports/ranking.json": b'{"entries": [1]}'}
    with pytest.raises(ValueError, match="reports/ranking.json"):
        ExportPlan(day=plan.day, files=tampered, manifest=plan.manifest)


def test_dry_run_writes_nothing_and_describes_every_path(tmp_path):
    root = tmp_path / "exports"
    plan = _plan("2026-04-01")
    result = LocalFolderPublisher(root, dry_run=True).publish(plan)

    assert not root.exists()
    assert result.dry_run is True
    assert (result.files_written, result.bytes_written) == (0, 0)
    assert [d["path"] for d in result.plan] == [
        "2026-04-01/champions/BTC/1h/metadata.json",
        "2026-04-01/champions/BTC/1h/model.cbm",
        "2026-04-01/reports/ranking.json",
        f"2026-04-01/{MANIFEST_NAME}",
        LATEST_NAME,
    ]


def test_publish_writes_a_complete_verified_day_then_latest(tmp_path):
    plan = _plan("2026-04-01")
    publisher = LocalFolderPublisher(tmp_path)
    assert isinstance(publisher, Publisher)
    result = publisher.publish(plan)

    day_dir = tmp_path / "2026-04-01"
    assert (tmp_path / LATEST_NAME).read_bytes() == b"2026-04-01\n"
    manifest = parse_manifest((day_dir / MANIFEST_NAME).read_bytes())
    assert manifest == plan.manifest
    assert _day_files(day_dir) == {e["path"] for e in manifest["files"]} | {MANIFEST_NAME}
    for entry in manifest["files"]:
        verify_file(manifest, entry["path"], (day_dir / entry["path"]).read_bytes())
    # LATEST is written after the manifest; no staging or temp litter is left beside the day.
    assert (tmp_path / LATEST_NAME).stat().st_mtime_ns >= (day_dir / MANIFEST_NAME).stat().st_mtime_ns
    assert sorted(os.listdir(tmp_path)) == ["2026-04-01", LATEST_NAME]
    assert result.files_written == 5
    assert result.bytes_written == sum(d["bytes"] for d in plan.describe())
    assert result.latest == "2026-04-01"


def test_republishing_the_same_day_replaces_it(tmp_path):
    publisher = LocalFolderPublisher(tmp_path)
    publisher.publish(_plan("2026-04-01"))
    second = _plan("2026-04-01", {"champions/ETH/4h/model.cbm": b"eth", "reports/ranking.json": b"{}"})
    publisher.publish(second)

    day_dir = tmp_path / "2026-04-01"
    assert _day_files(day_dir) == {"champions/ETH/4h/model.cbm", "reports/ranking.json", MANIFEST_NAME}
    assert parse_manifest((day_dir / MANIFEST_NAME).read_bytes()) == second.manifest
    assert sorted(os.listdir(tmp_path)) == ["2026-04-01", LATEST_NAME]


def test_backfilling_an_older_day_does_not_move_latest_back(tmp_path):
    publisher = LocalFolderPublisher(tmp_path)
    publisher.publish(_plan("2026-04-02"))
    result = publisher.publish(_plan("2026-04-01"))

    assert (tmp_path / "2026-04-01" / MANIFEST_NAME).is_file()
    assert read_latest(tmp_path) == "2026-04-02"
    assert result.latest == "2026-04-02"


def test_failed_write_leaves_latest_on_the_previous_day_and_no_partial_folder(tmp_path):
    publisher = LocalFolderPublisher(tmp_path)
    publisher.publish(_plan("2026-04-01"))
    # One path component over the 255-byte limit of common filesystems: the write itself fails.
    broken = _plan("2026-04-02", {"reports/a.json": b"{}", "reports/" + "x" * 300 + ".json": b"{}"})
    with pytest.raises(OSError):
        publisher.publish(broken)

    assert read_latest(tmp_path) == "2026-04-01"
    assert sorted(os.listdir(tmp_path)) == ["2026-04-01", LATEST_NAME]


def test_failed_republish_keeps_the_previous_version_of_the_day(tmp_path):
    publisher = LocalFolderPublisher(tmp_path)
    first = _plan("2026-04-01")
    publisher.publish(first)
    with pytest.raises(OSError):
        publisher.publish(_plan("2026-04-01", {"reports/" + "x" * 300 + ".json": b"{}"}))

    day_dir = tmp_path / "2026-04-01"
    assert parse_manifest((day_dir / MANIFEST_NAME).read_bytes()) == first.manifest
    assert sorted(os.listdir(tmp_path)) == ["2026-04-01", LATEST_NAME]


def test_retain_versions_prunes_old_days_but_keeps_other_folders(tmp_path):
    (tmp_path / "notes").mkdir()
    publisher = LocalFolderPublisher(tmp_path, retain_versions=2)
    for day in ("2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"):
        publisher.publish(_plan(day))

    assert sorted(os.listdir(tmp_path)) == ["2026-04-03", "2026-04-04", LATEST_NAME, "notes"]


def test_retain_versions_never_prunes_the_day_latest_names(tmp_path):
    LocalFolderPublisher(tmp_path).publish(_plan("2026-04-01"))
    LocalFolderPublisher(tmp_path).publish(_plan("2026-04-02"))
    LocalFolderPublisher(tmp_path).publish(_plan("2026-04-03"))
    # An operator rolled back to 04-01; then a backfill of an older day runs with retain_versions=1.
    (tmp_path / LATEST_NAME).write_text("2026-04-01\n")
    LocalFolderPublisher(tmp_path, retain_versions=1).publish(_plan("2026-03-31"))

    assert read_latest(tmp_path) == "2026-04-01"
    assert sorted(os.listdir(tmp_path)) == ["2026-04-01", "2026-04-03", LATEST_NAME]


def test_retain_versions_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="retain_versions"):
        LocalFolderPublisher(tmp_path, retain_versions=0)


def test_core_publishing_does_not_import_dagster():
    code = (
        "import sys, huracan_assets.core.manifest, huracan_assets.core.publishing; "
        "sys.exit('dagster' in sys.modules)"
    )
    repo_root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=repo_root, env=env
    )
    assert completed.returncode == 0, completed.stderr or "core.publishing pulled dagster into sys.modules"
