"""Registered OpenID Connect providers (IAM CreateOpenIDConnectProvider): their ID tokens in an
identity pool's `Logins` (GetId, GetCredentialsForIdentity, role mappings by rules) and in STS
AssumeRoleWithWebIdentity (trust policies on `{provider}:aud` / `:sub`).

The issuer is the test's own: an HTTPS server on 127.0.0.1 with a certificate from a CA of the
test's, which gatehouse trusts through `--oidc-ca-file`, serving discovery and a JWKS (one RSA
and one P-256 key) under several issuer paths, and counting the JWKS fetches. Tokens are signed
with PyJWT. Refused: another audience, another issuer, an expired token, an unknown `kid` (and a
storm of them fetches the JWKS at most once), a provider the pool does not list, and a JWKS over
the size limit (ExternalServiceException / IDPCommunicationError).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gatehouse_harness import ACCOUNT_ID, GatehouseServer, unique
from test_identity_pools import client, cognito_trust, expect_error, session_creds
from test_tls import CertificateAuthority

CLIENT_ID = "gatehouse-e2e-web"
# More than the 64 KiB gatehouse reads of an issuer's document.
OVERSIZED_BYTES = 70 * 1024


class Issuer:
    """An OIDC issuer under `{base}/{realm}` for any realm; `big` serves an oversized JWKS."""

    def __init__(self, folder: Path, ca: CertificateAuthority | None) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.jwks_fetches: dict[str, int] = {}
        self.lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                realm, _, rest = self.path.lstrip("/").partition("/")
                if rest == ".well-known/openid-configuration":
                    body = json.dumps({"issuer": issuer.url(realm), "jwks_uri": f"{issuer.url(realm)}/jwks"})
                elif rest == "jwks":
                    with issuer.lock:
                        issuer.jwks_fetches[realm] = issuer.jwks_fetches.get(realm, 0) + 1
                    body = issuer.jwks_text(realm)
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if ca is not None:
            cert, key, _ = ca.server(folder, "issuer")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, realm: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{realm}"

    def jwks_text(self, realm: str) -> str:
        keys = [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "rsa-1", "use": "sig",
             "alg": "RS256"},
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "ec-1", "use": "sig"},
        ]
        document: dict[str, Any] = {"keys": keys}
        if realm == "big":
            document["padding"] = "x" * OVERSIZED_BYTES
        return json.dumps(document)

    def fetches(self, realm: str) -> int:
        with self.lock:
            return self.jwks_fetches.get(realm, 0)

    def token(self, realm: str, *, kid: str = "rsa-1", iss: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": iss or self.url(realm), "sub": "user-1", "aud": CLIENT_ID, "iat": now, "exp": now + 600,
                **claims}
        body = {k: v for k, v in body.items() if v is not None}
        if kid.startswith("ec"):
            return jwt.encode(body, self.ec, algorithm="ES256", headers={"kid": kid})
        return jwt.encode(body, self.rsa, algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Oidc:
    """An HTTPS issuer, gatehouse trusting its CA, and providers registered for some realms."""

    def __init__(self, server: GatehouseServer, issuer: Issuer) -> None:
        self.server = server
        self.issuer = issuer
        self.iam = client(server, "iam")
        self.identity_admin = client(server, "cognito-identity")
        self.identity = client(server, "cognito-identity", unsigned=True)

    def provider(self, realm: str, client_ids: list[str] | None = None) -> tuple[str, str]:
        """Registers the realm's issuer; (its ARN, the provider name: the URL without scheme)."""
        url = self.issuer.url(realm)
        arn = self.iam.create_open_id_connect_provider(Url=url, ClientIDList=client_ids or [CLIENT_ID],
                                                       ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
        return arn, url.split("://", 1)[1]

    def pool(self, arns: list[str]) -> str:
        pool_id = self.identity_admin.create_identity_pool(IdentityPoolName=unique("oidc_"),
                                                           AllowUnauthenticatedIdentities=False,
                                                           OpenIdConnectProviderARNs=arns)["IdentityPoolId"]
        return pool_id

    def role(self, trust: str) -> dict[str, Any]:
        return self.iam.create_role(RoleName=unique("Oidc"), AssumeRolePolicyDocument=trust)["Role"]


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture(scope="module")
def issuer(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    running = Issuer(tmp_path_factory.mktemp("issuer"), ca)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def oidc(backend: str, ca: CertificateAuthority, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oidc]:
    from conftest import ServerFactory

    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca_file.write_bytes(ca.pem())
    factory = ServerFactory(backend)
    try:
        server = factory.new(extra_args=["--oidc-ca-file", str(ca_file)])
        yield Oidc(server, issuer)
    finally:
        factory.close()


def test_a_providers_token_is_a_login_of_the_identity_pool(oidc: Oidc) -> None:
    realm = unique("realm")
    arn, name = oidc.provider(realm)
    pool_id = oidc.pool([arn])
    auth = oidc.role(cognito_trust(pool_id))
    engineers = oidc.role(cognito_trust(pool_id))
    oidc.identity_admin.set_identity_pool_roles(
        IdentityPoolId=pool_id, Roles={"authenticated": auth["Arn"]},
        RoleMappings={name: {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                             "RulesConfiguration": {"Rules": [{"Claim": "dept", "MatchType": "Equals",
                                                               "Value": "engineering",
                                                               "RoleARN": engineers["Arn"]}]}}})
    sub = str(uuid.uuid4())
    logins = {name: oidc.issuer.token(realm, sub=sub)}
    identity_id = oidc.identity.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    # The same user with the P-256 key is the same identity.
    ec_logins = {name: oidc.issuer.token(realm, sub=sub, kid="ec-1")}
    assert oidc.identity.get_id(IdentityPoolId=pool_id, Logins=ec_logins)["IdentityId"] == identity_id
    assert oidc.identity_admin.describe_identity(IdentityId=identity_id)["Logins"] == [name]

    creds = oidc.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    me = client(oidc.server, "sts", session_creds(creds)).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{auth['RoleName']}/CognitoIdentityCredentials"
    # A rule on the provider's claims picks the role.
    engineer = {name: oidc.issuer.token(realm, sub=sub, dept="engineering")}
    creds = oidc.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=engineer)["Credentials"]
    me = client(oidc.server, "sts", session_creds(creds)).get_caller_identity()
    assert me["Arn"].split("/")[1] == engineers["RoleName"]
    # With several audiences, `azp` is the one that counts.
    several = {name: oidc.issuer.token(realm, sub=sub, aud=["other", CLIENT_ID], azp=CLIENT_ID)}
    assert oidc.identity.get_id(IdentityPoolId=pool_id, Logins=several)["IdentityId"] == identity_id


def test_bad_provider_tokens_are_refused(oidc: Oidc) -> None:
    realm = unique("realm")
    arn, name = oidc.provider(realm)
    pool_id = oidc.pool([arn])
    cases = {
        "another audience": oidc.issuer.token(realm, aud="someone-else"),
        "several audiences without azp": oidc.issuer.token(realm, aud=["other", CLIENT_ID]),
        "another issuer": oidc.issuer.token(realm, iss=oidc.issuer.url("elsewhere")),
        "expired": oidc.issuer.token(realm, exp=int(time.time()) - 3600),
        "not yet valid": oidc.issuer.token(realm, nbf=int(time.time()) + 3600),
        "an unknown kid": oidc.issuer.token(realm, kid="rsa-unknown"),
        "an RSA key named for ES256": jwt.encode({"iss": oidc.issuer.url(realm), "sub": "x", "aud": CLIENT_ID,
                                                  "exp": int(time.time()) + 60}, oidc.issuer.ec, algorithm="ES256",
                                                 headers={"kid": "rsa-1"}),
        "no subject": oidc.issuer.token(realm, sub=None),
        "HS256 with the public key as secret": jwt.encode(
            {"iss": oidc.issuer.url(realm), "sub": "x", "aud": CLIENT_ID, "exp": int(time.time()) + 60},
            "not-a-key", algorithm="HS256", headers={"kid": "rsa-1"}),
    }
    for case, token in cases.items():
        message = expect_error("NotAuthorizedException", oidc.identity.get_id, IdentityPoolId=pool_id,
                               Logins={name: token})
        assert "Invalid login token" in message, case
    # A provider the pool does not list is not a provider of the pool, whatever its token.
    other_arn, other_name = oidc.provider(unique("realm"))
    message = expect_error("NotAuthorizedException", oidc.identity.get_id, IdentityPoolId=pool_id,
                           Logins={other_name: oidc.issuer.token(other_name.rsplit("/", 1)[1])})
    assert "supported provider" in message
    assert other_arn not in oidc.identity_admin.describe_identity_pool(IdentityPoolId=pool_id)[
        "OpenIdConnectProviderARNs"]


def test_a_storm_of_made_up_kids_fetches_the_keys_at_most_once(oidc: Oidc) -> None:
    realm = unique("realm")
    arn, name = oidc.provider(realm)
    pool_id = oidc.pool([arn])
    assert oidc.identity.get_id(IdentityPoolId=pool_id, Logins={name: oidc.issuer.token(realm)})
    assert oidc.issuer.fetches(realm) == 1
    for n in range(25):
        expect_error("NotAuthorizedException", oidc.identity.get_id, IdentityPoolId=pool_id,
                     Logins={name: oidc.issuer.token(realm, kid=f"forged-{n}")})
    assert oidc.issuer.fetches(realm) <= 2, "one refetch at most for unknown kids"
    # Known keys still verify from the cache.
    assert oidc.identity.get_id(IdentityPoolId=pool_id, Logins={name: oidc.issuer.token(realm, kid="ec-1")})
    assert oidc.issuer.fetches(realm) <= 2


def test_an_oversized_jwks_is_a_provider_failure_not_a_key(oidc: Oidc) -> None:
    arn, name = oidc.provider("big")
    pool_id = oidc.pool([arn])
    message = expect_error("ExternalServiceException", oidc.identity.get_id, IdentityPoolId=pool_id,
                           Logins={name: oidc.issuer.token("big")})
    assert "x" * 100 not in message
    sts = client(oidc.server, "sts", unsigned=True)
    role = oidc.role(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]}))
    expect_error("IDPCommunicationError", sts.assume_role_with_web_identity, RoleArn=role["Arn"],
                 RoleSessionName="big", WebIdentityToken=oidc.issuer.token("big"))


