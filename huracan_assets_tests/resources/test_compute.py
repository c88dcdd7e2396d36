import pytest

from huracan_assets.resources.compute import ComputeResource, TaskFailure, split_failures


def _half(x: int) -> float:
    if x == 3:
        raise ValueError("three is bad data")
    return x / 2


def test_map_keeps_order_and_one_failure_does_not_stop_the_others():
    results = ComputeResource().map(_half, [1, 2, 3, 4], keys=["A", "B", "C", "D"])
    assert results[:2] == [0.5, 1.0] and results[3] == 2.0
    failure = results[2]
    assert isinstance(failure, TaskFailure)
    assert failure.key == "C" and failure.error_type == "ValueError" and "three is bad data" in str(failure)
    ok, failed = split_failures(results)
    assert ok == [0.5, 1.0, 2.0] and failed == [failure]


def test_map_refuses_mismatched_keys_and_unknown_modes():
    with pytest.raises(ValueError, match="one key per item"):
        ComputeResource().map(_half, [1, 2], keys=["A"])
    with pytest.raises(ValueError, match="'cluster' is not available"):
        ComputeResource(mode="cluster").map(_half, [1], keys=["A"])
