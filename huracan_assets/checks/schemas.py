"""Pandera schemas of the per-coin tables: validated bars, features, labels.

The schemas validate one coin-day or, vectorised, many at once: when the frame carries the
``date``/``symbol`` partition columns of a dataset scan, uniqueness and ordering are checked
within each partition, so a daily run validates every coin in one call.
"""

from datetime import timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from huracan_assets.core.bars import NUMERIC_COLUMNS, PRICE_COLUMNS
from huracan_assets.core.features import FEATURE_NAMES

PARTITION_COLUMNS = ("date", "symbol")


def _groups(df: pd.DataFrame) -> list[str]:
    return [c for c in PARTITION_COLUMNS if c in df.columns]


def unique_within_partition(df: pd.DataFrame, column: str) -> pd.Series:
    return ~df.duplicated([*_groups(df), column], keep=False)


def increasing_within_partition(df: pd.DataFrame, column: str) -> pd.Series:
    groups = _groups(df)
    diff = df.groupby(groups, sort=False)[column].diff() if groups else df[column].diff()
    return diff.isna() | (diff > pd.Timedelta(0))


def _validated_bars_schema() -> pa.DataFrameSchema:
    """One coin-day of validated candles: unique, sorted, OHLC-consistent, no NaN after repair.

    Written with Pandera's object API rather than a ``DataFrameModel``: building a model's schema
    asks Pandera for every installed dataframe library's index types, which imports
    ``dask.dataframe`` (about a second and a half in every process that loads the code location)."""
    positive = [pa.Check.gt(0)]
    non_negative = [pa.Check.ge(0)]
    columns = {
        "open_time": pa.Column(pd.DatetimeTZDtype("ns", "UTC")),
        **{c: pa.Column(float, checks=positive) for c in ("open", "high", "low", "close")},
        **{c: pa.Column(float, checks=non_negative) for c in ("volume", "quote_volume")},
        "trades": pa.Column(int, checks=non_negative),
        **{c: pa.Column(float, checks=non_negative) for c in ("taker_buy_base", "taker_buy_quote")},
        "vendor": pa.Column(str),
        "repaired": pa.Column(bool),
        "outlier": pa.Column(bool),
    }
    checks = [
        pa.Check(
            lambda df: unique_within_partition(df, "open_time"),
            name="unique_times",
            error="open_time must be unique within the coin-day",
        ),
        pa.Check(
            lambda df: increasing_within_partition(df, "open_time"),
            name="sorted_times",
            error="open_time must be strictly increasing",
        ),
        pa.Check(
            lambda df: (
                (df["high"] >= np.maximum(df["open"], df["close"]) * (1 - 1e-9)) & (df["high"] >= df["low"])
            ),
            name="high_encloses",
            error="high must be >= max(open, close) and >= low",
        ),
        pa.Check(
            lambda df: df["low"] <= np.minimum(df["open"], df["close"]) * (1 + 1e-9),
            name="low_encloses",
            error="low must be <= min(open, close)",
        ),
        pa.Check(
            lambda df: df["taker_buy_base"] <= df["volume"] * (1 + 1e-9) + 1e-12,
            name="taker_within_volume",
            error="taker-buy volume cannot exceed volume",
        ),
    ]
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        strict=False,
        coerce=False,
        name="ValidatedBarsSchema",
        description="One coin-day of validated candles: unique, sorted, OHLC-consistent, no NaN after repair.",
    )


@lru_cache(maxsize=8)
def raw_bars_schema(bar: timedelta) -> pa.DataFrameSchema:
    """Candles as the exchange delivered them (before any repair), for a ``bar`` timeframe.

    Every column present and numeric (prices as strings fail), positive finite prices, OHLC
    consistent, non-negative volumes, open times unique, in order and on the timeframe grid,
    and a vendor on every candle. A failure here is a warning: validation repairs or drops.
    """
    bar_ns = int(bar.total_seconds() * 1e9)
    price = [pa.Check.gt(0, error="price must be > 0")]
    volume = [pa.Check.ge(0, error="volume must be >= 0")]
    columns = {
        "open_time": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=False),
        **{c: pa.Column(float, checks=price, nullable=False) for c in PRICE_COLUMNS},
        **{
            c: pa.Column(float, checks=volume, nullable=True)
            for c in NUMERIC_COLUMNS
            if c not in PRICE_COLUMNS and c != "trades"
        },
        "trades": pa.Column(
            checks=[
                pa.Check(lambda s: pd.api.types.is_numeric_dtype(s), error="trades must be numeric"),
            ]
        ),
        "vendor": pa.Column(str, nullable=False),
    }
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(lambda df: ~df.duplicated(["open_time"], keep=False), error="open_time must be unique"),
            pa.Check(
                lambda df: df["open_time"].diff().isna() | (df["open_time"].diff() > pd.Timedelta(0)),
                error="open_time must arrive in increasing order",
            ),
            pa.Check(
                lambda df: df["open_time"].astype("int64") % bar_ns == 0,
                error=f"open_time must lie on the {bar} grid",
            ),
            pa.Check(
                lambda df: (
                    (df["high"] >= np.maximum(df["open"], df["close"]) * (1 - 1e-9))
                    & (df["low"] <= np.minimum(df["open"], df["close"]) * (1 + 1e-9))
                    & (df["high"] >= df["low"])
                ),
                error="high/low must enclose open/close (and high >= low)",
            ),
        ],
        strict=False,
        name="RawBarsSchema",
    )


def _features_schema() -> pa.DataFrameSchema:
    finite = pa.Check(lambda s: ~np.isinf(s), error="no infinities")
    columns = {name: pa.Column(float, nullable=True, checks=finite) for name in FEATURE_NAMES}
    columns["open_time"] = pa.Column(pd.DatetimeTZDtype("ns", "UTC"))
    columns["taker_ratio"] = pa.Column(float, nullable=True, checks=pa.Check.in_range(0, 1))
    columns["range_pos_24h"] = pa.Column(float, nullable=True, checks=pa.Check.in_range(0, 1))
    columns["rsi_14"] = pa.Column(float, nullable=True, checks=pa.Check.in_range(-1, 1))
    columns["close"] = pa.Column(float, checks=pa.Check.gt(0))
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(lambda df: unique_within_partition(df, "open_time"), error="open_time must be unique")
        ],
        strict=False,
        name="FeaturesSchema",
    )


def _labels_schema() -> pa.DataFrameSchema:
    """Labels in long format: fill strictly after decision, exit after fill, finite bps."""
    timestamp = pd.DatetimeTZDtype("ns", "UTC")
    return pa.DataFrameSchema(
        {
            "decision_time": pa.Column(timestamp),
            "horizon": pa.Column(str),
            "fill_time": pa.Column(timestamp),
            "exit_time": pa.Column(timestamp),
            "fwd_return_bps": pa.Column(float, checks=pa.Check.in_range(-1e5, 1e5)),
        },
        checks=[
            pa.Check(
                lambda df: (df["fill_time"] > df["decision_time"]) & (df["exit_time"] > df["fill_time"]),
                name="causal",
                error="the fill must come after the decision and the exit after the fill",
            )
        ],
        strict=False,
        name="LabelsSchema",
        description="Labels in long format: fill strictly after decision, exit after fill, finite bps.",
    )


ValidatedBarsSchema = _validated_bars_schema()
FeaturesSchema = _features_schema()
LabelsSchema = _labels_schema()
