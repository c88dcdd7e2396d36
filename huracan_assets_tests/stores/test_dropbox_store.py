"""The Dropbox store and publisher, with the real SDK against the local HTTPS stand-in."""

import logging
import time
from pathlib import Path

import dropbox.content_hash
import pytest

from huracan_assets.core.hashing import DROPBOX_BLOCK_BYTES, dropbox_content_hash, sha256_bytes
from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.core.publishing import (
    REPLACED_PREFIX,
    STAGING_PREFIX,
    ExportPlan,
    ExportStore,
    ExportStoreError,
    LocalFolderPublisher,
    LocalFolderStore,
    StorePublisher,
)
from huracan_assets.stores.dropbox_credentials import DropboxCredentials
from huracan_assets.stores.dropbox_store import DropboxStore, normalize_dropbox_root
from huracan_assets_tests.dropbox_server import WRITE_ROUTES, content_hash

ROOT = "/huracan"
UPLOAD = "/2/files/upload"
FINISH = "/2/files/upload_session/finish"
# A 3,000-byte model and 1 KiB chunks: one session start, one append, one finish.
CHUNK = 1024


def _plan(day: str, model: bytes = b"m" * 3000, extra: dict[str, bytes] | None = None) -> ExportPlan:
    files = {
        "champions/BTC/1h/model.cbm": model,
        "champions/BTC/1h/metadata.json": b'{"coin": "BTC", "feature_names": ["a"]}',
        "reports/ranking.json": b'{"entries": []}',
        "reports/summary.json": b'{"day": "' + day.encode() + b'"}',
        **(extra or {}),
    }
    return ExportPlan.create(
        day,
        files,
        features_hash="f" * 64,
        code_hash="c" * 64,
        training_window={"start": "2026-01-01", "end": day},
        created_at=f"{day}T00:05:00+00:00",
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _remote(server, root: str = ROOT) -> dict[str, bytes]:
    return {path[len(root) + 1 :]: data for path, data in server.files(root).items()}


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        1000,
        DROPBOX_BLOCK_BYTES - 1,
        DROPBOX_BLOCK_BYTES,
        DROPBOX_BLOCK_BYTES + 1,
        2 * DROPBOX_BLOCK_BYTES + 7,
    ],
)
def test_content_hash_follows_the_documented_block_algorithm(size):
    data = bytes((i * 31 + 7) % 251 for i in range(min(size, 4096))) * (size // 4096 + 1)
    data = data[:size]
    reference = dropbox.content_hash.DropboxContentHasher()
    reference.update(data)
    assert dropbox_content_hash(data) == reference.hexdigest() == content_hash(data)
    if size <= DROPBOX_BLOCK_BYTES and size > 0:
        # One block: the SHA-256 of that block's SHA-256 digest, not the plain SHA-256.
        assert dropbox_content_hash(data) != sha256_bytes(data)


def test_empty_content_hash_is_the_hash_of_no_blocks():
    assert dropbox_content_hash(b"") == sha256_bytes(b"")


def test_dropbox_store_is_an_export_store(dropbox_account):
    assert isinstance(dropbox_account.store(), ExportStore)


def test_root_folder_must_be_an_absolute_dropbox_path():
    assert normalize_dropbox_root("/huracan/") == "/huracan"
    assert normalize_dropbox_root("/") == ""
    for bad in ("huracan", "/a//b", "C:\\exports"):
        with pytest.raises(ValueError, match="dropbox root"):
            normalize_dropbox_root(bad)


def test_small_files_go_in_one_call_and_large_ones_through_a_session(dropbox_account):
    server = dropbox_account.server
    store = dropbox_account.store(chunk_size_bytes=CHUNK)
    small, large = b"x" * CHUNK, bytes(range(256)) * 14  # 1,024 and 3,584 bytes

    store.write("a/small.bin", small)
    assert server.routes_called()[-1] == UPLOAD
    store.write("a/large.bin", large)
    session_routes = [r for r in server.routes_called() if "upload_session" in r]
    assert session_routes == [
        "/2/files/upload_session/start",
        "/2/files/upload_session/append_v2",
        "/2/files/upload_session/append_v2",
        FINISH,
    ]
    assert server.files() == {f"{ROOT}/a/small.bin": small, f"{ROOT}/a/large.bin": large}
    assert store.read("a/large.bin") == large and store.read("a/missing.bin") is None
    files, folders = store.list_tree("a")
    assert files == {"small.bin": dropbox_content_hash(small), "large.bin": dropbox_content_hash(large)}
    assert folders == set()


def test_publish_gives_exactly_the_local_layout_and_retention(dropbox_account, tmp_path):
    """Same plans, same retention: the Dropbox folder ends byte for byte like the local one."""
    local = LocalFolderPublisher(tmp_path / "exports", retain_versions=2)
    remote = StorePublisher(dropbox_account.store(chunk_size_bytes=CHUNK), retain_versions=2)
    days = ["2026-04-01", "2026-04-02", "2026-04-03"]
    for day in days:
        local_result, remote_result = local.publish(_plan(day)), remote.publish(_plan(day))
        assert remote_result.plan == local_result.plan
        assert remote_result.latest == local_result.latest == day
        assert remote_result.files_written == local_result.files_written == 6
    assert remote_result.pruned == local_result.pruned == ["2026-04-01"]
    assert remote_result.location == f"dropbox:{ROOT}/2026-04-03"

    remote_files = _remote(dropbox_account.server)
    assert remote_files == _tree(tmp_path / "exports")
    assert remote_files[LATEST_NAME] == b"2026-04-03\n"
    assert sorted({p.split("/")[0] for p in remote_files}) == ["2026-04-02", "2026-04-03", LATEST_NAME]
    assert not any(".staging-" in p for p in dropbox_account.server.folders())


def test_backfill_does_not_move_latest_back(dropbox_account):
    publisher = StorePublisher(dropbox_account.store())
    publisher.publish(_plan("2026-04-02"))
    result = publisher.publish(_plan("2026-04-01"))
    assert result.latest == "2026-04-02"
    assert _remote(dropbox_account.server)[LATEST_NAME] == b"2026-04-02\n"
    assert f"2026-04-01/{MANIFEST_NAME}" in _remote(dropbox_account.server)


def test_dry_run_writes_nothing_and_returns_the_plan(dropbox_account):
    server = dropbox_account.server
    StorePublisher(dropbox_account.store()).publish(_plan("2026-04-01"))
    before, calls = server.files(), len(server.requests)

    plan = _plan("2026-04-02")
    result = StorePublisher(dropbox_account.store(), dry_run=True).publish(plan)

    assert result.dry_run and (result.files_written, result.bytes_written) == (0, 0)
    assert result.plan == plan.describe() and result.latest == "2026-04-01"
    assert server.files() == before
    assert not WRITE_ROUTES & {r.route for r in server.requests[calls:]}


def test_429_waits_as_long_as_retry_after_says(dropbox_account, caplog):
    server = dropbox_account.server
    server.inject(UPLOAD, "status", status=429, retry_after_s=1)
    store = dropbox_account.store()
    caplog.set_level(logging.WARNING, logger="huracan.export")

    started = time.monotonic()
    store.write("reports/ranking.json", b"{}")
    waited = time.monotonic() - started

    assert waited >= 1.0  # the stand-in asked for 1 s; the policy's own backoff is 10 ms
    assert server.files() == {f"{ROOT}/reports/ranking.json": b"{}"}
    [retry] = [r.getMessage() for r in caplog.records if "event=dropbox_retry" in r.getMessage()]
    assert "delay_s=1.000" in retry and "HTTP 429" in retry and "reports/ranking.json" in retry


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 503},
        {"kind": "slow", "delay_s": 0.6},  # the answer comes after the 0.3 s timeout
        {"kind": "drop"},  # connection closed before the upload took effect
        {"kind": "drop", "after_work": True},  # ... or after it did
        {"kind": "truncate"},  # the server kept only half of the bytes
    ],
    ids=["500", "503", "timeout", "drop", "drop-after-work", "truncate"],
)
@pytest.mark.parametrize("size", [200, 3000], ids=["single-upload", "upload-session"])
def test_transient_faults_are_retried_until_the_hash_matches(dropbox_account, caplog, fault, size):
    server = dropbox_account.server
    route = UPLOAD if size <= CHUNK else FINISH
    server.inject(route, **fault)
    store = dropbox_account.store(chunk_size_bytes=CHUNK, timeout_s=0.3)
    caplog.set_level(logging.WARNING, logger="huracan.export")
    data = bytes(range(200)) * (size // 200)

    store.write("champions/BTC/1h/model.cbm", data)

    assert server.files() == {f"{ROOT}/champions/BTC/1h/model.cbm": data}
    assert [r.route for r in server.requests].count(route) == 2
    retries = [r.getMessage() for r in caplog.records if "event=dropbox_retry" in r.getMessage()]
    assert len(retries) == 1 and "champions/BTC/1h/model.cbm" in retries[0]
    if fault["kind"] == "truncate":
        assert "content_hash" in retries[0]


def test_truncated_download_is_retried(dropbox_account):
    server = dropbox_account.server
    store = dropbox_account.store()
    store.write("reports/metrics.json", b'{"sharpe": 1.2}')
    server.inject("/2/files/download", "truncate")
    assert store.read("reports/metrics.json") == b'{"sharpe": 1.2}'
    assert [r.route for r in server.requests].count("/2/files/download") == 2


def test_a_failure_that_does_not_pass_names_the_path_and_leaves_latest_alone(dropbox_account):
    server = dropbox_account.server
    publisher = StorePublisher(dropbox_account.store(chunk_size_bytes=CHUNK), retain_versions=1)
    publisher.publish(_plan("2026-04-01"))
    server.inject(UPLOAD, "status", status=500, path_contains="reports/ranking.json", times=None)

    with pytest.raises(ExportStoreError) as excinfo:
        publisher.publish(_plan("2026-04-02"))

    message = str(excinfo.value)
    assert f"dropbox:{ROOT}/.staging-2026-04-02/reports/ranking.json" in message
    assert "after 4 attempts" in message and "HTTP 500" in message
    remote = _remote(server)
    assert remote[LATEST_NAME] == b"2026-04-01\n"
    # Retention runs only after a successful export: the old day is still there.
    assert f"2026-04-01/{MANIFEST_NAME}" in remote
    assert not any(p.startswith("2026-04-02/") for p in remote)


def test_interrupted_publish_resumes_and_ends_like_an_uninterrupted_one(dropbox_account):
    server = dropbox_account.server
    plan = _plan("2026-04-02", extra={"reports/costs.json": b"{}", "reports/metrics.json": b"{}"})
    # The reference: the same plans, uninterrupted, under another root.
    reference = StorePublisher(dropbox_account.store("/reference", chunk_size_bytes=CHUNK))
    reference.publish(_plan("2026-04-01"))
    reference.publish(plan)

    publisher = StorePublisher(dropbox_account.store(chunk_size_bytes=CHUNK))
    publisher.publish(_plan("2026-04-01"))
    # Files go up in path order: champions/…, then reports/costs.json, reports/metrics.json, …
    server.inject(UPLOAD, "status", status=500, path_contains="reports/metrics.json", times=None)
    with pytest.raises(ExportStoreError, match="reports/metrics.json"):
        publisher.publish(plan)
    assert _remote(server)[LATEST_NAME] == b"2026-04-01\n"
    staged = _remote(server, f"{ROOT}/.staging-2026-04-02")
    assert set(staged) == {
        "champions/BTC/1h/metadata.json",
        "champions/BTC/1h/model.cbm",
        "reports/costs.json",
    }

    server.clear_faults()
    calls_before = len(server.requests)
    result = publisher.publish(plan)

    assert result.files_reused == 3
    assert result.files_written == len(plan.all_files()) - 3 + 1  # the rest, the manifest, LATEST
    sent = {
        r.path.removeprefix(f"{ROOT}/") for r in server.requests[calls_before:] if r.route in (UPLOAD, FINISH)
    }
    assert sent == {
        ".staging-2026-04-02/reports/metrics.json",
        ".staging-2026-04-02/reports/ranking.json",
        ".staging-2026-04-02/reports/summary.json",
        f".staging-2026-04-02/{MANIFEST_NAME}",
        LATEST_NAME,
    }
    assert _remote(server) == _remote(server, "/reference")


def test_resume_drops_what_an_older_attempt_left_that_the_plan_does_not_hold(dropbox_account):
    server = dropbox_account.server
    store = dropbox_account.store()
    store.write(".staging-2026-04-02/champions/DOGE/4h/model.cbm", b"old")
    store.write(".staging-2026-04-02/reports/old.json", b"{}")

    StorePublisher(store).publish(_plan("2026-04-02"))

    day = _remote(server, f"{ROOT}/2026-04-02")
    assert set(day) == {path for path, _ in _plan("2026-04-02").all_files()}
    assert not any("DOGE" in folder for folder in server.folders())


def test_republishing_a_day_replaces_it_whole(dropbox_account):
    server = dropbox_account.server
    publisher = StorePublisher(dropbox_account.store())
    publisher.publish(_plan("2026-04-01", extra={"champions/ETH/4h/model.cbm": b"eth"}))
    second = _plan("2026-04-01", model=b"new model")
    publisher.publish(second)
    day = _remote(server, f"{ROOT}/2026-04-01")
    assert day == dict(second.all_files())
    assert not any(".replaced-" in folder or ".staging-" in folder for folder in server.folders())


def test_the_access_token_flow_works_too(dropbox_account, monkeypatch):
    server = dropbox_account.server
    for name in ("HURACAN_DROPBOX_APP_KEY", "HURACAN_DROPBOX_APP_SECRET", "HURACAN_DROPBOX_REFRESH_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HURACAN_DROPBOX_ACCESS_TOKEN", "SECRET-long-lived-token")
    server.access_tokens.add("SECRET-long-lived-token")

    dropbox_account.store().write("LATEST", b"2026-04-01\n")

    assert server.authorizations == ["Bearer SECRET-long-lived-token"]
    assert "/oauth2/token" not in server.routes_called()


def test_the_refresh_token_flow_gets_an_access_token_first(dropbox_account):
    server = dropbox_account.server
    dropbox_account.store().write("LATEST", b"2026-04-01\n")
    assert server.routes_called() == ["/oauth2/token", UPLOAD]
    assert server.authorizations == [f"Bearer {server.issued_tokens[0]}"]


def test_bad_credentials_fail_fast_without_showing_them(dropbox_account, monkeypatch, caplog):
    monkeypatch.setenv("HURACAN_DROPBOX_REFRESH_TOKEN", "SECRET-revoked-refresh-token")
    caplog.set_level(logging.DEBUG)
    store = dropbox_account.store()
    with pytest.raises(ExportStoreError, match="authentication failed") as excinfo:
        store.write("LATEST", b"2026-04-01\n")
    assert dropbox_account.server.routes_called() == ["/oauth2/token"]  # not retried
    for secret in ("SECRET-revoked-refresh-token", dropbox_account.app_secret):
        assert secret not in str(excinfo.value) and secret not in repr(excinfo.value)
        assert secret not in caplog.text


def test_tls_is_verified_against_the_given_ca_only(dropbox_account):
    """Without the throw-away CA the handshake fails: the stand-in is not trusted by accident."""
    untrusting = DropboxStore(ROOT, DropboxCredentials.from_env(), timeout_s=5.0)
    started = time.monotonic()
    with pytest.raises(ExportStoreError, match="TLS verification of the server failed"):
        untrusting.read(LATEST_NAME)
    assert time.monotonic() - started < 1.0  # not retried: the default policy would wait 1 s, 2 s, ...
    assert dropbox_account.server.requests == []


def test_explicit_ca_wins_over_requests_ca_bundle(dropbox_account, monkeypatch, tmp_path):
    # requests lets these override a session's `verify`; the store must not let them.
    bogus = tmp_path / "not-our-ca.pem"
    bogus.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    assert dropbox_account.store().read(LATEST_NAME) is None


def test_latest_waits_for_every_file_to_verify(dropbox_account):
    """A server that keeps storing a truncated manifest: the hash check fails, LATEST never moves."""
    server = dropbox_account.server
    publisher = StorePublisher(dropbox_account.store(chunk_size_bytes=CHUNK))
    publisher.publish(_plan("2026-04-01"))
    for route in (UPLOAD, FINISH):  # whichever way the manifest goes up
        server.inject(route, "truncate", path_contains=MANIFEST_NAME, times=None)

    with pytest.raises(ExportStoreError) as excinfo:
        publisher.publish(_plan("2026-04-02"))

    assert f".staging-2026-04-02/{MANIFEST_NAME}" in str(excinfo.value)
    assert "content_hash" in str(excinfo.value)
    assert _remote(server)[LATEST_NAME] == b"2026-04-01\n"
    assert f"{ROOT}/2026-04-02" not in server.folders()


def test_a_publish_finishes_what_killed_publishes_left_the_same_in_dropbox_and_locally(
    dropbox_account, tmp_path
):
    """A kill between the two renames of a same-day re-publish (``<day>/`` renamed aside, the new
    copy not yet in place) and a kill while staging another day: the next publish puts the
    complete copy back under its name and removes the rest, in both stores alike."""
    local, remote = LocalFolderStore(tmp_path / "exports"), dropbox_account.store(chunk_size_bytes=CHUNK)
    aside, partial = f"{REPLACED_PREFIX}2026-04-01-0a1b2c3d4e5f", f"{STAGING_PREFIX}2026-03-30"
    for store in (local, remote):
        StorePublisher(store).publish(_plan("2026-04-01"))
        store.move("2026-04-01", aside)
        store.write(f"{partial}/reports/metrics.json", b"{")
    time.sleep(1.1)  # Dropbox keeps file times to the second
    started = time.time()
    results = [
        StorePublisher(s).publish(_plan("2026-04-02"), leftovers_before=started) for s in (local, remote)
    ]

    for result in results:
        assert sorted(result.leftovers) == [f"removed {partial}", f"restored {aside} -> 2026-04-01"]
    remote_files = _remote(dropbox_account.server)
    assert remote_files == _tree(tmp_path / "exports")
    assert f"2026-04-01/{MANIFEST_NAME}" in remote_files and remote_files[LATEST_NAME] == b"2026-04-02\n"
    assert not [f for f in dropbox_account.server.folders() if REPLACED_PREFIX in f or STAGING_PREFIX in f]
    # a folder that changed after the run started is another publish's, running now: kept
    local.write(f"{STAGING_PREFIX}2026-04-03-ffffffffffff/x", b"1")
    assert StorePublisher(local).finish_leftovers(started) == []
