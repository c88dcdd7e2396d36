"""The per-day work behind the ``champions`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.champions import (
    Challenger,
    challenger_from_record,
    choose_champions,
    retest_champion,
)
from huracan_assets.core.consensus import ActingRule
from huracan_assets.core.costs import CostContext
from huracan_assets.core.metrics import decision_returns
from huracan_assets.core.shadow import RECORD_COLUMNS, shadow_record
from huracan_assets.steps.models import embargo_extra
from huracan_assets.steps.scores import acting_rule, cost_context_for, decision_table
from huracan_assets.stores.files import CorruptFileError, CorruptPartitionError, StoredModels

if TYPE_CHECKING:
    from typing import TypeAlias

    from huracan_assets.resources.storage import CoinWindows

    # a window as the champions step takes it: one frame of every coin (a dataset scan), or a
    # ``load: "per_coin"`` input read coin by coin
    Window: TypeAlias = pd.DataFrame | CoinWindows


class CoinRows:
    """One coin's rows of a window, for work that goes coin by coin: the rows of a frame of every
    coin, or a ``load: "per_coin"`` input's part read when first asked for. Only the last coin's
    rows are kept, so a day over many coins holds one coin's window at a time.

    ``since``: only the rows of that UTC day on (``date`` column). ``source`` may be another
    ``CoinRows`` (the same coin's rows, read once, cut shorter)."""

    def __init__(self, source: Window | CoinRows, since: str | None = None) -> None:
        self.source, self.since = source, since
        self._coin: str | None = None
        self._rows = pd.DataFrame()

    def __call__(self, coin: str) -> pd.DataFrame:
        if coin != self._coin:
            source = self.source
            if isinstance(source, CoinRows):
                rows = source(coin)
            elif isinstance(source, pd.DataFrame):
                rows = source[source["symbol"] == coin] if len(source) else source
            else:
                # raises CorruptFileError (or its CorruptPartitionError) naming a refused partition
                rows = source.frame(coin)
            if self.since is not None and len(rows):
                rows = rows[rows["date"].astype(str) >= self.since]
            self._coin, self._rows = coin, rows
        return self._rows


def _challenger(
    coin: str,
    horizon: str,
    engine: str,
    model_day: str,
    kind: str,
    record: pd.DataFrame,
    baseline: pd.Series | None,
    baseline_name: str,
    context: CostContext,
    settings: HuracanSettings,
    usdt_per_gbp: float,
    rule: ActingRule,
) -> Challenger:
    h_bars = settings.horizon_bars[horizon]
    return challenger_from_record(
        coin,
        horizon,
        engine,
        model_day,
        kind,
        record,
        cost=context.cost,
        context=context,
        horizon_bars=h_bars,
        holding_days=h_bars * settings.bar / timedelta(days=1),
        min_edge_bps=settings.min_edge_after_cost_bps,
        usdt_per_gbp=usdt_per_gbp,
        baseline=baseline,
        baseline_name=baseline_name,
        rule=rule,
    )


def champions_for_day(
    day: str,
    previous: dict | None,
    models: Mapping[tuple[str, str], StoredModels],
    features: Window,
    labels: Window,
    consensus: pd.DataFrame,
    coin_universe: pd.DataFrame,
    settings: HuracanSettings,
    retest_features: Window | None = None,
    retest_labels: Window | None = None,
    missing: dict[str, set[tuple[str, str]]] | None = None,
    unreadable: dict[str, str] | None = None,
) -> dict:
    """The champion document of one day (shared by the asset and the plain-loop benchmark).

    ``models``: (coin, model_day) -> stored models of the last ``max_age_days`` days.
    ``features``/``labels``: the last ``longest_shadow_days`` days (or more: rows before are not
    read), all coins, as one frame or as a ``load: "per_coin"`` input read coin by coin.
    ``retest_features``/``retest_labels``: the same over the last ``max_age_days`` days, for the
    champions' re-test on their record since promotion (default: ``features``/``labels``).
    ``missing``: coin -> (asset, day) of the window's ``features``/``labels`` partitions never
    materialised or refused on read; a coin whose challengers or re-tests need one is skipped,
    with them named.
    ``unreadable``: coin -> the error of a stored input partition that was refused (damaged or
    foreign, moved aside): the coin is not tested today and is reported with that error. A model
    file refused while it is loaded here does the same to its coin only.
    """
    previous = carried_state(day, previous)
    universe = coin_universe[coin_universe["date"] == day] if "date" in coin_universe else coin_universe
    eligible = set(universe.loc[universe["eligible"], "coin"])
    # (models may be read lazily, folder by folder: ``storage.CoinDayModels``; only what is used is read)
    today = {c: models[(c, d)] for (c, d) in models if d == day}
    active = sorted(eligible & set(today))
    coin_status = {
        c: f"{'stored input unreadable' if today[c].status == 'unreadable' else 'not trained'}: {today[c].reason}"
        for c in active
        if today[c].status != "trained"
    }
    for coin in sorted(eligible - set(today)):
        coin_status[coin] = "newly eligible: not yet in the coins partitions (history backfill pending)"
        active.append(coin)
    incumbents = {
        (c["coin"], c["horizon"]): c for c in (previous or {}).get("champions", []) if c["coin"] in eligible
    }
    left = [c for c in (previous or {}).get("champions", []) if c["coin"] not in eligible]
    for coin, error in sorted((unreadable or {}).items()):
        if coin in active and coin not in coin_status:
            coin_status[coin] = f"stored input unreadable: {error}"
    cohort_days = {h: _days_before(day, settings.shadow_days_for(h)) for h in settings.horizons}
    for coin in active:
        gaps = (
            None if coin in coin_status else _window_gaps(coin, day, incumbents, models, cohort_days, missing)
        )
        if gaps:
            coin_status[coin] = gaps
    # each coin's rows are read when its turn comes, once for its re-tests and challengers
    recent_since = _days_before(day, settings.longest_shadow_days)
    retest_f = CoinRows(features if retest_features is None else retest_features)
    retest_l = CoinRows(labels if retest_labels is None else retest_labels)
    recent_f = CoinRows(
        retest_f if retest_features is None or retest_features is features else features, recent_since
    )
    recent_l = CoinRows(
        retest_l if retest_labels is None or retest_labels is labels else labels, recent_since
    )
    retests, refused = _retests(
        day,
        incumbents,
        models,
        retest_f,
        retest_l,
        recent_f,
        universe,
        {c for c in active if c not in coin_status},
        settings,
    )
    coin_status.update({c: f"stored input unreadable: {e}" for c, e in refused.items()})
    # a champion demoted by its re-test is no baseline: today's challengers face "no trade"
    baselines = {k: v for k, v in incumbents.items() if retests.get(k, {}).get("status") != "demoted"}
    challengers, pending = [], {}
    # a coin's cold-start record is tested once per listing (core/champions.py, "Trials")
    cold_starts = dict((previous or {}).get("cold_starts", {}))
    returned: dict[str, str] = {}
    extra = embargo_extra(settings)
    stored_of: dict[str, list[StoredModels]] = defaultdict(list)  # held here: dropped after each coin
    for (c, _), m in models.items() if isinstance(models, dict) else []:
        stored_of[c].append(m)
    for coin in active:
        if coin in coin_status:
            continue
        before = len(challengers)
        try:
            row = universe[universe["coin"] == coin].iloc[0]
            f = recent_f(coin)
            table = decision_table(f)
            lab = recent_l(coin)
            vol = (
                float(np.nanmedian(table["vol_24h_bps"]))
                if len(table)
                else float(np.nanmedian(today[coin].record.get("vol_24h_bps", pd.Series([np.nan]))))
            )
            context = cost_context_for(row, vol, settings)
            rule = acting_rule(f, day, settings)
            has_incumbent = any(k[0] == coin for k in incumbents)
            tested = cold_starts.get(coin)
            if (
                today[coin].record_kind
                and not has_incumbent
                and tested is not None
                and (date.fromisoformat(day) - date.fromisoformat(tested)).days <= settings.lookback_days
            ):
                returned[coin] = (
                    f"cold-start record already tested on {tested}, within lookback_days={settings.lookback_days} "
                    "(once per listing); it continues in shadow"
                )
            elif today[coin].record_kind and not has_incumbent:
                cold_starts[coin] = day
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
                            context,
                            settings,
                            float(row["usdt_per_gbp"]),
                            rule,
                        )
                    )
                continue
            # each horizon's challengers are the models trained shadow_days_for(horizon) ago: a record
            # long enough for min_effective_samples non-overlapping trades of that horizon
            waiting = []
            for horizon in settings.horizons:
                shadow_day = cohort_days[horizon]
                cohort = models.get((coin, shadow_day))
                if cohort is not None and cohort.status == "unreadable":
                    raise CorruptFileError(cohort.reason)
                if cohort is None or cohort.status != "trained":
                    first = min(
                        (d for (c, d) in models if c == coin and models[(c, d)].status == "trained"),
                        default=day,
                    )
                    ready = _days_before(first, -settings.shadow_days_for(horizon))
                    waiting.append(f"{horizon} (first cohort trained {first}, tested on {ready})")
                    continue
                embargo = pd.Timedelta(horizon) + extra
                against = None  # the incumbent's returns: once per coin x horizon, for every engine
                for meta in cohort.pooled():
                    if meta["horizon"] != horizon:
                        continue
                    engine = meta["engine"]
                    record = _model_record(cohort, engine, horizon, table, lab, embargo)
                    if record.empty:
                        continue
                    if against is None:
                        against = _baseline(
                            baselines.get((coin, horizon)),
                            coin,
                            horizon,
                            models,
                            table,
                            lab,
                            embargo,
                            context,
                            rule,
                            settings,
                        )
                    baseline, baseline_name = against
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
                            context,
                            settings,
                            float(row["usdt_per_gbp"]),
                            rule,
                        )
                    )
            if waiting and len(waiting) == len(settings.horizons):
                pending[coin] = "challengers in shadow: " + "; ".join(waiting)
                if coin in returned:
                    pending[coin] = f"{returned[coin]}: {pending[coin]}"
        except CorruptFileError as error:
            # a stored model or window partition of this coin refused as it loaded: this coin only
            # is not tested today
            del challengers[before:]
            pending.pop(coin, None)
            earlier = (previous or {}).get("cold_starts", {}).get(coin)
            if earlier is None:
                cold_starts.pop(coin, None)
            else:
                cold_starts[coin] = earlier
            coin_status[coin] = f"stored input unreadable: {error}"
        finally:
            # the models it loaded, today's included (a lazily read input keeps no others)
            for stored in [*stored_of.get(coin, []), *([today[coin]] if coin in today else [])]:
                stored.release()
    regimes = {}
    for c, m in today.items():
        try:
            if m.status == "trained" and len(m.latest):
                regimes[c] = str(m.latest["regime"].iloc[0])
        except CorruptPartitionError as error:
            coin_status.setdefault(c, f"stored input unreadable: {error}")
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
        retests=retests,
        trials=(previous or {}).get("trials", {}),
    )
    for champ in left:
        reasons = universe.loc[universe["coin"] == champ["coin"], "reason"]
        why = str(reasons.iloc[0]) if len(reasons) else "not in today's universe"
        decision.demotions.append(
            {
                "coin": champ["coin"],
                "horizon": champ["horizon"],
                "engine": champ["engine"],
                "model_day": champ["model_day"],
                "promoted_on": champ.get("shadow_test", {}).get("promoted_on"),
                "reason": f"coin no longer eligible: {why}",
                "retest": None,
            }
        )
    decision.demotions.sort(key=lambda d: (d["coin"], d["horizon"]))
    doc = decision.to_dict()
    doc["active_coins"] = sorted(active)
    doc["trained_coins"] = sorted(c for c in active if c not in coin_status)
    doc["regimes"] = regimes
    doc["markets"] = len(universe)
    doc["demoted"] = len(decision.demotions)
    doc["cold_starts"] = cold_starts
    doc["promoted"] = sum(
        c["shadow_test"].get("decision") == "promoted" and c["shadow_test"].get("promoted_on") == day
        for c in decision.champions
    )
    doc["events"] = decision_events(day, previous, doc)
    return doc