def test_assume_role_with_web_identity_takes_a_providers_token(oidc: Oidc) -> None:
    realm = unique("realm")
    arn, name = oidc.provider(realm)
    sub = str(uuid.uuid4())
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{name}:aud": CLIENT_ID, f"{name}:sub": sub}}}]})
    role = oidc.role(trust)
    sts = client(oidc.server, "sts", unsigned=True)
    assumed = sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="web",
                                                WebIdentityToken=oidc.issuer.token(realm, sub=sub))
    assert assumed["SubjectFromWebIdentityToken"] == sub
    assert assumed["Audience"] == CLIENT_ID
    me = client(oidc.server, "sts", session_creds(assumed["Credentials"])).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role['RoleName']}/web"

    def assume(token: str) -> Any:
        return sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="web", WebIdentityToken=token)

    # The trust policy's conditions see the token's own sub; another user is refused.
    expect_error("AccessDenied", assume, oidc.issuer.token(realm, sub="someone-else"))
    expect_error("InvalidIdentityToken", assume, oidc.issuer.token(realm, sub=sub, aud="someone-else"))
    expect_error("ExpiredTokenException", assume, oidc.issuer.token(realm, sub=sub, exp=int(time.time()) - 3600))
    expect_error("InvalidIdentityToken", assume, oidc.issuer.token(realm, sub=sub, kid="rsa-unknown"))
    # An issuer nobody registered.
    expect_error("InvalidIdentityToken", assume, oidc.issuer.token("unregistered", sub=sub))


