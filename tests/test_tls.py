"""TLS at the edge, end to end: `gatehouse serve --tls-cert/--tls-key --gateway-tls-cert/
--gateway-tls-key` with a CA and certificates the test makes (Python's `cryptography`).

- boto3 (`verify=` the test CA) signs up and signs in over https; the issuer in the discovery
  document and in the tokens is `https://` (the public URL's default with TLS).
- requests (`verify=` the test CA) calls the gateway over https: a mock route, and a proxy to an
  `https://` backend (Python's HTTP server under TLS, trusted through the API's
  `tls_config.trusted_ca`) that sees `X-Forwarded-Proto: https`.
- A REQUEST authorizer's policy conditioned on `aws:SecureTransport` sees `true` over https
  and `false` on a plain gateway.
- A client that does not trust the CA is refused by its own TLS stack; plain HTTP to a TLS
  listener gets no answer.
- A renewed certificate written over the files is served to new connections without a restart,
  and SIGHUP reloads it even when the files look unchanged.

Every server runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gatehouse_harness import PASSWORD, GatehouseServer, unique, unique_email, wait_until

GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (https://127\.0\.0\.1:\d+)\s*$")


# === certificates ===


class CertificateAuthority:
    """A CA of the test's own and the leaf certificates it signs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatehouse e2e ca")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def server(self, folder: Path, name: str) -> tuple[Path, Path, int]:
        """A certificate for 127.0.0.1 and localhost, written to NAME.crt and NAME.key; its serial."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path, serial


def served_serial(port: int, ca_file: Path) -> int:
    """The serial of the certificate a new TLS connection to `port` is shown."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


# === an https backend ===


class HttpsBackend:
    """Python's HTTP server under TLS on loopback: answers JSON with the headers it saw."""

    def __init__(self, cert: Path, key: Path) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                data = body.encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SecureTransportAuthorizer:
    """A REQUEST authorizer on plain HTTP loopback: allows `…/secure-only` when
    `aws:SecureTransport` is true and `…/plain-only` when it is false, so the policy the
    gateway evaluates tells which one the gateway set."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                event = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                secure = "true" if event["methodArn"].endswith("/secure-only") else "false"
                allow = {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": secure}},
                }
                body = json.dumps(
                    {"principalId": "caller", "policyDocument": {"Version": "2012-10-17", "Statement": [allow]}}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


DEFINITION = """
version: 1
apis:
  shop:
    tls_config: {trusted_ca: ca.pem}
    authorizers:
      gate:
        type: request
        endpoint: http://127.0.0.1:AUTHORIZER_PORT/authorize
        identity_source: [method.request.header.Authorization]
        result_ttl_seconds: 0
    resources:
      /secure-only:
        GET: {authorizer: gate, integration: {type: mock, status: 200}}
      /plain-only:
        GET: {authorizer: gate, integration: {type: mock, status: 200}}
      /hello:
        GET:
          integration: {type: mock, status: 200, body: '{"hello": "tls"}'}
      /secure:
        GET:
          integration: {type: http_proxy, uri: "https://127.0.0.1:BACKEND_PORT/echo"}
stages:
  shop:
    prod: {}
