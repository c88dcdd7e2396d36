"""Settings as a resource: base.yaml < HURACAN_* environment < this resource's Dagster config."""

from functools import lru_cache
from typing import Any

import dagster as dg
from pydantic import ValidationError

from huracan_assets.config import HuracanSettings, SettingsError, load_settings
from huracan_assets.config.settings import describe_validation_error


class HuracanSettingsResource(dg.ConfigurableResource):
    """The settings every asset reads, with optional per-run overrides from Dagster config.

    ``settings_json``: the settings the code location was built with (base.yaml + environment
    + CLI flags), so the partition mappings and the assets agree; empty means "load now".
    Unset override fields keep that value. ``lookback_days`` may only shrink the window: the
    partition mappings were built at load time.
    """

    settings_json: str = ""
    lookback_days: int | None = None
    dry_run: bool | None = None
    risk_preset: str | None = None
    min_liquidity_gbp: float | None = None
    max_spread_bps: float | None = None
    min_edge_after_cost_bps: float | None = None
    max_coins: int | None = None

    @classmethod
    def from_settings(cls, settings: HuracanSettings, **overrides: Any) -> "HuracanSettingsResource":
        return cls(settings_json=settings.model_dump_json(), **overrides)

    def get(self) -> HuracanSettings:
        base = _parsed(self.settings_json).model_copy(deep=True) if self.settings_json else load_settings()
        overrides = {
            key: getattr(self, key)
            for key in (
                "lookback_days",
                "dry_run",
                "risk_preset",
                "min_liquidity_gbp",
                "max_spread_bps",
                "min_edge_after_cost_bps",
                "max_coins",
            )
            if getattr(self, key) is not None
        }
        if not overrides:
            return base
        if overrides.get("lookback_days", 0) > base.lookback_days:
            raise SettingsError(
                f"huracan_settings.lookback_days={overrides['lookback_days']} exceeds the {base.lookback_days} days the "
                "partition mappings were built with; set HURACAN_LOOKBACK_DAYS before loading the code location"
            )
        try:
            return HuracanSettings.model_validate({**base.model_dump(), **overrides})
        except ValidationError as error:
            raise SettingsError(
                f"invalid huracan_settings config: {describe_validation_error(error)}"
            ) from None


@lru_cache(maxsize=8)
def _parsed(settings_json: str) -> HuracanSettings:
    """``settings_json`` validated once per process: every step of a run asks for the settings, and
    validating them again ran pydantic-settings' sources (base.yaml read and parsed) each time.
    Callers get a deep copy, so no step sees another's changes."""
    return HuracanSettings.model_validate_json(settings_json)
