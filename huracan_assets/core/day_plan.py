"""What one day needs before its own runs can go: the one plan (no Dagster here).

``huracan daily`` launches the plan as runs; the daemon's ``new_coin_sensor`` requests the same
plan as a backfill; the assets' automation conditions then run the day itself. Both read the
instance the same way (``automation/plan.py``) and hand it to :func:`plan_day`.

Shapes: days are ISO dates (``2025-11-20``), coins are base symbols (``BTC``) in the ``coins``
partition order (the order they were added), a coin-day is ``(day, coin)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HistoryBlock:
    """``asset`` must be materialised for the rectangle ``days x coins``.

    ``days`` and ``coins`` are contiguous in partition order, so the rectangle is one partition
    key range (``days[0]|coins[0] .. days[-1]|coins[-1]``): one single-run backfill run.
    """

    asset: str
    days: tuple[str, ...]
    coins: tuple[str, ...]

    @property
    def start(self) -> tuple[str, str]:
        return self.days[0], self.coins[0]

    @property
    def end(self) -> tuple[str, str]:
        return self.days[-1], self.coins[-1]

    @property
    def partitions(self) -> int:
        return len(self.days) * len(self.coins)

    def label(self) -> str:
        coins = self.coins[0] if len(self.coins) == 1 else f"{self.coins[0]}..{self.coins[-1]}"
        return f"{self.asset} {self.days[0]}..{self.days[-1]} {coins} ({len(self.coins)} coins)"


@dataclass(frozen=True)
class DayPlan:
    """Everything ``day`` needs before its per-coin run: coins to add and their missing history."""

    day: str
    coins: tuple[str, ...]
    """Every coin the day runs over, in partition order, the new ones included (appended)."""
    coins_to_add: tuple[str, ...]
    history: tuple[HistoryBlock, ...] = field(default_factory=tuple)
    """Blocks in dependency order (all of the first asset, then the next, ...)."""
    damaged: tuple[str, ...] = ()
    """Partitions the instance records as materialised whose stored file is gone, moved aside
    (``.corrupt-…``) or cut short (``validated_bars[2025-11-20|BTC]``): the history rebuilds them."""
    models: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Model partitions of earlier days the day reads (yesterday's, the shadow cohort, the
    champions') that the instance records but storage no longer holds whole: ``(day, coins)``,
    oldest day first (a day's models read the day before's), coins contiguous in partition
    order, so each is one range run of the ``models`` step."""

    def missing_history(self) -> dict[str, list[tuple[str, str]]]:
        """asset -> every (day, coin) of its history the plan builds."""
        out: dict[str, list[tuple[str, str]]] = {}
        for block in self.history:
            out.setdefault(block.asset, []).extend((d, c) for d in block.days for c in block.coins)
        return out


def plan_day(
    day: str,
    *,
    eligible: Sequence[str],
    known_coins: Sequence[str],
    windows: Mapping[str, Sequence[str]],
    materialized: Mapping[str, set[tuple[str, str]]],
) -> DayPlan:
    """The coins to add and the missing history of every coin of ``day``.

    ``eligible``: coins ``coin_universe[day]`` names; ``known_coins``: the ``coins`` partitions
    now, in their order; ``windows``: asset -> the days before ``day`` it must hold (in
    dependency order, see ``Partitions.history_windows``); ``materialized``: asset -> the
    (day, coin) partitions already materialised.

    Coins that miss the same days and sit next to each other share one block per asset, so a
    fresh instance is one run per asset and a day that adds new coins is one run per asset too.
    """
    coins_to_add = tuple(c for c in dict.fromkeys(eligible) if c not in set(known_coins))
    coins = (*known_coins, *coins_to_add)
    blocks: list[HistoryBlock] = []
    for asset, days in windows.items():
        done = materialized.get(asset, set())
        spans: list[tuple[tuple[str, ...], str]] = []
        for coin in coins:
            missing = [i for i, d in enumerate(days) if (d, coin) not in done]
            if missing:
                spans.append((tuple(days[missing[0] : missing[-1] + 1]), coin))
        for span, coin in spans:
            last = blocks[-1] if blocks else None
            if (
                last is not None
                and last.asset == asset
                and last.days == span
                and coins.index(last.coins[-1]) + 1 == coins.index(coin)
            ):
                blocks[-1] = HistoryBlock(asset, span, (*last.coins, coin))
            else:
                blocks.append(HistoryBlock(asset, span, (coin,)))
    return DayPlan(day=day, coins=coins, coins_to_add=coins_to_add, history=tuple(blocks))


def missing_blocks(coins: Sequence[str], done: set[str]) -> list[tuple[str, ...]]:
    """The coins not in ``done``, as blocks that are contiguous in ``coins`` (partition order):
    each block of one day is one partition key range, so one run."""
    blocks: list[list[str]] = []
    previous = -2
    for index, coin in enumerate(coins):
        if coin in done:
            continue
        if blocks and index == previous + 1:
            blocks[-1].append(coin)
        else:
            blocks.append([coin])
        previous = index
    return [tuple(b) for b in blocks]
