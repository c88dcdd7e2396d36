"""Running Huracan's own commands from the tests, as a user does: free ports for the servers the
tests start on 127.0.0.1, and ``huracan daily`` on a fresh home with small training settings."""

import re
import shutil
import socket
import subprocess
from pathlib import Path

from huracan_assets.automation.local_daemon import BIN, REPO, environment

# HURACAN_* settings of a small end-to-end day: a short look-back, few CatBoost iterations, one
# thread per fit (the .cbm records the thread count, so runs that compare bytes share it)
SMALL = {
    "LOOKBACK_DAYS": "10",
    "TRAINING__ITERATIONS": "60",
    "TRAINING__MIN_TRAIN_ROWS": "60",
    "TRAINING__THREAD_COUNT": "1",
    "CHAMPIONS__MIN_TRADES": "10",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def huracan_daily(
    root: Path, day: str, fresh: bool = True, **settings: str
) -> tuple[subprocess.CompletedProcess, Path]:
    """``huracan daily --date day`` on a fresh ``root/home`` (exports in ``root/exports``) with
    :data:`SMALL` and ``settings`` as ``HURACAN_*`` variables; returns the finished command and
    the folder of Huracan's stored partitions. ``fresh=False``: on the home an earlier call made."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=not fresh)
    env = environment(home, **{**SMALL, "PUBLISHER__EXPORT_ROOT": str(root / "exports"), **settings})
    done = subprocess.run(
        [str(BIN / "huracan"), "daily", "--date", day],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, home / "storage" / "huracan"


_VERSION_FOLDER = re.compile(r"^\.(symbol=[^/]+)\.[0-9a-f]+\.version$")


def logical_model_path(relative: Path) -> str:
    """A stored model file's path as readers see it: ``symbol=X/<file>``, whichever versioned
    folder (``.symbol=X.<id>.version``) its link names at the moment."""
    parts = [(_VERSION_FOLDER.match(part) or [None, part])[1] for part in Path(relative).parts]
    return "/".join(parts)


# the small first day several acceptance files start from (fixture ``small_first_day``)
FIRST_DAY, FIRST_DAY_COINS = "2025-11-20", "4"


def build_small_first_day(root: Path) -> None:
    """``huracan daily --date FIRST_DAY`` with 4 simulated coins on a fresh ``root/home``."""
    done, _ = huracan_daily(root, FIRST_DAY, SIMULATOR__N_COINS=FIRST_DAY_COINS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# the day after it, by the same command on a copy of it (fixture ``small_next_day``)
NEXT_DAY = "2025-11-21"


def build_small_next_day(root: Path, first_day: Path) -> None:
    """A copy of the small first day's root, then ``huracan daily --date NEXT_DAY`` on it."""
    copy_root(first_day, root)
    done, _ = huracan_daily(root, NEXT_DAY, fresh=False, SIMULATOR__N_COINS=FIRST_DAY_COINS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def copy_root(source: Path, target: Path) -> Path:
    """A copy of a test root (its home, instance, stored partitions and exports) at ``target``:
    the instance keeps no absolute path, and model folders are relative links, copied as links."""
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return target
