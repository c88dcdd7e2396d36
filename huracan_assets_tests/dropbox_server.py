"""A local stand-in for the Dropbox API: a real threaded HTTPS server on 127.0.0.1.

The official SDK talks to it unchanged. Its hosts come from ``DROPBOX_API_HOST``,
``DROPBOX_API_CONTENT_HOST`` and ``DROPBOX_API_NOTIFY_HOST``, read once when ``dropbox`` is
imported, so :func:`reserve_listener` binds the port and sets them before anything imports the
SDK (the root conftest calls it). It always speaks HTTPS: :func:`make_tls_files` writes a
throw-away CA (``basicConstraints CA:TRUE``) and a server certificate for ``IP:127.0.0.1``
signed by it; clients pass the CA as ``ca_certs``.

Routes, with the real API's argument and error shapes (``Dropbox-API-Arg`` header for content
routes, JSON bodies for RPC routes, 409 bodies with ``error_summary`` and ``error``)::

    /2/files/upload  /2/files/upload_session/start  /append_v2  /finish
    /2/files/download  /2/files/get_metadata  /2/files/list_folder  /list_folder/continue
    /2/files/move_v2  /2/files/delete_v2  /2/check/user  /oauth2/token (refresh-token grant)

Faults are injected per route (and optionally per path) with :meth:`DropboxStandIn.inject`:
``status`` (429 with Retry-After, 500, ...), ``slow`` (answer after a delay: the client times
out, the work is still done), ``drop`` (close the connection without an answer) and
``truncate`` (keep or send only half of the bytes — what a client's own content-hash check
is for). Nothing here imports the SDK.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST_ENV_VARS = ("DROPBOX_API_HOST", "DROPBOX_API_CONTENT_HOST", "DROPBOX_API_NOTIFY_HOST")
BLOCK = 4 * 1024 * 1024
WRITE_ROUTES = frozenset(
    {
        "/2/files/upload",
        "/2/files/upload_session/start",
        "/2/files/upload_session/append_v2",
        "/2/files/upload_session/finish",
        "/2/files/move_v2",
        "/2/files/delete_v2",
    }
)


def reserve_listener() -> socket.socket:
    """Bind a listening socket on 127.0.0.1 and point the SDK's host variables at it.

    Must run before ``dropbox`` is imported anywhere in the process (the SDK reads the hosts
    once, at import). The socket stays open, so no other process can take the port meanwhile.
    """
    if "dropbox" in sys.modules:
        raise RuntimeError("the dropbox SDK was imported before its hosts were pointed at the stand-in")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    for name in HOST_ENV_VARS:
        os.environ[name] = host
    return listener


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_files(folder: Path) -> TLSFiles:
    """A throw-away CA and a server certificate for IP:127.0.0.1 signed by it (PEM files in ``folder``)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Huracan throw-away test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def content_hash(data: bytes) -> str:
    """Dropbox's content hash, written independently of the production code it checks."""
    block_digests = b"".join(hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK))
    return hashlib.sha256(block_digests).hexdigest()


@dataclass
class Fault:
    """One injected fault. ``times=None`` means every matching request."""

    route: str
    kind: str  # "status" | "slow" | "drop" | "truncate"
    status: int = 500
    retry_after_s: int = 1
    delay_s: float = 0.0
    after_work: bool = False  # "drop": close only after the request took effect
    path_contains: str | None = None
    times: int | None = 1
    hits: int = 0

    def matches(self, route: str, path: str) -> bool:
        if route != self.route or (self.times is not None and self.hits >= self.times):
            return False
        return self.path_contains is None or self.path_contains.lower() in path.lower()


@dataclass
class StoredFile:
    path_display: str
    data: bytes
    rev: int
    modified: str


@dataclass
class RequestRecord:
    route: str
    path: str
    status: int


@dataclass
class _ApiError(Exception):
    status: int
    body: dict[str, Any]


