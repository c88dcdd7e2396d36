"""Two days at once on one instance (issue 12, item 4), through ``huracan daily`` as a user runs it:
the second refuses at once naming the day and the runs it waits for, or with ``--wait`` waits and
then gives the same export as the two days run one after the other."""

import subprocess
import time
from pathlib import Path

from huracan_assets.automation.local_daemon import BIN, REPO, environment
from huracan_assets.core.manifest import MANIFEST_NAME
from huracan_assets.orchestration import DAY_LOCK_NAME
from huracan_assets_tests.commands import FIRST_DAY, FIRST_DAY_COINS, NEXT_DAY, SMALL

DAY, NEXT, COINS = FIRST_DAY, NEXT_DAY, FIRST_DAY_COINS


def _command(root: Path, day: str, *flags: str) -> tuple[list[str], dict[str, str]]:
    env = environment(
        root / "home",
        **{**SMALL, "SIMULATOR__N_COINS": COINS, "PUBLISHER__EXPORT_ROOT": str(root / "exports")},
    )
    return [str(BIN / "huracan"), "daily", "--date", day, *flags], env


def _export(root: Path, day: str) -> dict[str, bytes]:
    folder = root / "exports" / day
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME  # its created_at is the one timestamp
    }


def test_a_second_day_refuses_or_waits_and_matches_the_days_run_in_order(tmp_path, small_next_day):
    concurrent = tmp_path / "concurrent"
    (concurrent / "home").mkdir(parents=True)
    command, env = _command(concurrent, DAY)
    first = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lock = concurrent / "home" / DAY_LOCK_NAME
    deadline = time.monotonic() + 120
    while not (lock.exists() and DAY in lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, "the first day finished before the second could start"

    command, env = _command(concurrent, NEXT)
    refused = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert f"running day {DAY} (pid {first.pid})" in refused.stderr
    assert "Traceback" not in refused.stderr

    waited = subprocess.run(
        [*command, "--wait"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    first_output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, first_output[-3000:]
    assert waited.returncode == 0, waited.stdout[-3000:] + waited.stderr[-3000:]
    assert f"event=waiting_for_day day={NEXT} holder='day {DAY} (pid {first.pid})'" in waited.stdout

    # in order: the session's first day (the same command on a fresh home), then the next day
    in_order = small_next_day
    for day in (DAY, NEXT):
        assert _export(concurrent, day) == _export(in_order, day)
