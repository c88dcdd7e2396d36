"""Engines: one CatBoost model per feature family, declared as small objects.

An engine is a name, the features it may see, and CatBoost parameter overrides. Adding an
engine is adding one ``Engine(...)`` to ``ENGINES`` (or passing your own tuple to training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huracan_assets.core.features import family_features


@dataclass(frozen=True)
class Engine:
    name: str
    features: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""


ENGINES: tuple[Engine, ...] = (
    Engine(
        "momentum", tuple(family_features("momentum")), description="trend following on normalised returns"
    ),
    Engine("mean_reversion", tuple(family_features("mean_reversion")), description="fades stretched prices"),
    Engine(
        "breakout", tuple(family_features("breakout")), description="range position, wicks and vol expansion"
    ),
    Engine("flow", tuple(family_features("flow")), description="taker-buy pressure and volume surprises"),
)


def engine_by_name(name: str, engines: tuple[Engine, ...] = ENGINES) -> Engine:
    for engine in engines:
        if engine.name == name:
            return engine
    raise KeyError(f"unknown engine {name!r}; known: {[e.name for e in engines]}")
