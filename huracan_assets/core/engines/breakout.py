"""Engine `breakout`: range position, wick imbalance and volatility expansion."""

from huracan_assets.core.engines.base import Engine
from huracan_assets.core.features import family_features

ENGINE = Engine(
    "breakout",
    tuple(family_features("breakout")),
    description="range position, wick imbalance and volatility expansion",
)
