"""``huracan validate`` run as a user runs it: a proof that can pass and can fail.

The passing run is CI-sized: 4 coins (2 planted, at 60 bps so that a 30-day look-back has the
power to find them), challengers one day in shadow, so the default is two days: day 1 promotes
from cold-start records, day 2 re-tests those champions and tests the first shadow cohort. Every
champion of every day is judged against the simulator's truth over its own future trades. The
failing run is one day on a market whose planted coins carry no edge (``--planted-edge-bps 0``),
so nothing planted can be detected.
"""

import re
import subprocess

import pytest

from huracan_assets.automation.local_daemon import BIN, REPO, environment
from huracan_assets_tests.commands import SMALL

pytestmark = pytest.mark.acceptance

LAST_LINE = re.compile(
    r"^challengers=(\d+) false_champions=(\d+) planted=(\d+) detected=(\d+) "
    r"edge_error_pct=([\d.]+|nan) demotions=(\d+) days=(\d+)$"
)
DAY_LINE = re.compile(
    r"^day (\S+): (\d+) challengers \((\d+) on shadow records\), (\d+) champions "
    r"\((\d+) promoted, (\d+) kept\), (\d+) demoted, (\d+) false"
)


def validate(tmp_path, *args: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = environment(home, **{**SMALL, "CHAMPIONS__SHADOW_DAYS": "1"})
    return subprocess.run(
        [str(BIN / "huracan"), "validate", "--work-dir", str(tmp_path / "work"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def last_line(done: subprocess.CompletedProcess) -> dict[str, float]:
    match = LAST_LINE.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout[-3000:] + done.stderr[-3000:]
    names = ("challengers", "false", "planted", "detected", "edge_error_pct", "demotions", "days")
    return dict(zip(names, (float(v) for v in match.groups()), strict=True))


def test_validate_passes_on_its_seed_through_the_cold_start_retest_and_shadow_paths(tmp_path):
    done = validate(
        tmp_path,
        *("--seed", "23", "--coins", "4", "--lookback-days", "30", "--truth-days", "30"),
        *("--planted-edge-bps", "60"),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    line = last_line(done)
    # default days: shadow_days + 1, on one instance
    assert line["days"] == 2
    assert line["challengers"] > 0 and line["planted"] == 2
    assert line["false"] <= 0.01 * line["challengers"]
    assert line["detected"] >= 0.9 * line["planted"]
    assert line["edge_error_pct"] <= 30.0
    assert "validation passed" in done.stdout
    days = [DAY_LINE.match(row) for row in done.stdout.splitlines()]
    days = [d.groups() for d in days if d]
    assert [d[0] for d in days] == ["2025-06-01", "2025-06-02"]
    # day 1: cold starts only; day 2 re-tests the champions (kept or demoted) and tests the
    # first shadow cohort (trained on day 1)
    assert int(days[0][2]) == 0 and int(days[0][4]) >= 1
    assert int(days[1][5]) + int(days[1][6]) >= 1
    assert int(days[1][2]) >= 1
    # the last line's counts are the sums of the days'
    assert line["challengers"] == sum(int(d[1]) for d in days)
    assert line["false"] == sum(int(d[7]) for d in days)
    assert line["demotions"] == sum(int(d[6]) for d in days)


def test_validate_exits_non_zero_and_names_the_threshold_when_planted_coins_cannot_be_detected(tmp_path):
    done = validate(
        tmp_path,
        "--seed",
        "23",
        "--coins",
        "2",
        "--days",
        "1",
        "--lookback-days",
        "12",
        "--truth-days",
        "10",
        "--planted-edge-bps",
        "0",
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    line = last_line(done)
    assert line["planted"] == 1 and line["detected"] == 0 and line["days"] == 1
    assert "validation failed: detected=0 < 90% of planted=1 (0.9)" in done.stdout
    assert "validation passed" not in done.stdout
