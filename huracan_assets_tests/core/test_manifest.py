import json

import pytest

from huracan_assets.core.hashing import sha256_bytes
from huracan_assets.core.manifest import (
    MANIFEST_NAME,
    ManifestMismatchError,
    build_manifest,
    manifest_bytes,
    parse_manifest,
    verify_file,
)

WINDOW = {"start": "2026-01-01", "end": "2026-03-31"}


def _manifest(files, **kwargs):
    params = {
        "features_hash": "f" * 64,
        "code_hash": "c" * 64,
        "training_window": WINDOW,
        "created_at": "2026-04-01T00:05:00+00:00",
    }
    params.update(kwargs)
    return build_manifest("2026-04-01", files, **params)


def test_build_manifest_lists_every_file_sorted_with_size_and_sha256():
    files = {"reports/summary.json": b"{}", "champions/BTC/1h/model.cbm": b"\x00\x01\x02"}
    manifest = _manifest(files, extra={"universe_size": 3})

    assert manifest["version"] == 1
    assert manifest["day"] == "2026-04-01"
    assert manifest["training_window"] == WINDOW
    assert manifest["universe_size"] == 3
    assert manifest["files"] == [
        {"path": "champions/BTC/1h/model.cbm", "bytes": 3, "sha256": sha256_bytes(b"\x00\x01\x02")},
        {"path": "reports/summary.json", "bytes": 2, "sha256": sha256_bytes(b"{}")},
    ]
    assert parse_manifest(manifest_bytes(manifest)) == manifest


@pytest.mark.parametrize(
    "bad_path",
    [
        "/etc/passwd",
        "../outside.json",
        "reports/../../x",
        "reports\\ranking.json",
        MANIFEST_NAME,
        "a//b",
        "./a",
        "",
    ],
)
def test_build_manifest_refuses_unsafe_paths_naming_them(bad_path):
    with pytest.raises(ValueError) as excinfo:
        _manifest({bad_path: b"x"})
    assert repr(bad_path) in str(excinfo.value)


def test_build_manifest_refuses_a_name_that_is_both_file_and_folder():
    with pytest.raises(ValueError, match="'reports'"):
        _manifest({"reports": b"x", "reports/ranking.json": b"{}"})


def test_build_manifest_refuses_bad_day_window_and_shadowing_extra():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        build_manifest(
            "2026-02-30", {}, features_hash="f", code_hash="c", training_window=WINDOW, created_at="t"
        )
    with pytest.raises(ValueError, match="start"):
        _manifest({}, training_window={"end": "2026-03-31"})
    with pytest.raises(ValueError, match="files"):
        _manifest({}, extra={"files": []})


def test_verify_file_accepts_match_and_names_file_expected_and_actual_on_mismatch():
    manifest = _manifest({"champions/BTC/1h/model.cbm": b"model-bytes"})
    verify_file(manifest, "champions/BTC/1h/model.cbm", b"model-bytes")

    with pytest.raises(ManifestMismatchError) as excinfo:
        verify_file(manifest, "champions/BTC/1h/model.cbm", b"model-bytez")
    message = str(excinfo.value)
    assert "champions/BTC/1h/model.cbm" in message
    assert sha256_bytes(b"model-bytes") in message
    assert sha256_bytes(b"model-bytez") in message
    assert isinstance(excinfo.value, ValueError)


def test_verify_file_refuses_an_unlisted_file():
    manifest = _manifest({"reports/summary.json": b"{}"})
    with pytest.raises(ManifestMismatchError, match="reports/extra.json.*not listed"):
        verify_file(manifest, "reports/extra.json", b"{}")


def test_parse_manifest_refuses_wrong_version_and_traversal():
    manifest = _manifest({"reports/summary.json": b"{}"})
    with pytest.raises(ValueError, match="version"):
        parse_manifest(json.dumps({**manifest, "version": 2}).encode())
    evil = {**manifest, "files": [{"path": "../x", "bytes": 1, "sha256": "0" * 64}]}
    with pytest.raises(ValueError, match=r"\.\./x"):
        parse_manifest(json.dumps(evil).encode())
