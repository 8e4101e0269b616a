"""The sender's network over real sockets: a name is looked up once per connection and the
connection goes to the address checked, with the URL's name as TLS server name, certificate name
and Host header; a refused address is never connected to."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.api.webhook_harness import Names

from deconflict.errors import RefusedDestination
from deconflict.runtime.webhooks.guard import Destinations, parse_networks
from deconflict.runtime.webhooks.net import guarded_transport

pytestmark = pytest.mark.anyio

NAME = "hook.test"


def _certificate(subject: str, key, issuer: x509.Name, signer, ca: bool) -> x509.Certificate:  # type: ignore[no-untyped-def]
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for NAME it signed: (CA file, certificate file, key file)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _certificate("test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(NAME, key, ca_name, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Seen:
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    connections: int = 0


@contextmanager
def tls_receiver(folder: Path) -> Iterator[tuple[int, Seen, ssl.SSLContext]]:
    """An HTTPS receiver on 127.0.0.1 with a certificate for NAME: its port, what it saw (TLS
    server names, Host headers), and a client context trusting its CA."""
    ca, leaf, key = _pki(folder)
    seen = Seen()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf, key)

    def note(sock: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
        seen.server_names.append(server_name)
        seen.connections += 1

    context.sni_callback = note  # type: ignore[assignment]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.hosts.append(self.headers["host"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1], seen, ssl.create_default_context(cafile=str(ca))
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


async def test_a_connection_goes_to_the_checked_address_with_the_url_s_name(tmp_path):
    """NAME resolves to 127.0.0.1 (allowed) at the first lookup and to 10.0.0.1 after: both
    requests reach the receiver over one connection made to 127.0.0.1 after one lookup, with
    NAME as TLS server name (its certificate checked against it) and in the Host header."""
    names = Names({NAME: ["127.0.0.1"]})
    checks = Destinations(names, parse_networks("127.0.0.1/32"))
    with tls_receiver(tmp_path) as (port, seen, trust):
        transport = guarded_transport(checks, 2, verify=trust)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
            first = await http.post(f"https://{NAME}:{port}/hook", content=b"{}")
            names.table[NAME] = ["10.0.0.1"]  # a second lookup would be refused
            second = await http.post(f"https://{NAME}:{port}/hook", content=b"{}")
    assert (first.status_code, second.status_code) == (204, 204)
    assert names.lookups == [NAME]
    assert seen.server_names == [NAME]
    assert seen.hosts == [f"{NAME}:{port}"] * 2


async def test_a_new_connection_looks_up_again_and_is_refused_before_connecting(tmp_path):
    """A new connection (a new pool) looks the name up again; resolving now to an address not
    allowed, it is refused, and the receiver sees no connection at all."""
    names = Names({NAME: ["127.0.0.1"]})
    checks = Destinations(names, parse_networks("127.0.0.1/32"))
    with tls_receiver(tmp_path) as (port, seen, trust):
        names.table[NAME] = ["127.0.0.1", "169.254.169.254"]
        transport = guarded_transport(checks, 2, verify=trust)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
            with pytest.raises(RefusedDestination, match="metadata"):
                await http.post(f"https://{NAME}:{port}/hook", content=b"{}")
    assert seen.connections == 0
    assert names.lookups == [NAME]


async def test_a_certificate_for_another_name_fails(tmp_path):
    """The certificate is checked against the URL's name, not the address connected to: a URL
    naming the address directly fails the TLS check."""
    checks = Destinations(Names({}), parse_networks("127.0.0.1/32"))
    with tls_receiver(tmp_path) as (port, seen, trust):
        transport = guarded_transport(checks, 2, verify=trust)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
                await http.post(f"https://127.0.0.1:{port}/hook", content=b"{}")
    assert seen.hosts == []
