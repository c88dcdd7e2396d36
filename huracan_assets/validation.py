"""Proof of honesty on known markets: does the pipeline find planted edges and refuse to invent any?

``huracan validate --seed S --coins N --days K`` (:func:`run_validation`) runs K consecutive days
of the whole graph on one Dagster instance, each day exactly as ``huracan daily`` runs it
(``orchestration.DayRunner``: universe, history plan, the day's coins, reports and export), on a
validation market (``SimulatedExchange(layout="validation")``: even coins are pure random walks,
odd coins carry a planted edge of 0.5-2 x ``simulator.planted_edge_bps``). Day 1 promotes from
cold-start records; from day ``shadow_days + 1`` on, challengers come from their shadow records and
champions are kept or demoted by their daily re-test.

Every champion each day publishes is judged against the simulator's truth, as the consumer
would trade it (:func:`champion_truth`): the exported model (through ``HamiltonInterface``)
predicts on the ``truth_days`` days after the export day, the exported trade rule (the
consensus's ``ActingRule``) turns the predictions into trades, and each trade is worth the
simulator's expected return given its latent state at the decision
(``SimulatedExchange.expected_return_bps``) minus its true cost (fees, the simulator's spread at
the fill and at the exit, square-root impact at the true volatility and volume, a spot short's
borrow), on the days the consumer can trade it: a day after one on which the coin was in the
universe (:func:`publishable`; the export of a day the coin is out holds no champion of it). A
champion is false when that true net edge per trade is <= 0 (or it makes no trade), on any coin.

:func:`core_challengers` runs the cold-start core calls without Dagster, for the statistical
tests in the test suite.
"""

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.champions import Challenger, challenger_from_record, test_challengers
from huracan_assets.core.consensus import ActingRule
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


# ------------------------------------------------------------------ the validation run


@dataclass(frozen=True)
class Thresholds:
    """When ``huracan validate`` fails (exit status 1)."""

    max_false_pct: float = 1.0  # false champion decisions, % of the challengers tested over the run
    min_detection_pct: float = 90.0  # planted coins detected, % of the planted coins
    max_edge_error_pct: float = 30.0  # median |reported - true| / |true| net edge, %


@dataclass
class ChampionTruth:
    """One champion decision (a champion published on a day) and its truth. Edges in bps per trade."""

    day: str
    coin: str
    horizon: str
    engine: str
    model_day: str
    decision: str  # "promoted" (today) or "kept"
    planted: bool
    reported_net_bps: float
    true_net_bps: float  # NaN when its model made no trade in the truth window
    true_gross_bps: float
    true_cost_bps: float
    trades: int
    decisions: int
    # the same model and rule on every day of the truth window, also the days after one on which
    # the coin was outside the universe (no champion of it is published, so none is traded)
    true_net_all_days_bps: float = float("nan")
    publishable_share: float = 1.0  # share of the truth window's decisions on publishable days

    @property
    def false(self) -> bool:
        return not (math.isfinite(self.true_net_bps) and self.true_net_bps > 0)

    @property
    def edge_error_pct(self) -> float:
        if not math.isfinite(self.true_net_bps) or self.true_net_bps == 0:
            return float("nan")
        return abs(self.reported_net_bps - self.true_net_bps) / abs(self.true_net_bps) * 100


