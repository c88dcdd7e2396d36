"""Signed exports (issue 12, item 9): the exporter signs the manifest with the key in
``HURACAN_EXPORT_SIGNING_KEY``; Hamilton, given the public key, refuses unsigned, wrongly signed
and rolled-back exports. Real keys (``cryptography``), real files, the real publisher."""

import os
import subprocess

import pytest

from huracan_assets.automation.local_daemon import BIN, REPO
from huracan_assets.core.manifest import LATEST_NAME
from huracan_assets.core.signing import (
    SIGNATURE_NAME,
    SIGNING_KEY_ENV,
    SigningKeyError,
    generate_signer,
    signer_from_env,
)
from huracan_assets.hamilton import HamiltonInterface, IntegrityError, RollbackError, StaleExportWarning
from huracan_assets_tests.hamilton.conftest import DAY, export_files, publish_local

NEXT = "2026-04-02"


@pytest.fixture
def keys():
    signer, private = generate_signer()
    return signer, private, signer.public_key


def test_a_signed_export_is_served_to_hamilton_with_the_public_key(tmp_path, model_bytes, keys):
    signer, private, public = keys
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes), DAY, signer_from_env({SIGNING_KEY_ENV: private}))
    assert (root / DAY / SIGNATURE_NAME).exists()
    hamilton = HamiltonInterface(model_base_path=root, public_key=public)
    assert hamilton.day == DAY
    hamilton.load_model("BTC", "1h")
    # the same plan signed again gives the same bytes (Ed25519 is deterministic)
    again = tmp_path / "again"
    publish_local(again, export_files(model_bytes), DAY, signer)
    assert (again / DAY / SIGNATURE_NAME).read_bytes() == (root / DAY / SIGNATURE_NAME).read_bytes()


def test_an_unsigned_export_is_refused(tmp_path, model_bytes, keys):
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes), DAY)
    with pytest.raises(IntegrityError, match="not signed"):
        HamiltonInterface(model_base_path=root, public_key=keys[2])
    HamiltonInterface(model_base_path=root)  # without a key, as before


def test_an_export_signed_by_another_key_or_edited_after_signing_is_refused(tmp_path, model_bytes, keys):
    other, _ = generate_signer()
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes), DAY, other)
    with pytest.raises(IntegrityError, match="signed by another key"):
        HamiltonInterface(model_base_path=root, public_key=keys[2])
    # signed by the right key, then the manifest changed (a file swapped in with its new hash)
    root = tmp_path / "edited"
    publish_local(root, export_files(model_bytes), DAY, keys[0])
    manifest = root / DAY / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"2026-03-31", b"2026-03-30"))
    with pytest.raises(IntegrityError, match="does not verify"):
        HamiltonInterface(model_base_path=root, public_key=keys[2])


def test_a_latest_moved_back_in_time_is_refused(tmp_path, model_bytes, keys):
    signer, _, public = keys
    root, state = tmp_path / "exports", tmp_path / "hamilton-served"
    publish_local(root, export_files(model_bytes), DAY, signer)
    publish_local(root, export_files(model_bytes, day=NEXT), NEXT, signer)
    hamilton = HamiltonInterface(model_base_path=root, public_key=public, state_file=state)
    assert hamilton.day == NEXT
    (root / LATEST_NAME).write_text(f"{DAY}\n")  # an attacker replays the older, validly signed day
    with pytest.warns(StaleExportWarning, match="rollback"):
        assert hamilton.refresh() == NEXT
    # a restart remembers the newest day served
    with pytest.raises(RollbackError, match=f"names {DAY}, older than {NEXT}"):
        HamiltonInterface(model_base_path=root, public_key=public, state_file=state)


def test_a_bad_key_is_named_never_shown(keys):
    secret = "not-a-key-" + keys[1][:20]
    with pytest.raises(SigningKeyError) as caught:
        signer_from_env({SIGNING_KEY_ENV: secret})
    assert SIGNING_KEY_ENV in str(caught.value) and secret not in str(caught.value)
    assert keys[1] not in repr(keys[0]) and keys[0].key_id in repr(keys[0])


def test_huracan_daily_refuses_a_bad_key_before_any_compute_and_never_prints_it(tmp_path):
    secret = "c2VjcmV0LXZhbHVlLXRoYXQtaXMtbm90LWEta2V5"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURACAN_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp_path / "home"), SIGNING_KEY_ENV: secret}
    done = subprocess.run(
        [str(BIN / "huracan"), "daily", "--date", "2025-11-20", "--export-root", str(tmp_path / "x")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert SIGNING_KEY_ENV in done.stderr and secret not in done.stdout + done.stderr
    assert not (tmp_path / "home").exists()  # nothing computed, no instance made


def test_huracan_signing_key_makes_a_private_file_and_prints_the_public_key(tmp_path, model_bytes):
    out = tmp_path / "export.key"
    done = subprocess.run(
        [str(BIN / "huracan"), "signing-key", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    private = out.read_text().strip()
    assert private not in done.stdout
    public = done.stdout.split("public key for Hamilton: ")[1].strip()
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes), DAY, signer_from_env({SIGNING_KEY_ENV: private}))
    assert HamiltonInterface(model_base_path=root, public_key=public).day == DAY
