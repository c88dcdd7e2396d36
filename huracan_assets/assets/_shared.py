"""Small helpers shared by the asset modules (no math here: that lives in core/)."""

import hashlib
import json
import weakref
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from huracan_assets.automation.jobs import ACTIVE
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.storage import (
    UNREADABLE,
    CoinDayModels,
    CoinWindows,
    StoredModels,
    WindowPart,
    loading,
)
from huracan_assets.steps.frames import rows_for
from huracan_assets.stores.files import bare_view, split_key

SINGLE_RUN = dg.BackfillPolicy.single_run()
# steps that carry yesterday's state forward (champions) run day by day
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
# steps that read the exchange's listings or publish to Dropbox: a step that failed outright (the
# clients already retry single calls) is tried again a little later. validated_bars has none: a
# stale feed must fail with its own message, and the run's retry covers a crash
OUTSIDE_SYSTEM_RETRIES = dg.RetryPolicy(max_retries=2, delay=3, backoff=dg.Backoff.EXPONENTIAL)


# step -> its run's partition keys: Dagster enumerates them again on every ``partition_keys``
# (the range's dates times a dynamic-partition query per coin), and a step asks more than once
_RUN_KEYS: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()


def run_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The partition keys this run materialises (one, or a whole range for single-run backfills)."""
    step = context.get_step_execution_context()
    keys = _RUN_KEYS.get(step)
    if keys is None:
        keys = _RUN_KEYS[step] = tuple(str(k) for k in context.partition_keys)
    return list(keys)


class PartitionMetadata:
    """Per-partition materialisation metadata that stays affordable in runs over thousands of partitions.

    ``context.add_asset_metadata(partition_key=...)`` checks the key against every key of the
    run's range, which Dagster enumerates over the whole partitions definition (every day since
    the first partition × every coin): about 100 ms a call at 30 coins here, so 27 calls cost a
    day's run about 3 s per asset, and a call per partition of a 4,000-partition history run
    hours. ``flush`` therefore checks the keys once against the run's own keys and hands all the
    entries to the step's metadata accumulator (where ``add_asset_metadata`` puts them after its
    check); where that internal is missing (another Dagster version) it falls back to the public
    call, capped as below.

    A run over more than ``detail_limit`` partitions records per-partition detail only for its
    notable partitions (problems, skips); every partition gets the run's summary. Each
    coin-day's full record stays in storage either way (the quality records the data-integrity
    report reads).
    """

    def __init__(self, context: dg.AssetExecutionContext, n_partitions: int, detail_limit: int = 64) -> None:
        self.context = context
        self.detail_limit = detail_limit
        self.detailed = n_partitions <= detail_limit
        self.entries: list[tuple[str, dict[str, Any]]] = []
        self.notable = 0

    def add(self, key: str, metadata: dict[str, Any], notable: bool = False) -> None:
        self.notable += int(notable)
        if self.detailed or notable:
            self.entries.append((key, metadata))

    def flush(self, summary: dict[str, Any]) -> None:
        detail = "all" if self.detailed else f"notable only ({self.notable} partitions)"
        self.context.add_asset_metadata(
            {**summary, "per_partition_detail": detail, "notable_partitions": self.notable}
        )
        step = self.context.get_step_execution_context()
        accumulator = getattr(step, "_metadata_accumulator", None)
        if accumulator is None or not hasattr(accumulator, "with_additional_asset_metadata"):
            for key, metadata in self.entries[: self.detail_limit]:
                self.context.add_asset_metadata(metadata, partition_key=key)
            return
        targeted = set(run_keys(self.context))
        asset_key = self.context.asset_key
        for key, metadata in self.entries:
            if key not in targeted:
                raise dg.DagsterInvariantViolationError(
                    f"metadata for partition {key} of {asset_key.to_user_string()}, which this run does not target"
                )
            accumulator = accumulator.with_additional_asset_metadata(
                asset_key=asset_key, partition_key=key, metadata=metadata
            )
        step._metadata_accumulator = accumulator


def coin_frames(
    frame: pd.DataFrame | CoinWindows | None, coins: list[str]
) -> dict[str, pd.DataFrame] | dict[str, WindowPart]:
    """``rows_for(frame, symbol=coin)`` for every coin, split in one pass: each coin's task
    carries its own rows only. A ``load: "per_coin"`` input gives each coin's part instead, read
    when the coin's task runs (:func:`~huracan_assets.resources.storage.loading`)."""
    if isinstance(frame, CoinWindows):
        return {coin: frame.part(coin) for coin in coins}
    if frame is None or frame.empty or "symbol" not in frame:
        return {coin: rows_for(frame, symbol=coin) for coin in coins}
    groups = {str(coin): rows for coin, rows in frame.groupby("symbol", sort=False, observed=True)}
    return {coin: groups[coin] if coin in groups else frame.iloc[0:0] for coin in coins}