@dataclass
class ValidationReport:
    seed: int
    coins: int
    days: list[str]
    truth_days: int
    thresholds: Thresholds
    planted_coins: list[str]
    lookback_days: int = 0  # the training window validated
    challengers: int = 0
    demotions: int = 0
    truths: list[ChampionTruth] = field(default_factory=list)
    per_day: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    workdir: str = ""
    exchange: SimulatedExchange | None = None  # the validation market

    @property
    def false_champions(self) -> int:
        return sum(t.false for t in self.truths)

    @property
    def detected(self) -> list[str]:
        """Planted coins with a champion of positive true edge on at least one day."""
        planted = set(self.planted_coins)
        return sorted({t.coin for t in self.truths if t.coin in planted and not t.false})

    @property
    def edge_error_pct(self) -> float:
        errors = [e for e in (t.edge_error_pct for t in self.truths) if math.isfinite(e)]
        return float(np.median(errors)) if errors else float("nan")

    def failures(self) -> list[str]:
        """The thresholds the run broke, one sentence each (empty: it passed)."""
        out = []
        limit = self.thresholds.max_false_pct / 100 * self.challengers
        if self.false_champions > limit:
            out.append(
                f"false_champions={self.false_champions} > {self.thresholds.max_false_pct:g}% of "
                f"challengers={self.challengers} ({limit:.2f})"
            )
        need = self.thresholds.min_detection_pct / 100 * len(self.planted_coins)
        if len(self.detected) < need:
            out.append(
                f"detected={len(self.detected)} < {self.thresholds.min_detection_pct:g}% of "
                f"planted={len(self.planted_coins)} ({need:.1f})"
            )
        error = self.edge_error_pct
        if not math.isfinite(error):
            out.append("edge_error_pct: no champion with a non-zero true edge to measure it on")
        elif error > self.thresholds.max_edge_error_pct:
            out.append(f"edge_error_pct={error:.1f} > {self.thresholds.max_edge_error_pct:g}")
        return out

    def last_line(self) -> str:
        return (
            f"challengers={self.challengers} false_champions={self.false_champions} "
            f"planted={len(self.planted_coins)} detected={len(self.detected)} "
            f"edge_error_pct={self.edge_error_pct:.1f} demotions={self.demotions} days={len(self.days)}"
        )


def forward_features(
    exchange: SimulatedExchange, coin: str, start: date, end: date, settings: HuracanSettings
) -> pd.DataFrame:
    """The coin's feature rows (``compute_features`` on the exchange's bars, as the pipeline
    computes them) with decision times in ``[start, end)`` UTC, rows with a missing feature left out."""
    first = datetime.combine(start, datetime.min.time(), UTC)
    last = datetime.combine(end, datetime.min.time(), UTC)
    warm_up = timedelta(days=4)  # more than the longest feature window (48h)
    bars = exchange.ohlcv(coin, first - warm_up, last)
    features = compute_features(bars, settings.bar)
    features = features[(features.index >= pd.Timestamp(first)) & (features.index < pd.Timestamp(last))]
    # spread_bps is the stored bars' column (NaN on raw simulator candles): the truth uses its own spread
    return features.dropna(subset=[c for c in features.columns if c != "spread_bps"])


def publishable(
    exchange: SimulatedExchange, coin: str, times: pd.DatetimeIndex, settings: HuracanSettings
) -> np.ndarray:
    """Per decision time: was a champion of ``coin`` published for the consumer to act on?

    The consumer acts on day E with the export of day E - 1, and that export holds a champion of
    the coin only if the coin was in the universe on E - 1: its quoted spread (the simulator's
    quote of the day, what the pipeline reads) at most ``max_spread_bps`` and its 24h quote volume
    at least ``min_liquidity_gbp``. A coin outside the universe has its champion demoted."""
    if not len(times):
        return np.zeros(0, dtype=bool)
    days = pd.DatetimeIndex(times).normalize()
    out = np.zeros(len(times), dtype=bool)
    for day in days.unique():
        before = (day - pd.Timedelta(days=1)).date()
        spread = exchange.true_spread_bps(coin, before)
        start = datetime.combine(before, datetime.min.time(), UTC)
        bars = exchange.ohlcv(coin, start, start + timedelta(days=1))
        gbp = float(bars["quote_volume"].sum()) / exchange.gbp_rate(start)
        out[days == day] = spread <= settings.max_spread_bps and gbp >= settings.min_liquidity_gbp
    return out


