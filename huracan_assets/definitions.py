"""The one Definitions object of the Huracan code location."""

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
from huracan_assets.automation.schedules import build_schedules
from huracan_assets.automation.sensors import build_sensors
from huracan_assets.checks import asset_checks
from huracan_assets.config import HuracanSettings, load_settings
from huracan_assets.partitions import build_partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import io_managers

STEPS = (universe, bars, features, labels, models, scores, consensus, champions, integrity, export)


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
    sim = settings.simulator
    source = settings.market_data
    return dg.Definitions(
        assets=[a for step in STEPS for a in step.build(partitions)],
        asset_checks=asset_checks.build(partitions),
        jobs=jobs.all(),
        schedules=build_schedules(jobs),
        sensors=build_sensors(jobs, partitions),
        resources={
            "market_data": market_data
            or MarketDataResource(
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
            ),
            "compute": ComputeResource(),
            "huracan_settings": settings_resource or HuracanSettingsResource.from_settings(settings),
            "publisher": publisher or PublisherResource.from_settings(settings.publisher),
            **io_managers(storage_dir),
        },
    )


defs = build_definitions()
