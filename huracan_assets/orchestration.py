"""Materialise one day of the whole graph through Dagster, history included (used by the CLI).

Steps, each one Dagster run on the given instance (so the UI shows them):

1. ``universe_job`` over the days of the look-back window that are missing (one range run);
2. coins eligible on the day join the ``coins`` partitions (what ``new_coin_sensor`` does);
3. ``history_job`` (bars, features, labels) for the missing coin-days before the day: one
   run over a whole range when all coins miss the same days (a fresh instance), else one
   run per day over the contiguous block of new coins;
4. ``daily_coins_job`` for the day, all coins, one run;
5. ``daily_reports_job`` for the day: champions, integrity report, export.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from huracan_assets.automation.jobs import PER_COIN_HISTORY
from huracan_assets.automation.schedules import RANGE_END, RANGE_START
from huracan_assets.automation.sensors import eligible_from_metadata
from huracan_assets.config import HuracanSettings
from huracan_assets.partitions import COINS, build_partitions, coin_day_key
from huracan_assets.resources.storage import JsonIOManager

# the console shows warnings and errors; every event still goes to the instance's event log (the UI)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class RunFailedError(RuntimeError):
    """A Dagster run of the daily flow failed; the message names the job and the failing steps."""


@dataclass
class DayResult:
    day: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    champions: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    integrity: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _contiguous(items: list[str], order: list[str]) -> list[list[str]]:
    """Split ``items`` into blocks that are contiguous in ``order``."""
    position = {v: i for i, v in enumerate(order)}
    blocks: list[list[str]] = []
    for item in sorted(items, key=position.__getitem__):
        if blocks and position[item] == position[blocks[-1][-1]] + 1:
            blocks[-1].append(item)
        else:
            blocks.append([item])
    return blocks


def root_cause_message(error: Any) -> str:
    """The last line of the innermost error: Dagster wraps what the step raised (which names
    the file, coin or path at fault) in "Error occurred while executing op ..."."""
    while error is not None and error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines() if error is not None else []
    return lines[-1] if lines else ""


class DayRunner:
    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        settings: HuracanSettings,
        log: Callable[[str], None] = print,
    ) -> None:
        self.defs = defs
        self.instance = instance
        self.settings = settings
        self.log = log

    # -- runs ----------------------------------------------------------------------------------
    def _execute(
        self,
        job_name: str,
        tags: dict[str, str],
        label: str,
        result: DayResult,
        assets: list[str] | None = None,
    ) -> None:
        job = self.defs.resolve_job_def(job_name)
        started = time.perf_counter()
        selection = [dg.AssetKey(a) for a in assets] if assets else None
        outcome = job.execute_in_process(
            run_config=QUIET,
            instance=self.instance,
            tags=tags,
            raise_on_error=False,
            asset_selection=selection,
        )
        seconds = time.perf_counter() - started
        result.runs.append(
            {"job": job_name, "what": label, "run_id": outcome.run_id, "seconds": round(seconds, 1)}
        )
        self.log(
            f"event=run job={job_name} what={label} run_id={outcome.run_id} seconds={seconds:.1f} success={outcome.success}"
        )
        if not outcome.success:
            failed = [
                f"{e.step_key}: {root_cause_message(e.event_specific_data.error) if e.event_specific_data else ''}"
                for e in outcome.all_events
                if e.is_step_failure
            ]
            # a failed blocking check says why in its description: name it, not just the step
            failed += [
                f"check {e.check_name}: {e.description}"
                for e in outcome.get_asset_check_evaluations()
                if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
            ]
            raise RunFailedError(
                f"{job_name} ({label}) failed in run {outcome.run_id}: {'; '.join(failed) or 'see the run in the UI'}"
            )

    def _range(
        self, job: str, start: str, end: str, label: str, result: DayResult, assets: list[str] | None = None
    ) -> None:
        self._execute(job, {RANGE_START: start, RANGE_END: end}, label, result, assets)

    def _materialized(self, asset: str) -> set[str]:
        return {str(k) for k in self.instance.get_materialized_partitions(dg.AssetKey(asset))}

    # -- the day -------------------------------------------------------------------------------
    def run(self, day: str) -> DayResult:
        started = time.perf_counter()
        result = DayResult(day=day)
        coins = self.prepare(day, result)
        self.run_day(day, coins, result)
        result.seconds = time.perf_counter() - started
        return result

    def prepare(self, day: str, result: DayResult) -> list[str]:
        """Universe, coins and the history the day needs; returns the coins in partition order."""
        windows = build_partitions(self.settings).history_windows(date.fromisoformat(day))
        history = windows["validated_bars"]
        done = self._materialized("coin_universe")
        missing_days = [d for d in [*history, day] if d not in done]
        for block in _contiguous(missing_days, [*history, day]):
            self._range("universe_job", block[0], block[-1], f"coin_universe {block[0]}..{block[-1]}", result)

        eligible = self._eligible(day)
        known = list(self.instance.get_dynamic_partitions(COINS.name))
        new = [c for c in eligible if c not in known]
        if new:
            self.instance.add_dynamic_partitions(COINS.name, new)
            self.log(f"event=coins_added day={day} coins={','.join(new)}")
        coins = list(self.instance.get_dynamic_partitions(COINS.name))
        if not coins:
            raise RunFailedError(f"{day}: no eligible coins in the universe, nothing to train")
        self._history(windows, coins, result)
        return coins

    def run_day(self, day: str, coins: list[str], result: DayResult) -> None:
        """The day itself: every coin in one run, then the day's reports and export."""
        self._range(
            "daily_coins_job",
            str(coin_day_key(day, coins[0])),
            str(coin_day_key(day, coins[-1])),
            f"{day} all {len(coins)} coins",
            result,
        )
        self._execute("daily_reports_job", {"dagster/partition": day}, f"reports {day}", result)
        storage = self.defs.resources["json_io_manager"]
        assert isinstance(storage, JsonIOManager)
        result.champions = storage.read_partition(dg.AssetKey("champions"), day)
        result.export = storage.read_partition(dg.AssetKey("dropbox_export"), day)
        result.integrity = storage.read_partition(dg.AssetKey("data_integrity_report"), day)

    def _eligible(self, day: str) -> list[str]:
        event = self.instance.get_latest_materialization_event(dg.AssetKey("coin_universe"))
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("coin_universe"), asset_partitions=[day]), limit=1
        ).records
        if records:
            event = records[0].event_log_entry
        if event is None or event.asset_materialization is None:
            raise RunFailedError(f"coin_universe[{day}] was not materialised")
        return eligible_from_metadata(dict(event.asset_materialization.metadata))

    def _history(self, windows: dict[str, list[str]], coins: list[str], result: DayResult) -> None:
        """Materialise the missing history, asset by asset in dependency order."""
        for asset in PER_COIN_HISTORY:
            days = windows[asset]
            done = self._materialized(asset)
            missing: dict[str, list[str]] = {}
            for d in days:
                lacking = [c for c in coins if str(coin_day_key(d, c)) not in done]
                if lacking:
                    missing[d] = lacking
            whole = [d for d, cs in missing.items() if len(cs) == len(coins)]
            for block in _contiguous(whole, days):
                self._range(
                    "history_job",
                    str(coin_day_key(block[0], coins[0])),
                    str(coin_day_key(block[-1], coins[-1])),
                    f"{asset} {block[0]}..{block[-1]} all coins",
                    result,
                    assets=[asset],
                )
            for d in days:
                partial = missing.get(d, [])
                if not partial or len(partial) == len(coins):
                    continue
                for block in _contiguous(partial, coins):
                    self._range(
                        "history_job",
                        str(coin_day_key(d, block[0])),
                        str(coin_day_key(d, block[-1])),
                        f"{asset} {d} {','.join(block)}",
                        result,
                        assets=[asset],
                    )


