"""Federation with upstream OpenID Connect providers, end to end.

The real upstream is the npm package `oidc-provider` (pinned in package.json), started on
loopback by the tests (tests/node/oidc_upstream.mjs); a browser is played with `requests`
(cookies kept per name, redirects followed by hand, the upstream's login and consent forms
posted). The path: gatehouse `/oauth2/authorize?identity_provider=…` → oidc-provider login →
`/oauth2/idpresponse` → the app's callback with a code → tokens whose ID token carries
`identities` and the provider's group. Faults a real provider will not make (a wrong `nonce`
or `aud`, a bad signature) come from a small loopback stub we control. The Cognito API
(CreateIdentityProvider …, AdminLinkProviderForUser) is driven with boto3."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import subprocess
import threading
import urllib.parse
import warnings
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from gatehouse_harness import PASSWORD, unique
from oauth_support import Browser, Cookie, location, query_of, read_form

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_SCRIPT = ROOT / "tests" / "node" / "oidc_upstream.mjs"
CALLBACK = "http://localhost:8765/callback"
UPSTREAM_CLIENT = "gatehouse-rp"
UPSTREAM_SECRET = "upstream-secret-" + "x" * 24


def error_code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class OidcProviderProcess:
    """oidc-provider on 127.0.0.1, registered with gatehouse's idpresponse URL."""

    def __init__(self, redirect_uri: str, auth_method: str = "client_secret_basic") -> None:
        settings = {
            "client_id": UPSTREAM_CLIENT,
            "client_secret": UPSTREAM_SECRET,
            "redirect_uris": [redirect_uri],
            "auth_method": auth_method,
        }
        self.process = subprocess.Popen(
            ["node", str(UPSTREAM_SCRIPT), json.dumps(settings)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            self.close()
            raise RuntimeError("oidc-provider did not start")
        self.issuer = json.loads(line)["issuer"]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class StubUpstream:
    """A tiny OpenID provider we control, for answers a real one never gives: its authorize
    endpoint sends the browser straight back with a code; its token endpoint answers with an
    ID token made wrong as `mode` says (checking the PKCE verifier first)."""

    def __init__(self) -> None:
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        self.other_key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        self.mode = "good"
        self.grants: dict[str, dict] = {}
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: D401 - quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": stub.issuer,
                            "authorization_endpoint": f"{stub.issuer}/authorize",
                            "token_endpoint": f"{stub.issuer}/token",
                            "jwks_uri": f"{stub.issuer}/jwks",
                            "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        },
                    )
                elif url.path == "/jwks":
                    public = stub.key.as_dict(is_private=False)
                    public.update(kid="stub-key", use="sig", alg="RS256")
                    self._json(200, {"keys": [public]})
                elif url.path == "/authorize":
                    if stub.mode == "error":
                        target = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                            {"error": "access_denied\nERROR forged log line", "state": q["state"]}
                        )
                    else:
                        code = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
                        stub.grants[code] = q
                        target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                grant = stub.grants.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (
                    grant is None
                    or digest != grant.get("code_challenge")
                    or form.get("client_secret") != UPSTREAM_SECRET
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                import time

                now = int(time.time())
                claims = {
                    "iss": stub.issuer,
                    "sub": "stub-user",
                    "aud": UPSTREAM_CLIENT,
                    "nonce": grant.get("nonce"),
                    "iat": now,
                    "exp": now + 300,
                    "email": "stub@upstream.example",
                }
                key = stub.key
                if stub.mode == "nonce":
                    claims["nonce"] = "not-the-nonce"
                elif stub.mode == "aud":
                    claims["aud"] = "another-client"
                elif stub.mode == "signature":
                    key = stub.other_key
                token = jose_jwt.encode({"alg": "RS256", "kid": "stub-key"}, claims, key).decode()
                self._json(200, {"access_token": "at", "token_type": "Bearer", "id_token": token})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Federation:
    """A pool with an OIDC provider named `Upstream` and a client that supports it."""

    def __init__(self, server) -> None:
        self.server = server
        self.admin = server.admin
        self.pool_id = self.admin.create_user_pool(PoolName=unique("fed-"))["UserPool"]["Id"]
        self.issuer = f"{server.endpoint}/{self.pool_id}"
        self.client_id = ""

    def add_provider(self, issuer: str, **details) -> None:
        admin = self.admin
        self.provider_details = {
            "client_id": UPSTREAM_CLIENT,
            "client_secret": UPSTREAM_SECRET,
            "authorize_scopes": "openid email profile",
            "attributes_request_method": "GET",
            "oidc_issuer": issuer,
            **details,
        }
        admin.create_identity_provider(
            UserPoolId=self.pool_id,
            ProviderName="Upstream",
            ProviderType="OIDC",
            ProviderDetails=self.provider_details,
            AttributeMapping={"email": "email", "name": "name"},
            IdpIdentifiers=["upstream.example"],
        )
        self.client_id = self.client(["COGNITO", "Upstream"])

    def client(self, providers: list[str]) -> str:
        return self.admin.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName=unique("app"),
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=providers,
        )["UserPoolClient"]["ClientId"]

    def authorize_url(self, client_id: str | None = None, **extra: str) -> tuple[str, str, str]:
        verifier, challenge = pkce()
        state = unique("st")
        params = {
            "response_type": "code",
            "client_id": client_id or self.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid email profile",
            "state": state,
            "nonce": unique("n"),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return f"{self.issuer}/oauth2/authorize?" + urllib.parse.urlencode(params), verifier, state

    def tokens(self, code: str, verifier: str) -> dict:
        response = requests.post(
            f"{self.issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()


def browse_to_callback(browser: Browser, start: str, login: str = "ursula") -> str:
    """Follows redirects from `start`, posting the upstream's login and consent forms, until
    the browser is sent to the app's callback; returns that URL."""
    url = start
    for _ in range(25):
        if url.startswith(CALLBACK):
            return url
        response = browser.get(url)
        while response.status_code == 200 and "<form" in response.text:
            form = read_form(response.text)
            data = dict(form.inputs)
            if "login" in data or "password" in data:
                data.update(login=login, password="any")
            response = browser.post(urllib.parse.urljoin(url, form.action or url), data)
        # oidc-provider redirects with 303 See Other.
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        url = urllib.parse.urljoin(url, response.headers["Location"])
    raise AssertionError(f"never reached the callback (last: {url})")


@pytest.fixture(scope="module")
def stub():
    upstream = StubUpstream()
    yield upstream
    upstream.close()


# === the Cognito API ===


def test_identity_provider_crud_with_boto3(server) -> None:
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("idp-"))["UserPool"]["Id"]
    details = {
        "client_id": "cid",
        "client_secret": "a-very-secret-value",
        "authorize_scopes": "openid email",
        "attributes_request_method": "GET",
        "oidc_issuer": "https://login.example.com",
    }
    created = admin.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Corp",
        ProviderType="OIDC",
        ProviderDetails=details,
        AttributeMapping={"email": "mail"},
        IdpIdentifiers=["corp.example"],
    )["IdentityProvider"]
    assert created["ProviderName"] == "Corp" and created["ProviderType"] == "OIDC"
    assert created["AttributeMapping"] == {"email": "mail", "username": "sub"}
    assert created["ProviderDetails"]["client_id"] == "cid"
    described = admin.describe_identity_provider(UserPoolId=pool_id, ProviderName="Corp")["IdentityProvider"]
    assert described["IdpIdentifiers"] == ["corp.example"]
    assert described["ProviderDetails"]["client_secret"] == "a-very-secret-value"
    by_id = admin.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="corp.example")
    assert by_id["IdentityProvider"]["ProviderName"] == "Corp"
    # The provider's group exists, as Cognito makes it.
    group = admin.get_group(UserPoolId=pool_id, GroupName=f"{pool_id}_Corp")["Group"]
    assert "Corp" in group["Description"]
    # Listings carry no details (and so no secret).
    listed = admin.list_identity_providers(UserPoolId=pool_id, MaxResults=10)["Providers"]
    assert [p["ProviderName"] for p in listed] == ["Corp"] and "ProviderDetails" not in listed[0]
    # Google, as a preset.
    google = admin.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Google",
        ProviderType="Google",
        ProviderDetails={"client_id": "g", "client_secret": "gs", "authorize_scopes": "profile email openid"},
    )["IdentityProvider"]
    assert google["ProviderDetails"]["oidc_issuer"] == "https://accounts.google.com"
    # Update: a details map without the secret keeps it; identifiers replaced.
    updated = admin.update_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Corp",
        ProviderDetails={k: v for k, v in details.items() if k != "client_secret"} | {"client_id": "cid2"},
        IdpIdentifiers=["corp2.example"],
    )["IdentityProvider"]
    assert updated["ProviderDetails"]["client_id"] == "cid2"
    assert updated["ProviderDetails"]["client_secret"] == "a-very-secret-value"
    with pytest.raises(ClientError) as e:
        admin.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="corp.example")
    assert error_code(e.value) == "ResourceNotFoundException"
    # An app client may now name it; an unknown name is refused.
    client = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", SupportedIdentityProviders=["COGNITO", "Corp"]
    )["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Corp"]
    with pytest.raises(ClientError) as e:
        admin.create_user_pool_client(UserPoolId=pool_id, ClientName="w2", SupportedIdentityProviders=["Nope"])
    assert error_code(e.value) == "InvalidParameterException"
    # The secret is stored sealed: not in the database's files in plain text.
    if server.database_url is None:
        for path in server.data_dir.rglob("*"):
            if path.is_file():
                assert b"a-very-secret-value" not in path.read_bytes(), path
    admin.delete_identity_provider(UserPoolId=pool_id, ProviderName="Corp")
    with pytest.raises(ClientError) as e:
        admin.describe_identity_provider(UserPoolId=pool_id, ProviderName="Corp")
    assert error_code(e.value) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "rule, kwargs, expected",
    [
        ("duplicate name", dict(ProviderName="Dup"), "DuplicateProviderException"),
        ("identifier of another provider", dict(ProviderName="Other", IdpIdentifiers=["dup.example"]),
         "DuplicateProviderException"),
        ("SAML is not supported", dict(ProviderName="Saml", ProviderType="SAML"), "InvalidParameterException"),
        ("missing client_id", dict(ProviderName="NoId", ProviderDetails={"authorize_scopes": "openid",
         "attributes_request_method": "GET", "oidc_issuer": "https://x.example"}), "InvalidParameterException"),
        ("plain http issuer off loopback", dict(ProviderName="Http", ProviderDetails={"client_id": "c",
         "authorize_scopes": "openid", "attributes_request_method": "GET",
         "oidc_issuer": "http://login.example.com"}), "InvalidParameterException"),
        ("scopes without openid", dict(ProviderName="NoOpenid", ProviderDetails={"client_id": "c",
         "authorize_scopes": "email", "attributes_request_method": "GET",
         "oidc_issuer": "https://x.example"}), "InvalidParameterException"),
        ("unknown detail", dict(ProviderName="Odd", ProviderDetails={"client_id": "c", "authorize_scopes": "openid",
         "attributes_request_method": "GET", "oidc_issuer": "https://x.example", "evil": "1"}),
         "InvalidParameterException"),
        ("mapping to an attribute outside the schema", dict(ProviderName="Map",
         AttributeMapping={"custom:nope": "x"}), "InvalidParameterException"),
        ("underscore in the name", dict(ProviderName="a_b"), "InvalidParameterException"),
        ("reserved name", dict(ProviderName="COGNITO"), "InvalidParameterException"),
        ("oversized detail", dict(ProviderName="Big", ProviderDetails={"client_id": "c" * 5000,
         "authorize_scopes": "openid", "attributes_request_method": "GET", "oidc_issuer": "https://x.example"}),
         "InvalidParameterException"),
    ],
)
def test_identity_provider_refusals(server, rule, kwargs, expected) -> None:
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("idp-"))["UserPool"]["Id"]
    base = dict(
        UserPoolId=pool_id,
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": "c",
            "authorize_scopes": "openid",
            "attributes_request_method": "GET",
            "oidc_issuer": "https://x.example",
        },
    )
    admin.create_identity_provider(ProviderName="Dup", IdpIdentifiers=["dup.example"], **base)
    with pytest.raises(ClientError) as e:
        admin.create_identity_provider(**(base | kwargs))
    assert error_code(e.value) == expected, rule


