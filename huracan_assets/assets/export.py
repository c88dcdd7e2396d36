"""dropbox_export[date]: champions and reports under a manifest; LATEST written last.

Where the bytes go (a local folder or Dropbox) is the ``publisher`` resource's business; the
layout, order and retention are the same for both (:mod:`huracan_assets.core.publishing`).
"""

import os
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    ONE_DAY_PER_RUN,
    OUTSIDE_SYSTEM_RETRIES,
    coin_failed,
    run_keys,
    unreadable_coins,
)
from huracan_assets.core.features import features_hash
from huracan_assets.core.publishing import ExportPlan
from huracan_assets.core.signing import signer_from_env
from huracan_assets.partitions import Partitions
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinDayModels, run_started_at
from huracan_assets.steps.export import export_files
from huracan_assets.steps.frames import CODE_HASH, CODE_VERSION


def run_started(context: dg.AssetExecutionContext) -> float:
    """When this run started (UTC epoch seconds): what killed runs left before it is theirs."""
    started = run_started_at(context.instance, context.run.run_id)
    return datetime.now(UTC).timestamp() if started is None else started


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
            # each champion's folder read when it is exported, not all 30 days'
            "models": dg.AssetIn(
                partition_mapping=partitions.days_all_coins(partitions.max_champion_age_days),
                metadata={"load": "lazy", "allow_missing": True},
            ),
            "scores": dg.AssetIn(partition_mapping=partitions.by_day),
            "consensus": dg.AssetIn(partition_mapping=partitions.by_day),
            # each champion's model must load and predict the day's real feature row before export
            "features": dg.AssetIn(partition_mapping=partitions.by_day),
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
        models: CoinDayModels,
        scores: pd.DataFrame,
        consensus: pd.DataFrame,
        features: pd.DataFrame,
        publisher: PublisherResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, dict]:
        settings = huracan_settings.get()
        keys = run_keys(context)
        champions_by_day = champions if len(keys) > 1 else {keys[0]: champions}
        integrity_by_day = data_integrity_report if len(keys) > 1 else {keys[0]: data_integrity_report}
        fhash = features_hash()
        sink = publisher.publisher(dry_run=settings.dry_run)
        # the private key comes from the environment only and never leaves this object
        signer = signer_from_env(os.environ)
        out = {}
        # a refused stored partition (moved aside): its coin's champions are dropped, named
        refused = unreadable_coins(scores, consensus, features)
        for coin, error in sorted(refused.items()):
            coin_failed(context, metrics, f"coin={coin} error={error}")
        for day in keys:
            universe = coin_universe[coin_universe["date"] == day]
            files, window, dropped = export_files(
                day,
                champions_by_day[day],
                models,
                scores,
                consensus,
                integrity_by_day[day],
                universe,
                fhash,
                features[features["date"] == day] if len(features) else features,
                refused,
            )
            for name, reason in dropped.items():
                context.log.error(f"event=champion_dropped day={day} champion={name} reason={reason}")
            plan = ExportPlan.create(
                day,
                files,
                features_hash=fhash,
                code_hash=CODE_HASH,
                training_window=window,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                signer=signer,
            )
            result = sink.publish(plan, leftovers_before=run_started(context))
            for leftover in result.leftovers:
                context.log.warning(f"event=export_leftover day={day} action={leftover!r}")
            metrics.run.export_bytes.inc(result.bytes_written)
            out[day] = {
                "day": day,
                "location": result.location,
                "dry_run": result.dry_run,
                "files_written": result.files_written,
                "bytes_written": result.bytes_written,
                "files_reused": result.files_reused,
                "latest": result.latest,
                "pruned": result.pruned,
                "leftovers": result.leftovers,
                "plan": result.plan,
                "features_hash": fhash,
                "code_hash": CODE_HASH,
                "champions_dropped": dropped,
                "signed_by": signer.key_id if signer is not None else "",
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
                    "champions_exported": len(champions_by_day[day]["champions"]) - len(dropped),
                    "champions_dropped": "; ".join(f"{k}: {v}" for k, v in dropped.items()) or "none",
                    "features_hash": fhash,
                    "code_hash": CODE_HASH,
                    "signed_by": signer.key_id if signer is not None else "unsigned",
                    "plan": dg.MetadataValue.md(
                        "\n".join(f"- `{p['path']}` ({p['bytes']} B)" for p in result.plan)
                    ),
                },
                partition_key=day,
            )
        return out

    return [dropbox_export]