# the jobs that make a day's models (per-coin steps) and its champions (reports)
DAY_JOBS = ("daily_coins_job", "daily_reports_job")


def day_runs_in_progress(context: dg.AssetExecutionContext, day: str, job_name: str) -> list[str]:
    """``<run id> (<job>, <status>)`` of the queued or running runs of ``job_name`` over ``day``
    (its partition, or a coin range of that day) other than this run, from any launcher: the
    daemon, the UI or ``huracan daily``."""
    out = []
    for record in context.instance.get_run_records(filters=dg.RunsFilter(job_name=job_name, statuses=ACTIVE)):
        run = record.dagster_run
        if run.run_id == context.run_id:
            continue
        start = run.tags.get("dagster/asset_partition_range_start", "")
        if run.tags.get("dagster/partition") == day or split_key(start)[0] == day:
            out.append(f"{run.run_id} ({run.job_name}, {run.status.value})")
    return out


def refuse_while_previous_day_runs(
    context: dg.AssetExecutionContext, day: str, job_name: str, what: str
) -> None:
    """Fail this step, naming the runs, while a run of ``job_name`` over the day before ``day`` is
    in progress: ``what`` of that day (its models, its champions) are not there yet, and taking
    the day without them would change its results (cold starts, no incumbents)."""
    previous = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    runs = day_runs_in_progress(context, previous, job_name)
    if runs:
        raise dg.Failure(
            f"{day}: the day before ({previous}) is still in progress in run {', '.join(runs)}; this day "
            f"needs its {what}. Days run one at a time: re-execute this run when that one is done"
        )


def unreadable_coins(*inputs: pd.DataFrame | Mapping[str, Any] | None) -> dict[str, str]:
    """``{coin: error}`` for the coins whose stored partitions these inputs left out as unreadable
    (damaged or foreign files, moved aside by the IO manager): the step fails those coins with the
    error, which names the file and the partition to re-materialise.

    ``inputs``: window frames (``attrs[UNREADABLE]``), ``by_partition`` inputs
    (:class:`~huracan_assets.resources.storage.PartitionValues`, their ``unreadable``), and stored
    model folders whose ``bundle.json`` was refused (status ``unreadable``, the reason names it).
    """
    out: dict[str, str] = {}
    for value in inputs:
        if value is None:
            continue
        if isinstance(value, pd.DataFrame):
            refused = dict(value.attrs.get(UNREADABLE, {}))
        else:
            refused = dict(getattr(value, "unreadable", {}))
            # a lazily read models input is not read here: its folders are checked as they are used
            for key, item in [] if isinstance(value, CoinDayModels) else value.items():
                if isinstance(item, StoredModels) and item.status == "unreadable":
                    refused.setdefault(str(key), item.reason)
        for key, error in refused.items():
            coin = split_key(key)[1]
            if coin is not None:
                out.setdefault(coin, error)
    return out


def unreadable_failure(coin: str, error: str) -> TaskFailure:
    return TaskFailure(key=coin, error=error, error_type="CorruptPartitionError", trace="")


