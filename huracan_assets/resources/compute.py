"""The one seam for per-coin work inside a step: ``map`` a function over coins.

In-process by default. A later Dask client slots in behind the same call. A failure of one
item never stops the others: it comes back as a :class:`TaskFailure` naming the item.
"""

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import dagster as dg

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskFailure:
    key: str
    error: str
    error_type: str
    trace: str

    def __str__(self) -> str:
        return f"{self.key}: {self.error_type}: {self.error}"


def _guarded(fn: Callable[[T], R], key: str, item: T) -> R | TaskFailure:
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - one coin's failure is data, not a crash of the step
        return TaskFailure(
            key=key, error=str(exc), error_type=type(exc).__name__, trace=traceback.format_exc()
        )


class ComputeResource(dg.ConfigurableResource):
    """Maps per-coin work. ``mode="in_process"`` runs items one after another in this process."""

    mode: str = "in_process"

    def map(self, fn: Callable[[T], R], items: Sequence[T], keys: Sequence[str]) -> list[R | TaskFailure]:
        """``[fn(item) or TaskFailure]`` in the order of ``items``; ``keys`` name items in errors."""
        if len(keys) != len(items):
            raise ValueError("compute.map: one key per item")
        if self.mode != "in_process":
            raise ValueError(f"compute mode {self.mode!r} is not available; known: ['in_process']")
        return [_guarded(fn, key, item) for key, item in zip(keys, items, strict=True)]


def split_failures(results: Sequence[Any]) -> tuple[list[Any], list[TaskFailure]]:
    ok = [r for r in results if not isinstance(r, TaskFailure)]
    failed = [r for r in results if isinstance(r, TaskFailure)]
    return ok, failed
