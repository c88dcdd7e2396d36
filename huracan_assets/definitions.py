"""The one Definitions object of the Huracan code location."""

import hashlib
import json

import dagster as dg

from huracan_assets.assets import (
    bars,
    champions,
    consensus,
    export,
    features,
    integrity,
    labels,
    models,
    scores,
    universe,
)
from huracan_assets.automation.jobs import build_jobs
from huracan_assets.automation.sensors import build_sensors
from huracan_assets.checks import asset_checks
from huracan_assets.checks.loading import STORED_ATTRS_LOADER, stored_attrs_loader
from huracan_assets.config import HuracanSettings, load_settings
from huracan_assets.partitions import build_partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import io_managers

STEPS = (bars, features, labels, models, scores, consensus, champions, integrity, export)


def universe_code_version(market_data: MarketDataResource, settings: HuracanSettings) -> str:
    """Code version of ``coin_universe``: which market it reads, the eligibility rules and, on
    perpetuals, the venue and the funding window.

    A universe day built for another market (more simulated coins, another source) is stale,
    in the UI and for the plan, and is rebuilt before coins are added.
    """
    # on perpetuals the universe also carries each coin's funding over the look-back window
    funding = (settings.venue, settings.lookback_days) if settings.venue != "binance_spot" else ()
    rules = (settings.min_liquidity_gbp, settings.max_spread_bps, settings.max_coins, *funding)
    text = json.dumps([market_data.model_dump(mode="json"), rules], sort_keys=True, default=str)
    return "universe-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def build_definitions(
    settings: HuracanSettings | None = None,
    *,
    market_data: MarketDataResource | None = None,
    publisher: PublisherResource | None = None,
    storage_dir: str | None = None,
    settings_resource: HuracanSettingsResource | None = None,
) -> dg.Definitions:
    """Everything Dagster loads: assets, checks, jobs, schedules, sensors and resources."""
    settings = settings or load_settings()
    partitions = build_partitions(settings)
    jobs = build_jobs()
    storage = io_managers(storage_dir)
    sim = settings.simulator
    source = settings.market_data
    market_data = market_data or MarketDataResource(
        source=source.source,
        binance_base_url=source.binance_base_url,
        archive_dir=source.archive_dir,
        archive_fill_from_api=source.archive_fill_from_api,
        archive_cross_check=source.archive_cross_check,
        timeframe=settings.timeframe,
        sim_seed=sim.seed,
        sim_coins=sim.n_coins,
        sim_planted_fraction=sim.planted_fraction,
        sim_planted_edge_bps=sim.planted_edge_bps,
    )
    return dg.Definitions(
        assets=[
            *universe.build(partitions, code_version=universe_code_version(market_data, settings)),
            *(a for step in STEPS for a in step.build(partitions)),
        ],
        asset_checks=asset_checks.build(partitions),
        jobs=jobs.all(),
        sensors=build_sensors(partitions, jobs, storage["io_manager"], storage["model_io_manager"]),
        # one process per run: parallelism lives inside steps (compute seam), not in step processes
        executor=dg.in_process_executor,
        resources={
            "market_data": market_data,
            "compute": ComputeResource.from_settings(settings),
            "metrics": MetricsResource.from_settings(settings),
            "huracan_settings": settings_resource or HuracanSettingsResource.from_settings(settings),
            "publisher": publisher or PublisherResource.from_settings(settings.publisher),
            **storage,
            # quality records from Parquet footers (source-quality checks, the integrity report)
            STORED_ATTRS_LOADER: stored_attrs_loader,
        },
    )


defs = build_definitions()
