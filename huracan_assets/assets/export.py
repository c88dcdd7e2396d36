"""dropbox_export[date]: champions and reports under a manifest; LATEST written last.

Where the bytes go (a local folder or Dropbox) is the ``publisher`` resource's business; the
layout, order and retention are the same for both (:mod:`huracan_assets.core.publishing`).
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    CODE_HASH,
    CODE_VERSION,
    ONE_DAY_PER_RUN,
    OUTSIDE_SYSTEM_RETRIES,
    run_keys,
)
from huracan_assets.core import reports
from huracan_assets.core.features import features_hash
from huracan_assets.core.integrity import heatmap_png
from huracan_assets.core.publishing import ExportPlan
from huracan_assets.partitions import Partitions
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import StoredModels


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


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        retry_policy=OUTSIDE_SYSTEM_RETRIES,
        code_version=CODE_VERSION,
        partitions_def=partitions.days,
        backfill_policy=ONE_DAY_PER_RUN,
        group_name="publishing",
        io_manager_key="json_io_manager",
        kinds={"json"},
        ins={
            "champions": dg.AssetIn(),
            "data_integrity_report": dg.AssetIn(),
            "coin_universe": dg.AssetIn(),
            "models": dg.AssetIn(
                partition_mapping=partitions.days_all_coins(partitions.max_champion_age_days),
                metadata={"load": "by_partition", "allow_missing": True},
            ),
            "scores": dg.AssetIn(partition_mapping=partitions.by_day),
            "consensus": dg.AssetIn(partition_mapping=partitions.by_day),
        },
        description="Publishes champions (model.cbm + metadata.json) and the day's reports under a manifest "
        "with SHA-256 of every file, to a local folder or Dropbox (the publisher resource); LATEST is written "
        "last. dry_run plans everything and writes nothing.",
    )
    def dropbox_export(
        context: dg.AssetExecutionContext,
        champions: dict,
        data_integrity_report: dict,
        coin_universe: pd.DataFrame,
        models: dict[str, StoredModels],
        scores: pd.DataFrame,
        consensus: pd.DataFrame,
        publisher: PublisherResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, dict]:
        settings = huracan_settings.get()
        keys = run_keys(context)
        champions_by_day = champions if len(keys) > 1 else {keys[0]: champions}
        integrity_by_day = data_integrity_report if len(keys) > 1 else {keys[0]: data_integrity_report}
        fhash = features_hash()
        sink = publisher.publisher(dry_run=settings.dry_run)
        out = {}
        for day in keys:
            universe = coin_universe[coin_universe["date"] == day]
            files, window = export_files(
                day,
                champions_by_day[day],
                {(m.coin, m.day): m for m in models.values()},
                scores,
                consensus,
                integrity_by_day[day],
                universe,
                fhash,
            )
            plan = ExportPlan.create(
                day,
                files,
                features_hash=fhash,
                code_hash=CODE_HASH,
                training_window=window,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            result = sink.publish(plan)
            out[day] = {
                "day": day,
                "location": result.location,
                "dry_run": result.dry_run,
                "files_written": result.files_written,
                "bytes_written": result.bytes_written,
                "files_reused": result.files_reused,
                "latest": result.latest,
                "pruned": result.pruned,
                "plan": result.plan,
                "features_hash": fhash,
                "code_hash": CODE_HASH,
            }
            context.log.info(
                f"event=export day={day} location={result.location} dry_run={result.dry_run} "
                f"files_written={result.files_written} files_reused={result.files_reused} "
                f"bytes_written={result.bytes_written} latest={result.latest} pruned={','.join(result.pruned) or '-'}"
            )
            context.add_asset_metadata(
                {
                    "location": result.location,
                    "dry_run": result.dry_run,
                    "files": len(result.plan),
                    "files_written": result.files_written,
                    "files_reused": result.files_reused,
                    "bytes_written": result.bytes_written,
                    "latest": result.latest or "",
                    "pruned": ", ".join(result.pruned),
                    "champions_exported": len(champions_by_day[day]["champions"]),
                    "features_hash": fhash,
                    "code_hash": CODE_HASH,
                    "plan": dg.MetadataValue.md(
                        "\n".join(f"- `{p['path']}` ({p['bytes']} B)" for p in result.plan)
                    ),
                },
                partition_key=day,
            )
        return out

    return [dropbox_export]
