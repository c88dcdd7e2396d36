"""Settings as a resource: base.yaml < HURACAN_* environment < this resource's Dagster config."""

import dagster as dg

from huracan_assets.config import HuracanSettings, load_settings


class HuracanSettingsResource(dg.ConfigurableResource):
    """Per-run overrides of ``config/base.yaml``; unset fields keep the file/environment value.

    ``lookback_days`` may only shrink the window: the partition mappings were built at load
    time from the file/environment value.
    """

    lookback_days: int | None = None
    dry_run: bool | None = None
    risk_preset: str | None = None
    min_liquidity_gbp: float | None = None
    max_spread_bps: float | None = None
    min_edge_after_cost_bps: float | None = None
    max_coins: int | None = None
    training_iterations: int | None = None

    def get(self) -> HuracanSettings:
        overrides = {
            "lookback_days": self.lookback_days,
            "dry_run": self.dry_run,
            "risk_preset": self.risk_preset,
            "min_liquidity_gbp": self.min_liquidity_gbp,
            "max_spread_bps": self.max_spread_bps,
            "min_edge_after_cost_bps": self.min_edge_after_cost_bps,
            "max_coins": self.max_coins,
        }
        if self.training_iterations is not None:
            overrides["training"] = {"iterations": self.training_iterations}
        settings = load_settings(**overrides)
        base = load_settings()
        if settings.lookback_days > base.lookback_days:
            raise dg.DagsterInvalidConfigError(
                f"huracan_settings.lookback_days={settings.lookback_days} exceeds the {base.lookback_days} days the "
                "partition mappings were built with; set HURACAN_LOOKBACK_DAYS before loading the code location",
                [],
                None,
            )
        return settings
