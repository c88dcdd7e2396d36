"""Signed exports: an Ed25519 signature over a day's ``manifest.json`` bytes (issue 12, item 9).

The exporter signs when ``HURACAN_EXPORT_SIGNING_KEY`` holds a private key; the signature goes
beside the manifest as ``manifest.json.sig`` (written into staging with the day's files, so it is
renamed into place with them). Hamilton, given the matching public key, refuses a day folder whose
manifest is unsigned or signed by another key. The manifest lists every file's SHA-256 and its
own day, so one signature covers the whole folder.

Keys are base64 of the 32 raw key bytes (or PEM). The private key is read from the environment
only; it never appears in a repr, a log line, metadata or an error: errors name the variable.
Pure Python; no dagster.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_KEY_ENV = "HURACAN_EXPORT_SIGNING_KEY"
SIGNATURE_NAME = "manifest.json.sig"
ALGORITHM = "ed25519"


class SigningKeyError(ValueError):
    """A key that is not an Ed25519 key; the message names where it came from, never its value."""


class SignatureError(ValueError):
    """A manifest signature that is missing, malformed, by another key, or does not verify."""


def _raw(text: str | bytes, where: str, private: bool) -> bytes | Ed25519PrivateKey | Ed25519PublicKey:
    data = text.encode() if isinstance(text, str) else bytes(text)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = (
                serialization.load_pem_private_key(data, password=None)
                if private
                else serialization.load_pem_public_key(data)
            )
        except (ValueError, TypeError):
            key = None
        wanted = Ed25519PrivateKey if private else Ed25519PublicKey
        if not isinstance(key, wanted):
            raise SigningKeyError(f"{where} is not an Ed25519 {'private' if private else 'public'} key (PEM)")
        return key
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SigningKeyError(
            f"{where} is not an Ed25519 {'private' if private else 'public'} key: "
            "expected base64 of 32 bytes, or PEM"
        )
    return raw


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key: names a key without showing it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    """The public key as Hamilton takes it: base64 of its 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, repr=False)
class ManifestSigner:
    """Signs manifests with one private key. Its repr shows the key id only."""

    _key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"ManifestSigner(key_id={self.key_id})"

    @property
    def key_id(self) -> str:
        return key_id(self._key.public_key())

    @property
    def public_key(self) -> str:
        return public_key_text(self._key.public_key())

    def signature_bytes(self, manifest: bytes) -> bytes:
        """``manifest.json.sig``: key-sorted JSON with the algorithm, the key id and the
        base64 signature of exactly ``manifest`` (Ed25519 is deterministic: same bytes, same file)."""
        signature = base64.b64encode(self._key.sign(bytes(manifest))).decode()
        document = {"algorithm": ALGORITHM, "key_id": self.key_id, "signature": signature}
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def generate_signer() -> tuple[ManifestSigner, str]:
    """A new key pair: the signer and the private key's text for ``HURACAN_EXPORT_SIGNING_KEY``."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return ManifestSigner(key), base64.b64encode(raw).decode()


def signer_from_env(environ: Mapping[str, str]) -> ManifestSigner | None:
    """The signer of ``HURACAN_EXPORT_SIGNING_KEY``, or None when it is unset or empty."""
    text = environ.get(SIGNING_KEY_ENV, "")
    if not text.strip():
        return None
    key = _raw(text, SIGNING_KEY_ENV, private=True)
    if isinstance(key, bytes):
        key = Ed25519PrivateKey.from_private_bytes(key)
    assert isinstance(key, Ed25519PrivateKey)
    return ManifestSigner(key)


def load_public_key(text: str | bytes, where: str = "the public key") -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its 32 raw bytes, or PEM."""
    key = _raw(text, where, private=False)
    if isinstance(key, bytes):
        key = Ed25519PublicKey.from_public_bytes(key)
    assert isinstance(key, Ed25519PublicKey)
    return key


def verify_signature(manifest: bytes, signature: bytes | None, public: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureError` unless ``signature`` (the ``manifest.json.sig`` bytes, None
    when there is no such file) is a valid signature of exactly ``manifest`` by ``public``."""
    expected = key_id(public)
    if signature is None:
        raise SignatureError(f"the manifest is not signed (no {SIGNATURE_NAME}); key {expected} expected")
    try:
        document = json.loads(signature)
        algorithm, signer, value = document["algorithm"], document["key_id"], document["signature"]
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise SignatureError(f"{SIGNATURE_NAME} is malformed") from None
    if algorithm != ALGORITHM:
        raise SignatureError(f"{SIGNATURE_NAME} uses {str(algorithm)[:20]!r}, not {ALGORITHM}")
    try:
        public.verify(raw, bytes(manifest))
    except InvalidSignature:
        who = "another key" if signer != expected else f"key {expected}, but does not verify"
        raise SignatureError(f"the manifest is signed by {who}; key {expected} expected") from None
