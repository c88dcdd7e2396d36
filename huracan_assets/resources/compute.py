"""The one seam for per-coin work inside a step: ``map`` a function over coins.

``mode="in_process"`` (the default) runs items one after another in the step's process.
``mode="dask"`` sends them to a Dask cluster: the scheduler at ``dask_address``, or a
``LocalCluster`` of ``n_workers`` processes (one thread each) started for the run when the
address is empty. The client comes from dagster-dask's ``DaskResource`` (the same class its
``dask_resource`` builds from ``client``/``cluster`` config), created on the first ``map`` of a
run and closed when the run's resources are torn down.

What travels: ``fn`` must be a module-level function (workers import it by name, the same code
as the step's), and each item is the argument tuple of one call, holding only that coin's data
(its own frames, paths, settings). A closure would ship everything it captured with every task,
so ``map`` refuses one in both modes.

A failure of one item never stops the others: it comes back as a :class:`TaskFailure` naming the
item. A worker that dies mid-task is Dask's to handle: the scheduler reruns its tasks on the
other workers; a task that kills workers ``distributed.scheduler.allowed-failures`` times, or
that the cluster cannot finish, comes back as that item's failure, naming it.
"""

from __future__ import annotations

import functools
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import dagster as dg
from pydantic import PrivateAttr

R = TypeVar("R")


@dataclass(frozen=True)
class TaskFailure:
    key: str
    error: str
    error_type: str
    trace: str

    def __str__(self) -> str:
        return f"{self.key}: {self.error_type}: {self.error}"


class ComputeUnavailableError(RuntimeError):
    """The Dask scheduler named by ``compute.dask_address`` did not answer."""


def call_guarded(fn: Callable[..., R], key: str, args: tuple) -> R | TaskFailure:
    """``fn(*args)``, or the item's failure (one coin's exception is data, not a crash of the step)."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return TaskFailure(
            key=key, error=str(exc), error_type=type(exc).__name__, trace=traceback.format_exc()
        )


def timed_call(fn: Callable[..., R], key: str, args: tuple) -> tuple[R | TaskFailure, float]:
    """``call_guarded`` and its wall time, measured where it ran."""
    started = time.perf_counter()
    result = call_guarded(fn, key, args)
    return result, time.perf_counter() - started


def _module_level(fn: Callable[..., Any]) -> bool:
    target = fn.func if isinstance(fn, functools.partial) else fn
    qualname = getattr(target, "__qualname__", "")
    return bool(qualname) and "<locals>" not in qualname and "<lambda>" not in qualname


class ComputeResource(dg.ConfigurableResource):
    """Maps per-coin work, in this process or on a Dask cluster (see the module docstring)."""

    mode: Literal["in_process", "dask"] = "in_process"
    dask_address: str = ""
    n_workers: int = 2
    connect_timeout_s: float = 10.0

    _dask: Any = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Any) -> ComputeResource:
        c = settings.compute
        return cls(
            mode=c.mode,
            dask_address=c.dask_address,
            n_workers=c.n_workers,
            connect_timeout_s=c.connect_timeout_s,
        )

    def where(self) -> str:
        if self.mode == "in_process":
            return "in process"
        return (
            f"dask scheduler {self.dask_address}"
            if self.dask_address
            else f"dask LocalCluster x{self.n_workers}"
        )

    def map(self, fn: Callable[..., R], items: Sequence[tuple], keys: Sequence[str]) -> list[R | TaskFailure]:
        """``[fn(*item) or TaskFailure]`` in the order of ``items``; ``keys`` name items in errors."""
        return [result for result, _ in self.map_timed(fn, items, keys)]

    def map_timed(
        self, fn: Callable[..., R], items: Sequence[tuple], keys: Sequence[str]
    ) -> list[tuple[R | TaskFailure, float]]:
        """``map`` with each item's wall time (seconds, measured where it ran; 0 for a lost task)."""
        if len(keys) != len(items):
            raise ValueError("compute.map: one key per item")
        if not _module_level(fn):
            raise TypeError(
                f"compute.map needs a module-level function, got {getattr(fn, '__qualname__', fn)!r}: "
                "a closure would ship everything it captured with every task"
            )
        if self.mode == "in_process":
            return [timed_call(fn, key, tuple(item)) for key, item in zip(keys, items, strict=True)]
        return self._map_dask(fn, items, keys)

    # -- dask ----------------------------------------------------------------------------------
    def client(self) -> Any:
        """The run's Dask client (created on first use, from dagster-dask's ``DaskResource``)."""
        if self._dask is None:
            from dagster_dask.resources import DaskResource

            if self.dask_address:
                config: dict[str, Any] = {
                    "client": {"address": self.dask_address, "timeout": int(max(1, self.connect_timeout_s))}
                }
            else:
                config = {
                    "cluster": {
                        "local": {
                            "n_workers": self.n_workers,
                            "threads_per_worker": 1,
                            "processes": True,
                            "dashboard_address": None,
                        }
                    }
                }
            try:
                self._dask = DaskResource(dg.build_init_resource_context(config=config))
            except OSError as exc:
                raise ComputeUnavailableError(
                    f"compute.dask_address {self.dask_address}: no Dask scheduler answered within "
                    f"{self.connect_timeout_s:g} s ({type(exc).__name__})"
                ) from None
        return self._dask.client

    def _map_dask(
        self, fn: Callable[..., R], items: Sequence[tuple], keys: Sequence[str]
    ) -> list[tuple[R | TaskFailure, float]]:
        client = self.client()
        # a partial names itself where it wraps a step function (storage.loading), else its function
        name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "task")
        run = uuid.uuid4().hex[:8]
        futures = [
            client.submit(timed_call, fn, key, tuple(item), key=f"{name}-{key}-{run}", pure=False)
            for key, item in zip(keys, items, strict=True)
        ]
        out: list[tuple[R | TaskFailure, float]] = []
        for key, future in zip(keys, futures, strict=True):
            try:
                out.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a task the cluster lost is that coin's failure
                lost = TaskFailure(
                    key=key,
                    error=f"lost on the Dask cluster ({self.where()}): {exc}",
                    error_type=type(exc).__name__,
                    trace="",
                )
                out.append((lost, 0.0))
            finally:
                future.release()
        return out

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._dask is not None:
            self._dask.close()
            self._dask = None


def split_failures(results: Sequence[Any]) -> tuple[list[Any], list[TaskFailure]]:
    ok = [r for r in results if not isinstance(r, TaskFailure)]
    failed = [r for r in results if isinstance(r, TaskFailure)]
    return ok, failed