def test_plain_http_issuers_only_on_loopback(oidc: Oidc, tmp_path: Path) -> None:
    expect_error("InvalidInput", oidc.iam.create_open_id_connect_provider, Url="http://login.example.com",
                 ClientIDList=[CLIENT_ID], ThumbprintList=["0" * 40])
    plain = Issuer(tmp_path, None)
    try:
        realm = unique("realm")
        url = plain.url(realm)
        arn = oidc.iam.create_open_id_connect_provider(Url=url, ClientIDList=[CLIENT_ID],
                                                       ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
        pool_id = oidc.pool([arn])
        name = url.split("://", 1)[1]
        assert oidc.identity.get_id(IdentityPoolId=pool_id, Logins={name: plain.token(realm)})["IdentityId"]
    finally:
        plain.close()


@pytest.mark.parametrize("content", [None, b"not a certificate", b""])
def test_an_unusable_oidc_ca_file_stops_the_start(tmp_path: Path, content: bytes | None) -> None:
    """A missing file, a file that is no PEM bundle, an empty one: exit 64 with one line saying so."""
    import subprocess

    from gatehouse_harness import gatehouse_bin

    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_bytes(content)
    result = subprocess.run(
        [str(gatehouse_bin()), "serve", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
         "--metrics-listen", "none", "--data-dir", str(tmp_path / "data"), "--oidc-ca-file", str(ca_file)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 64, f"status {result.returncode}\nstderr: {result.stderr}"
    assert "oidc ca file" in result.stderr
