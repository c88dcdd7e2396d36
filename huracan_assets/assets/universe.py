"""coin_universe[date]: every USDT spot market with eligibility and the reason."""

from datetime import date, datetime

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import OUTSIDE_SYSTEM_RETRIES, SINGLE_RUN, run_keys
from huracan_assets.automation.conditions import day_closed
from huracan_assets.checks.catalog import universe_column_schema
from huracan_assets.config import HuracanSettings
from huracan_assets.config.settings import last_closed_day
from huracan_assets.core.costs import FundingHistory, funding_bps_per_day
from huracan_assets.core.publishing import ExportStoreError
from huracan_assets.core.universe import universe_of_day, with_funding
from huracan_assets.partitions import Partitions
from huracan_assets.resources.market_data import MarketDataResource, market_clock
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.steps.frames import end_of_day, markdown_table


def build(partitions: Partitions, code_version: str | None = None) -> list[dg.AssetsDefinition]:
    @dg.asset(
        metadata={"dagster/column_schema": universe_column_schema()},
        automation_condition=day_closed(),
        code_version=code_version,
        retry_policy=OUTSIDE_SYSTEM_RETRIES,
        partitions_def=partitions.days,
        backfill_policy=SINGLE_RUN,
        group_name="universe",
        kinds={"pandas", "parquet"},
        description="All USDT spot markets at the end of the day: 24h volume in GBP, spread, eligible + reason. "
        "Without a 24h ticker (archives, past days through the API) volume and spread come from candles "
        "(spread_source/volume_source say so). The day's first step: a Dropbox publisher's credentials and "
        "root are checked here, before any compute, however the day is launched.",
    )
    def coin_universe(
        context: dg.AssetExecutionContext,
        market_data: MarketDataResource,
        huracan_settings: HuracanSettingsResource,
        publisher: PublisherResource,
        # unused here: every job's run pushes its metrics (the run and its steps) when it ends
        metrics: MetricsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        _preflight(publisher, run_keys(context))
        client = market_data.client()
        out = {}
        clock = market_clock(client)
        for key in run_keys(context):
            as_of = end_of_day(pd.Timestamp(key).date())
            if clock is not None:
                _refuse_past_the_clock(key, *clock)
            universe, rate, source = universe_of_day(client, as_of, settings)
            if settings.venue != "binance_spot":
                universe = with_funding(universe, _funding(client, universe, as_of, settings))
            out[key] = universe
            ineligible = universe[~universe["eligible"]]
            context.add_asset_metadata(
                {
                    "markets": len(universe),
                    "eligible": int(universe["eligible"].sum()),
                    "usdt_per_gbp": rate,
                    "gbp_rate_source": source,
                    "spread_sources": ", ".join(
                        f"{k}={v}"
                        for k, v in universe["spread_source"].replace("", "none").value_counts().items()
                    ),
                    "volume_sources": ", ".join(
                        f"{k}={v}"
                        for k, v in universe["volume_source"].replace("", "none").value_counts().items()
                    ),
                    "eligible_coins": ", ".join(universe.loc[universe["eligible"], "coin"]),
                    "ineligible": dg.MetadataValue.md(
                        markdown_table(
                            ineligible.to_dict("records"),
                            ["coin", "quote_volume_gbp", "spread_bps", "reason"],
                        )
                    ),
                },
                partition_key=key,
            )
        return out

    return [coin_universe]


def _preflight(publisher: PublisherResource, days: list[str]) -> None:
    """The export's publisher before the day is computed (the daemon's and the UI's runs; ``huracan
    daily`` checks it before its first run too): one line naming the variables or the setting,
    never a value, and no retry (credentials do not heal by waiting)."""
    try:
        publisher.preflight()
    except ExportStoreError as error:
        label = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
        raise dg.Failure(
            f"coin_universe[{label}]: publisher.kind={publisher.kind}: {error}", allow_retries=False
        ) from None


def _refuse_past_the_clock(day: str, now: pd.Timestamp | None, clock: str) -> None:
    """A day the market's own clock has not closed (a partition launched from the UI or by the
    daemon ahead of the exchange) fails in one line naming the clock, not as "no eligible coin"."""
    if now is None:
        raise dg.Failure(
            f"coin_universe[{day}]: the market has no data yet: {clock} holds no candle", allow_retries=False
        )
    latest = last_closed_day(now.to_pydatetime())
    if date.fromisoformat(day) > latest:
        raise dg.Failure(
            f"coin_universe[{day}]: the market has no whole day of data for {day} yet: {clock} says "
            f"{now.isoformat()} (latest closed day: {latest})",
            allow_retries=False,
        )


def _funding(
    client: object, universe: pd.DataFrame, as_of: datetime, settings: HuracanSettings
) -> dict[str, tuple[float, str, str]]:
    """coin -> (funding bps per day, source, settlements) for the eligible coins of a perpetuals
    venue: each coin's 8 h settlements over the look-back window where the source has a history
    (each position pays those it spans; the per-day figure is the window's summary)."""
    fetch = getattr(client, "funding_rates", None)
    fallback = (settings.fee.funding_bps_per_day, f"config:fees.{settings.venue}.funding_bps_per_day", "")
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=settings.lookback_days)
    out = {}
    for coin in universe.loc[universe["eligible"], "coin"]:
        if fetch is None:
            out[coin] = fallback
            continue
        history = fetch(coin, start.to_pydatetime(), end.to_pydatetime())
        rates = history["funding_rate"]
        bps = funding_bps_per_day(list(rates), settings.lookback_days)
        if pd.isna(bps):
            out[coin] = fallback
            continue
        times = pd.to_datetime(history["funding_time"], utc=True).dt.tz_localize(None).to_numpy()
        settlements = FundingHistory(times, rates.to_numpy(dtype=float)).to_json()
        out[coin] = (bps, f"history:{len(rates)} settlements", settlements)
    return out