def carried_state(day: str, previous: dict | None) -> dict | None:
    """What a day takes over from the newest earlier champions document: all of yesterday's; from
    an older one (yesterday's partition is missing) only the trial counts and the cold starts, so
    a missing day never resets a key's count or lets a coin test its cold start again. Its
    champions are not carried over a missing day (no re-test ran for them)."""
    if previous is None or previous.get("day") in (None, _days_before(day, 1)):
        return previous
    return {"trials": previous.get("trials", {}), "cold_starts": previous.get("cold_starts", {})}


def _days_before(day: str, days: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()


def _window_gaps(
    coin: str,
    day: str,
    incumbents: dict[tuple[str, str], dict],
    models: dict[tuple[str, str], StoredModels],
    cohort_days: dict[str, str],
    missing: dict[str, set[tuple[str, str]]] | None,
) -> str | None:
    """Why ``coin`` is skipped today when a ``features``/``labels`` partition that its challengers
    (the days since each horizon's cohort) or its champions' re-tests (the days since promotion)
    read was never materialised; None when nothing it reads is missing."""
    gaps = (missing or {}).get(coin)
    if not gaps:
        return None
    first = [
        d
        for h, d in cohort_days.items()
        if (m := models.get((coin, d))) is not None and m.status == "trained"
    ]
    for (c, _), champ in incumbents.items():
        if c == coin:
            promoted = champ.get("shadow_test", {}).get("promoted_on") or champ["model_day"]
            first.append(_days_before(promoted, -1))
    if not first:
        return None
    needed = sorted((asset, d) for asset, d in gaps if min(first) <= d <= day)
    if not needed:
        return None
    names = ", ".join(f"{asset}[{d}|{coin}]" for asset, d in needed)
    return (
        f"skipped: {len(needed)} partition(s) its shadow/re-test window reads are missing (never "
        f"materialised, or refused on read): {names}; re-materialise them (huracan daily re-plans lost history)"
    )


def missing_by_coin(entries: list[str]) -> dict[str, set[tuple[str, str]]]:
    """``["features[2025-11-18|BTC]", ...]`` (a window frame's missing partitions) -> coin -> {(asset, day)}."""
    out: dict[str, set[tuple[str, str]]] = {}
    for entry in entries:
        asset, _, key = entry.partition("[")
        d, _, coin = key.rstrip("]").partition("|")
        if coin:
            out.setdefault(coin, set()).add((asset, d))
    return out


def _model_record(
    stored: StoredModels,
    engine: str,
    horizon: str,
    table: pd.DataFrame,
    labels: pd.DataFrame,
    embargo: pd.Timedelta,
) -> pd.DataFrame:
    """The out-of-sample record of one stored pooled model on ``table``/``labels``: its decisions
    after its cut-off and ``embargo`` (``core.shadow.shadow_record``)."""
    meta = stored.model_metadata(engine, horizon)
    return shadow_record(
        stored.load_model(engine, horizon).predict,
        meta["feature_names"],
        table,
        labels,
        horizon=horizon,
        cutoff=pd.Timestamp(meta["cutoff"]),
        embargo=embargo,
        thresholds=stored.regime_thresholds,
    )


def _baseline(
    incumbent: dict | None,
    coin: str,
    horizon: str,
    models: dict[tuple[str, str], StoredModels],
    table: pd.DataFrame,
    labels: pd.DataFrame,
    embargo: pd.Timedelta,
    context: CostContext,
    rule: ActingRule,
    settings: HuracanSettings,
) -> tuple[pd.Series | None, str]:
    """What a shadow challenger must beat: the incumbent champion's per-decision net returns on
    the same bars under the acting rule, each decision paying its own costs, and its name; or
    (None, "no trade") without a trained incumbent."""
    if incumbent is None:
        return None, "no trade"
    stored = models.get((coin, incumbent["model_day"]))
    if stored is None or stored.status != "trained":
        return None, "no trade"
    record = _model_record(stored, incumbent["engine"], horizon, table, labels, embargo)
    costs = context.for_record(record, settings.horizon_bars[horizon])
    pred = record["pred_bps"].to_numpy(dtype=float)
    returns = decision_returns(
        pred,
        record["label_bps"],
        float("nan"),  # unused: each decision pays its own (costs)
        rule.positions(pred, costs.rule_bps_for(pred), record["vol_24h_bps"].to_numpy(dtype=float)),
        costs,
    )
    return pd.Series(
        returns, index=record["decision_time"]
    ), f"champion {incumbent['engine']}@{incumbent['model_day']}"


def _retests(
    day: str,
    incumbents: dict[tuple[str, str], dict],
    models: dict[tuple[str, str], StoredModels],
    features: CoinRows,
    labels: CoinRows,
    recent_features: CoinRows,
    universe: pd.DataFrame,
    trained: set[str],
    settings: HuracanSettings,
) -> tuple[dict[tuple[str, str], dict], dict[str, str]]:
    """Today's re-test of every incumbent of a trained coin on its record since promotion
    (``core.champions.retest_champion``): its model's decisions from the day after its promotion
    on, labels resolved by today, costs of today (the coin's cost model of its challengers).

    Also returns coin -> error for the coins whose champion's stored model was refused as it
    loaded (damaged, moved aside): those coins are not tested today."""
    out = {}
    refused: dict[str, str] = {}
    extra = embargo_extra(settings)
    oldest = (date.fromisoformat(day) - timedelta(days=settings.champions.max_age_days)).isoformat()
    for (coin, horizon), champ in sorted(incumbents.items()):
        stored = models.get((coin, champ["model_day"]))
        if coin in trained and stored is not None and stored.status == "unreadable":
            refused[coin] = stored.reason  # the champion's own folder was refused as it was read
            continue
        if coin not in trained or champ["model_day"] < oldest or stored is None or stored.status != "trained":
            continue
        promoted_on = champ.get("shadow_test", {}).get("promoted_on") or champ["model_day"]
        since = date.fromisoformat(promoted_on) + timedelta(days=1)
        row = universe[universe["coin"] == coin].iloc[0]
        try:  # read (and verified) here, so a refused file fails this coin even with no rows to score
            recent_rows = recent_features(coin)
            lab = labels(coin)
            table = decision_table(features(coin))
            stored.load_model(champ["engine"], horizon)
        except CorruptFileError as error:  # as in the challengers' loop: a model or window partition
            refused[coin] = str(error)
            continue
        record = (
            _model_record(stored, champ["engine"], horizon, table, lab, pd.Timedelta(horizon) + extra)
            if len(table) and len(lab)
            else pd.DataFrame(columns=RECORD_COLUMNS)
        )
        recent = decision_table(recent_rows)
        context = cost_context_for(
            row, float(np.nanmedian(recent["vol_24h_bps"])) if len(recent) else float("nan"), settings
        )
        start = pd.Timestamp(since.isoformat(), tz="UTC")
        times = pd.to_datetime(record["decision_time"], utc=True)
        record = record[(times >= start).to_numpy()]
        h_bars = settings.horizon_bars[horizon]
        out[(coin, horizon)] = retest_champion(
            record,
            since=since.isoformat(),
            cost=context.cost,
            context=context,
            horizon_bars=h_bars,
            holding_days=h_bars * settings.bar / timedelta(days=1),
            min_edge_bps=settings.min_edge_after_cost_bps,
            usdt_per_gbp=float(row["usdt_per_gbp"]),
            alpha=settings.risk.alpha,
            min_trades=settings.champions.min_trades,
            min_effective_samples=settings.champions.min_effective_samples,
            max_age_days=settings.champions.max_age_days,
            rule=acting_rule(recent_rows, day, settings),
            # the decisions of a full shadow record: shadow_days_for(horizon) of bars less the embargo (horizon +
            # latency) at its start and the labels (latency + horizon) not yet resolved at its end
            min_decisions=settings.shadow_days_for(horizon) * settings.bars_per_day
            - 2 * (h_bars + settings.fill_delay_bars),
        )
    return {k: v for k, v in out.items() if k[0] not in refused}, refused


def decision_events(day: str, previous: dict | None, doc: dict) -> list[dict[str, str]]:
    """The day's champion decisions as DecisionEvents (one key=value log line each):
    ``promotion`` (a challenger won today), ``keep`` (the incumbent stays, after its re-test),
    ``demotion`` (yesterday's champion is gone: its failed re-test, its age, its coin leaving the
    universe or a better challenger, from ``doc["demotions"]``) and ``skip`` (an active coin without one)."""
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
                **({} if promoted else {"retest": str((champ.get("retest") or {}).get("status", "none"))}),
            }
        )
    demoted = {(d["coin"], d["horizon"]): d for d in doc.get("demotions", [])}
    for (coin, horizon), gone in sorted(demoted.items()):
        retest = gone.get("retest") or {}
        events.append(
            {
                "kind": "demotion",
                "coin": coin,
                "horizon": horizon,
                "engine": str(gone.get("engine", "")),
                "model_day": str(gone.get("model_day", "")),
                "promoted_on": str(gone.get("promoted_on") or ""),
                **(
                    {
                        "retest_p_value": f"{retest['p_value']:.3g}",
                        "retest_shortfall_p_value": f"{retest['shortfall_p_value']:.3g}",
                    }
                    if "p_value" in retest
                    else {}
                ),
                "reason": gone["reason"],
            }
        )
    for champ in (previous or {}).get("champions", []):
        key = (champ["coin"], champ["horizon"])
        if key in today or key in demoted:
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
