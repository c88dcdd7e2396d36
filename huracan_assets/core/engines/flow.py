"""Engine `flow`: taker-buy pressure and volume surprises."""

from huracan_assets.core.engines.base import Engine
from huracan_assets.core.features import family_features

ENGINE = Engine("flow", tuple(family_features("flow")), description="taker-buy pressure and volume surprises")
