"""Deterministic exports (issue 12, item 7), through ``huracan daily`` as a user runs it: the same day
run again gives the same bytes, and its Dropbox export (the real SDK against the local stand-in on
127.0.0.1) is byte for byte its local one, apart from the manifest's ``created_at`` (and so its
signature). Both runs sign with ``HURACAN_EXPORT_SIGNING_KEY`` (item 9): Hamilton verifies both
exports with the public key, and the private key is nowhere in the output or the instance."""

import json
import shutil
from pathlib import Path

from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.core.signing import SIGNATURE_NAME, generate_signer
from huracan_assets.hamilton import HamiltonInterface
from huracan_assets_tests.commands import huracan_daily

DAY = "2025-11-20"
COINS = "4"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_time(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files with the manifest's ``created_at`` (the one timestamp) and the signature of the
    manifest left out."""
    manifest = json.loads(files[MANIFEST_NAME])
    assert manifest.pop("created_at")
    rest = {p: data for p, data in files.items() if p != SIGNATURE_NAME}
    return {**rest, MANIFEST_NAME: json.dumps(manifest, sort_keys=True).encode()}


def test_a_day_run_again_and_exported_to_dropbox_gives_the_same_bytes(tmp_path, dropbox_account):
    signer, private = generate_signer()
    done, _ = huracan_daily(tmp_path, DAY, SIMULATOR__N_COINS=COINS, EXPORT_SIGNING_KEY=private)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    local = _tree(tmp_path / "exports" / DAY)
    assert HamiltonInterface(model_base_path=tmp_path / "exports", public_key=signer.public_key).day == DAY
    outputs = done.stdout + done.stderr
    shutil.rmtree(tmp_path / "exports")

    done, _ = huracan_daily(
        tmp_path,
        DAY,
        fresh=False,
        SIMULATOR__N_COINS=COINS,
        PUBLISHER__KIND="dropbox",
        PUBLISHER__DROPBOX_ROOT="/huracan",
        PUBLISHER__DROPBOX_CA_CERTS=dropbox_account.ca_certs,
        PUBLISHER__CHUNK_SIZE_BYTES=str(16 * 1024),  # models go through upload sessions too
        DROPBOX_APP_KEY=dropbox_account.app_key,
        DROPBOX_APP_SECRET=dropbox_account.app_secret,
        DROPBOX_REFRESH_TOKEN=dropbox_account.refresh_token,
        EXPORT_SIGNING_KEY=private,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outputs += done.stdout + done.stderr
    remote = {
        path.removeprefix(f"/huracan/{DAY}/"): data for path, data in dropbox_account.server.files().items()
    }
    assert remote.pop(f"/huracan/{LATEST_NAME}") == f"{DAY}\n".encode()

    assert sorted(remote) == sorted(local)
    differ = [p for p in local if local[p] != remote[p]]
    assert differ == [MANIFEST_NAME, SIGNATURE_NAME], {
        p: (local[p][:2000], remote[p][:2000]) for p in differ if p not in (MANIFEST_NAME, SIGNATURE_NAME)
    }
    assert _without_time(remote) == _without_time(local)
    hamilton = HamiltonInterface.from_dropbox(
        "/huracan",
        cache_dir=tmp_path / "cache",
        ca_certs=dropbox_account.ca_certs,
        public_key=signer.public_key,
    )
    assert hamilton.day == DAY
    assert not any(secret in outputs for secret in [*dropbox_account.secrets, private])
    # nor in the instance: event log, run records, compute logs, stored partitions
    leaked = [p for p in (tmp_path / "home").rglob("*") if p.is_file() and private.encode() in p.read_bytes()]
    assert leaked == []
