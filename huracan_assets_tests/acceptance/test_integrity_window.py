"""The integrity report and the ``huracan daily`` summary over the look-back window the day's
models trained on, run as a user runs them: ``huracan daily`` on a small simulated instance."""

import json

import pytest

from huracan_assets_tests.commands import huracan_daily

COINS = "4"
LOOK_BACK_DAY, DAY = "2025-11-19", "2025-11-20"


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Day 1 on a market where no coin is liquid enough (its run fails: the run day blocks),
    then day 2 on the same instance with the usual rules: day 1 is a look-back day of day 2."""
    root = tmp_path_factory.mktemp("window")
    empty, _ = huracan_daily(root, LOOK_BACK_DAY, SIMULATOR__N_COINS=COINS, MIN_LIQUIDITY_GBP="1e15")
    done, storage = huracan_daily(root, DAY, SIMULATOR__N_COINS=COINS)
    return {"empty": empty, "done": done, "storage": storage, "exports": root / "exports"}


def test_an_empty_run_day_blocks_with_the_day_named(two_days: dict):
    empty = two_days["empty"]
    assert empty.returncode == 1, empty.stdout[-2000:] + empty.stderr[-2000:]
    assert "no eligible coin" in empty.stderr and LOOK_BACK_DAY in empty.stderr


def test_an_empty_look_back_day_is_reported_not_blocking(two_days: dict):
    done = two_days["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"look-back days without an eligible coin (not blocking): 1 ({LOOK_BACK_DAY})" in done.stdout
    stored = json.loads(
        (two_days["storage"] / "data_integrity_report" / f"date={DAY}" / "data.json").read_text()
    )
    assert stored["look_back_universe"]["days_without_eligible"] == [LOOK_BACK_DAY]
    assert stored["totals"]["look_back_days_without_eligible"] == 1
    exported = json.loads((two_days["exports"] / DAY / "reports" / "data_integrity.json").read_text())
    assert exported["look_back_universe"]["days_without_eligible"] == [LOOK_BACK_DAY]
