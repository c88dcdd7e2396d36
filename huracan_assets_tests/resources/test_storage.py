"""The IO managers, exercised through real Dagster materialisations on a temporary instance."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from catboost import CatBoostRegressor

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.core.regimes import RegimeThresholds
from huracan_assets.core.training import COLD_START, LATEST_COLUMNS, RECORD_COLUMNS, CoinModels, TrainedModel
from huracan_assets.partitions import COINS, coin_day_key
from huracan_assets.resources.storage import (
    MISSING,
    JsonIOManager,
    MissingPartitionError,
    ModelIOManager,
    ParquetIOManager,
    frame_to_table,
    table_to_frame,
)

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-06", timezone="UTC")
GRID = dg.MultiPartitionsDefinition({"date": DAYS, "symbol": COINS})
WINDOW = dg.MultiPartitionMapping(
    {
        "date": dg.DimensionPartitionMapping(
            "date",
            dg.TimeWindowPartitionMapping(
                start_offset=-2, end_offset=0, allow_nonexistent_upstream_partitions=True
            ),
        ),
        "symbol": dg.DimensionPartitionMapping("symbol", dg.IdentityPartitionMapping()),
    }
)


@dg.asset(partitions_def=GRID, backfill_policy=dg.BackfillPolicy.single_run())
def bars(context: dg.AssetExecutionContext) -> dict[str, pd.DataFrame]:
    out = {}
    for key in context.partition_keys:
        day, coin = key.split("|")
        frame = pd.DataFrame({"value": [float(day[-1]), float(len(coin))], "label": ["a", "b"]})
        frame.attrs = {"made_for": key}
        out[key] = frame
    return out


@dg.asset(
    partitions_def=GRID,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"bars": dg.AssetIn(partition_mapping=WINDOW)},
)
def window_sum(context: dg.AssetExecutionContext, bars: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    for key in context.partition_keys:
        day, coin = key.split("|")
        rows = bars[(bars["symbol"] == coin) & (bars["date"] <= day)]
        out[key] = pd.DataFrame({"n_days": [rows["date"].nunique()], "total": [rows["value"].sum()]})
    return out


@dg.asset(
    partitions_def=DAYS,
    io_manager_key="json_io_manager",
    ins={
        "bars": dg.AssetIn(
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping("date"),
            metadata={"load": "by_partition"},
        )
    },
)
def per_day(bars: dict[str, pd.DataFrame]) -> dict:
    return {"keys": sorted(bars), "attrs": sorted(f.attrs["made_for"] for f in bars.values())}


def range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


@pytest.fixture
def instance(tmp_path: Path) -> dg.DagsterInstance:
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions("coins", ["BTC", "ETH"])
    return instance


def resources(base: Path) -> dict:
    return {
        "io_manager": ParquetIOManager(base_dir=str(base)),
        "json_io_manager": JsonIOManager(base_dir=str(base)),
    }


def test_a_run_over_many_partitions_writes_one_file_per_partition_and_windows_load_in_one_scan(
    tmp_path, instance
):
    base = tmp_path / "store"
    result = dg.materialize(
        [bars, window_sum],
        instance=instance,
        resources=resources(base),
        tags=range_tags("2025-01-01|BTC", "2025-01-04|ETH"),
    )
    assert result.success
    files = sorted(p.relative_to(base).as_posix() for p in (base / "bars").rglob("*.parquet"))
    assert len(files) == 8
    assert files[0] == "bars/date=2025-01-01/symbol=BTC/data.parquet"
    assert not list(base.rglob("*.tmp")), "temporary files must be renamed away"
    summed = table_to_frame(
        __import__("pyarrow.parquet", fromlist=["x"]).read_table(
            base / "window_sum/date=2025-01-03/symbol=ETH/data.parquet"
        )
    )
    # days 01..03 for ETH: values 1+3+3 (day digit) + 3 * len("ETH")
    assert summed["n_days"].iloc[0] == 3
    assert summed["total"].iloc[0] == pytest.approx(1 + 2 + 3 + 3 * 3)


def test_by_partition_loading_restores_attrs(tmp_path, instance):
    base = tmp_path / "store"
    dg.materialize(
        [bars],
        instance=instance,
        resources=resources(base),
        tags=range_tags("2025-01-02|BTC", "2025-01-02|ETH"),
    )
    result = dg.materialize(
        [bars.to_source_asset(), per_day],
        instance=instance,
        resources=resources(base),
        partition_key="2025-01-02",
        selection=[per_day],
    )
    assert result.success
    doc = JsonIOManager(base_dir=str(base)).read_partition(dg.AssetKey("per_day"), "2025-01-02")
    assert doc["keys"] == ["2025-01-02|BTC", "2025-01-02|ETH"]
    assert doc["attrs"] == doc["keys"]


def test_a_missing_upstream_partition_is_named(tmp_path, instance):
    base = tmp_path / "store"
    dg.materialize(
        [bars],
        instance=instance,
        resources=resources(base),
        tags=range_tags("2025-01-03|BTC", "2025-01-03|BTC"),
    )
    with pytest.raises(
        MissingPartitionError,
        match=r"bars: 2 upstream partition\(s\) were never materialised: 2025-01-01\|BTC, 2025-01-02\|BTC",
    ):
        dg.materialize(
            [bars.to_source_asset(), window_sum],
            instance=instance,
            resources=resources(base),
            selection=[window_sum],
            tags={
                "dagster/partition": "2025-01-03|BTC",
                "dagster/partition/date": "2025-01-03",
                "dagster/partition/symbol": "BTC",
            },
        )


@dg.asset(
    partitions_def=GRID,
    ins={"bars": dg.AssetIn(partition_mapping=WINDOW, metadata={"allow_missing": True})},
)
def gap_report(bars: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"missing": bars.attrs.get(MISSING, []) or [""]})


@dg.asset(
    partitions_def=DAYS,
    io_manager_key="json_io_manager",
    ins={
        "previous": dg.AssetIn(
            key="state",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-3, end_offset=-1, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing": True, "load": "latest"},
        )
    },
)
def state(context: dg.AssetExecutionContext, previous: dict | None) -> dict:
    return {"day": context.partition_key, "carried_from": (previous or {}).get("day")}


def test_allow_missing_names_the_gaps_and_latest_loads_the_newest_present_partition(tmp_path, instance):
    base = tmp_path / "store"
    res = resources(base)
    for day in ("2025-01-01", "2025-01-03"):  # 2025-01-02 never materialised
        dg.materialize([bars], instance=instance, resources=res, tags=range_tags(f"{day}|BTC", f"{day}|BTC"))
    tags = {"dagster/partition": "2025-01-03|BTC", "dagster/partition/date": "2025-01-03"}
    tags["dagster/partition/symbol"] = "BTC"
    dg.materialize([bars.to_source_asset(), gap_report], instance=instance, resources=res, tags=tags)
    report = ParquetIOManager(base_dir=str(base)).read_partition(dg.AssetKey("gap_report"), "2025-01-03|BTC")
    assert list(report["missing"]) == ["bars[2025-01-02|BTC]"]
    for day in ("2025-01-01", "2025-01-02", "2025-01-04"):  # 2025-01-03's state is missing
        dg.materialize([state], instance=instance, resources=res, partition_key=day)
    stored = JsonIOManager(base_dir=str(base))
    assert stored.read_partition(dg.AssetKey("state"), "2025-01-02")["carried_from"] == "2025-01-01"
    assert stored.read_partition(dg.AssetKey("state"), "2025-01-04")["carried_from"] == "2025-01-02"
    assert stored.read_partition(dg.AssetKey("state"), "2025-01-01")["carried_from"] is None


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    manager = ParquetIOManager(base_dir=str(tmp_path))
    key = dg.AssetKey("x")
    manager.write_partition(key, "2025-01-01|BTC", pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(Exception, match="complex"):  # Arrow cannot store complex numbers
        manager.write_partition(key, "2025-01-01|BTC", pd.DataFrame({"a": [1 + 2j, 3j]}))
    assert manager.read_partition(key, "2025-01-01|BTC")["a"].tolist() == [1.0, 2.0]
    assert not list(tmp_path.rglob("*.tmp"))


def test_object_columns_round_trip_as_strings_and_attrs_survive():
    frame = pd.DataFrame({"s": ["x", None], "f": [1.5, np.nan]})
    frame.attrs = {"quality": {"status": "ok", "n": 3}}
    back = table_to_frame(frame_to_table(frame))
    assert back["s"].tolist() == ["x", None]
    assert back.attrs == frame.attrs


@pytest.mark.parametrize("index", [None, [7, 3, 9], ["a", "b", "c"]])
def test_frame_to_table_is_the_tables_from_pandas_gives(index):
    """The cached-schema build equals ``from_pandas`` of the frame with object columns as strings,
    whatever the frame's index (only its columns are stored) and on a first or a cached layout."""
    tag = "range" if index is None else type(index[0]).__name__  # a layout of its own: a first build
    frame = pd.DataFrame(
        {
            f"n_{tag}": np.array([1, 2, 3], dtype="int64"),
            "s": ["x", None, "z"],
            "mixed": [1, "two", None],
            "f": [0.5, np.nan, 2.0],
            "t": pd.to_datetime(["2025-01-01", "2025-01-02", None], utc=True),
        },
        index=index,
    )
    frame.attrs = {"quality": {"status": "ok"}}
    strings = frame.reset_index(drop=True).astype({"s": "string", "mixed": "string"})
    expected = pa.Table.from_pandas(strings, preserve_index=False)
    for _ in range(2):  # the first call builds the layout's schema, the second reuses it
        table = frame_to_table(frame)
        assert table.schema.types == expected.schema.types
        assert table.to_pydict() == expected.to_pydict()


