"""The whole graph, materialised through Dagster for one day on the simulated exchange."""

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.automation.runs import root_cause_message
from huracan_assets.config import HuracanSettings
from huracan_assets.config.settings import PublisherSettings
from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.definitions import build_definitions
from huracan_assets.hamilton import HamiltonInterface
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.orchestration import DayResult, DayRunner, InProcessLauncher
from huracan_assets.partitions import coin_day_key
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import ParquetIOManager
from huracan_assets_tests.conftest import small_settings
from huracan_assets_tests.dropbox_server import WRITE_ROUTES

pytestmark = pytest.mark.acceptance
DAY = "2025-11-20"
REPORTS = [
    "metrics.json",
    "costs.json",
    "regime_map.json",
    "decision_log.jsonl",
    "data_integrity.json",
    "ranking.json",
    "do_not_trade.json",
    "summary.json",
]


@dataclass
class Run:
    result: DayResult
    defs: dg.Definitions
    instance: dg.DagsterInstance
    settings: HuracanSettings
    export_root: Path
    storage: Path
    exchange: SimulatedExchange


def materialise(tmp: Path, settings: HuracanSettings, market: MarketDataResource) -> Run:
    export_root, storage = tmp / "exports", tmp / "storage"
    defs = build_definitions(
        settings,
        market_data=market,
        publisher=PublisherResource(export_root=str(export_root)),
        storage_dir=str(storage),
    )
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    result = DayRunner(InProcessLauncher(defs), instance, settings, log=lambda _: None).run(DAY)
    return Run(result, defs, instance, settings, export_root, storage, market.exchange())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    # XRP carries a planted flow signal (40 bps at 1h): enough to clear costs and the day's BH correction
    settings = small_settings(lookback_days=60, simulator={"n_coins": 5, "planted_edge_bps": 40.0})
    market = MarketDataResource(sim_coins=5, sim_planted_edge_bps=40.0)
    yield materialise(tmp_path_factory.mktemp("daily"), settings, market)


def test_every_run_succeeded_and_no_step_failed(run: Run):
    assert run.result.runs, "no Dagster runs were made"
    for record in run.result.runs:
        dagster_run = run.instance.get_run_by_id(record["run_id"])
        assert dagster_run is not None and dagster_run.status == dg.DagsterRunStatus.SUCCESS, record
        failures = run.instance.all_logs(record["run_id"], of_type=dg.DagsterEventType.STEP_FAILURE)
        assert failures == [], record


def test_the_daily_per_coin_work_is_one_run_over_all_coins(run: Run):
    daily = [r for r in run.result.runs if r["job"] == "daily_coins_job"]
    assert len(daily) == 1
    coins = list(run.instance.get_dynamic_partitions("coins"))
    materialized = run.instance.get_materialized_partitions(dg.AssetKey("models"))
    assert {str(coin_day_key(DAY, c)) for c in coins} <= {str(k) for k in materialized}


