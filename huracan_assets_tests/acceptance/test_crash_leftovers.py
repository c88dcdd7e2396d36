"""What a killed run leaves is finished or removed by the next run (issue 12, item 5), through
``huracan daily`` as a user runs it.

A copy of the session's small first day (``small_first_day``); then the folders a kill -9 leaves at each point of a publish and of
a model-folder swap are made beside it (the names the code gives them), and the next day runs.
"""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from huracan_assets.core.publishing import REPLACED_PREFIX, STAGING_PREFIX
from huracan_assets.hamilton import HamiltonInterface
from huracan_assets.hamilton.interface import ExportNotFoundError
from huracan_assets_tests.commands import FIRST_DAY, FIRST_DAY_COINS, copy_root, huracan_daily

DAY, NEXT, COINS = FIRST_DAY, "2025-11-21", FIRST_DAY_COINS


def _daily(root: Path, day: str) -> str:
    done, _ = huracan_daily(root, day, fresh=False, SIMULATOR__N_COINS=COINS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def killed(
    tmp_path_factory: pytest.TempPathFactory, small_first_day: Path
) -> tuple[Path, dict[str, str], list[Path]]:
    """A home whose day ran, then the state kills left: returns the root, the day's export as
    published, and the model leftovers."""
    root = copy_root(small_first_day, tmp_path_factory.mktemp("leftovers"))
    exports = root / "exports"
    published = _tree(exports / DAY)
    # a same-day re-publish killed between its two renames: <day>/ renamed aside, the complete
    # new copy still in staging; LATEST names a day folder that is not there
    os.rename(exports / DAY, exports / f"{REPLACED_PREFIX}{DAY}-0a1b2c3d4e5f")
    shutil.copytree(
        exports / f"{REPLACED_PREFIX}{DAY}-0a1b2c3d4e5f", exports / f"{STAGING_PREFIX}{DAY}-5f4e3d2c1b0a"
    )
    # a publish killed while staging: some files, no manifest
    partial = exports / f"{STAGING_PREFIX}{DAY}-aaaaaaaaaaaa" / "reports"
    partial.mkdir(parents=True)
    (partial / "metrics.json").write_text("{")
    # model writes killed: a staging folder half written; a new version and its link, not flipped
    models = root / "home" / "storage" / "huracan" / "models" / f"date={DAY}"
    staging = models / ".symbol=BTC.0123456789abcdef0123456789abcdef.staging"
    staging.mkdir()
    (staging / "momentum__1h__all.cbm").write_bytes(b"half a model")
    version = models / ".symbol=ETH.fedcba9876543210fedcba9876543210.version"
    shutil.copytree(models / "symbol=ETH", version)
    link = models / ".symbol=ETH.fedcba9876543210fedcba9876543210.link"
    os.symlink(version.name, link, target_is_directory=True)
    return root, published, [staging, version, link]


def test_the_state_a_kill_leaves_is_what_the_issue_describes(killed):
    root, _, _ = killed
    assert (root / "exports" / "LATEST").read_text().strip() == DAY
    with pytest.raises(ExportNotFoundError):
        HamiltonInterface(model_base_path=root / "exports")


def test_the_next_day_restores_the_replaced_export_and_removes_every_leftover(killed):
    root, published, model_leftovers = killed
    output = _daily(root, NEXT)

    exports = root / "exports"
    assert not [p.name for p in exports.iterdir() if p.name.startswith((STAGING_PREFIX, REPLACED_PREFIX))]
    assert _tree(exports / DAY) == published  # the complete copy is back under its name
    assert f"restored {REPLACED_PREFIX}{DAY}-0a1b2c3d4e5f -> {DAY}" in output
    for leftover in model_leftovers:
        assert not os.path.lexists(leftover), leftover
    assert "event=model_leftover_removed" in output
    # the models each day's links name are untouched, and the next day is served
    hamilton = HamiltonInterface(model_base_path=exports)
    assert hamilton.day == NEXT
    models = root / "home" / "storage" / "huracan" / "models" / f"date={DAY}"
    for link in models.glob("symbol=*"):
        assert (link / "bundle.json").exists()