def champion_truth(
    exchange: SimulatedExchange,
    metadata: dict[str, Any],
    predict: Callable[[pd.DataFrame], np.ndarray],
    rule: ActingRule,
    cost_bps: float,
    features: pd.DataFrame,
    settings: HuracanSettings,
    notional_usdt: float,
) -> dict[str, float]:
    """The true net edge per trade (bps) of one exported champion over ``features`` (its future).

    ``predict``: the exported model on a frame of its ``feature_names``; ``rule``/``cost_bps``:
    the exported trade rule. Trades are the rule's positions; each is worth ``position x
    E[label | state]`` (``SimulatedExchange.expected_return_bps``) minus its true round trip:
    2 x taker fee, half the simulator's quoted spread at the fill bar and half at the exit bar,
    square-root impact ``k x daily vol x sqrt(notional / daily volume)`` on each leg at the
    simulator's regime volatility and volume (the simulator has no impact of its own, so the
    configured law stands for it), the venue's funding per day held and, on spot, a short's borrow
    (``short_borrow_bps_per_day`` per day held; with ``spot_shorts: none`` the consumer takes no
    short, so a sell signal is no trade).
    """
    coin, horizon = metadata["coin"], metadata["horizon"]
    h_bars = settings.horizon_bars[horizon]
    m = settings.fill_delay_bars
    names = list(metadata["feature_names"])
    if features.empty:
        return {"net": float("nan"), "gross": float("nan"), "cost": float("nan"), "trades": 0, "decisions": 0}
    pred = np.asarray(predict(features[names]), dtype=float)
    pos = rule.positions(pred, cost_bps, features["vol_24h_bps"].to_numpy(dtype=float))
    spot = settings.venue == "binance_spot"
    if spot and settings.fee.spot_shorts == "none":
        pos = np.where(pos < 0, 0.0, pos)
    traded = pos != 0
    times = features.index[traded]
    if not len(times):
        return {
            "net": float("nan"),
            "gross": float("nan"),
            "cost": float("nan"),
            "trades": 0,
            "decisions": len(pred),
        }
    expected = exchange.expected_return_bps(coin, times, h_bars, m)
    fill = exchange.true_conditions(coin, times + m * settings.bar)
    exit_ = exchange.true_conditions(coin, times + (m + h_bars) * settings.bar)
    k = settings.training.slippage_k

    def impact(at: pd.DataFrame) -> np.ndarray:
        return (
            k * at["daily_vol_bps"].to_numpy() * np.sqrt(notional_usdt / at["daily_volume_usdt"].to_numpy())
        )

    holding_days = h_bars * settings.bar / timedelta(days=1)
    borrow = settings.fee.short_borrow_bps_per_day * holding_days if spot else 0.0
    cost = (
        2 * settings.fee.taker_bps
        + settings.fee.funding_bps_per_day * holding_days
        + np.where(pos[traded] < 0, borrow, 0.0)
        + (fill["spread_bps"].to_numpy() + exit_["spread_bps"].to_numpy()) / 2
        + impact(fill)
        + impact(exit_)
    )
    gross = pos[traded] * expected
    return {
        "net": float(np.mean(gross - cost)),
        "gross": float(np.mean(gross)),
        "cost": float(np.mean(cost)),
        "trades": int(traded.sum()),
        "decisions": len(pred),
    }


def day_truths(
    exchange: SimulatedExchange,
    export_root: Path,
    day: str,
    settings: HuracanSettings,
    truth_days: int,
    cache: dict[tuple[str, str], tuple[pd.DataFrame, np.ndarray]] | None = None,
) -> list[ChampionTruth]:
    """The truth of every champion of ``day``'s export, read as the consumer reads it (Hamilton), on
    the truth window's publishable days (:func:`publishable`); the same over every day is kept as
    ``true_net_all_days_bps``."""
    from huracan_assets.hamilton import HamiltonInterface

    hamilton = HamiltonInterface(model_base_path=export_root)
    if hamilton.day != day:
        raise RuntimeError(f"validate: the export's LATEST is {hamilton.day}, expected {day}")
    cache = {} if cache is None else cache
    start = date.fromisoformat(day) + timedelta(days=1)
    end = start + timedelta(days=truth_days)
    notional = settings.risk.order_notional_gbp * exchange.gbp_rate(
        datetime.combine(start, datetime.min.time(), UTC)
    )
    out = []
    for coin, horizon in hamilton.list_champions():
        if (coin, day) not in cache:
            frame = forward_features(exchange, coin, start, end, settings)
            cache[(coin, day)] = frame, publishable(exchange, coin, frame.index, settings)
        features, published = cache[(coin, day)]
        meta = hamilton.get_model_metadata(coin, horizon)
        stated = hamilton.get_trade_rule(coin, horizon)
        rule = ActingRule(base_threshold=stated.base_threshold, reference_vol_bps=stated.reference_vol_bps)
        truth, every_day = (
            champion_truth(
                exchange,
                meta,
                lambda rows, c=coin, h=horizon: hamilton.predict(c, h, rows),
                rule,
                stated.cost_bps,
                frame,
                settings,
                notional,
            )
            for frame in (features[published], features)
        )
        test = meta.get("shadow_test") or {}
        promoted = test.get("decision") == "promoted" and test.get("promoted_on") == day
        out.append(
            ChampionTruth(
                day=day,
                coin=coin,
                horizon=horizon,
                engine=str(meta["engine"]),
                model_day=str(meta["model_day"]),
                decision="promoted" if promoted else "kept",
                planted=bool(exchange.coin(coin).planted_family),
                reported_net_bps=float(meta["net_edge_bps"]),
                true_net_bps=truth["net"],
                true_gross_bps=truth["gross"],
                true_cost_bps=truth["cost"],
                trades=truth["trades"],
                decisions=truth["decisions"],
                true_net_all_days_bps=every_day["net"],
                publishable_share=float(np.mean(published)) if len(published) else float("nan"),
            )
        )
    return out


