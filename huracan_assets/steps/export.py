"""The per-day work behind the ``export`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

import pandas as pd

from huracan_assets.core import reports
from huracan_assets.core.integrity import heatmap_png
from huracan_assets.steps.frames import CODE_HASH
from huracan_assets.stores.files import StoredModels


def export_files(
    day: str,
    champions: dict,
    models: dict[tuple[str, str], StoredModels],
    scores: pd.DataFrame,
    consensus: pd.DataFrame,
    integrity: dict,
    universe: pd.DataFrame,
    fhash: str,
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every file of the day folder (except the manifest) and the training window it covers."""
    files: dict[str, bytes] = {}
    starts, ends = [], []
    for champ in champions["champions"]:
        stored = models[(champ["coin"], champ["model_day"])]
        meta = stored.model_metadata(champ["engine"], champ["horizon"], champ["model_regime"])
        folder = f"champions/{champ['coin']}/{champ['horizon']}"
        files[f"{folder}/model.cbm"] = stored.model_path(
            champ["engine"], champ["horizon"], champ["model_regime"]
        ).read_bytes()
        files[f"{folder}/metadata.json"] = reports.to_json_bytes(
            reports.champion_metadata(champ, meta, fhash)
        )
        starts.append(meta["train_window"]["start"])
        ends.append(meta["train_window"]["end"])
    day_scores = scores[scores["date"] == day] if len(scores) else scores
    day_consensus = consensus[consensus["date"] == day] if len(consensus) else consensus
    files["reports/metrics.json"] = reports.to_json_bytes(reports.metrics_report(day, day_scores))
    files["reports/costs.json"] = reports.to_json_bytes(reports.costs_report(day, day_scores))
    files["reports/regime_map.json"] = reports.to_json_bytes(
        reports.regime_map(day, champions["regimes"], day_consensus)
    )
    files["reports/decision_log.jsonl"] = reports.decision_log_lines(day_consensus)
    files["reports/data_integrity.json"] = reports.to_json_bytes(integrity)
    if integrity.get("history"):
        files["reports/data_integrity_heatmap.png"] = heatmap_png(integrity["history"])
    files["reports/ranking.json"] = reports.to_json_bytes({"day": day, "entries": champions["ranking"]})
    files["reports/shadow_tests.json"] = reports.to_json_bytes(
        {"day": day, "tests": champions.get("tests", [])}
    )
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
        "champions_exported": len(champions["champions"]),
        "champion_coins": sorted({c["coin"] for c in champions["champions"]}),
        "coins_skipped": skipped,
        "do_not_trade": len(champions["do_not_trade"]),
        "features_hash": fhash,
        "code_hash": CODE_HASH,
        "training_window": window,
    }
    files["reports/summary.json"] = reports.to_json_bytes(summary)
    return files, window
