"""A stand-in for NCALayer in the browser tests: a WebSocket server on 127.0.0.1 over TLS that
answers ``kz.gov.pki.knca.basics`` ``sign`` as NCALayer does, signing with a test PKCS#12 (the key
whose extended key usage the page asks for), or, when told: cancels, stalls, answers garbage, or
hangs up. The real NCALayer is what a terminal runs (README, "Signing with ЭЦҚ")."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID
from websockets.sync.server import ServerConnection, serve


def _tls_context(folder: Path) -> ssl.SSLContext:
    """A certificate for 127.0.0.1 (the browser test context ignores that nobody vouches for it,
    as a terminal trusts the one NCALayer installs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class StandIn:
    """``mode``: sign | cancel | stall | garbage | hangup. ``key_files``: PKCS#12 files (bytes)
    with their password, as a parent's USB stick holds them."""

    def __init__(self, key_files: list[bytes], password: bytes) -> None:
        self.mode = "sign"
        self.requests: list[dict[str, Any]] = []
        self._keys = [pkcs12.load_key_and_certificates(data, password) for data in key_files]
        self._folder = tempfile.TemporaryDirectory()
        self._server = serve(self._handle, "127.0.0.1", 0, ssl=_tls_context(Path(self._folder.name)))
        self.port = self._server.socket.getsockname()[1]
        self.url = f"wss://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._stalled = threading.Event()

    def close(self) -> None:
        self._stalled.set()
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._folder.cleanup()

    def _handle(self, connection: ServerConnection) -> None:
        connection.send("--heartbeat--")  # NCALayer's keep-alive is not JSON; the page must ignore it
        for message in connection:
            request = json.loads(message)
            self.requests.append(request)
            if self.mode == "hangup":
                return
            if self.mode == "stall":
                self._stalled.wait(600)
                return
            if self.mode == "cancel":
                connection.send(json.dumps({"status": True, "body": {}}))
            elif self.mode == "garbage":
                connection.send(json.dumps({"status": True, "body": {"result": ["bm90IGEgY21z"]}}))
            else:
                connection.send(json.dumps(self._sign(request)))

    def _sign(self, request: dict[str, Any]) -> dict[str, Any]:
        args = request.get("args") or {}
        if request.get("module") != "kz.gov.pki.knca.basics" or request.get("method") != "sign":
            return {"status": False, "code": "MODULE_NOT_FOUND", "message": "unknown module or method"}
        wanted = set((args.get("signerParams") or {}).get("extKeyUsageOids") or [])
        suitable = [
            (key, cert, chain)
            for key, cert, chain in self._keys
            if cert is not None
            and wanted
            <= {o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        ]
        if not suitable:
            return {"status": False, "code": "NO_SUITABLE_KEY", "message": "no key with this usage"}
        key, cert, chain = suitable[0]
        data = (
            base64.b64decode(args["data"]) if (args.get("signingParams") or {}).get("decode") else args["data"].encode()
        )
        builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
        for extra in chain:
            builder = builder.add_certificate(extra)
        options = [pkcs7.PKCS7Options.Binary]
        if not (args.get("signingParams") or {}).get("encapsulate", True):
            options.append(pkcs7.PKCS7Options.DetachedSignature)
        cms = builder.sign(serialization.Encoding.DER, options)
        return {"status": True, "body": {"result": [base64.b64encode(cms).decode()]}}
