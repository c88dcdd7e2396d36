"""The per-day work behind the ``scores`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it.

Scores are figures of the rule the champions step judges and the consumer trades by: every
record is scored under the consensus's acting rule (:func:`acting_rule`; ``core.consensus.ActingRule``:
act when |tanh(pred / cost)| >= threshold x clip(vol ratio)), each decision paying its own costs,
with the cost context the champions step builds for the coin (the median 24h volatility over the
longest shadow window). The model days scored include each horizon's challenger cohort,
``shadow_days_for(horizon)`` days back (:func:`scored_model_days`), so the pooled record of that
cohort carries the net edge the champions step tests today (:func:`challenger_rows`).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.consensus import ActingRule
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


def acting_rule(coin_features: pd.DataFrame, day: str, settings: HuracanSettings) -> ActingRule:
    """The consensus's acting rule for a coin on ``day``: the risk preset's threshold and, as the
    ``consensus`` step uses, the median 24h volatility of the coin's feature rows of that day
    (``coin_features``: dataset-scan rows with their ``date``)."""
    rows = coin_features[coin_features["date"].astype(str) == day] if len(coin_features) else coin_features
    reference = float(np.nanmedian(rows["vol_24h_bps"])) if len(rows) else float("nan")
    return ActingRule(base_threshold=settings.risk.signal_threshold, reference_vol_bps=reference)


def decision_table(features: pd.DataFrame) -> pd.DataFrame:
    """A coin's feature rows indexed by decision time (dataset-scan columns removed)."""
    return series_of(features).set_index("open_time") if len(features) else pd.DataFrame()


def model_records(
    stored: StoredModels, joined: dict[str, pd.DataFrame], horizons: frozenset[str] | None = None
) -> list[Record]:
    """Shadow records of every model of one model-day, plus its cold-start record if it has one.

    ``joined``: horizon -> the coin's decisions joined with their resolved labels; ``horizons``:
    the horizons scored on this model day (None: all).
    """
    records = []
    if stored.status != "trained":
        return records
    thresholds = stored.regime_thresholds
    regimes = {h: classify_regimes(table, thresholds) for h, table in joined.items()}
    for meta in stored.models:
        if horizons is not None and meta["horizon"] not in horizons:
            continue
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
            if horizons is not None and str(horizon) not in horizons:
                continue
            records.append(Record(stored.day, str(engine), str(horizon), "all", stored.record_kind, frame))
    return records


def score_for_day(
    coin: str,
    models: list[StoredModels],
    features: pd.DataFrame,
    labels: pd.DataFrame,
    universe_row: pd.Series,
    settings: HuracanSettings,
    day: str,
) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark).

    ``models``: the coin's stored models of the model days :func:`scored_model_days` names (each
    scored on the horizons it names for its day); ``features``/``labels``: the coin's dataset-scan
    rows of the last ``longest_shadow_days`` days (with ``date``), as the champions step reads them.
    """
    table = decision_table(features)
    labels = labels.drop(columns=[c for c in ("date", "symbol") if c in labels]) if len(labels) else labels
    joined = joined_by_horizon(table, labels) if len(table) and len(labels) else {}
    wanted = scored_model_days(date.fromisoformat(day), settings)
    records = [
        r
        for stored in models
        if stored.day in wanted
        for r in model_records(stored, joined, wanted[stored.day])
    ]
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
        rule=acting_rule(features, day, settings),
    )


def scored_model_days(day: date, settings: HuracanSettings) -> dict[str, frozenset[str]]:
    """Model day -> the horizons whose records are scored on it.

    Every horizon on today (a cold-start record), yesterday (the freshest shadow record), the
    middle and the end of the ``shadow_days`` window (the records the gate and the reliability
    weights decay by age); and each horizon on its challenger cohort, ``shadow_days_for(horizon)``
    days back (the record the champions step tests today: 23 days for 1d with the defaults).

    Enough for the gate and the reliability weights at a fraction of the cost of scoring every
    day of the window.
    """
    shadow = settings.champions.shadow_days
    every = frozenset(settings.horizons)
    out = {(day - timedelta(days=b)).isoformat(): every for b in {0, 1, max(1, shadow // 2), shadow}}
    for horizon in settings.horizons:
        cohort = (day - timedelta(days=settings.shadow_days_for(horizon))).isoformat()
        out[cohort] = out.get(cohort, frozenset()) | {horizon}
    return out


def challenger_rows(scores: pd.DataFrame, day: str, settings: HuracanSettings) -> pd.DataFrame:
    """The pooled rows of the records the champions step tests on ``day`` against "no trade": each
    horizon's shadow cohort (``shadow_days_for(horizon)`` back) and today's cold-start records."""
    if scores.empty:
        return scores
    pooled = scores[(scores["regime"] == "all") & (scores["model_regime"] == "all")]
    cohort = pooled["horizon"].map(
        {
            h: (date.fromisoformat(day) - timedelta(days=settings.shadow_days_for(h))).isoformat()
            for h in settings.horizons
        }
    )
    shadow = (pooled["record_kind"] == SHADOW) & (pooled["model_day"] == cohort)
    cold = (pooled["record_kind"] != SHADOW) & (pooled["model_day"] == day)
    return pooled[shadow | cold]


def score_summary(scores: pd.DataFrame, day: str, settings: HuracanSettings) -> dict[str, object]:
    """The asset metadata of one coin-day's scores. ``best_net_edge_bps``: the best net edge per
    trade of today's challenger records (:func:`challenger_rows`), under the acting rule and
    per-decision costs: the figure the champions step judges."""
    pooled = (
        scores[(scores["regime"] == "all") & (scores["model_regime"] == "all")] if len(scores) else scores
    )
    best = challenger_rows(scores, day, settings).sort_values("net_edge_bps", ascending=False).head(1)
    return {
        "rows": len(scores),
        "records": int(pooled[["model_day", "engine", "horizon", "record_kind"]].drop_duplicates().shape[0])
        if len(pooled)
        else 0,
        "best_net_edge_bps": float(best["net_edge_bps"].iloc[0]) if len(best) else float("nan"),
        "best": f"{best['engine'].iloc[0]}/{best['horizon'].iloc[0]} of {best['model_day'].iloc[0]}"
        if len(best)
        else "",
        "round_trip_cost_bps": float(pooled["cost_bps"].median()) if len(pooled) else float("nan"),
    }
