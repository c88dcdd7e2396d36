import socket

import pydantic
import pytest

from huracan_assets.resources.compute import (
    ComputeResource,
    ComputeUnavailableError,
    TaskFailure,
    split_failures,
)


def _half(x: int) -> float:
    if x == 3:
        raise ValueError("three is bad data")
    return x / 2


def _check(results: list) -> None:
    assert results[:2] == [0.5, 1.0] and results[3] == 2.0
    failure = results[2]
    assert isinstance(failure, TaskFailure)
    assert failure.key == "C" and failure.error_type == "ValueError" and "three is bad data" in str(failure)
    ok, failed = split_failures(results)
    assert ok == [0.5, 1.0, 2.0] and failed == [failure]


def test_map_keeps_order_and_one_failure_does_not_stop_the_others():
    _check(ComputeResource().map(_half, [(1,), (2,), (3,), (4,)], keys=["A", "B", "C", "D"]))


def test_a_local_dask_cluster_gives_the_same_results_and_failures():
    compute = ComputeResource(mode="dask", n_workers=2)
    try:
        _check(compute.map(_half, [(1,), (2,), (3,), (4,)], keys=["A", "B", "C", "D"]))
        workers = compute.client().scheduler_info()["workers"]
        assert len(workers) == 2 and all(w["nthreads"] == 1 for w in workers.values())
    finally:
        compute.teardown_after_execution(None)


def test_map_refuses_mismatched_keys_closures_and_unknown_modes():
    with pytest.raises(ValueError, match="one key per item"):
        ComputeResource().map(_half, [(1,), (2,)], keys=["A"])
    scale = 2

    def closure(x: int) -> int:
        return x * scale

    with pytest.raises(TypeError, match="module-level function.*closure"):
        ComputeResource().map(closure, [(1,)], keys=["A"])
    with pytest.raises(pydantic.ValidationError, match="'in_process' or 'dask'"):
        ComputeResource(mode="cluster")


def test_an_unreachable_scheduler_fails_naming_its_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    compute = ComputeResource(mode="dask", dask_address=f"tcp://127.0.0.1:{port}", connect_timeout_s=1)
    with pytest.raises(ComputeUnavailableError, match=f"tcp://127.0.0.1:{port}: no Dask scheduler answered"):
        compute.map(_half, [(1,)], keys=["A"])