# === the flow, against oidc-provider ===


def test_sign_in_through_oidc_provider(server) -> None:
    fed = Federation(server)
    admin, pool_id, issuer_url = fed.admin, fed.pool_id, fed.issuer
    # The upstream registers gatehouse's idpresponse URL of this pool.
    upstream = OidcProviderProcess(f"{issuer_url}/oauth2/idpresponse")
    try:
        fed.add_provider(upstream.issuer)

        # The sign-in page offers the provider.
        start, verifier, state = fed.authorize_url()
        browser = Browser()
        page = browser.get(location(browser.get(start), start))
        assert page.status_code == 200
        assert "Sign in with Upstream" in page.text and "identity_provider=Upstream" in page.text

        # Straight upstream with identity_provider, through oidc-provider's login and consent.
        start, verifier, state = fed.authorize_url(identity_provider="Upstream")
        first = browser.get(start)
        upstream_url = location(first, start)
        assert upstream_url.startswith(upstream.issuer + "/auth?")
        sent = query_of(upstream_url)
        assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]
        assert sent["redirect_uri"] == f"{issuer_url}/oauth2/idpresponse"
        assert binding_cookie_of(browser) in browser.cookies
        callback = browse_to_callback(browser, upstream_url, login="ursula")
        answer = query_of(callback)
        assert answer["state"] == state
        tokens = fed.tokens(answer["code"], verifier)
        id_claims = claims_of(tokens["id_token"])
        assert id_claims["cognito:username"] == "Upstream_ursula"
        assert id_claims["email"] == "ursula@upstream.example"  # from userInfo
        assert id_claims["name"] == "Upstream ursula"
        assert f"{pool_id}_Upstream" in id_claims["cognito:groups"]
        identities = id_claims["identities"]
        assert identities[0]["providerName"] == "Upstream" and identities[0]["userId"] == "ursula"
        assert identities[0]["providerType"] == "OIDC" and identities[0]["primary"] == "true"
        user = admin.admin_get_user(UserPoolId=pool_id, Username="Upstream_ursula")
        assert user["UserStatus"] == "EXTERNAL_PROVIDER"
        # userInfo at gatehouse answers for the federated user.
        info = requests.get(
            f"{issuer_url}/oauth2/userInfo",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=30,
        ).json()
        assert info["username"] == "Upstream_ursula"
        # Its refresh token works like any other.
        refreshed = requests.post(
            f"{issuer_url}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": fed.client_id,
                "refresh_token": tokens["refresh_token"],
            },
            timeout=30,
        )
        assert refreshed.status_code == 200, refreshed.text
        assert claims_of(refreshed.json()["id_token"])["identities"] == identities
        # The hosted session the federated sign-in opened answers the next request at once.
        start, verifier, _ = fed.authorize_url()
        again_now = query_of(location(browser.get(start), start))
        assert "code" in again_now

        # A second sign-in (fresh browser) is the same user, not a second one.
        start, verifier, _ = fed.authorize_url(idp_identifier="nope")
        assert query_of(location(Browser().get(start), start))["error"] == "invalid_request"
        browser2 = Browser()
        start, verifier, _ = fed.authorize_url(identity_provider="Upstream")
        callback = browse_to_callback(browser2, location(browser2.get(start), start), login="ursula")
        again = claims_of(fed.tokens(query_of(callback)["code"], verifier)["id_token"])
        assert again["sub"] == id_claims["sub"]
        users = admin.list_users(UserPoolId=pool_id)["Users"]
        assert [u["Username"] for u in users] == ["Upstream_ursula"]

        # AdminLinkProviderForUser: another upstream account signs in as a native user.
        admin.admin_create_user(UserPoolId=pool_id, Username="nina", MessageAction="SUPPRESS")
        admin.admin_set_user_password(UserPoolId=pool_id, Username="nina", Password=PASSWORD, Permanent=True)
        admin.admin_link_provider_for_user(
            UserPoolId=pool_id,
            DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "nina"},
            SourceUser={
                "ProviderName": "Upstream",
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": "nina-upstream",
            },
        )
        with pytest.raises(ClientError) as e:
            admin.admin_link_provider_for_user(
                UserPoolId=pool_id,
                DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "nina"},
                SourceUser={
                    "ProviderName": "Upstream",
                    "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": "nina-upstream",
                },
            )
        assert error_code(e.value) == "AliasExistsException"
        browser3 = Browser()
        start, verifier, _ = fed.authorize_url(identity_provider="Upstream")
        callback = browse_to_callback(browser3, location(browser3.get(start), start), login="nina-upstream")
        linked = claims_of(fed.tokens(query_of(callback)["code"], verifier)["id_token"])
        assert linked["cognito:username"] == "nina"
        assert linked["identities"][0]["userId"] == "nina-upstream"
        # AdminDisableProviderForUser: the link is gone; the next sign-in makes its own user.
        admin.admin_disable_provider_for_user(
            UserPoolId=pool_id,
            User={
                "ProviderName": "Upstream",
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": "nina-upstream",
            },
        )
        browser4 = Browser()
        start, verifier, _ = fed.authorize_url(identity_provider="Upstream")
        callback = browse_to_callback(browser4, location(browser4.get(start), start), login="nina-upstream")
        unlinked = claims_of(fed.tokens(query_of(callback)["code"], verifier)["id_token"])
        assert unlinked["cognito:username"] == "Upstream_nina-upstream"
    finally:
        upstream.close()


