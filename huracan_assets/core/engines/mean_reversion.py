"""Engine `mean_reversion`: fades prices stretched from their moving averages (EMA gaps, RSI, Bollinger)."""

from huracan_assets.core.engines.base import Engine
from huracan_assets.core.features import family_features

ENGINE = Engine(
    "mean_reversion",
    tuple(family_features("mean_reversion")),
    description="fades prices stretched from their moving averages (EMA gaps, RSI, Bollinger)",
)
