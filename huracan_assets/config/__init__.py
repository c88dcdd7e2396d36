"""Typed settings: config/base.yaml, overridden by HURACAN_* environment variables and Dagster config."""

from huracan_assets.config.settings import (
    FeeSchedule,
    HuracanSettings,
    RiskPreset,
    SettingsError,
    load_settings,
    parse_duration,
)

__all__ = [
    "FeeSchedule",
    "HuracanSettings",
    "RiskPreset",
    "SettingsError",
    "load_settings",
    "parse_duration",
]