def summary_lines(result: DayResult) -> list[str]:
    champions = result.champions
    export = result.export
    summary = {}
    location = Path(export.get("location", ""))
    summary_path = location / "reports" / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
    lines = [
        f"Huracan daily run for {result.day} ({result.seconds:.0f} s, {len(result.runs)} Dagster runs)",
        f"  coins in the universe : {champions.get('markets', 0)} markets, {len(champions.get('active_coins', []))} eligible",
        f"  coins trained         : {len(champions.get('trained_coins', []))}",
        f"  champions exported    : {len(champions.get('champions', []))} "
        f"({', '.join(sorted({c['coin'] + '/' + c['horizon'] for c in champions.get('champions', [])})) or 'none'})",
        f"  coins skipped         : {len(champions.get('no_champion', {}))}",
    ]
    for coin, reason in sorted(champions.get("no_champion", {}).items()):
        lines.append(f"    - {coin}: {reason}")
    dnt = champions.get("do_not_trade", [])
    lines.append(
        f"  do-not-trade          : {len(dnt)} coins ({', '.join(e['coin'] for e in dnt[:12])}{' …' if len(dnt) > 12 else ''})"
    )
    totals = result.integrity.get("totals", {})
    lines.append(
        f"  data integrity        : {totals.get('coins_with_problems', 0)} coins with problems, "
        f"{totals.get('gaps_repaired', 0)} bars repaired, {totals.get('days_dropped', 0)} days dropped, "
        f"{totals.get('outliers', 0)} outliers, {totals.get('vendor_mismatches', 0)} vendor mismatches"
    )
    where = "dry run: nothing written" if export.get("dry_run") else export.get("location", "")
    lines.append(f"  export                : {where}")
    if summary:
        lines.append(
            f"  features_hash         : {summary.get('features_hash', '')[:16]}…  code_hash {summary.get('code_hash', '')[:16]}…"
        )
    return lines
