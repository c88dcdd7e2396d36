"""The per-day work behind the ``scores`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.costs import CostContext, CostModel, FundingHistory, coin_cost_model
from huracan_assets.core.regimes import classify_regimes
from huracan_assets.core.scoring import Record, empty_scores, score_records
from huracan_assets.core.shadow import SHADOW, joined_by_horizon, shadow_from_joined
from huracan_assets.steps.features import series_of
from huracan_assets.stores.files import StoredModels


def cost_model_for(universe_row: pd.Series, bar_vol_bps: float, settings: HuracanSettings) -> CostModel:
    """Round-trip costs of one coin-day: venue fees and funding, the day's spread, sqrt impact.

    Funding: none on spot; on perpetuals the coin's own from the universe (its funding history
    over the look-back), else the venue's configured ``funding_bps_per_day``.
    """
    funding = 0.0
    if settings.venue != "binance_spot":
        history = float(universe_row.get("funding_bps_per_day", float("nan")))
        funding = history if np.isfinite(history) else settings.fee.funding_bps_per_day
    return coin_cost_model(
        taker_bps=settings.fee.taker_bps,
        spread_bps=float(universe_row["spread_bps"]),
        adv_usdt=float(universe_row["quote_volume_usdt"]),
        bar_vol_bps=bar_vol_bps,
        bars_per_day=settings.bars_per_day,
        order_notional_usdt=settings.risk.order_notional_gbp * float(universe_row["usdt_per_gbp"]),
        slippage_k=settings.training.slippage_k,
        funding_bps_per_day=funding,
    )


def cost_context_for(universe_row: pd.Series, bar_vol_bps: float, settings: HuracanSettings) -> CostContext:
    """What each decision's own costs are built from (``core.costs.CostContext``): the run day's
    cost model (:func:`cost_model_for`, the fallback for what a record does not carry), the coin's
    funding settlements on perpetuals (else the flat per-day funding) and, on spot, the short's
    borrow rate or no shorts (``fees.<venue>.spot_shorts``)."""
    cost = cost_model_for(universe_row, bar_vol_bps, settings)
    funding, flat, borrow, shorts = None, 0.0, 0.0, True
    if settings.venue == "binance_spot":
        shorts = settings.fee.spot_shorts == "borrow"
        borrow = settings.fee.short_borrow_bps_per_day if shorts else 0.0
    else:
        funding = FundingHistory.from_json(str(universe_row.get("funding_settlements", "") or ""))
        flat = 0.0 if funding is not None else cost.funding_bps_per_day
    return CostContext(
        cost=cost,
        bars_per_day=settings.bars_per_day,
        bar=settings.bar,
        fill_delay_bars=settings.fill_delay_bars,
        funding=funding,
        funding_flat_bps_per_day=flat,
        borrow_bps_per_day=borrow,
        shorts=shorts,
    )


def decision_table(features: pd.DataFrame) -> pd.DataFrame:
    """A coin's feature rows indexed by decision time (dataset-scan columns removed)."""
    return series_of(features).set_index("open_time") if len(features) else pd.DataFrame()


def model_records(stored: StoredModels, joined: dict[str, pd.DataFrame]) -> list[Record]:
    """Shadow records of every model of one model-day, plus its cold-start record if it has one.

    ``joined``: horizon -> the coin's decisions joined with their resolved labels.
    """
    records = []
    if stored.status != "trained":
        return records
    thresholds = stored.regime_thresholds
    regimes = {h: classify_regimes(table, thresholds) for h, table in joined.items()}
    for meta in stored.models:
        table = joined.get(meta["horizon"])
        if table is None or table.empty:
            continue
        frame = shadow_from_joined(
            stored.load_model(meta["engine"], meta["horizon"], meta["regime"]).predict,
            meta["feature_names"],
            table,
            cutoff=pd.Timestamp(meta["cutoff"]),
            embargo=pd.Timedelta(seconds=meta["embargo_s"]),
            regimes=regimes[meta["horizon"]],
        )
        records.append(Record(stored.day, meta["engine"], meta["horizon"], meta["regime"], SHADOW, frame))
    if stored.record_kind and len(stored.record):
        for (engine, horizon), frame in stored.record.groupby(["engine", "horizon"]):
            records.append(Record(stored.day, str(engine), str(horizon), "all", stored.record_kind, frame))
    return records


def score_for_day(
    coin: str,
    models: list[StoredModels],
    features: pd.DataFrame,
    labels: pd.DataFrame,
    universe_row: pd.Series,
    settings: HuracanSettings,
) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    table = decision_table(features)
    labels = labels.drop(columns=[c for c in ("date", "symbol") if c in labels]) if len(labels) else labels
    joined = joined_by_horizon(table, labels) if len(table) and len(labels) else {}
    records = [r for stored in models for r in model_records(stored, joined)]
    if not records:
        return empty_scores()
    vol = float(np.nanmedian(table["vol_24h_bps"])) if len(table) else float("nan")
    context = cost_context_for(universe_row, vol, settings)
    return score_records(
        coin,
        records,
        cost=context.cost,
        context=context,
        horizon_bars=settings.horizon_bars,
        bar=settings.bar,
        min_edge_bps=settings.min_edge_after_cost_bps,
        usdt_per_gbp=float(universe_row["usdt_per_gbp"]),
    )


def scored_model_days(day: date, shadow_days: int) -> set[str]:
    """The model days whose records are scored: today (a cold-start record), yesterday (the freshest
    shadow record), the middle of the shadow window and the challenger cohort (the longest record).

    Enough for the gate and the reliability weights (which decay with age) at a quarter of the
    cost of scoring every day of the window.
    """
    back = {0, 1, max(1, shadow_days // 2), shadow_days}
    return {(day - timedelta(days=b)).isoformat() for b in back}