# === refusals, against the stub ===


BINDING_PREFIX = "__Host-gatehouse-federation-"


def binding_cookie_of(browser: Browser) -> str:
    """The name of the one federation binding cookie `browser` holds."""
    names = [n for n in browser.cookies if n.startswith(BINDING_PREFIX)]
    assert len(names) == 1, names
    return names[0]


def stub_federation(server, stub: StubUpstream) -> Federation:
    fed = Federation(server)
    fed.add_provider(stub.issuer)
    return fed


def test_upstream_token_faults_are_refused(server, stub) -> None:
    fed = stub_federation(server, stub)
    mark = server.stderr_size()
    for mode in ["nonce", "aud", "signature", "error"]:
        stub.mode = mode
        browser = Browser()
        start, _, state = fed.authorize_url(identity_provider="Upstream")
        callback = browse_to_callback(browser, location(browser.get(start), start))
        answer = query_of(callback)
        assert answer.get("error") == "access_denied", (mode, answer)
        assert answer["state"] == state and "code" not in answer
    assert fed.admin.list_users(UserPoolId=fed.pool_id)["Users"] == []
    # The upstream's `error` is logged escaped: its line break cannot start a line of its own.
    logs = server.stderr_since(mark)
    assert "forged log line" in logs
    assert not any(line.startswith("ERROR forged") for line in logs.splitlines())
    # The same stub, answering well, signs in (client_secret_post, as its discovery asks).
    stub.mode = "good"
    browser = Browser()
    start, verifier, _ = fed.authorize_url(idp_identifier="upstream.example")
    callback = browse_to_callback(browser, location(browser.get(start), start))
    claims = claims_of(fed.tokens(query_of(callback)["code"], verifier)["id_token"])
    assert claims["cognito:username"] == "Upstream_stub-user" and claims["email"] == "stub@upstream.example"