def validation_days(first: str, days: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=i)).isoformat() for i in range(days)]


def run_validation(
    *,
    seed: int,
    coins: int,
    first_day: str,
    days: int | None = None,
    lookback_days: int | None = None,
    planted_edge_bps: float | None = None,
    truth_days: int = 60,
    thresholds: Thresholds | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = print,
) -> ValidationReport:
    """K consecutive days of the whole graph on one Dagster instance, every champion against the truth.

    Settings are base.yaml < ``HURACAN_*`` environment < these arguments. ``days``: default
    ``champions.shadow_days + 1``, the first day whose challengers come from shadow records
    (days 2.. re-test the champions of the days before). ``planted_edge_bps``: default
    ``simulator.planted_edge_bps`` (the market's default). ``lookback_days``: default the settings'
    (base.yaml's 150), so the look-back validated is the one production trains on.
    """
    import time

    import dagster as dg

    from huracan_assets.automation.instance import INSTANCE_OVERRIDES
    from huracan_assets.config import load_settings
    from huracan_assets.definitions import build_definitions
    from huracan_assets.orchestration import DayRunner, InProcessLauncher
    from huracan_assets.resources.market_data import MarketDataResource
    from huracan_assets.resources.publisher import PublisherResource

    started = time.perf_counter()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="huracan-validate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    exports = workdir / "exports"
    settings = load_settings(lookback_days=lookback_days, publisher={"export_root": str(exports)})
    edge = settings.simulator.planted_edge_bps if planted_edge_bps is None else planted_edge_bps
    settings = load_settings(
        lookback_days=lookback_days,
        simulator={"seed": seed, "n_coins": coins, "planted_edge_bps": edge},
        publisher={"export_root": str(exports)},
    )
    n_days = settings.champions.shadow_days + 1 if days is None else days
    market = MarketDataResource(
        timeframe=settings.timeframe,
        sim_seed=seed,
        sim_coins=coins,
        sim_planted_edge_bps=edge,
        sim_layout="validation",
    )
    exchange = market.exchange()
    report = ValidationReport(
        seed=seed,
        coins=coins,
        days=validation_days(first_day, n_days),
        truth_days=truth_days,
        thresholds=thresholds or Thresholds(),
        planted_coins=[c.coin for c in exchange.coins if c.planted_family],
        lookback_days=settings.lookback_days,
        workdir=str(workdir),
        exchange=exchange,
    )
    defs = build_definitions(
        settings,
        market_data=market,
        storage_dir=str(workdir / "storage"),
        publisher=PublisherResource(export_root=str(exports)),
    )
    (workdir / "dagster_home").mkdir(exist_ok=True)
    (workdir / "dagster_home" / "dagster.yaml").touch()  # the instance is INSTANCE_OVERRIDES alone
    with dg.DagsterInstance.local_temp(
        str(workdir / "dagster_home"), overrides=INSTANCE_OVERRIDES
    ) as instance:
        runner = DayRunner(InProcessLauncher(defs), instance, settings, log=lambda _: None)
        for day in report.days:
            result = runner.run(day)
            doc = result.champions
            truths = day_truths(exchange, exports, day, settings, truth_days)
            report.truths += truths
            report.challengers += int(doc.get("challengers", 0))
            report.demotions += len(doc.get("demotions", []))
            row = {
                "day": day,
                "seconds": round(result.seconds, 1),
                "challengers": int(doc.get("challengers", 0)),
                "champions": len(truths),
                "promoted": sum(t.decision == "promoted" for t in truths),
                "kept": sum(t.decision == "kept" for t in truths),
                "demoted": len(doc.get("demotions", [])),
                "false": sum(t.false for t in truths),
                "shadow_tests": sum(1 for t in doc.get("tests", []) if t.get("record_kind") == "shadow"),
            }
            report.per_day.append(row)
            log(" ".join(f"{k}={v}" for k, v in {"event": "validate_day", **row}.items()))
    report.seconds = time.perf_counter() - started
    return report


