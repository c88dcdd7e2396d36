"""The per-day work behind the ``champions`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.champions import Challenger, challenger_from_record, choose_champions
from huracan_assets.core.costs import CostModel
from huracan_assets.core.metrics import decision_returns
from huracan_assets.core.shadow import shadow_record
from huracan_assets.steps.models import embargo_extra
from huracan_assets.steps.scores import cost_model_for, decision_table
from huracan_assets.stores.files import StoredModels


def _challenger(
    coin: str,
    horizon: str,
    engine: str,
    model_day: str,
    kind: str,
    record: pd.DataFrame,
    baseline: pd.Series | None,
    baseline_name: str,
    cost: CostModel,
    settings: HuracanSettings,
    usdt_per_gbp: float,
) -> Challenger:
    h_bars = settings.horizon_bars[horizon]
    return challenger_from_record(
        coin,
        horizon,
        engine,
        model_day,
        kind,
        record,
        cost=cost,
        horizon_bars=h_bars,
        holding_days=h_bars * settings.bar / timedelta(days=1),
        min_edge_bps=settings.min_edge_after_cost_bps,
        usdt_per_gbp=usdt_per_gbp,
        baseline=baseline,
        baseline_name=baseline_name,
    )


def champions_for_day(
    day: str,
    previous: dict | None,
    models: dict[tuple[str, str], StoredModels],
    features: pd.DataFrame,
    labels: pd.DataFrame,
    consensus: pd.DataFrame,
    coin_universe: pd.DataFrame,
    settings: HuracanSettings,
) -> dict:
    """The champion document of one day (shared by the asset and the plain-loop benchmark).

    ``models``: (coin, model_day) -> stored models of the last ``max_age_days`` days.
    ``features``/``labels``: dataset scans of the last ``shadow_days`` days, all coins.
    """
    universe = coin_universe[coin_universe["date"] == day] if "date" in coin_universe else coin_universe
    eligible = set(universe.loc[universe["eligible"], "coin"])
    today = {c: m for (c, d), m in models.items() if d == day}
    active = sorted(eligible & set(today))
    coin_status = {c: f"not trained: {today[c].reason}" for c in active if today[c].status != "trained"}
    for coin in sorted(eligible - set(today)):
        coin_status[coin] = "newly eligible: not yet in the coins partitions (history backfill pending)"
        active.append(coin)
    incumbents = {
        (c["coin"], c["horizon"]): c for c in (previous or {}).get("champions", []) if c["coin"] in eligible
    }
    shadow_day = (date.fromisoformat(day) - timedelta(days=settings.champions.shadow_days)).isoformat()
    challengers, pending = [], {}
    extra = embargo_extra(settings)
    for coin in active:
        if coin in coin_status:
            continue
        row = universe[universe["coin"] == coin].iloc[0]
        f = features[features["symbol"] == coin] if len(features) else features
        table = decision_table(f)
        lab = labels[labels["symbol"] == coin] if len(labels) else labels
        vol = (
            float(np.nanmedian(table["vol_24h_bps"]))
            if len(table)
            else float(np.nanmedian(today[coin].record.get("vol_24h_bps", pd.Series([np.nan]))))
        )
        cost = cost_model_for(row, vol, settings)
        has_incumbent = any(k[0] == coin for k in incumbents)
        if today[coin].record_kind and not has_incumbent:
            record = today[coin].record
            for (engine, horizon), frame in record.groupby(["engine", "horizon"]):
                challengers.append(
                    _challenger(
                        coin,
                        str(horizon),
                        str(engine),
                        day,
                        today[coin].record_kind,
                        frame,
                        None,
                        "no trade",
                        cost,
                        settings,
                        float(row["usdt_per_gbp"]),
                    )
                )
            continue
        cohort = models.get((coin, shadow_day))
        if cohort is None or cohort.status != "trained":
            first = min(
                (d for (c, d), m in models.items() if c == coin and m.status == "trained"), default=day
            )
            ready = (date.fromisoformat(first) + timedelta(days=settings.champions.shadow_days)).isoformat()
            pending[coin] = f"challengers in shadow: the first cohort (trained {first}) is tested on {ready}"
            continue
        for meta in cohort.pooled():
            horizon, engine = meta["horizon"], meta["engine"]
            embargo = pd.Timedelta(horizon) + extra
            record = shadow_record(
                cohort.load_model(engine, horizon).predict,
                meta["feature_names"],
                table,
                lab,
                horizon=horizon,
                cutoff=pd.Timestamp(meta["cutoff"]),
                embargo=embargo,
                thresholds=cohort.regime_thresholds,
            )
            if record.empty:
                continue
            incumbent = incumbents.get((coin, horizon))
            baseline, baseline_name = None, "no trade"
            if incumbent is not None:
                inc_models = models.get((coin, incumbent["model_day"]))
                if inc_models is not None and inc_models.status == "trained":
                    inc_meta = inc_models.model_metadata(incumbent["engine"], horizon)
                    inc_record = shadow_record(
                        inc_models.load_model(incumbent["engine"], horizon).predict,
                        inc_meta["feature_names"],
                        table,
                        lab,
                        horizon=horizon,
                        cutoff=pd.Timestamp(inc_meta["cutoff"]),
                        embargo=embargo,
                        thresholds=inc_models.regime_thresholds,
                    )
                    total = cost.total_bps(settings.horizon_bars[horizon] * settings.bar / timedelta(days=1))
                    baseline = pd.Series(
                        decision_returns(inc_record["pred_bps"], inc_record["label_bps"], total),
                        index=inc_record["decision_time"],
                    )
                    baseline_name = f"champion {incumbent['engine']}@{incumbent['model_day']}"
            challengers.append(
                _challenger(
                    coin,
                    horizon,
                    engine,
                    shadow_day,
                    "shadow",
                    record,
                    baseline,
                    baseline_name,
                    cost,
                    settings,
                    float(row["usdt_per_gbp"]),
                )
            )
    regimes = {
        c: str(m.latest["regime"].iloc[0])
        for c, m in today.items()
        if m.status == "trained" and len(m.latest)
    }
    live = consensus[consensus["kind"] == "live"] if len(consensus) else consensus
    decision = choose_champions(
        day,
        challengers,
        incumbents,
        active_coins=active,
        coin_status=coin_status,
        pending=pending,
        consensus=live[["coin", "horizon", "S", "confidence", "level"]] if len(live) else pd.DataFrame(),
        regimes=regimes,
        universe=universe,
        alpha=settings.risk.alpha,
        min_trades=settings.champions.min_trades,
        min_edge_bps=settings.min_edge_after_cost_bps,
        dsr_min=settings.champions.dsr_min,
        max_age_days=settings.champions.max_age_days,
        min_effective_samples=settings.champions.min_effective_samples,
    )
    doc = decision.to_dict()
    doc["active_coins"] = sorted(active)
    doc["trained_coins"] = sorted(c for c in active if c not in coin_status)
    doc["regimes"] = regimes
    doc["markets"] = len(universe)
    doc["promoted"] = sum(
        c["shadow_test"].get("decision") == "promoted" and c["shadow_test"].get("promoted_on") == day
        for c in decision.champions
    )
    return doc


def decision_events(day: str, previous: dict | None, doc: dict) -> list[dict[str, str]]:
    """The day's champion decisions as DecisionEvents (one key=value log line each):
    ``promotion`` (a challenger won today), ``keep`` (the incumbent stays), ``demotion`` (yesterday's
    champion is gone, with why when the day says it) and ``skip`` (an active coin without one)."""
    events = []
    today = {(c["coin"], c["horizon"]): c for c in doc.get("champions", [])}
    for (coin, horizon), champ in sorted(today.items()):
        test = champ.get("shadow_test", {})
        promoted = test.get("decision") == "promoted" and test.get("promoted_on") == day
        events.append(
            {
                "kind": "promotion" if promoted else "keep",
                "coin": coin,
                "horizon": horizon,
                "engine": str(champ.get("engine", "")),
                "model_day": str(champ.get("model_day", "")),
                "net_edge_bps": f"{float(champ.get('net_edge_bps', float('nan'))):.2f}",
            }
        )
    for champ in (previous or {}).get("champions", []):
        key = (champ["coin"], champ["horizon"])
        if key in today:
            continue
        events.append(
            {
                "kind": "demotion",
                "coin": champ["coin"],
                "horizon": champ["horizon"],
                "engine": str(champ.get("engine", "")),
                "model_day": str(champ.get("model_day", "")),
                "reason": doc.get("no_champion", {}).get(
                    champ["coin"], "no longer the champion of its horizon"
                ),
            }
        )
    for coin, reason in sorted(doc.get("no_champion", {}).items()):
        events.append({"kind": "skip", "coin": coin, "reason": reason})
    return events


def event_line(day: str, event: dict[str, str]) -> str:
    """``event=<kind> day=... coin=...`` with values quoted where they hold spaces."""
    fields = {"event": event["kind"], "day": day, **{k: v for k, v in event.items() if k != "kind"}}
    return " ".join(f"{k}={v!r}" if (" " in str(v) or not str(v)) else f"{k}={v}" for k, v in fields.items())
