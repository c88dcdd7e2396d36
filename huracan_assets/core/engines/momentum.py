"""Engine `momentum`: trend following on volatility-normalised returns and the efficiency ratio."""

from huracan_assets.core.engines.base import Engine
from huracan_assets.core.features import family_features

ENGINE = Engine(
    "momentum",
    tuple(family_features("momentum")),
    description="trend following on volatility-normalised returns and the efficiency ratio",
)