def test_state_is_sealed_single_use_and_bound_to_the_browser(server, stub) -> None:
    stub.mode = "good"
    fed = stub_federation(server, stub)

    def upstream_answer(browser: Browser) -> str:
        start, _, _ = fed.authorize_url(identity_provider="Upstream")
        to_upstream = location(browser.get(start), start)
        return location(requests.get(to_upstream, allow_redirects=False, timeout=30), to_upstream)

    # Tampered: one character of the sealed state changed.
    browser = Browser()
    answer = upstream_answer(browser)
    q = query_of(answer)
    state = q["state"]
    tampered = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    base = answer.split("?")[0]
    bad = browser.get(base + "?" + urllib.parse.urlencode({"code": q["code"], "state": tampered}))
    assert bad.status_code == 400 and "expired or was already used" in bad.text

    # Another browser (no binding cookie) is refused.
    browser = Browser()
    answer = upstream_answer(browser)
    assert Browser().get(answer).status_code == 400

    # Replayed: the first answer signs in, the same answer again is refused.
    browser = Browser()
    answer = upstream_answer(browser)
    name = binding_cookie_of(browser)
    cookie = browser.cookies[name]
    first = browser.get(answer)
    assert first.status_code == 302 and first.headers["Location"].startswith(CALLBACK)
    # The finished sign-in's binding cookie is cleared; put back, the answer is still spent.
    assert name not in browser.cookies
    browser.cookies[name] = cookie
    assert browser.get(answer).status_code == 400

    # No state at all.
    assert browser.get(base + "?code=x").status_code == 400

    # Two sign-ins started side by side in one browser (two tabs) each have their own
    # binding cookie, and both finish, in either order.
    browser = Browser()
    first_answer = upstream_answer(browser)
    second_answer = upstream_answer(browser)
    assert len([n for n in browser.cookies if n.startswith(BINDING_PREFIX)]) == 2
    for answer in (second_answer, first_answer):
        finished = browser.get(answer)
        assert finished.status_code == 302 and finished.headers["Location"].startswith(CALLBACK)

    # A binding cookie planted before the sign-in (its name guessed from another state, or
    # the old single name) binds nothing: the new sign-in gets a cookie and value of its own.
    browser = Browser()
    planted = "A" * 43
    browser.cookies["__Host-gatehouse-federation"] = Cookie(planted, "")
    answer = upstream_answer(browser)
    own = binding_cookie_of(browser)
    assert browser.cookies[own].value != planted
    browser.cookies[own] = Cookie(planted, "")
    assert browser.get(answer).status_code == 400


def test_unknown_or_unsupported_providers_are_refused(server, stub) -> None:
    fed = stub_federation(server, stub)
    only_cognito = fed.client(["COGNITO"])
    for client_id, extra in [
        (None, {"identity_provider": "Nope"}),
        (only_cognito, {"identity_provider": "Upstream"}),
        (only_cognito, {"idp_identifier": "upstream.example"}),
    ]:
        start, _, _ = fed.authorize_url(client_id=client_id, **extra)
        answer = query_of(location(Browser().get(start), start))
        assert answer["error"] == "invalid_request", extra
    # A client with only the provider gets no password form, only its button.
    only_upstream = fed.client(["Upstream"])
    start, _, _ = fed.authorize_url(client_id=only_upstream)
    browser = Browser()
    page = browser.get(location(browser.get(start), start))
    assert "Sign in with Upstream" in page.text and 'name="password"' not in page.text