def test_history_runs_write_the_event_log_linearly(run: Run):
    """A history run plans its materializations as one event per asset and runs no asset check
    (a planned check row per partition, each holding the run's whole subset, grows with the
    square of the run); the day's run keeps its checks, one planned row per coin-day."""
    history = [r for r in run.result.runs if r["job"] == "history_job"]
    assert len(history) == 3
    planned = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    for record in history:
        events = run.instance.all_logs(record["run_id"], of_type=planned)
        assert len(events) == 1, record
        subset = events[0].dagster_event.event_specific_data.partitions_subset
        materialized = run.instance.all_logs(
            record["run_id"], of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        assert subset is not None and len(subset) == len(materialized) > 100, record
        check_planned = dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        assert not run.instance.all_logs(record["run_id"], of_type=check_planned), record
    daily = next(r for r in run.result.runs if r["job"] == "daily_coins_job")
    coins = len(run.instance.get_dynamic_partitions("coins"))
    assert len(run.instance.all_logs(daily["run_id"], of_type=planned)) == 6 * coins
    checks = run.instance.all_logs(
        daily["run_id"], of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
    )
    assert {e.dagster_event.event_specific_data.check_name for e in checks} >= {
        "validated_bars_day_usable",
        "features_schema",
        "labels_schema",
    }


def test_every_active_coin_has_a_champion_or_a_written_reason(run: Run):
    champions = run.result.champions
    active = set(champions["active_coins"])
    assert active, "no active coins"
    with_champion = {c["coin"] for c in champions["champions"]}
    with_reason = {c for c, reason in champions["no_champion"].items() if reason.strip()}
    assert active <= with_champion | with_reason
    assert not (with_champion & with_reason)


def test_all_reports_and_the_manifest_are_present_and_verified(run: Run):
    day_dir = run.export_root / DAY
    assert (run.export_root / LATEST_NAME).read_text().strip() == DAY
    manifest = json.loads((day_dir / MANIFEST_NAME).read_text())
    listed = {f["path"] for f in manifest["files"]}
    for name in REPORTS:
        assert f"reports/{name}" in listed
        assert (day_dir / "reports" / name).exists()
    on_disk = {p.relative_to(day_dir).as_posix() for p in day_dir.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert on_disk == listed
    assert manifest["features_hash"] and manifest["code_hash"] and manifest["training_window"]["start"]


def test_summary_counts_match_the_files(run: Run):
    day_dir = run.export_root / DAY
    summary = json.loads((day_dir / "reports" / "summary.json").read_text())
    models = sorted(day_dir.glob("champions/*/*/model.cbm"))
    assert summary["champions_exported"] == len(models) == len(run.result.champions["champions"])
    assert sorted(summary["champion_coins"]) == sorted({m.parent.parent.name for m in models})
    ranking = json.loads((day_dir / "reports" / "ranking.json").read_text())["entries"]
    assert len(ranking) == len(models)
    assert set(summary["coins_skipped"]) == set(run.result.champions["no_champion"])
    assert summary["coins_active"] == len(run.result.champions["active_coins"])


def test_every_exported_model_loads_through_hamilton_and_predicts_on_a_real_feature_row(run: Run):
    hamilton = HamiltonInterface(model_base_path=run.export_root)
    champions = hamilton.list_champions()
    assert champions, "expected at least one champion with a 40 bps planted edge"
    features = ParquetIOManager(base_dir=str(run.storage))
    for coin, horizon in champions:
        model, metadata = hamilton.load_model(coin, horizon)
        frame = features.read_partition(dg.AssetKey("features"), str(coin_day_key(DAY, coin)))
        row = frame.iloc[-1]
        vector = {name: float(row[name]) for name in metadata["feature_names"]}
        vector = {k: (0.0 if pd.isna(v) else v) for k, v in vector.items()}
        prediction = hamilton.predict(coin, horizon, vector)
        assert prediction == pytest.approx(float(model.predict(pd.DataFrame([vector]))[0]))
    entries = hamilton.get_ranking_table()
    assert {(e.coin, e.horizon) for e in entries} == set(champions)


def test_no_missing_data_warnings_for_clean_coins(run: Run):
    rows = {r["coin"]: r for r in run.result.integrity["coins"]}
    clean = [c.coin for c in run.exchange.coins if not c.faulty and c.coin in rows]
    assert clean
    for coin in clean:
        row = rows[coin]
        assert row["gaps_repaired"] == 0 and row["invalid_bars"] == 0 and not row["day_dropped"], row
        assert row["status"] == "ok", row


def test_materializations_carry_useful_metadata(run: Run):
    event = run.instance.get_latest_materialization_event(dg.AssetKey("features"))
    assert event is not None
    metadata = event.asset_materialization.metadata
    assert len(metadata["features_hash"].value) == 64 and metadata["rows"].value > 0
    champions = run.instance.get_latest_materialization_event(dg.AssetKey("champions")).asset_materialization
    assert champions.metadata["champions_promoted"].value == len(run.result.champions["champions"])


def test_dry_run_plans_the_whole_export_and_writes_nothing(run: Run, tmp_path: Path):
    dry_root = tmp_path / "dry_exports"
    defs = build_definitions(
        run.settings,
        market_data=MarketDataResource(sim_coins=5, sim_planted_edge_bps=40.0),
        publisher=PublisherResource(export_root=str(dry_root)),
        storage_dir=str(run.storage),
        settings_resource=HuracanSettingsResource.from_settings(run.settings, dry_run=True),
    )
    result = defs.resolve_job_def("daily_reports_job").execute_in_process(
        instance=run.instance, partition_key=DAY
    )
    assert result.success
    assert not dry_root.exists()
    metadata = result.asset_materializations_for_node("dropbox_export")[0].metadata
    assert metadata["dry_run"].value is True and metadata["bytes_written"].value == 0
    plan = metadata["plan"].value
    assert f"`{DAY}/manifest.json`" in plan and "`LATEST`" in plan and "reports/summary.json" in plan


# -- the same day published to Dropbox (the HTTPS stand-in), through Dagster --------------------


def _dropbox_settings(run: Run, account, **publisher: object) -> HuracanSettings:
    options = {
        "kind": "dropbox",
        "export_root": str(run.export_root),
        "dropbox_root": "/huracan",
        "dropbox_ca_certs": account.ca_certs,
        "chunk_size_bytes": 16 * 1024,  # the models (~30 KiB) go through upload sessions
        "timeout_s": 5.0,
        "max_attempts": 3,
        "retry_base_delay_s": 0.01,
        **publisher,
    }
    return run.settings.model_copy(update={"publisher": PublisherSettings(**options)})


def _reports_run(
    run: Run, settings: HuracanSettings, **resource_overrides: object
) -> dg.ExecuteInProcessResult:
    # The publisher resource comes from the settings, as in production: credentials as dg.EnvVar.
    defs = build_definitions(
        settings,
        market_data=MarketDataResource(sim_coins=5, sim_planted_edge_bps=40.0),
        storage_dir=str(run.storage),
        settings_resource=HuracanSettingsResource.from_settings(settings, **resource_overrides),
    )
    return defs.resolve_job_def("daily_reports_job").execute_in_process(
        instance=run.instance, partition_key=DAY, raise_on_error=False
    )


def _everything_dagster_kept(run: Run, run_ids: list[str]) -> str:
    """Every event of the runs (metadata and errors included), the run records, and every file
    of the Dagster home (event-log database, compute logs, run storage) as one text."""
    parts = []
    for run_id in run_ids:
        parts.append(dg.serialize_value(run.instance.get_run_by_id(run_id)))
        parts.extend(dg.serialize_value(entry) for entry in run.instance.all_logs(run_id))
    for path in Path(run.instance.root_directory).rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def test_dropbox_export_survives_a_failure_resumes_and_never_leaks_a_secret(
    run: Run, dropbox_account, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    server = dropbox_account.server
    caplog.set_level(logging.DEBUG)
    settings = _dropbox_settings(run, dropbox_account)

    # 1. A run that cannot upload the summary fails, names the file, and leaves LATEST unwritten.
    server.inject("/2/files/upload", "status", status=500, path_contains="reports/summary.json", times=None)
    failed = _reports_run(run, settings)
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.is_step_failure]
    # Dagster wraps the publisher's error; the CLI reports the innermost one.
    message = root_cause_message(failure.event_specific_data.error)
    assert "dropbox:/huracan/.staging-2025-11-20/reports/summary.json" in message
    assert "after 3 attempts" in message and "HTTP 500" in message
    assert "/huracan/LATEST" not in server.files()

    # 2. The re-run resumes what the failed one uploaded and publishes the whole day.
    server.clear_faults()
    resumed = _reports_run(run, settings)
    assert resumed.success
    metadata = resumed.asset_materializations_for_node("dropbox_export")[0].metadata
    assert metadata["location"].value == f"dropbox:/huracan/{DAY}"
    assert metadata["files_reused"].value > 0 and metadata["latest"].value == DAY

    # 3. It ends exactly like the local export of the same day (only created_at differs).
    remote = {p.removeprefix("/huracan/"): data for p, data in server.files("/huracan").items()}
    local = {
        p.relative_to(run.export_root).as_posix(): p.read_bytes()
        for p in run.export_root.rglob("*")
        if p.is_file()
    }
    assert remote[LATEST_NAME] == f"{DAY}\n".encode()
    manifest_path = f"{DAY}/{MANIFEST_NAME}"
    assert {k: v for k, v in remote.items() if k != manifest_path} == {
        k: v for k, v in local.items() if k != manifest_path
    }
    remote_manifest, local_manifest = json.loads(remote[manifest_path]), json.loads(local[manifest_path])
    assert {**remote_manifest, "created_at": ""} == {**local_manifest, "created_at": ""}

    # 4. Hamilton reads it straight from Dropbox and agrees with the local folder.
    from_dropbox = HamiltonInterface.from_dropbox(
        "/huracan", cache_dir=run.storage.parent / "hamilton-cache", ca_certs=dropbox_account.ca_certs
    )
    from_folder = HamiltonInterface(model_base_path=run.export_root)
    assert from_dropbox.list_champions() == from_folder.list_champions() != []
    assert from_dropbox.get_ranking_table() == from_folder.get_ranking_table()
    assert from_dropbox.get_do_not_trade_list() == from_folder.get_do_not_trade_list()
    coin, horizon = from_folder.list_champions()[0]
    names = from_folder.get_model_metadata(coin, horizon)["feature_names"]
    vector = {name: 0.5 for name in names}
    assert from_dropbox.predict(coin, horizon, vector) == from_folder.predict(coin, horizon, vector)

    # 5. The credentials were used, and no secret is anywhere Dagster, the logs or the export keep.
    assert server.issued_tokens and f"Bearer {server.issued_tokens[0]}" in server.authorizations
    out, err = capfd.readouterr()
    kept = {
        "dagster": _everything_dagster_kept(run, [failed.run_id, resumed.run_id]),
        "python logs": caplog.text,
        "stdout/stderr": out + err,
        "exported files": b"\n".join(server.files().values()).decode("utf-8", errors="replace"),
    }
    assert "reports/summary.json" in kept["dagster"]  # the search covers the failure event
    for secret in dropbox_account.secrets:
        for where, text in kept.items():
            assert secret not in text, f"a Dropbox secret leaked into {where}"


def test_dropbox_dry_run_plans_everything_and_writes_nothing(run: Run, dropbox_account):
    server = dropbox_account.server
    result = _reports_run(run, _dropbox_settings(run, dropbox_account), dry_run=True)
    assert result.success
    assert server.files() == {}
    assert not WRITE_ROUTES & {r.route for r in server.requests}
    metadata = result.asset_materializations_for_node("dropbox_export")[0].metadata
    assert metadata["dry_run"].value is True and metadata["bytes_written"].value == 0
    plan = metadata["plan"].value
    assert f"`{DAY}/manifest.json`" in plan and "`LATEST`" in plan and "model.cbm" in plan


def _defs_exporting_to(run: Run, exports: Path) -> dg.Definitions:
    """The run's definitions and storage, publishing to another folder (the run's export stays)."""
    return build_definitions(
        run.settings,
        market_data=MarketDataResource(sim_coins=5, sim_planted_edge_bps=40.0),
        publisher=PublisherResource(export_root=str(exports)),
        storage_dir=str(run.storage),
    )


def _folder_files(folder: Path) -> dict[str, bytes]:
    """A model folder's files (through its link), to put back after a test damaged it."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _restore_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Put a coin-day's model folder back as it was (the damaged one may have been moved aside)."""
    if folder.is_symlink():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)


def test_a_damaged_champion_model_is_dropped_with_its_reason_and_never_published(run: Run, tmp_path: Path):
    summary = json.loads((run.export_root / DAY / "reports" / "summary.json").read_text())
    assert summary["champions_exported"] >= 1, "the fixture's day must have a champion to damage"
    champ = next(c for c in run.result.champions["champions"] if c["coin"] == summary["champion_coins"][0])
    coin, horizon = champ["coin"], champ["horizon"]
    model = (
        run.storage
        / "models"
        / f"date={champ['model_day']}"
        / f"symbol={coin}"
        / f"{champ['engine']}__{horizon}__{champ['model_regime']}.cbm"
    )
    intact = _folder_files(model.parent)
    exports = tmp_path / "exports"
    defs = _defs_exporting_to(run, exports)
    try:
        model.write_bytes(intact[model.name][: len(intact[model.name]) // 2])  # cut in half on disk
        result = defs.resolve_job_def("daily_reports_job").execute_in_process(
            instance=run.instance, partition_key=DAY, asset_selection=[dg.AssetKey("dropbox_export")]
        )
    finally:
        _restore_folder(model.parent, intact)
    assert result.success
    damaged = json.loads((exports / DAY / "reports" / "summary.json").read_text())
    reason = damaged["champions_dropped"][f"{coin}/{horizon}"]
    # the file named as stored: through the coin-day's link or in the versioned folder it names
    assert model.name in reason and f"symbol={coin}" in reason and str(model.parent.parent) in reason
    assert damaged["champions_exported"] == summary["champions_exported"] - 1
    assert not (exports / DAY / "champions" / coin / horizon / "model.cbm").exists()
    manifest = json.loads((exports / DAY / "manifest.json").read_text())
    assert not any(f["path"].startswith(f"champions/{coin}/{horizon}/") for f in manifest["files"])
    metadata = result.asset_materializations_for_node("dropbox_export")[0].metadata
    assert f"{coin}/{horizon}" in metadata["champions_dropped"].value


def test_a_corrupt_model_bundle_fails_only_its_coin_and_names_the_file(run: Run, tmp_path: Path):
    summary = json.loads((run.export_root / DAY / "reports" / "summary.json").read_text())
    champion_coins = set(summary["champion_coins"])
    coin = next(c for c in sorted(run.result.champions["trained_coins"]) if c not in champion_coins)
    bundle = run.storage / "models" / f"date={DAY}" / f"symbol={coin}" / "bundle.json"
    intact = _folder_files(bundle.parent)
    exports = tmp_path / "exports"
    defs = _defs_exporting_to(run, exports)
    try:
        bundle.write_bytes(intact[bundle.name][: len(intact[bundle.name]) // 3])
        result = defs.resolve_job_def("daily_reports_job").execute_in_process(
            instance=run.instance,
            partition_key=DAY,
            asset_selection=[dg.AssetKey("champions"), dg.AssetKey("dropbox_export")],
        )
    finally:
        _restore_folder(bundle.parent, intact)
    assert result.success
    after = json.loads((exports / DAY / "reports" / "summary.json").read_text())
    reason = after["coins_skipped"][coin]
    assert str(bundle) in reason and "corrupt JSON" in reason
    # the other coins are untouched: the same champions as before
    assert set(after["champion_coins"]) == champion_coins
    assert coin not in after["champion_coins"]


def test_a_refused_feature_partition_fails_its_coin_in_consensus_champions_and_export(
    run: Run, tmp_path: Path
):
    """A flipped byte in one champion coin's stored features of the day: consensus fails that coin
    naming the file, champions reports it without a champion (the reason names the partition to
    re-materialize), the export drops its champions with the same reason; the others are untouched."""
    summary = json.loads((run.export_root / DAY / "reports" / "summary.json").read_text())
    assert summary["champions_exported"] >= 1, "the fixture's day must have a champion"
    coin = summary["champion_coins"][0]
    storage = ParquetIOManager(base_dir=str(run.storage))
    features = storage.partition_path(dg.AssetKey("features"), str(coin_day_key(DAY, coin)))
    touched = [
        features,
        *(run.storage / "consensus" / f"date={DAY}").glob("symbol=*/data.parquet"),
        run.storage / "champions" / f"date={DAY}" / "data.json",
        run.storage / "dropbox_export" / f"date={DAY}" / "data.json",
    ]
    saved = {path: path.read_bytes() for path in touched}
    exports = tmp_path / "exports"
    defs = _defs_exporting_to(run, exports)
    coins = run.result.champions["active_coins"]
    try:
        damaged = bytearray(saved[features])
        damaged[len(damaged) // 2] ^= 0x01
        features.write_bytes(bytes(damaged))
        consensus = defs.resolve_job_def("daily_coins_job").execute_in_process(
            instance=run.instance,
            tags={
                "dagster/asset_partition_range_start": str(coin_day_key(DAY, coins[0])),
                "dagster/asset_partition_range_end": str(coin_day_key(DAY, coins[-1])),
            },
            asset_selection=[dg.AssetKey("consensus")],
        )
        reports = defs.resolve_job_def("daily_reports_job").execute_in_process(
            instance=run.instance,
            partition_key=DAY,
            asset_selection=[dg.AssetKey("champions"), dg.AssetKey("dropbox_export")],
        )
        doc = json.loads((run.storage / "champions" / f"date={DAY}" / "data.json").read_text())
    finally:
        for aside in features.parent.glob("data.parquet.corrupt-*"):
            aside.unlink()
        for path, data in saved.items():
            path.write_bytes(data)
    assert consensus.success and reports.success  # one damaged file never fails a step
    label = f"features[{coin_day_key(DAY, coin)}]"
    failed = [
        e.user_message
        for result in (consensus, reports)
        for e in run.instance.all_logs(result.run_id)
        if "event=coin_failed" in e.user_message
    ]
    assert failed and all(f"coin={coin}" in m or f"|{coin} " in m for m in failed), failed
    assert any("asset=consensus" in m and f"re-materialize {label}" in m for m in failed), failed
    assert (
        doc["no_champion"][coin].startswith("stored input unreadable: ") and label in doc["no_champion"][coin]
    )
    assert coin not in {c["coin"] for c in doc["champions"]}
    after = json.loads((exports / DAY / "reports" / "summary.json").read_text())
    assert coin not in after["champion_coins"] and label in after["coins_skipped"][coin]
    assert set(after["champion_coins"]) == set(summary["champion_coins"]) - {coin}