"""


class TlsServer:
    """`gatehouse serve` with TLS on both listeners, an https backend, and the files behind it."""

    def __init__(self, servers: Any, folder: Path) -> None:
        self.folder = folder
        self.ca = CertificateAuthority()
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca.pem())
        self.cert, self.key, self.serial = self.ca.server(folder, "identity")
        self.gateway_cert, self.gateway_key, _ = self.ca.server(folder, "gateway")
        backend_cert, backend_key, _ = self.ca.server(folder, "backend")
        self.backend = HttpsBackend(backend_cert, backend_key)
        self.authorizer = SecureTransportAuthorizer()
        self.api_file = folder / "api.yaml"
        self.api_file.write_text(
            DEFINITION.replace("BACKEND_PORT", str(self.backend.port)).replace(
                "AUTHORIZER_PORT", str(self.authorizer.port)
            )
        )
        api_file = self.api_file
        self.server: GatehouseServer = servers.new(
            ca_bundle=str(self.ca_file),
            extra_args=[
                "--api",
                str(api_file),
                "--tls-cert",
                str(self.cert),
                "--tls-key",
                str(self.key),
                "--gateway-tls-cert",
                str(self.gateway_cert),
                "--gateway-tls-key",
                str(self.gateway_key),
            ],
        )
        found = [m for m in (GATEWAY_LINE.match(line.strip()) for line in self.server._stdout_lines) if m]
        assert found, f"no https gateway line:\n{self.server.diagnostics()}"
        self.gateway = found[0].group(1)

    def close(self) -> None:
        self.backend.close()
        self.authorizer.close()


@pytest.fixture
def tls(servers: Any, tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(servers, tmp_path)
    try:
        yield server
    finally:
        server.close()


# === tests ===


def test_boto3_signs_up_and_in_over_https_and_the_issuer_is_https(tls: TlsServer) -> None:
    server = tls.server
    assert server.endpoint.startswith("https://127.0.0.1:")
    pool_id = server.admin.create_user_pool(PoolName=unique("tls"), AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    client_id = server.admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    email = unique_email()
    server.public.sign_up(ClientId=client_id, Username=email, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": email}])
    server.admin.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
    tokens = server.public.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    assert tokens["AccessToken"]
    discovery = server.get(f"/{pool_id}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"{server.endpoint}/{pool_id}"
    assert discovery["issuer"].startswith("https://")


def test_requests_reaches_the_gateway_and_an_https_backend_over_https(tls: TlsServer) -> None:
    hello = requests.get(f"{tls.gateway}/prod/hello", verify=str(tls.ca_file), timeout=30)
    assert (hello.status_code, hello.json()) == (200, {"hello": "tls"})
    secure = requests.get(f"{tls.gateway}/prod/secure", verify=str(tls.ca_file), timeout=30)
    assert secure.status_code == 200, secure.text
    seen = secure.json()
    assert seen["path"] == "/echo"
    assert seen["headers"]["x-forwarded-proto"] == "https"


def test_a_client_that_does_not_trust_the_ca_or_speaks_plain_http_gets_nowhere(tls: TlsServer) -> None:
    # The system's roots do not know the test CA.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls.gateway}/prod/hello", timeout=30)
    plain = tls.gateway.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{plain}/prod/hello", timeout=30)
    # The server is still serving.
    assert requests.get(f"{tls.gateway}/prod/hello", verify=str(tls.ca_file), timeout=30).status_code == 200


def test_a_renewed_certificate_is_served_without_a_restart(tls: TlsServer) -> None:
    port = int(tls.server.endpoint.rsplit(":", 1)[1])
    assert served_serial(port, tls.ca_file) == tls.serial
    session = requests.Session()
    assert session.get(f"{tls.server.endpoint}/health", verify=str(tls.ca_file), timeout=30).status_code in (200, 404)
    new_cert, new_key, new_serial = tls.ca.server(tls.folder, "renewed")
    tls.key.write_bytes(new_key.read_bytes())
    tls.cert.write_bytes(new_cert.read_bytes())
    assert wait_until(lambda: served_serial(port, tls.ca_file) == new_serial, timeout=15), (
        f"the renewed certificate was never served\n{tls.server.diagnostics()}"
    )
    # A broken file keeps the renewed pair serving, and says why.
    tls.cert.write_text("not a certificate\n")
    assert wait_until(lambda: "tls certificate refused" in tls.server.stderr_text(since_start=True), timeout=15)
    assert served_serial(port, tls.ca_file) == new_serial
    assert session.get(f"{tls.server.endpoint}/health", verify=str(tls.ca_file), timeout=30).status_code in (200, 404)
    tls.server.check_alive()


def test_aws_secure_transport_follows_the_connection(tls: TlsServer, servers: Any) -> None:
    plain = servers.new(extra_args=["--api", str(tls.api_file)])
    found = [
        m
        for m in (
            re.match(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$", line.strip())
            for line in plain._stdout_lines
        )
        if m
    ]
    assert found, plain.diagnostics()
    token = {"Authorization": "caller"}
    for (base, verify), expected in [
        ((tls.gateway, str(tls.ca_file)), {"secure-only": 200, "plain-only": 403}),
        ((found[0].group(1), True), {"secure-only": 403, "plain-only": 200}),
    ]:
        for route, status in expected.items():
            answer = requests.get(f"{base}/prod/{route}", headers=token, verify=verify, timeout=30)
            assert answer.status_code == status, (base, route, answer.text)


def test_sighup_reloads_the_certificate_even_when_the_files_look_unchanged(tls: TlsServer) -> None:
    port = int(tls.server.endpoint.rsplit(":", 1)[1])
    assert served_serial(port, tls.ca_file) == tls.serial
    # A renewed pair of exactly the old sizes, written back with the old modification times:
    # the watcher's look at the files sees nothing new, only SIGHUP reloads it.
    old_cert, old_key = tls.cert.read_bytes(), tls.key.read_bytes()
    old_times = [(path.stat().st_atime_ns, path.stat().st_mtime_ns) for path in (tls.cert, tls.key)]
    for attempt in range(200):
        new_cert, new_key, new_serial = tls.ca.server(tls.folder, f"same-size-{attempt}")
        if len(new_cert.read_bytes()) == len(old_cert) and len(new_key.read_bytes()) == len(old_key):
            break
    else:
        pytest.fail("no renewed certificate of the old size")
    for path, source, times in zip((tls.cert, tls.key), (new_cert, new_key), old_times):
        path.write_bytes(source.read_bytes())
        os.utime(path, ns=times)
    # The watcher compares modification times and sizes, so only SIGHUP can reload it now.
    before = tls.server.stderr_text(since_start=True).count("tls certificate reloaded")
    tls.server.process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: served_serial(port, tls.ca_file) == new_serial, timeout=15), tls.server.diagnostics()
    assert tls.server.stderr_text(since_start=True).count("tls certificate reloaded") > before
    tls.server.check_alive()