def _not_found(tag: str) -> _ApiError:
    return _ApiError(
        409, {"error_summary": f"{tag}/not_found/..", "error": {".tag": tag, tag: {".tag": "not_found"}}}
    )


@dataclass
class _State:
    files: dict[str, StoredFile] = field(default_factory=dict)  # path_lower -> file
    folders: dict[str, str] = field(default_factory=dict)  # path_lower -> path_display
    sessions: dict[str, bytearray] = field(default_factory=dict)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class DropboxStandIn(ThreadingHTTPServer):
    """The stand-in server. ``files()`` shows what it holds; ``requests`` what it was asked.

    Accepted credentials: the access tokens in ``access_tokens`` (add your own, or get one
    through ``/oauth2/token`` with a refresh token registered by :meth:`register_app`).
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, listener: socket.socket, tls: TLSFiles, *, page_size: int = 4) -> None:
        super().__init__(listener.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.server_address = listener.getsockname()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]
        self.tls = tls
        self._tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls_context.load_cert_chain(str(tls.server_cert), str(tls.server_key))
        self.page_size = page_size
        self.lock = threading.RLock()
        self._state = _State()
        self._revs = itertools.count(0x100000000)
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.authorizations: list[str] = []
        self.access_tokens: set[str] = set()
        self.issued_tokens: list[str] = []
        self.apps: dict[str, str] = {}  # app_key -> app_secret
        self.refresh_tokens: dict[str, str] = {}  # refresh_token -> app_key
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def start(self) -> DropboxStandIn:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        """Forget every file, session, fault, request and credential."""
        with self.lock:
            self._state = _State()
            self.faults.clear()
            self.requests.clear()
            self.authorizations.clear()
            self.access_tokens.clear()
            self.issued_tokens.clear()
            self.apps.clear()
            self.refresh_tokens.clear()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # TLS handshake in the worker thread, so a slow client never blocks the accept loop.
        try:
            tls_socket = self._tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls_socket, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout test) is not an error worth a traceback

    # -- test controls --------------------------------------------------------------------------

    def register_app(self, app_key: str, app_secret: str, refresh_token: str) -> None:
        with self.lock:
            self.apps[app_key] = app_secret
            self.refresh_tokens[refresh_token] = app_key

    def inject(self, route: str, kind: str, **options: Any) -> Fault:
        """Add a fault for ``route`` (e.g. ``"/2/files/upload"``); see :class:`Fault`."""
        fault = Fault(route=route, kind=kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def files(self, under: str = "") -> dict[str, bytes]:
        """``{path_display: bytes}`` of every file below ``under`` (all when empty)."""
        prefix = under.lower().rstrip("/") + "/" if under else ""
        with self.lock:
            return {f.path_display: f.data for key, f in self._state.files.items() if key.startswith(prefix)}

    def folders(self) -> set[str]:
        with self.lock:
            return set(self._state.folders.values())

    def put_file(self, path: str, data: bytes) -> None:
        """Place a file as if someone else had written it (e.g. to tamper with an export)."""
        with self.lock:
            self._store(path, data)

    def remove(self, path: str) -> None:
        with self.lock:
            self._delete(path.lower())

    def routes_called(self) -> list[str]:
        with self.lock:
            return [r.route for r in self.requests]

    def take_fault(self, route: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(route, path):
                    fault.hits += 1
                    return fault
        return None

    # -- the file system ------------------------------------------------------------------------

    def _now(self) -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _add_parents(self, path: str) -> None:
        parts = path.split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            display = "/" + "/".join(parts[:depth])
            if display.lower() in self._state.files:
                raise _ApiError(
                    409,
                    {
                        "error_summary": "path/conflict/file/..",
                        "error": {
                            ".tag": "path",
                            "reason": {".tag": "conflict", "conflict": {".tag": "file"}},
                        },
                    },
                )
            self._state.folders.setdefault(display.lower(), display)

    def _store(self, path: str, data: bytes) -> StoredFile:
        if path.lower() in self._state.folders:
            raise _ApiError(
                409,
                {
                    "error_summary": "path/conflict/folder/..",
                    "error": {
                        ".tag": "path",
                        "reason": {".tag": "conflict", "conflict": {".tag": "folder"}},
                        "upload_session_id": "",
                    },
                },
            )
        self._add_parents(path)
        stored = StoredFile(path_display=path, data=bytes(data), rev=next(self._revs), modified=self._now())
        self._state.files[path.lower()] = stored
        return stored

    def _file_metadata(self, stored: StoredFile) -> dict[str, Any]:
        return {
            ".tag": "file",
            "name": stored.path_display.rsplit("/", 1)[-1],
            "id": "id:" + hashlib.sha1(stored.path_display.lower().encode()).hexdigest()[:22],
            "client_modified": stored.modified,
            "server_modified": stored.modified,
            "rev": f"{stored.rev:x}",
            "size": len(stored.data),
            "path_lower": stored.path_display.lower(),
            "path_display": stored.path_display,
            "content_hash": content_hash(stored.data),
            "is_downloadable": True,
        }

    def _folder_metadata(self, display: str) -> dict[str, Any]:
        return {
            ".tag": "folder",
            "name": display.rsplit("/", 1)[-1],
            "id": "id:" + hashlib.sha1(display.lower().encode()).hexdigest()[:22],
            "path_lower": display.lower(),
            "path_display": display,
        }

    def _metadata(self, key: str) -> dict[str, Any] | None:
        if key in self._state.files:
            return self._file_metadata(self._state.files[key])
        if key in self._state.folders:
            return self._folder_metadata(self._state.folders[key])
        return None

    def _delete(self, key: str) -> dict[str, Any] | None:
        metadata = self._metadata(key)
        if metadata is None:
            return None
        prefix = key + "/"
        self._state.files = {
            k: f for k, f in self._state.files.items() if k != key and not k.startswith(prefix)
        }
        self._state.folders = {
            k: d for k, d in self._state.folders.items() if k != key and not k.startswith(prefix)
        }
        return metadata

    # -- routes ---------------------------------------------------------------------------------

    def route(
        self, route: str, arg: dict[str, Any], body: bytes, fault: Fault | None
    ) -> tuple[Any, bytes | None]:
        """Run one API route under the lock; returns (JSON result, download bytes or None)."""
        truncate = fault is not None and fault.kind == "truncate"
        with self.lock:
            if route == "/2/files/upload":
                self._check_hash(arg, body, truncate)
                data = body[: len(body) // 2] if truncate else body
                return self._file_metadata(self._store(arg["path"], data)), None
            if route == "/2/files/upload_session/start":
                self._check_hash(arg, body, truncate)
                session_id = secrets.token_hex(16)
                self._state.sessions[session_id] = bytearray(body)
                return {"session_id": session_id}, None
            if route == "/2/files/upload_session/append_v2":
                self._check_hash(arg, body, truncate)
                self._session(arg["cursor"], "").extend(body)
                return None, None
            if route == "/2/files/upload_session/finish":
                self._check_hash(arg, body, truncate)
                session = self._session(arg["cursor"], "lookup_failed")
                data = bytes(session) + body
                if truncate:
                    data = data[: len(data) // 2]
                stored = self._store(arg["commit"]["path"], data)
                del self._state.sessions[arg["cursor"]["session_id"]]
                return self._file_metadata(stored), None
            if route == "/2/files/download":
                stored = self._state.files.get(arg["path"].lower())
                if stored is None:
                    raise _not_found("path")
                data = stored.data[: len(stored.data) // 2] if truncate else stored.data
                return self._file_metadata(stored), data
            if route == "/2/files/get_metadata":
                metadata = self._metadata(arg["path"].lower())
                if metadata is None:
                    raise _not_found("path")
                return metadata, None
            if route == "/2/files/list_folder":
                return self._list_folder(arg["path"], bool(arg.get("recursive"))), None
            if route == "/2/files/list_folder/continue":
                return self._page(arg["cursor"]), None
            if route == "/2/files/move_v2":
                return self._move(arg["from_path"], arg["to_path"]), None
            if route == "/2/check/user":  # the SDK's check_user: a valid token echoes the query
                return {"result": str(arg.get("query", ""))}, None
            if route == "/2/files/delete_v2":
                metadata = self._delete(arg["path"].lower())
                if metadata is None:
                    raise _not_found("path_lookup")
                return {"metadata": metadata}, None
        raise _ApiError(404, {"error_summary": "unknown route", "error": {".tag": "other"}})

    @staticmethod
    def _check_hash(arg: dict[str, Any], body: bytes, truncate: bool) -> None:
        # Like the real API: a content_hash in the arguments must match the bytes of this call.
        # A "truncate" fault models bytes lost after that check, which only the client can see.
        expected = arg.get("content_hash")
        if expected and not truncate and expected != content_hash(body):
            raise _ApiError(
                409, {"error_summary": "content_hash_mismatch/..", "error": {".tag": "content_hash_mismatch"}}
            )

    def _session(self, cursor: dict[str, Any], wrapper: str) -> bytearray:
        def error(inner: dict[str, Any], summary: str) -> _ApiError:
            body = {wrapper: inner, ".tag": wrapper} if wrapper else inner
            return _ApiError(409, {"error_summary": summary, "error": body})

        session = self._state.sessions.get(cursor["session_id"])
        if session is None:
            raise error({".tag": "not_found"}, "not_found/..")
        if cursor["offset"] != len(session):
            raise error({".tag": "incorrect_offset", "correct_offset": len(session)}, "incorrect_offset/..")
        return session

    def _list_folder(self, path: str, recursive: bool) -> dict[str, Any]:
        key = path.lower()
        if key and key not in self._state.folders:
            if key in self._state.files:
                raise _ApiError(
                    409,
                    {
                        "error_summary": "path/not_folder/..",
                        "error": {".tag": "path", "path": {".tag": "not_folder"}},
                    },
                )
            raise _not_found("path")
        prefix = key + "/"
        entries: list[dict[str, Any]] = []
        if key and recursive:
            entries.append(self._folder_metadata(self._state.folders[key]))  # the real API lists it too
        children = [(k, self._folder_metadata(d)) for k, d in self._state.folders.items()]
        children += [(k, self._file_metadata(f)) for k, f in self._state.files.items()]
        for child_key, metadata in sorted(children):
            if not child_key.startswith(prefix) or child_key == key:
                continue
            if recursive or "/" not in child_key[len(prefix) :]:
                entries.append(metadata)
        cursor = secrets.token_hex(8)
        self._state.cursors[cursor] = entries
        return self._page(cursor)

    def _page(self, cursor: str) -> dict[str, Any]:
        remaining = self._state.cursors.get(cursor)
        if remaining is None:
            raise _ApiError(409, {"error_summary": "reset/..", "error": {".tag": "reset"}})
        page, rest = remaining[: self.page_size], remaining[self.page_size :]
        next_cursor = secrets.token_hex(8)
        self._state.cursors[next_cursor] = rest
        return {"entries": page, "cursor": next_cursor, "has_more": bool(rest)}

    def _move(self, from_path: str, to_path: str) -> dict[str, Any]:
        source, target = from_path.lower(), to_path.lower()
        metadata = self._metadata(source)
        if metadata is None:
            raise _not_found("from_lookup")
        if self._metadata(target) is not None:
            raise _ApiError(
                409,
                {
                    "error_summary": "to/conflict/folder/..",
                    "error": {".tag": "to", "to": {".tag": "conflict", "conflict": {".tag": "folder"}}},
                },
            )
        prefix = source + "/"

        def moved(display: str) -> str:
            return to_path + display[len(from_path) :]

        files = {k: f for k, f in self._state.files.items() if k == source or k.startswith(prefix)}
        folders = {k: d for k, d in self._state.folders.items() if k == source or k.startswith(prefix)}
        self._delete(source)
        self._add_parents(to_path)
        for folder in folders.values():
            self._state.folders[moved(folder).lower()] = moved(folder)
        for stored in files.values():
            stored.path_display = moved(stored.path_display)
            self._state.files[stored.path_display.lower()] = stored
        return {"metadata": self._metadata(target)}

    def refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            app_key = self.refresh_tokens.get(form.get("refresh_token", ""))
            secret_ok = app_key is not None and self.apps.get(app_key) == form.get("client_secret")
            if form.get("grant_type") != "refresh_token" or app_key != form.get("client_id") or not secret_ok:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "refresh token is invalid or revoked",
                }
            token = "sl." + secrets.token_urlsafe(32)
            self.access_tokens.add(token)
            self.issued_tokens.append(token)
            return 200, {"access_token": token, "expires_in": 14400, "token_type": "bearer"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 30  # idle keep-alive connections end on their own
    server: DropboxStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Dropbox-Request-Id", secrets.token_hex(8))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def do_POST(self) -> None:
        route = urllib.parse.urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._handle(route, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up first (timeouts)

    def _handle(self, route: str, body: bytes) -> None:
        server = self.server
        if route == "/oauth2/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            fault = server.take_fault(route, "")
            if fault is not None and fault.kind == "status":
                self._fault_status(route, "", fault)
                return
            status, obj = server.refresh(form)
            self._record(route, "", status)
            self._json(status, obj)
            return
        raw_arg = self.headers.get("Dropbox-API-Arg")
        try:
            arg = json.loads(raw_arg) if raw_arg is not None else (json.loads(body) if body else None)
        except json.JSONDecodeError:
            self._record(route, "", 400)
            self._send(400, b"Error in call: could not decode input as JSON", "text/plain")
            return
        if raw_arg is None:
            body = b""
        path = _arg_path(arg)
        authorization = self.headers.get("Authorization", "")
        with server.lock:
            server.authorizations.append(authorization)
            authorized = authorization.startswith("Bearer ") and authorization[7:] in server.access_tokens
        if not authorized:
            self._record(route, path, 401)
            self._json(
                401, {"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}}
            )
            return
        fault = server.take_fault(route, path)
        if fault is not None and fault.kind == "status":
            self._fault_status(route, path, fault)
            return
        if fault is not None and fault.kind == "drop" and not fault.after_work:
            self._record(route, path, 0)
            self.close_connection = True
            return
        try:
            result, download = server.route(route, arg or {}, body, fault)
        except _ApiError as error:
            self._record(route, path, error.status)
            self._json(error.status, error.body)
            return
        if fault is not None and fault.kind == "drop":
            self._record(route, path, 0)  # the work is done; the answer never comes
            time.sleep(fault.delay_s)
            self.close_connection = True
            return
        self._record(route, path, 200)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay_s)  # the work is done; the answer comes late
        if download is not None:
            self._send(200, download, "application/octet-stream", {"Dropbox-API-Result": json.dumps(result)})
        else:
            self._json(200, result)

    def _fault_status(self, route: str, path: str, fault: Fault) -> None:
        self._record(route, path, fault.status)
        if fault.status == 429:
            self._json(
                429,
                {
                    "error_summary": "too_many_requests/..",
                    "error": {"reason": {".tag": "too_many_requests"}, "retry_after": fault.retry_after_s},
                },
                {"Retry-After": str(fault.retry_after_s)},
            )
        else:
            self._send(fault.status, b"Internal Server Error (injected)", "text/plain")

    def _record(self, route: str, path: str, status: int) -> None:
        with self.server.lock:
            self.server.requests.append(RequestRecord(route, path, status))


def _arg_path(arg: Any) -> str:
    if not isinstance(arg, dict):
        return ""
    for key in ("path", "from_path"):
        if isinstance(arg.get(key), str):
            return arg[key]
    commit = arg.get("commit")
    if isinstance(commit, dict) and isinstance(commit.get("path"), str):
        return commit["path"]
    return ""