def report_lines(report: ValidationReport) -> list[str]:
    """The printed report: the market, one line per champion (its days and truth), the verdicts;
    the last line is :meth:`ValidationReport.last_line`."""
    lines = [
        f"validation market seed={report.seed} coins={report.coins} days={report.days[0]}..{report.days[-1]} "
        f"({len(report.days)}) lookback_days={report.lookback_days} truth_days={report.truth_days} "
        f"({report.seconds:.0f} s, work in {report.workdir})",
        "champion decisions (one per champion per day), true net edge per trade of the exported model "
        "and rule over the truth window's publishable days (all_days: over every day; publ: the share "
        "publishable), bps:",
        f"{'coin':6} {'planted':9} {'edge_1h':>7} {'champion':24} {'days':>4} {'reported':>9} {'true':>8} "
        f"{'cost':>6} {'trades':>6} {'all_days':>8} {'publ':>5}  false_days",
    ]
    exchange = report.exchange
    assert exchange is not None
    groups: dict[tuple[str, str, str, str], list[ChampionTruth]] = {}
    for t in report.truths:
        groups.setdefault((t.coin, t.horizon, t.engine, t.model_day), []).append(t)
    for (coin, horizon, engine, model_day), rows in sorted(groups.items()):
        spec = exchange.coin(coin)
        rep = np.mean([r.reported_net_bps for r in rows])
        true = np.mean([r.true_net_bps for r in rows]) if all(r.trades for r in rows) else float("nan")
        cost = np.nanmean([r.true_cost_bps for r in rows]) if any(r.trades for r in rows) else float("nan")
        every = np.mean([r.true_net_all_days_bps for r in rows])
        share = np.mean([r.publishable_share for r in rows])
        lines.append(
            f"{coin:6} {spec.planted_family or 'none':9} {spec.planted_edge_bps:7.1f} "
            f"{f'{horizon}:{engine}@{model_day}':24} {len(rows):4d} {rep:9.1f} {true:8.1f} {cost:6.1f} "
            f"{int(np.mean([r.trades for r in rows])):6d} {every:8.1f} {share:5.2f}  {sum(r.false for r in rows)}"
        )
    planted = set(report.planted_coins)
    by_horizon = {}
    for t in report.truths:
        if t.coin in planted and not t.false:
            by_horizon.setdefault(t.horizon, set()).add(t.coin)
    lines.append(
        "planted coins detected by horizon: "
        + (
            ", ".join(f"{h}={len(c)} ({' '.join(sorted(c))})" for h, c in sorted(by_horizon.items()))
            or "none"
        )
    )
    for row in report.per_day:
        lines.append(
            f"day {row['day']}: {row['challengers']} challengers ({row['shadow_tests']} on shadow records), "
            f"{row['champions']} champions ({row['promoted']} promoted, {row['kept']} kept), "
            f"{row['demoted']} demoted, {row['false']} false ({row['seconds']:.0f} s)"
        )
    failures = report.failures()
    for failure in failures:
        lines.append(f"validation failed: {failure}")
    if not failures:
        t = report.thresholds
        lines.append(
            f"validation passed: false champions <= {t.max_false_pct:g}% of challengers, detection >= "
            f"{t.min_detection_pct:g}% of planted coins, median edge error <= {t.max_edge_error_pct:g}%"
        )
    lines.append(report.last_line())
    return lines
