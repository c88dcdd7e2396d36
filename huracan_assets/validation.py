"""Proof of honesty on known markets: does the pipeline find planted edges and refuse to invent any?

``huracan validate --seed S --coins N`` materialises the whole graph (through Dagster) for one
day on a validation market (``SimulatedExchange(layout="validation")``: even coins are pure
random walks, odd coins carry a planted edge of varied size) and compares every champion with
the simulator's truth. :func:`core_challengers` runs the same core calls without Dagster, for the
statistical tests in the test suite.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.champions import Challenger, challenger_from_record, test_challengers
from huracan_assets.core.costs import coin_cost_model
from huracan_assets.core.engines import ENGINES, Engine
from huracan_assets.core.features import compute_features, features_hash
from huracan_assets.core.labels import compute_labels
from huracan_assets.core.training import CoinModels, TrainingParams, train_coin
from huracan_assets.market_sim import SECONDARY_VENDOR, SimulatedExchange


@dataclass
class CoinTruth:
    coin: str
    planted_family: str | None
    planted_edge_bps: float


def coin_inputs(
    exchange: SimulatedExchange, coin: str, day: date, settings: HuracanSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels of one coin for the look-back window ending with ``day`` (clean bars)."""
    end = datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1)
    start = end - timedelta(days=settings.lookback_days + 4)
    bars = exchange.ohlcv(coin, start, end, vendor=SECONDARY_VENDOR)
    features = compute_features(bars, settings.bar)
    labels = compute_labels(
        features["close"],
        bar=settings.bar,
        horizon_bars=settings.horizon_bars,
        fill_delay_bars=settings.fill_delay_bars,
    )
    cutoff = pd.Timestamp(end)
    window = cutoff - pd.Timedelta(days=settings.lookback_days)
    features = features[(features.index >= window) & (features.index < cutoff)]
    labels = labels[(labels["decision_time"] >= window) & (labels["exit_time"] < cutoff)]
    return features, labels


def cold_start_models(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    coin: str,
    day: date,
    settings: HuracanSettings,
    params: TrainingParams,
    engines: tuple[Engine, ...] = ENGINES,
    purge: bool = True,
) -> CoinModels:
    cutoff = pd.Timestamp(datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1))
    return train_coin(
        coin,
        day.isoformat(),
        features,
        labels,
        engines=engines,
        horizons={h: pd.Timedelta(h) for h in settings.horizons},
        embargo_extra=pd.Timedelta(settings.bar * settings.fill_delay_bars),
        params=params,
        features_hash=features_hash(),
        cutoff=cutoff,
        cold_start=True,
        purge=purge,
    )


def challengers_from_record(
    coin: str, models: CoinModels, exchange: SimulatedExchange, settings: HuracanSettings
) -> list[Challenger]:
    """Every engine x horizon of a cold-start record as a challenger against "no trade"."""
    spec = exchange.coin(coin)
    spread = 1.5 + 60.0 / math.sqrt(spec.daily_volume_usdt / 1e6)
    out = []
    for (engine, horizon), frame in models.record.groupby(["engine", "horizon"]):
        h_bars = settings.horizon_bars[str(horizon)]
        holding = h_bars * settings.bar / timedelta(days=1)
        cost = coin_cost_model(
            taker_bps=settings.fee.taker_bps,
            spread_bps=spread,
            adv_usdt=spec.daily_volume_usdt,
            bar_vol_bps=float(np.nanmedian(frame["vol_24h_bps"])),
            bars_per_day=settings.bars_per_day,
            order_notional_usdt=settings.risk.order_notional_gbp * settings.usdt_per_gbp_fallback,
            slippage_k=settings.training.slippage_k,
        )
        out.append(
            challenger_from_record(
                coin,
                str(horizon),
                str(engine),
                models.day,
                models.record_kind,
                frame,
                cost=cost,
                horizon_bars=h_bars,
                holding_days=holding,
                min_edge_bps=settings.min_edge_after_cost_bps,
                usdt_per_gbp=settings.usdt_per_gbp_fallback,
            )
        )
    return out


def core_challengers(
    exchange: SimulatedExchange,
    coins: list[str],
    day: date,
    settings: HuracanSettings,
    params: TrainingParams,
) -> list[Challenger]:
    """Cold-start challengers of ``coins``, tested together as one day's trials (BH across all)."""
    challengers = []
    for coin in coins:
        features, labels = coin_inputs(exchange, coin, day, settings)
        challengers += challengers_from_record(
            coin, cold_start_models(features, labels, coin, day, settings, params), exchange, settings
        )
    test_challengers(
        challengers,
        alpha=settings.risk.alpha,
        min_trades=settings.champions.min_trades,
        min_edge_bps=settings.min_edge_after_cost_bps,
        dsr_min=settings.champions.dsr_min,
        min_effective_samples=settings.champions.min_effective_samples,
    )
    return challengers


def summarise(
    champions: dict, exchange: SimulatedExchange, settings: HuracanSettings
) -> tuple[list[dict], str]:
    """Per-coin table and the last line: challengers, false champions, planted, detected, edge error."""
    rows, errors = [], []
    by_coin: dict[str, list[dict]] = {}
    for c in champions["champions"]:
        by_coin.setdefault(c["coin"], []).append(c)
    planted = detected = false = 0
    for spec in exchange.coins:
        mine = by_coin.get(spec.coin, [])
        truth_parts = []
        for champ in mine:
            truth = exchange.planted_truth_after_costs(
                spec.coin,
                settings.horizon_bars[champ["horizon"]],
                champ["cost_bps"],
                settings.fill_delay_bars,
            )["net_edge_bps"]
            truth_parts.append(
                f"{champ['horizon']}:{champ['engine']} reported {champ['net_edge_bps']:.1f} truth {truth:.1f}"
            )
            if spec.planted_family and truth > 0:
                errors.append(abs(champ["net_edge_bps"] - truth) / truth * 100)
        if spec.planted_family:
            planted += 1
            detected += bool(mine)
        else:
            false += len(mine)
        rows.append(
            {
                "coin": spec.coin,
                "planted": spec.planted_family or "none",
                "edge_1h_bps": round(spec.planted_edge_bps, 1),
                "champions": "; ".join(truth_parts) or "-",
                "reason": champions["no_champion"].get(spec.coin, ""),
            }
        )
    error = float(np.median(errors)) if errors else float("nan")
    line = (
        f"challengers={champions['challengers']} false_champions={false} planted={planted} "
        f"detected={detected} edge_error_pct={error:.1f}"
    )
    return rows, line
