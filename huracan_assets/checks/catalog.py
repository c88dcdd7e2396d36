"""Column schemas for the asset catalog: a table asset shows its columns, with types and the
Pandera checks on them, taken from the same schemas the asset checks validate against."""

import dagster as dg
from dagster_pandera import pandera_schema_to_dagster_type

from huracan_assets.core.universe import UNIVERSE_COLUMNS

_UNIVERSE_TYPES = {
    "quote_volume_usdt": "float64",
    "quote_volume_gbp": "float64",
    "spread_bps": "float64",
    "spread_lower_bps": "float64",
    "usdt_per_gbp": "float64",
    "listed_at": "datetime64[ns, UTC]",
    "eligible": "bool",
    "funding_bps_per_day": "float64",
}
_UNIVERSE_DESCRIPTIONS = {
    "quote_volume_gbp": "24h quote volume in GBP",
    "spread_bps": "quoted bid/ask spread, or the EDGE estimate from candles floored at one tick, bps",
    "spread_lower_bps": "the quote, or the estimate's lower bound (3 standard errors), bps",
    "spread_source": "quote, or edge:<candles> (the estimator and the candles it used)",
    "eligible": "volume >= min_liquidity_gbp and spread (an estimate's lower bound) <= max_spread_bps",
    "reason": "why a market is not eligible",
    "funding_bps_per_day": "perpetuals: funding per day from the look-back's 8 h settlements, bps (spot: empty)",
    "funding_source": "history:<N> settlements, or config:<key> where the source has no funding history",
    "funding_settlements": "perpetuals: the look-back's 8 h settlements as JSON {t: [unix s], r: [rate]}; "
    "each position pays those it spans",
}


def column_schema(schema: object) -> dg.TableSchema:
    """The ``dagster/column_schema`` of a Pandera ``DataFrameModel`` or ``DataFrameSchema``."""
    return pandera_schema_to_dagster_type(schema).metadata["schema"].schema


def universe_column_schema() -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, _UNIVERSE_TYPES.get(name, "string"), _UNIVERSE_DESCRIPTIONS.get(name))
            for name in UNIVERSE_COLUMNS
        ]
    )
