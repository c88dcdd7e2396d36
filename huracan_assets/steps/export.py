"""The per-day work behind the ``export`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from huracan_assets.core import reports
from huracan_assets.core.integrity import heatmap_png
from huracan_assets.core.training import new_regressor
from huracan_assets.steps.frames import CODE_HASH
from huracan_assets.stores.files import StoredModels


def loadable_model(stored: StoredModels, champ: dict, features: pd.DataFrame) -> bytes:
    """The champion's stored ``.cbm`` bytes, once they load and predict a real feature row.

    The row is the coin's newest feature row of the export day, in the model's feature order; the
    prediction must be finite. Raises with the file and what went wrong, so the export can drop
    the champion with that reason instead of publishing a model the consumer cannot load.
    """
    engine, horizon, regime = champ["engine"], champ["horizon"], champ["model_regime"]
    path = stored.model_path(engine, horizon, regime)
    meta = stored.model_metadata(engine, horizon, regime)
    blob = stored.read_verified(path.name)  # checked against bundle.json's digest
    rows = features[features["symbol"] == champ["coin"]] if "symbol" in features else features.iloc[0:0]
    if rows.empty:
        raise ValueError(f"no feature row of {champ['coin']} on the export day to test {path} with")
    names = list(meta["feature_names"])
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(f"{path}: feature row lacks {missing[:5]}")
    row = rows.sort_values("open_time").tail(1)[names] if "open_time" in rows else rows.tail(1)[names]
    model = new_regressor()
    model.load_model(blob=blob)
    if list(model.feature_names_ or names) != names:
        raise ValueError(f"{path}: model features {model.feature_names_} differ from its metadata's {names}")
    prediction = float(np.asarray(model.predict(row.to_numpy(dtype=float))).ravel()[0])
    if not np.isfinite(prediction):
        raise ValueError(f"{path}: predicts {prediction} on the newest feature row")
    return blob


def export_files(
    day: str,
    champions: dict,
    models: dict[tuple[str, str], StoredModels],
    scores: pd.DataFrame,
    consensus: pd.DataFrame,
    integrity: dict,
    universe: pd.DataFrame,
    fhash: str,
    features: pd.DataFrame,
    unreadable: dict[str, str] | None = None,
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """Every file of the day folder (except the manifest), the training window it covers, and the
    champions dropped because their stored model does not load and predict (``coin/horizon`` -> why).

    ``features``: the day's feature rows of every coin (``symbol`` column), to test each model on.
    ``unreadable``: coin -> the error of a stored input partition of the day that was refused
    (damaged or foreign, moved aside): that coin's champions are dropped with it, and the summary
    lists it under ``inputs_unreadable``.
    """
    unreadable = unreadable or {}
    files: dict[str, bytes] = {}
    starts, ends = [], []
    dropped: dict[str, str] = {}
    exported = []
    for champ in champions["champions"]:
        stored = models.get((champ["coin"], champ["model_day"]))
        name = f"{champ['coin']}/{champ['horizon']}"
        try:
            if champ["coin"] in unreadable:
                dropped[name] = f"not exported: stored input unreadable: {unreadable[champ['coin']]}"
                continue
            if stored is not None and stored.status == "unreadable":
                dropped[name] = f"not exported: {stored.reason}"
                continue
            if stored is None:
                raise FileNotFoundError(f"no stored models of {champ['coin']} for {champ['model_day']}")
            blob = loadable_model(stored, champ, features)
        except Exception as error:  # noqa: BLE001 - a damaged model is dropped with its reason, not published
            where = (
                stored.model_path(champ["engine"], champ["horizon"], champ["model_regime"])
                if stored is not None
                else f"models {champ['coin']}|{champ['model_day']}"
            )
            dropped[name] = f"not exported: stored model {where} unusable: {type(error).__name__}: {error}"
            continue
        meta = stored.model_metadata(champ["engine"], champ["horizon"], champ["model_regime"])
        folder = f"champions/{champ['coin']}/{champ['horizon']}"
        files[f"{folder}/model.cbm"] = blob
        files[f"{folder}/metadata.json"] = reports.to_json_bytes(
            reports.champion_metadata(champ, meta, fhash)
        )
        starts.append(meta["train_window"]["start"])
        ends.append(meta["train_window"]["end"])
        exported.append(champ)
    day_scores = scores[scores["date"] == day] if len(scores) else scores
    day_consensus = consensus[consensus["date"] == day] if len(consensus) else consensus
    files["reports/metrics.json"] = reports.to_json_bytes(reports.metrics_report(day, day_scores))
    files["reports/costs.json"] = reports.to_json_bytes(
        reports.costs_report(day, day_scores, reports.gbp_rate_used(universe))
    )
    files["reports/regime_map.json"] = reports.to_json_bytes(
        reports.regime_map(day, champions["regimes"], day_consensus)
    )
    files["reports/decision_log.jsonl"] = reports.decision_log_lines(day_consensus)
    files["reports/data_integrity.json"] = reports.to_json_bytes(integrity)
    if integrity.get("history"):
        files["reports/data_integrity_heatmap.png"] = heatmap_png(integrity["history"])
    files["reports/ranking.json"] = reports.to_json_bytes({"day": day, "entries": champions["ranking"]})
    files["reports/shadow_tests.json"] = reports.to_json_bytes(
        {"day": day, "tests": reports.sorted_records(champions.get("tests", []))}
    )
    files["reports/trials.json"] = reports.to_json_bytes(
        {
            "day": day,
            "trials": champions.get("trials", {}),
            "cold_starts": champions.get("cold_starts", {}),
        }
    )
    files["reports/champion_events.jsonl"] = reports.champion_event_lines(day, champions.get("events", []))
    files["reports/do_not_trade.json"] = reports.to_json_bytes(
        {"day": day, "entries": champions["do_not_trade"]}
    )
    window = {"start": min(starts), "end": max(ends)} if starts else {"start": day, "end": day}
    skipped = {c: r for c, r in champions["no_champion"].items()}
    summary = {
        "day": day,
        "coins_in_universe": int(len(universe)),
        "coins_eligible": int(universe["eligible"].sum()) if len(universe) else 0,
        "coins_active": len(champions["active_coins"]),
        "coins_trained": len(champions["trained_coins"]),
        "challengers": champions["challengers"],
        "champions_promoted_today": champions.get("promoted", 0),
        "champions_demoted_today": len(champions.get("demotions", [])),
        "demotions": [
            {k: d[k] for k in ("coin", "horizon", "engine", "model_day", "promoted_on", "reason")}
            for d in champions.get("demotions", [])
        ],
        "champions_exported": len(exported),
        "champion_coins": sorted({c["coin"] for c in exported}),
        "champions_dropped": dropped,
        "coins_skipped": skipped,
        "inputs_unreadable": dict(sorted(unreadable.items())),
        "do_not_trade": len(champions["do_not_trade"]),
        "features_hash": fhash,
        "code_hash": CODE_HASH,
        "training_window": window,
        "gbp_rate": reports.gbp_rate_used(universe),
    }
    files["reports/summary.json"] = reports.to_json_bytes(summary)
    return files, window, dropped