THRESHOLDS = {"panic_vol_bps": 150.0, "illiquid_quote_volume": 2.5e6, "trend_efficiency": 0.3}


def _tiny_models(coin: str = "BTC", cold_start: bool = True) -> CoinModels:
    """A pooled model and a regime model refined from it, as ``train_coin`` builds them."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"f1": rng.normal(size=200), "f2": rng.normal(size=200)})
    y = x["f1"] * 3 + rng.normal(size=200)
    params = dict(depth=3, random_seed=1, thread_count=1, verbose=False, allow_writing_files=False)
    pooled = CatBoostRegressor(iterations=20, **params)
    pooled.fit(x, y)
    trend = CatBoostRegressor(iterations=5, **params)
    trend.fit(x.iloc[:80], y.iloc[:80], init_model=pooled)
    common = dict(
        engine="flow",
        horizon="4h",
        feature_names=["f1", "f2"],
        train_start="2025-01-01T00:00:00+00:00",
        train_end="2025-01-29T18:00:00+00:00",
        cutoff="2025-01-31T00:00:00+00:00",
        embargo_s=5 * 3600.0,
        n_purged=4,
        label_clip_bps=[-100.0, 100.0],
    )
    models = [
        TrainedModel(regime="all", model=pooled, n_train=200, best_iteration=19, **common),
        TrainedModel(
            regime="trend", model=trend, n_train=80, best_iteration=25, warm_start_from="all", **common
        ),
    ]
    record = pd.DataFrame(
        {
            "decision_time": pd.date_range("2025-01-21", periods=3, freq="h", tz="UTC"),
            "horizon": "4h",
            "engine": "flow",
            "pred_bps": [1.0, 2.0, 3.0],
            "label_bps": [0.5, -1.0, 2.0],
            "vol_24h_bps": [80.0, 81.0, 82.0],
            "regime": ["trend", "range", "panic"],
            "fold": [0, 0, 1],
            "quote_volume_24h": [5e7, 5.1e7, 4.9e7],
            "spread_bps": [6.0, 6.0, 7.5],
        }
    )[RECORD_COLUMNS]
    latest = pd.DataFrame(
        {
            "decision_time": [pd.Timestamp("2025-01-30T23:00:00+00:00")],
            "horizon": ["4h"],
            "engine": ["flow"],
            "pred_bps": [float(pooled.predict(x.iloc[[0]])[0])],
            "pred_regime_bps": [float(trend.predict(x.iloc[[0]])[0])],
            "regime": ["trend"],
            "model_regime": ["trend"],
        }
    )[LATEST_COLUMNS]
    return CoinModels(
        coin=coin,
        day="2025-01-30",
        features_hash="f" * 64,
        status="trained",
        models=models,
        record=record if cold_start else pd.DataFrame(columns=RECORD_COLUMNS),
        record_kind=COLD_START if cold_start else "",
        latest=latest,
        training_window={
            "start": common["train_start"],
            "end": common["train_end"],
            "cutoff": common["cutoff"],
        },
        regime_thresholds=dict(THRESHOLDS),
        regime_fallbacks=["4h/flow/panic: 3 rows < min_regime_samples=400, uses pooled"],
        fits=2 + (2 if cold_start else 0),
    )


def test_models_round_trip_as_cbm_plus_json_and_rewrites_are_byte_identical(tmp_path):
    manager = ModelIOManager(base_dir=str(tmp_path))
    key, asset = str(coin_day_key("2025-01-30", "BTC")), dg.AssetKey("models")
    value = _tiny_models()
    manager.write_partition(asset, key, value)
    stored = manager.read_partition(asset, key)
    first = stored.model_path("flow", "4h").read_bytes()
    first_metadata = (stored.directory / "flow__4h__all.json").read_bytes()
    assert stored.status == "trained" and stored.coin == "BTC" and stored.day == "2025-01-30"
    assert stored.model_metadata("flow", "4h")["feature_names"] == ["f1", "f2"]
    assert stored.model_metadata("flow", "4h", "trend")["warm_start_from"] == "all"
    assert stored.model_metadata("flow", "4h")["cutoff"] == "2025-01-31T00:00:00+00:00"
    assert [m["regime"] for m in stored.pooled()] == ["all"]
    assert stored.record_kind == COLD_START
    assert stored.regime_thresholds == RegimeThresholds(**THRESHOLDS)
    assert stored.bundle["regime_fallbacks"] == value.regime_fallbacks and stored.bundle["fits"] == 4
    pd.testing.assert_frame_equal(stored.record, value.record)
    pd.testing.assert_frame_equal(stored.latest, value.latest)
    x = pd.DataFrame({"f1": [0.3, 2.0], "f2": [-1.0, 0.5]})
    for regime, trained in zip(("all", "trend"), value.models, strict=True):
        np.testing.assert_allclose(
            stored.load_model("flow", "4h", regime).predict(x), trained.model.predict(x)
        )
    assert stored.load_model("flow", "4h", "trend") is stored.load_model("flow", "4h", "trend")  # cached
    assert stored.load_model("flow", "4h") is not stored.load_model("flow", "4h", "trend")
    # a rewrite of the same coin-day (a fresh fit of the same data) gives the same pooled file
    manager.write_partition(asset, key, _tiny_models())
    again = manager.read_partition(asset, key)
    assert again.model_path("flow", "4h").read_bytes() == first
    # (a stored coin-day reads the version its bundle came from, removed by the rewrite's swap)
    assert (again.directory / "flow__4h__all.json").read_bytes() == first_metadata
    assert not [p for p in (tmp_path / "models").rglob("*") if ".staging" in p.name or ".old" in p.name]
    with pytest.raises(KeyError, match="no model momentum/1h/all"):
        stored.model_metadata("momentum", "1h")


def test_a_warm_day_stores_no_record(tmp_path):
    manager = ModelIOManager(base_dir=str(tmp_path))
    key, asset = str(coin_day_key("2025-01-30", "ETH")), dg.AssetKey("models")
    manager.write_partition(asset, key, _tiny_models("ETH", cold_start=False))
    stored = manager.read_partition(asset, key)
    assert stored.record.empty and stored.record_kind == ""
    assert not (stored.directory / "record.parquet").exists()
    assert len(stored.latest) == 1 and stored.bundle["fits"] == 2


def test_a_corrupt_json_document_names_its_asset_partition_and_file(tmp_path: Path):
    from huracan_assets.resources.storage import CorruptFileError, JsonIOManager

    store = JsonIOManager(base_dir=str(tmp_path))
    key = dg.AssetKey("champions")
    store.write_partition(key, "2025-11-20", {"champions": []})
    path = store.partition_path(key, "2025-11-20")
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(CorruptFileError, match=r"champions\[2025-11-20\]: .*data\.json: corrupt JSON"):
        store.read_partition(key, "2025-11-20")
