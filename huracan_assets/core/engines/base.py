"""What an engine is: a name, the features it may see, CatBoost parameter overrides."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Engine:
    """One CatBoost model family. ``features`` are model inputs in model order."""

    name: str
    features: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