def coin_failed(context: dg.AssetExecutionContext, metrics: MetricsResource | None, detail: str) -> None:
    """One coin's work failed in this step: a log line naming it (the others go on) and the metric."""
    asset = context.asset_key.to_user_string()
    context.log.error(f"event=coin_failed asset={asset} {detail}")
    if metrics is not None:
        metrics.run.coin_failures.labels(asset=asset).inc()


def map_by_coin(
    context: dg.AssetExecutionContext,
    compute: ComputeResource,
    groups: dict[str, list[str]],
    fn: Callable[..., dict[str, Any]],
    args: dict[str, tuple],
    empty: Callable[[], Any],
    metrics: MetricsResource | None = None,
    unreadable: dict[str, str] | None = None,
) -> dict[str, tuple[Any, TaskFailure | None]]:
    """Run ``fn(*args[coin])`` (-> {partition key: value}) for every coin through the compute seam
    (its :class:`WindowPart` arguments read where it runs, see ``storage.loading``).

    Returns partition key -> (value, failure). A coin that failed gets ``empty()`` for each of its
    partitions and its failure, logged once naming the asset and the coin; the others are untouched.
    A coin in ``unreadable`` (:func:`unreadable_coins`) fails with its error without running.
    """
    unreadable = unreadable or {}
    coins = [c for c in groups if c not in unreadable]
    out: dict[str, tuple[Any, TaskFailure | None]] = {}
    results = compute.map(loading(fn), [args[c] for c in coins], keys=coins) if coins else []
    failed = [(c, unreadable_failure(c, unreadable[c])) for c in groups if c in unreadable]
    for coin, result in [*zip(coins, results, strict=True), *failed]:
        if isinstance(result, TaskFailure):
            coin_failed(context, metrics, f"coin={coin} error={result}")
        for key in groups[coin]:
            out[key] = (empty(), result) if isinstance(result, TaskFailure) else (result[key], None)
    return out


def map_by_partition(
    context: dg.AssetExecutionContext,
    compute: ComputeResource,
    fn: Callable[..., Any],
    args: dict[str, tuple],
    empty: Callable[[], Any],
    metrics: MetricsResource | None = None,
    unreadable: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``fn(*args[key])`` for every partition key through the compute seam; a failure becomes ``empty()``.

    A key whose coin is in ``unreadable`` (:func:`unreadable_coins`) fails with its error without running.
    """
    unreadable = unreadable or {}
    refused = {k: unreadable[c] for k in args if (c := split_key(k)[1]) is not None and c in unreadable}
    keys = [k for k in args if k not in refused]
    out = {}
    results = compute.map(loading(fn), [args[k] for k in keys], keys=keys) if keys else []
    failed = [(k, unreadable_failure(str(split_key(k)[1]), refused[k])) for k in refused]
    for key, result in [*zip(keys, results, strict=True), *failed]:
        if isinstance(result, TaskFailure):
            coin_failed(context, metrics, f"partition={key} error={result}")
            result = empty()
        out[key] = result
    return {k: out[k] for k in args}


def content_version(frames: dict[str, pd.DataFrame]) -> dg.DataVersion:
    """A data version from the content of every partition a run wrote (values, columns and attrs).

    Dagster gives an output one data version per run, so a range run's partitions share it and a
    later run over one partition gets its own. Without it, an asset with a code version and no
    asset inputs (the market's bars) would keep one version for ever and a changed partition
    would never mark anything downstream stale.
    """
    digest = hashlib.sha256()
    for key in sorted(frames):
        frame = frames[key]
        digest.update(key.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        for _, column in bare_view(frame).items():
            digest.update(_column_bytes(column))
        digest.update(json.dumps(frame.attrs, sort_keys=True, default=str).encode())
    return dg.DataVersion(digest.hexdigest()[:24])


def _column_bytes(series: pd.Series) -> bytes:
    """A column's values as bytes: the raw buffer of numeric, boolean and datetime columns (their
    dtype included), the text of the others."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        return str(series.dtype).encode() + pd.DatetimeIndex(series).asi8.tobytes()
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy()
        if values.dtype != object:
            return str(values.dtype).encode() + np.ascontiguousarray(values).tobytes()
    return "\x1f".join(map(str, series.tolist())).encode()
