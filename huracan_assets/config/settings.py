"""Settings for Huracan.

Precedence (highest first): explicit overrides (Dagster config of the `huracan_settings`
resource, CLI flags) > environment variables `HURACAN_<KEY>` (nested keys joined by
``__``) > ``config/base.yaml``. A bad value fails at load with the key named.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

BASE_YAML = Path(__file__).with_name("base.yaml")

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """A setting failed validation; the message names every offending key."""


def parse_duration(text: str | timedelta) -> timedelta:
    """Parse "30s", "5m", "1h", "1d" into a timedelta."""
    if isinstance(text, timedelta):
        return text
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration like '5m', '1h' or '1d': {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_instant(text: str) -> datetime:
    """Parse an ISO instant ("2025-11-21T00:00:00Z", "2025-11-21") as an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a UTC instant like '2025-11-21T00:00:00Z': {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def last_closed_day(instant: datetime) -> date:
    """The newest UTC day that has ended by ``instant`` (a UTC instant)."""
    return (instant - timedelta(days=1)).date()


def _check_duration(value: Any) -> str:
    parse_duration(value)
    return str(value).strip()


Duration = Annotated[str, BeforeValidator(_check_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeeSchedule(_Strict):
    maker_bps: float = Field(ge=0, le=100)
    taker_bps: float = Field(ge=0, le=100)
    funding_bps_per_day: float = Field(default=0.0, ge=0, le=100)
    # spot only: shorting means borrowing the coin on margin; "borrow" pays short_borrow_bps_per_day
    # for every day a short is held, "none" takes no short (a sell signal stays out)
    spot_shorts: Literal["borrow", "none"] = "borrow"
    short_borrow_bps_per_day: float = Field(default=5.0, ge=0, le=1000)


class RiskPreset(_Strict):
    order_notional_gbp: float = Field(gt=0)
    signal_threshold: float = Field(gt=0, lt=1)
    alpha: float = Field(gt=0, lt=0.5)


class TrainingSettings(_Strict):
    iterations: int = Field(ge=10, le=5000)
    depth: int = Field(ge=2, le=10)
    learning_rate: float = Field(gt=0, le=1)
    l2_leaf_reg: float = Field(ge=0)
    early_stopping_rounds: int = Field(ge=5)
    test_fraction: float = Field(gt=0.05, lt=0.6)
    min_train_rows: int = Field(ge=50)
    thread_count: int = Field(ge=1)
    seed: int
    slippage_k: float = Field(ge=0)
    cold_start_folds: int = Field(ge=1, le=20)
    cold_start_fraction: float = Field(gt=0.05, lt=0.9)
    min_regime_samples: int = Field(ge=20)
    regime_iterations: int = Field(ge=1, le=2000)


class ChampionSettings(_Strict):
    min_trades: int = Field(ge=1)
    shadow_days: int = Field(ge=1, le=90)
    # a horizon's shadow record lasts until it can hold min_effective_samples non-overlapping
    # trades, at least shadow_days and at most max_shadow_days (HuracanSettings.shadow_days_for)
    max_shadow_days: int = Field(default=30, ge=1, le=365)
    max_age_days: int = Field(ge=1, le=365)
    dsr_min: float = Field(ge=0, lt=1)
    min_effective_samples: float = Field(ge=2)
    gate_min_trades: int = Field(ge=1)
    reliability_half_life_days: float = Field(gt=0)


class SimulatorSettings(_Strict):
    seed: int
    n_coins: int = Field(ge=2, le=2000)
    planted_fraction: float = Field(ge=0, le=1)
    planted_edge_bps: float = Field(ge=0)


class MarketDataSettings(_Strict):
    """Where candles come from; see ``resources/market_data.py``."""

    source: Literal["sim", "binance", "archives"] = "sim"
    binance_base_url: str = ""
    archive_dir: str = "archives"
    archive_fill_from_api: bool = False
    archive_cross_check: bool = False


class ComputeSettings(_Strict):
    """Where per-coin work inside a step runs; see ``resources/compute.py``."""

    mode: Literal["in_process", "dask"] = "in_process"
    # empty: a LocalCluster of n_workers processes (one thread each) for the run; else a scheduler
    dask_address: str = ""
    n_workers: int = Field(default=2, ge=1, le=512)
    # seconds to wait for the scheduler to answer before the step fails
    connect_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str) -> str:
        value = value.strip()
        if value and "://" not in value:
            raise ValueError(f"must be a scheduler address like 'tcp://127.0.0.1:8786', got {value!r}")
        return value


class MetricsSettings(_Strict):
    """Prometheus metrics of each run (``resources/metrics.py``)."""

    # empty: metrics are collected and not pushed; e.g. http://127.0.0.1:9091
    pushgateway_url: str = ""


class PublisherSettings(_Strict):
    """Where ``dropbox_export`` publishes. Credentials are never settings: they come only from the
    environment (``HURACAN_DROPBOX_*``, see :mod:`huracan_assets.stores.dropbox_credentials`)."""

    kind: Literal["local", "dropbox"] = "local"
    export_root: str
    dropbox_root: str = "/huracan"
    chunk_size_bytes: int = Field(default=8 * 1024 * 1024, ge=1, le=150 * 1024 * 1024)
    retain_versions: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=100.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_base_delay_s: float = Field(default=1.0, ge=0)
    dropbox_ca_certs: str | None = None

    @field_validator("dropbox_root")
    @classmethod
    def _absolute_dropbox_path(cls, value: str) -> str:
        stripped = value.rstrip("/")
        if value != "/" and (not stripped.startswith("/") or "//" in stripped or "\\" in stripped):
            raise ValueError(f"must be an absolute Dropbox path like '/huracan', got {value!r}")
        if any(part in (".", "..") for part in stripped.split("/")):
            raise ValueError(
                f"must not contain '.' or '..' segments (it would leave its folder), got {value!r}"
            )
        return value


class HuracanSettings(BaseSettings):
    """All knobs of the daily flow. Units are part of the names."""

    model_config = SettingsConfigDict(
        env_prefix="HURACAN_",
        env_nested_delimiter="__",
        extra="forbid",
        yaml_file=BASE_YAML,
    )

    history_start: date
    # keep the `date` partitions to this many days up to the latest closed day (a rolling start,
    # never before history_start); older days stay in storage, outside the partitions. None: all
    history_days: int | None = Field(default=None, ge=30, le=3650)
    # the platform's "now": empty for the real time, or a UTC instant such as
    # "2025-11-21T00:00:00Z" (simulations, tests). The last day partition is the last whole
    # day before it, so it drives what the daemon's automation calls "the latest day".
    clock: str = ""
    lookback_days: int = Field(ge=5, le=3650)
    timeframe: Duration
    horizons: list[Duration] = Field(min_length=1)
    execution_latency: Duration
    risk_preset: Literal["conservative", "balanced", "aggressive"]
    dry_run: bool
    min_liquidity_gbp: float = Field(ge=0)
    max_spread_bps: float = Field(gt=0)
    min_edge_after_cost_bps: float
    max_coins: int | None = Field(default=None, ge=1)
    max_concurrent_jobs: int = Field(ge=1, le=64)
    max_repair_bars: int = Field(ge=0, le=100)
    outlier_z: float = Field(gt=2)
    vendor_mismatch_bps: float = Field(gt=0)
    max_staleness: Duration
    usdt_per_gbp_fallback: float = Field(gt=0)
    venue: Literal["binance_spot", "binance_usdm"]
    fees: dict[str, FeeSchedule]
    risk_presets: dict[str, RiskPreset]
    training: TrainingSettings
    champions: ChampionSettings
    simulator: SimulatorSettings
    market_data: MarketDataSettings = MarketDataSettings()
    compute: ComputeSettings = ComputeSettings()
    metrics: MetricsSettings = MetricsSettings()
    publisher: PublisherSettings

    @field_validator("timeframe")
    @classmethod
    def _timeframe_divides_day(cls, value: str) -> str:
        seconds = parse_duration(value).total_seconds()
        if seconds < 60 or 86400 % seconds:
            raise ValueError(f"timeframe must divide one day into whole bars, got {value!r}")
        return value

    @field_validator("clock")
    @classmethod
    def _utc_instant(cls, value: str) -> str:
        value = value.strip()
        if value:
            parse_instant(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HuracanSettings:
        bar = self.bar
        for horizon in self.horizons:
            if parse_duration(horizon) % bar:
                raise ValueError(f"horizons: {horizon!r} is not a whole number of {self.timeframe} bars")
        if self.risk_preset not in self.risk_presets:
            raise ValueError(f"risk_preset: {self.risk_preset!r} is not one of {sorted(self.risk_presets)}")
        if self.venue not in self.fees:
            raise ValueError(f"fees: no fee schedule for venue {self.venue!r}")
        if self.champions.shadow_days >= self.champions.max_age_days:
            raise ValueError("champions.shadow_days must be shorter than champions.max_age_days")
        if not self.champions.shadow_days <= self.champions.max_shadow_days <= self.champions.max_age_days:
            raise ValueError(
                "champions.max_shadow_days must be between champions.shadow_days and champions.max_age_days"
            )
        if self.history_days is not None and self.history_days < self.history_days_needed:
            raise ValueError(
                f"history_days: {self.history_days} days cannot hold a day's look-back "
                f"({self.history_days_needed} days: lookback_days, the labels' and features' warm-up "
                "and the champions' max_age_days)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))

    # -- derived quantities -------------------------------------------------------------------
    def now(self) -> datetime:
        """The platform's current instant (UTC): ``clock`` when set, else the real time."""
        return parse_instant(self.clock) if self.clock else datetime.now(UTC)

    @property
    def last_closed_day(self) -> date:
        """The newest UTC day that has ended by ``now()``: the latest ``date`` partition."""
        return last_closed_day(self.now())

    @property
    def bar(self) -> timedelta:
        return parse_duration(self.timeframe)

    @property
    def bars_per_day(self) -> int:
        return int(timedelta(days=1) / self.bar)

    @property
    def latency(self) -> timedelta:
        return parse_duration(self.execution_latency)

    @property
    def horizon_bars(self) -> dict[str, int]:
        return {h: int(parse_duration(h) / self.bar) for h in self.horizons}

    @property
    def fill_delay_bars(self) -> int:
        """Bar closes between the decision and the fill: latency rounded up to whole bars, at least 1.

        A decision at the close of bar t fills at the close of bar t + fill_delay_bars (the first
        price observable at or after close + latency), never at the close that made the signal.
        """
        latency = self.latency.total_seconds()
        bar = self.bar.total_seconds()
        return max(1, int(-(-latency // bar)))

    @property
    def history_days_needed(self) -> int:
        """Days of partitions a day's run reads: the models' window and its warm-up, and the
        champions' models window."""
        return max(self.lookback_days + self.label_lookback_days + 3, self.champions.max_age_days) + 1

    @property
    def first_partition_day(self) -> date:
        """The first ``date`` partition: ``history_start``, or ``history_days`` before the latest
        closed day when that is later (the rolling start, fixed when the code location loads)."""
        if self.history_days is None:
            return self.history_start
        return max(self.history_start, self.last_closed_day - timedelta(days=self.history_days - 1))

    @property
    def label_lookback_days(self) -> int:
        """Days before D whose decisions can resolve on D (longest horizon + fill delay)."""
        span_bars = self.fill_delay_bars + max(self.horizon_bars.values())
        return int(-(-(span_bars) // self.bars_per_day))

    def shadow_days_for(self, horizon: str) -> int:
        """Days a challenger of ``horizon`` runs in shadow before it is tested: long enough for its
        record to hold ``min_effective_samples`` non-overlapping trades of ``horizon`` (plus the
        embargo at the record's start and the labels unresolved at its end), at least
        ``shadow_days`` and at most ``max_shadow_days``. With the defaults: 1h and 4h 7 days, 1d 23.
        """
        h = self.horizon_bars[horizon]
        needed = math.ceil(self.champions.min_effective_samples) * h + 2 * (h + self.fill_delay_bars)
        days = math.ceil(needed / self.bars_per_day)
        return min(max(days, self.champions.shadow_days), self.champions.max_shadow_days)

    @property
    def longest_shadow_days(self) -> int:
        """The longest shadow record of any horizon (days): what the champions step reads."""
        return max(self.shadow_days_for(h) for h in self.horizons)

    @property
    def fee(self) -> FeeSchedule:
        return self.fees[self.venue]

    @property
    def risk(self) -> RiskPreset:
        return self.risk_presets[self.risk_preset]


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "<settings>"
        parts.append(f"{key}: {item['msg']} (got {item.get('input')!r})")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> HuracanSettings:
    """Load settings from base.yaml, HURACAN_* environment variables and ``overrides``.

    Nested overrides are merged into the YAML values (``training={"iterations": 50}`` keeps the
    other training keys). Raises ``SettingsError`` naming the bad key(s).
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    warn_unknown_environment(os.environ)
    try:
        if any(isinstance(v, dict) for v in overrides.values()):
            base = HuracanSettings().model_dump(mode="json")
            overrides = {
                k: _deep_merge(base.get(k), v) if isinstance(v, dict) else v for k, v in overrides.items()
            }
        return HuracanSettings(**overrides)
    except ValidationError as error:
        raise SettingsError(f"invalid Huracan settings: {describe_validation_error(error)}") from None
    except PydanticSettingsError as error:
        # a HURACAN_* value pydantic-settings could not decode (list and mapping fields take JSON)
        field = re.search(r'field "([^"]+)"', str(error))
        name = f"HURACAN_{field.group(1).upper()}" if field else "a HURACAN_* variable"
        raise SettingsError(
            f"invalid Huracan settings: {name} could not be read: list and mapping settings take JSON, "
            f'e.g. {name}=\'["1h", "4h"]\' ({error})'
        ) from None
    except yaml.YAMLError as error:
        raise SettingsError(f"invalid Huracan settings: {BASE_YAML} is not valid YAML: {error}") from None


# HURACAN_* variables that are not settings: Dropbox credentials, read by the publisher only, and
# the export signing key, read by the export only (secrets stay out of the settings object)
NOT_SETTINGS_PREFIXES = ("HURACAN_DROPBOX_", "HURACAN_EXPORT_SIGNING_KEY")


_WARNED: set[str] = set()


class UnknownSettingWarning(UserWarning):
    """A HURACAN_* environment variable that names no setting (it is ignored)."""


def setting_variables(model: type[BaseModel] = None, prefix: str = "HURACAN_") -> set[str]:  # type: ignore[assignment]
    """Every HURACAN_* name a setting answers to (nested settings joined by ``__``)."""
    model = model or HuracanSettings
    names = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name.upper()}"
        names.add(key)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= setting_variables(annotation, f"{key}__")
    return names


def warn_unknown_environment(environ: Any) -> list[str]:
    """Warn once per HURACAN_* variable that names no setting, with the nearest valid name.

    Only the first segment decides: pydantic-settings ignores a variable whose first segment is
    no setting, while an unknown key under a known one (``HURACAN_TRAINING__ITERATOINS``) already
    fails validation, naming it.
    """
    top = {f"HURACAN_{name.upper()}" for name in HuracanSettings.model_fields}
    unknown = [
        k
        for k in environ
        if k.upper().startswith("HURACAN_")
        and k.upper().split("__")[0] not in top
        and not k.upper().startswith(NOT_SETTINGS_PREFIXES)
    ]
    known = sorted(setting_variables())
    for key in unknown:
        if key in _WARNED:  # settings load several times per process; say it once
            continue
        _WARNED.add(key)
        nearest = difflib.get_close_matches(key.upper(), known, n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        warnings.warn(
            f"{key} names no Huracan setting and is ignored{hint}", UnknownSettingWarning, stacklevel=3
        )
    return unknown


def _deep_merge(base: Any, update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base or {})
    for key, value in update.items():
        merged[key] = _deep_merge(merged.get(key), value) if isinstance(value, dict) else value
    return merged
