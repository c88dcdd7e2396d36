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
from pandera.typing import Series

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


class ValidatedBarsSchema(pa.DataFrameModel):
    """One coin-day of validated candles: unique, sorted, OHLC-consistent, no NaN after repair."""

    open_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    open: Series[float] = pa.Field(gt=0)
    high: Series[float] = pa.Field(gt=0)
    low: Series[float] = pa.Field(gt=0)
    close: Series[float] = pa.Field(gt=0)
    volume: Series[float] = pa.Field(ge=0)
    quote_volume: Series[float] = pa.Field(ge=0)
    trades: Series[int] = pa.Field(ge=0)
    taker_buy_base: Series[float] = pa.Field(ge=0)
    taker_buy_quote: Series[float] = pa.Field(ge=0)
    vendor: Series[str]
    repaired: Series[bool]
    outlier: Series[bool]

    @pa.dataframe_check(error="open_time must be unique within the coin-day")
    def unique_times(cls, df: pd.DataFrame) -> pd.Series:
        return unique_within_partition(df, "open_time")

    @pa.dataframe_check(error="open_time must be strictly increasing")
    def sorted_times(cls, df: pd.DataFrame) -> pd.Series:
        return increasing_within_partition(df, "open_time")

    @pa.dataframe_check(error="high must be >= max(open, close) and >= low")
    def high_encloses(cls, df: pd.DataFrame) -> pd.Series:
        return (df["high"] >= np.maximum(df["open"], df["close"]) * (1 - 1e-9)) & (df["high"] >= df["low"])

    @pa.dataframe_check(error="low must be <= min(open, close)")
    def low_encloses(cls, df: pd.DataFrame) -> pd.Series:
        return df["low"] <= np.minimum(df["open"], df["close"]) * (1 + 1e-9)

    @pa.dataframe_check(error="taker-buy volume cannot exceed volume")
    def taker_within_volume(cls, df: pd.DataFrame) -> pd.Series:
        return df["taker_buy_base"] <= df["volume"] * (1 + 1e-9) + 1e-12

    class Config:
        strict = False
        coerce = False


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


class LabelsSchema(pa.DataFrameModel):
    """Labels in long format: fill strictly after decision, exit after fill, finite bps."""

    decision_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    horizon: Series[str]
    fill_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    exit_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    fwd_return_bps: Series[float] = pa.Field(in_range={"min_value": -1e5, "max_value": 1e5})

    @pa.dataframe_check(error="the fill must come after the decision and the exit after the fill")
    def causal(cls, df: pd.DataFrame) -> pd.Series:
        return (df["fill_time"] > df["decision_time"]) & (df["exit_time"] > df["fill_time"])

    class Config:
        strict = False


FeaturesSchema = _features_schema()
