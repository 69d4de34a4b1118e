"""The OAuth 2.0 / OpenID Connect provider as a relying party meets it: authlib performs the
authorization code flow with PKCE against gatehouse, the hosted sign-in page driven as a form
(parse the page, post it with its CSRF token), then validates the ID token (signature through
the JWKS, `nonce`, `at_hash`), calls userInfo, refreshes, revokes and signs out. Then what an
attacker or a broken client tries: callbacks that are not registered, PKCE left out, wrong or
`plain`, codes replayed or expired, wrong client secrets, `prompt=none` without a session,
a tampered `state`, a form without its CSRF token."""

from __future__ import annotations

import os
import urllib.parse
import warnings

import pytest
import requests

from gatehouse_harness import PASSWORD, unique
from oauth_support import Browser, location, query_of, read_form

# The suite talks to gatehouse over plain HTTP on loopback.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.oauth2.rfc6749.errors import MismatchingStateException  # noqa: E402

with warnings.catch_warnings():
    # authlib.jose still validates ID tokens (CodeIDToken); it warns about its successor.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402
    from authlib.oidc.core import CodeIDToken  # noqa: E402

CALLBACK = "http://localhost:8765/callback"
SIGNED_OUT = "http://localhost:8765/signed-out"
SCOPES = "openid email profile"


class App:
    """A pool with a confirmed user, a public web client and a confidential one."""

    def __init__(self, server) -> None:
        admin = server.admin
        self.server = server
        self.pool_id = admin.create_user_pool(PoolName=unique("oauth-"))["UserPool"]["Id"]
        self.issuer = f"{server.endpoint}/{self.pool_id}"
        common = dict(
            UserPoolId=self.pool_id,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            LogoutURLs=[SIGNED_OUT],
            SupportedIdentityProviders=["COGNITO"],
        )
        self.public_id = admin.create_user_pool_client(ClientName="spa", **common)["UserPoolClient"]["ClientId"]
        confidential = admin.create_user_pool_client(ClientName="web", GenerateSecret=True, **common)
        self.confidential_id = confidential["UserPoolClient"]["ClientId"]
        self.confidential_secret = confidential["UserPoolClient"]["ClientSecret"]
        self.username = unique("alice")
        self.email = f"{self.username}@example.com"
        admin.admin_create_user(
            UserPoolId=self.pool_id,
            Username=self.username,
            UserAttributes=[
                {"Name": "email", "Value": self.email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": "Alice Example"},
            ],
            MessageAction="SUPPRESS",
        )
        admin.admin_set_user_password(
            UserPoolId=self.pool_id, Username=self.username, Password=PASSWORD, Permanent=True
        )
        self.discovery = server.discovery(self.pool_id)

    def session(self, client_id: str | None = None, **kwargs) -> OAuth2Session:
        kwargs.setdefault("token_endpoint_auth_method", "none")
        return OAuth2Session(
            client_id or self.public_id,
            redirect_uri=CALLBACK,
            scope=SCOPES,
            code_challenge_method="S256",
            **kwargs,
        )

    def authorize_url(self, client: OAuth2Session, **extra) -> tuple[str, str, str, str]:
        """(url, state, verifier, nonce) of a fresh authorization request."""
        verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = client.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        return url, state, verifier, nonce

    def sign_in(self, browser: Browser, url: str, password: str = PASSWORD) -> requests.Response:
        """Follows authorize to the sign-in page and posts the form; the POST's answer."""
        to_login = location(browser.get(url), url)
        page = browser.get(to_login)
        assert page.status_code == 200, page.text[:500]
        form = read_form(page.text)
        assert form.action is not None and "_csrf" in form.inputs
        return browser.post(
            urllib.parse.urljoin(to_login, form.action),
            {"username": self.username, "password": password, "_csrf": form.inputs["_csrf"]},
        )

    def id_claims(self, token: dict, nonce: str, client_id: str | None = None) -> dict:
        """The ID token validated by authlib: signature (JWKS), iss, aud, exp, nonce, at_hash."""
        jwks = requests.get(self.discovery["jwks_uri"], timeout=30).json()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jose_jwt.decode(
                token["id_token"],
                JsonWebKey.import_key_set(jwks),
                claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.issuer}},
                claims_params={
                    "nonce": nonce,
                    "client_id": client_id or self.public_id,
                    "access_token": token["access_token"],
                },
            )
            claims.validate()
        return dict(claims)


@pytest.fixture(scope="module")
def app(server) -> App:
    return App(server)


def code_flow(app: App, browser: Browser | None = None) -> tuple[OAuth2Session, dict, str, Browser]:
    browser = browser or Browser()
    client = app.session()
    url, state, verifier, nonce = app.authorize_url(client)
    callback = location(app.sign_in(browser, url), CALLBACK)
    token = client.fetch_token(
        app.discovery["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    return client, token, nonce, browser


def test_discovery_lists_the_endpoints_and_what_they_support(app):
    doc = app.discovery
    for name, path in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userInfo"),
        ("revocation_endpoint", "/oauth2/revoke"),
    ]:
        assert doc[name] == app.issuer + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert {"client_secret_basic", "client_secret_post", "none"} == set(doc["token_endpoint_auth_methods_supported"])


def test_authorization_code_with_pkce_signs_in_through_the_page(app):
    client, token, nonce, browser = code_flow(app)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    claims = app.id_claims(token, nonce)
    assert claims["cognito:username"] == app.username
    assert claims["email"] == app.email
    assert claims["amr"] == ["pwd"]
    assert claims["nonce"] == nonce and claims["at_hash"]
    assert claims["auth_time"] <= claims["iat"]
    access = jose_claims(token["access_token"])
    assert access["scope"].split() == SCOPES.split() and access["client_id"] == app.public_id
    info = client.get(app.discovery["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.headers["Cache-Control"] == "no-store"
    body = info.json()
    assert body["sub"] == claims["sub"] and body["email"] == app.email and body["username"] == app.username
    assert body["email_verified"] is True and body["name"] == "Alice Example"
    # The hosted session cookie: host-only, Secure even on loopback, HttpOnly, Lax.
    session = browser.cookies[f"__Host-gatehouse-session-{app.pool_id}"]
    attributes = [a.strip().lower() for a in session.attributes.split(";")]
    assert {"path=/", "secure", "httponly", "samesite=lax"} <= set(attributes)
    assert not any(a.startswith("domain") for a in attributes)


def jose_claims(token: str) -> dict:
    import base64
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_sign_in_page_headers_allow_the_redirect_to_the_callback_only(app):
    browser = Browser()
    client = app.session()
    url, _, _, _ = app.authorize_url(client)
    to_login = location(browser.get(url), url)
    page = browser.get(to_login)
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self' http://localhost:8765;" in csp, csp
    assert "script-src" not in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    pre = browser.cookies["__Host-gatehouse-csrf"]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= {a.strip().lower() for a in pre.attributes.split(";")}
    # The POST's redirect to the callback carries the same form-action.
    form = read_form(page.text)
    answer = browser.post(
        urllib.parse.urljoin(to_login, form.action),
        {"username": app.username, "password": PASSWORD, "_csrf": form.inputs["_csrf"]},
    )
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK)
    assert "form-action 'self' http://localhost:8765;" in answer.headers["Content-Security-Policy"]


def test_a_refresh_keeps_the_scopes_and_a_revoked_refresh_token_stops(app):
    client, token, _, _ = code_flow(app)
    refreshed = client.refresh_token(app.discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert jose_claims(refreshed["access_token"])["scope"] == jose_claims(token["access_token"])["scope"]
    assert jose_claims(refreshed["id_token"])["auth_time"] == jose_claims(token["id_token"])["auth_time"]
    revoked = client.revoke_token(
        app.discovery["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200, revoked.text
    again = requests.post(
        app.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "client_id": app.public_id, "refresh_token": token["refresh_token"]},
        timeout=30,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The tokens of that sign-in are refused as well.
    info = requests.get(
        app.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=30,
    )
    assert info.status_code == 401 and info.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_session_signs_in_again_without_a_password_until_logout(app):
    _, _, _, browser = code_flow(app)
    client = app.session()
    url, state, _, _ = app.authorize_url(client, prompt="none")
    silent = location(browser.get(url), url)
    assert silent.startswith(CALLBACK) and "code" in query_of(silent) and query_of(silent)["state"] == state
    # prompt=login asks for the password even so.
    url, _, _, _ = app.authorize_url(client, prompt="login")
    assert "/login?" in location(browser.get(url), url)
    out = browser.get(
        f"{app.issuer}/logout?" + urllib.parse.urlencode({"client_id": app.public_id, "logout_uri": SIGNED_OUT})
    )
    assert location(out, app.issuer) == SIGNED_OUT
    assert f"__Host-gatehouse-session-{app.pool_id}" not in browser.cookies
    url, state, _, _ = app.authorize_url(client, prompt="none")
    after = query_of(location(browser.get(url), url))
    assert after["error"] == "login_required" and after["state"] == state


def test_logout_goes_only_to_a_registered_sign_out_url(app):
    for uri in ["https://evil.example/", SIGNED_OUT + "/x", ""]:
        response = requests.get(
            f"{app.issuer}/logout",
            params={"client_id": app.public_id, "logout_uri": uri},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 400, (uri, response.status_code)
        assert "Location" not in response.headers


def test_prompt_none_without_a_session_is_login_required(app):
    client = app.session()
    url, state, _, _ = app.authorize_url(client, prompt="none")
    answer = query_of(location(Browser().get(url), url))
    assert answer == {
        "error": "login_required",
        "error_description": "the user is not signed in",
        "state": state,
    }


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://localhost:8765/callback/evil", "http://localhost:8765/callback?x=1", "https://evil.example/callback"],
)
def test_an_unregistered_redirect_uri_is_shown_on_a_page_never_redirected(app, redirect_uri):
    client = app.session()
    url, _, _, _ = app.authorize_url(client, redirect_uri=redirect_uri)
    response = requests.get(url, allow_redirects=False, timeout=30)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "has not registered" in response.text
    assert response.headers["X-Frame-Options"] == "DENY"


def test_an_unknown_client_is_shown_on_a_page(app):
    response = requests.get(
        f"{app.issuer}/oauth2/authorize",
        params={"response_type": "code", "client_id": "nosuchclient", "redirect_uri": CALLBACK},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_pkce_is_required_for_public_clients_and_plain_is_refused(app):
    client = app.session()
    for extra in [
        {},  # no challenge at all
        {"code_challenge": "x" * 43, "code_challenge_method": "plain"},
    ]:
        query = {
            "response_type": "code",
            "client_id": app.public_id,
            "redirect_uri": CALLBACK,
            "scope": SCOPES,
            "state": "s1",
            **extra,
        }
        url = f"{app.issuer}/oauth2/authorize?" + urllib.parse.urlencode(query)
        answer = query_of(location(requests.get(url, allow_redirects=False, timeout=30), url))
        assert answer["error"] == "invalid_request" and answer["state"] == "s1", answer
    del client


def exchange(app: App, code: str, verifier: str | None, **extra) -> requests.Response:
    data = {"grant_type": "authorization_code", "client_id": app.public_id, "code": code, "redirect_uri": CALLBACK}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return requests.post(app.discovery["token_endpoint"], data=data, timeout=30)


def fresh_code(app: App, browser: Browser | None = None) -> tuple[str, str]:
    client = app.session()
    url, _, verifier, _ = app.authorize_url(client)
    callback = location(app.sign_in(browser or Browser(), url), CALLBACK)
    return query_of(callback)["code"], verifier


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50])
def test_a_missing_or_wrong_verifier_is_refused(app, verifier):
    code, _ = fresh_code(app)
    response = exchange(app, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_reused_code_is_refused_and_its_tokens_revoked(app):
    code, verifier = fresh_code(app)
    first = exchange(app, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    second = exchange(app, code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    info = requests.get(
        app.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=30
    )
    assert info.status_code == 401
    refresh = requests.post(
        app.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "client_id": app.public_id, "refresh_token": tokens["refresh_token"]},
        timeout=30,
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(app, server):
    code, verifier = fresh_code(app)
    # Five minutes pass for this code: its stored expiry is moved into the past.
    server_sql(server, "UPDATE oauth_codes SET expires_at = created_at - 1 WHERE used_at IS NULL")
    response = exchange(app, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


def server_sql(server, statement: str) -> None:
    if server.database_url:
        import subprocess

        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.database_url, "-c", statement], check=True, capture_output=True, timeout=60)
    else:
        import sqlite3

        with sqlite3.connect(server.data_dir / "gatehouse.db") as db:
            db.execute(statement)


def test_a_wrong_client_secret_is_refused_by_basic_and_by_form(app):
    code, _ = fresh_code_for(app, app.confidential_id)
    token_endpoint = app.discovery["token_endpoint"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    basic = requests.post(token_endpoint, data=data, auth=(app.confidential_id, "wrong"), timeout=30)
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert basic.headers["WWW-Authenticate"].startswith("Basic")
    form = requests.post(
        token_endpoint,
        data={**data, "client_id": app.confidential_id, "client_secret": "wrong"},
        timeout=30,
    )
    assert form.status_code == 400 and form.json()["error"] == "invalid_client"
    # With the right secret, by Basic through authlib, the flow completes.
    code, verifier = fresh_code_for(app, app.confidential_id)
    client = OAuth2Session(
        app.confidential_id,
        app.confidential_secret,
        redirect_uri=CALLBACK,
        token_endpoint_auth_method="client_secret_basic",
    )
    token = client.fetch_token(
        token_endpoint, code=code, grant_type="authorization_code", code_verifier=verifier
    )
    assert token["access_token"] and token["id_token"]


def fresh_code_for(app: App, client_id: str) -> tuple[str, str]:
    client = app.session(client_id)
    url, _, verifier, _ = app.authorize_url(client)
    callback = location(app.sign_in(Browser(), url), CALLBACK)
    return query_of(callback)["code"], verifier


def test_a_tampered_state_is_refused_by_authlib(app):
    client = app.session()
    url, state, verifier, _ = app.authorize_url(client)
    callback = location(app.sign_in(Browser(), url), CALLBACK)
    tampered = callback.replace(f"state={state}", "state=forged")
    with pytest.raises(MismatchingStateException):
        client.fetch_token(
            app.discovery["token_endpoint"], authorization_response=tampered, state=state, code_verifier=verifier
        )


def test_the_page_speaks_the_language_the_browser_asks_for(app):
    import base64
    import hashlib
    import re

    client = app.session()
    url, _, _, _ = app.authorize_url(client)
    for accepted, lang, title, wrong in [
        ("fr-CH, fr;q=0.9, en;q=0.5", "fr", "Connexion", "Nom d’utilisateur ou mot de passe incorrect."),
        ("de-DE, en;q=0.5", "en", "Sign in", "Incorrect username or password."),
    ]:
        browser = Browser()
        headers = {"Accept-Language": accepted}
        to_login = location(browser.get(url, headers), url)
        page = browser.get(to_login, headers)
        assert f'<html lang="{lang}">' in page.text and f"<h1>{title}</h1>" in page.text
        # The page's stylesheet is the one its policy allows, by hash.
        css = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}';" in page.headers["Content-Security-Policy"]
        form = read_form(page.text)
        answer = browser.post(
            urllib.parse.urljoin(to_login, form.action),
            {"username": app.username, "password": "Wrong-Horse-1!", "_csrf": form.inputs["_csrf"]},
            headers,
        )
        assert answer.status_code == 401 and wrong in answer.text, answer.text


def test_a_form_without_its_csrf_token_is_refused(app):
    browser = Browser()
    client = app.session()
    url, _, _, _ = app.authorize_url(client)
    to_login = location(browser.get(url), url)
    page = browser.get(to_login)
    action = urllib.parse.urljoin(to_login, read_form(page.text).action)
    for csrf in [None, "forged", read_form(Browser().get(to_login).text).inputs["_csrf"]]:
        data = {"username": app.username, "password": PASSWORD}
        if csrf is not None:
            data["_csrf"] = csrf
        answer = browser.post(action, data)
        assert answer.status_code == 403, (csrf, answer.status_code)
        assert "Location" not in answer.headers


def test_wrong_passwords_and_unknown_users_get_the_same_page(app):
    client = app.session()
    url, _, _, _ = app.authorize_url(client)
    answers = []
    for username, password in [(app.username, "Wrong-Horse-1!"), (unique("nobody"), PASSWORD)]:
        browser = Browser()
        to_login = location(browser.get(url), url)
        form = read_form(browser.get(to_login).text)
        answer = browser.post(
            urllib.parse.urljoin(to_login, form.action),
            {"username": username, "password": password, "_csrf": form.inputs["_csrf"]},
        )
        assert answer.status_code == 401
        answers.append(" ".join(read_form(answer.text).text).split("Incorrect")[1][:40])
    assert answers[0] == answers[1]


# === resource servers and client credentials ===

API = "https://api.example.com"


def raises(error_type: str, call, **kwargs) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == error_type, caught.value.response
    return caught.value.response["Error"]["Message"]


def test_resource_servers_over_the_cognito_protocol(server):
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("rs-"))["UserPool"]["Id"]
    scopes = [{"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}]
    created = admin.create_resource_server(UserPoolId=pool_id, Identifier=API, Name="orders", Scopes=scopes)
    assert created["ResourceServer"] == {"UserPoolId": pool_id, "Identifier": API, "Name": "orders", "Scopes": scopes}
    raises("InvalidParameterException", admin.create_resource_server, UserPoolId=pool_id, Identifier=API, Name="again")
    raises(
        "InvalidParameterException",
        admin.create_resource_server,
        UserPoolId=pool_id,
        Identifier="https://dup.example",
        Name="dup",
        Scopes=[{"ScopeName": "a", "ScopeDescription": "x"}] * 2,
    )
    for i in range(3):
        admin.create_resource_server(UserPoolId=pool_id, Identifier=f"https://api{i}.example", Name=f"api{i}")
    first = admin.list_resource_servers(UserPoolId=pool_id, MaxResults=2)
    rest = admin.list_resource_servers(UserPoolId=pool_id, MaxResults=2, NextToken=first["NextToken"])
    names = [s["Identifier"] for s in first["ResourceServers"] + rest["ResourceServers"]]
    assert sorted(names) == sorted([API] + [f"https://api{i}.example" for i in range(3)])
    updated = admin.update_resource_server(UserPoolId=pool_id, Identifier=API, Name="orders-v2", Scopes=scopes[:1])
    assert updated["ResourceServer"]["Scopes"] == scopes[:1]
    assert admin.describe_resource_server(UserPoolId=pool_id, Identifier=API)["ResourceServer"]["Name"] == "orders-v2"
    admin.delete_resource_server(UserPoolId=pool_id, Identifier=API)
    raises("ResourceNotFoundException", admin.describe_resource_server, UserPoolId=pool_id, Identifier=API)


def test_client_oauth_settings_are_checked_as_cognito_checks_them(server):
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("cfg-"))["UserPool"]["Id"]
    base = dict(UserPoolId=pool_id, ClientName="c", AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=["COGNITO"])
    raises("ScopeDoesNotExistException", admin.create_user_pool_client, **base, AllowedOAuthFlows=["code"],
           AllowedOAuthScopes=["openid", f"{API}/read"], CallbackURLs=[CALLBACK])
    raises("InvalidOAuthFlowException", admin.create_user_pool_client, **base, AllowedOAuthFlows=["client_credentials"],
           AllowedOAuthScopes=["openid"])
    raises("InvalidOAuthFlowException", admin.create_user_pool_client, **base, AllowedOAuthFlows=["code", "client_credentials"],
           AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], GenerateSecret=True)
    raises("InvalidParameterException", admin.create_user_pool_client, **base, AllowedOAuthFlows=["code"],
           AllowedOAuthScopes=["openid"], CallbackURLs=["http://app.example.com/callback"])
    raises("InvalidParameterException", admin.create_user_pool_client, **base, AllowedOAuthFlows=["code"],
           AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], DefaultRedirectURI="https://other.example/")
    client = admin.create_user_pool_client(**base, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                                           CallbackURLs=[CALLBACK], DefaultRedirectURI=CALLBACK, LogoutURLs=[SIGNED_OUT])
    described = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client["UserPoolClient"]["ClientId"])
    settings = described["UserPoolClient"]
    assert settings["AllowedOAuthFlows"] == ["code"] and settings["CallbackURLs"] == [CALLBACK]
    assert settings["DefaultRedirectURI"] == CALLBACK and settings["LogoutURLs"] == [SIGNED_OUT]
    assert settings["AllowedOAuthFlowsUserPoolClient"] is True and settings["SupportedIdentityProviders"] == ["COGNITO"]


@pytest.fixture(scope="module")
def machine(server, app):
    admin = server.admin
    admin.create_resource_server(
        UserPoolId=app.pool_id,
        Identifier=API,
        Name="orders",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}],
    )
    created = admin.create_user_pool_client(
        UserPoolId=app.pool_id,
        ClientName="machine",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[f"{API}/read", f"{API}/write"],
    )["UserPoolClient"]
    return created["ClientId"], created["ClientSecret"]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_get_resource_server_scopes(app, machine, auth_method):
    client_id, secret = machine
    client = OAuth2Session(client_id, secret, scope=f"{API}/read", token_endpoint_auth_method=auth_method)
    token = client.fetch_token(app.discovery["token_endpoint"], grant_type="client_credentials")
    assert "id_token" not in token and "refresh_token" not in token
    claims = jose_claims(token["access_token"])
    assert claims["sub"] == client_id and claims["client_id"] == client_id
    assert claims["scope"] == f"{API}/read" and claims["token_use"] == "access"
    assert "username" not in claims
    # Without a scope: every resource-server scope the client has.
    everything = OAuth2Session(client_id, secret, token_endpoint_auth_method=auth_method).fetch_token(
        app.discovery["token_endpoint"], grant_type="client_credentials"
    )
    assert sorted(jose_claims(everything["access_token"])["scope"].split()) == [f"{API}/read", f"{API}/write"]


def test_client_credentials_are_refused_what_the_client_may_not_have(app, machine):
    client_id, secret = machine
    endpoint = app.discovery["token_endpoint"]
    for scope, error in [("openid", "invalid_scope"), (f"{API}/delete", "invalid_scope")]:
        response = requests.post(endpoint, data={"grant_type": "client_credentials", "scope": scope},
                                 auth=(client_id, secret), timeout=30)
        assert response.status_code == 400 and response.json()["error"] == error, response.text
    # A web client (no secret, code flow only) cannot use the grant.
    response = requests.post(endpoint, data={"grant_type": "client_credentials", "client_id": app.public_id}, timeout=30)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    response = requests.post(endpoint, data={"grant_type": "password", "client_id": app.public_id}, timeout=30)
    assert response.json()["error"] == "unsupported_grant_type"


# === domains ===


def test_domains_over_the_cognito_protocol(server, app):
    admin = server.admin
    prefix = unique("app-")
    admin.create_user_pool_domain(Domain=prefix, UserPoolId=app.pool_id)
    described = admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    assert described["UserPoolId"] == app.pool_id and described["Domain"] == prefix
    assert described["Status"] == "ACTIVE" and described["CloudFrontDistribution"] == f"{prefix}.127.0.0.1"
    assert admin.describe_user_pool_domain(Domain=unique("none-"))["DomainDescription"] == {}
    raises("InvalidParameterException", admin.create_user_pool_domain, Domain=unique("again-"), UserPoolId=app.pool_id)
    other = admin.create_user_pool(PoolName=unique("other-"))["UserPool"]["Id"]
    raises("InvalidParameterException", admin.create_user_pool_domain, Domain=prefix, UserPoolId=other)
    for bad in ["My-App", "-app", "aws-app", "has.dot"]:
        raises("InvalidParameterException", admin.create_user_pool_domain, Domain=bad, UserPoolId=other)
    raises("InvalidParameterException", admin.delete_user_pool_domain, Domain=prefix, UserPoolId=other)
    admin.delete_user_pool_domain(Domain=prefix, UserPoolId=app.pool_id)
    assert admin.describe_user_pool_domain(Domain=prefix)["DomainDescription"] == {}


def test_a_pools_domain_serves_the_flow_at_its_root_by_host(server, app):
    admin = server.admin
    prefix = unique("login-")
    admin.create_user_pool_domain(Domain=prefix, UserPoolId=app.pool_id)
    try:
        for host in [f"{prefix}.127.0.0.1:{server.port}", f"{prefix}.auth.us-east-1.amazoncognito.com"]:
            browser = Browser(host=host)
            client = app.session()
            verifier = generate_token(48)
            url, state = client.create_authorization_url(
                f"{server.endpoint}/oauth2/authorize", code_verifier=verifier, nonce="n"
            )
            to_login = browser.get(url)
            assert to_login.status_code == 302, to_login.text
            # The page is on the same host, at the root.
            assert to_login.headers["Location"].startswith("/login?"), to_login.headers["Location"]
            login_url = urllib.parse.urljoin(server.endpoint, to_login.headers["Location"])
            form = read_form(browser.get(login_url).text)
            assert form.action.startswith("/login?")
            answer = browser.post(
                urllib.parse.urljoin(server.endpoint, form.action),
                {"username": app.username, "password": PASSWORD, "_csrf": form.inputs["_csrf"]},
            )
            callback = location(answer, CALLBACK)
            token = requests.post(
                f"{server.endpoint}/oauth2/token",
                headers={"Host": host},
                data={
                    "grant_type": "authorization_code",
                    "client_id": app.public_id,
                    "code": query_of(callback)["code"],
                    "redirect_uri": CALLBACK,
                    "code_verifier": verifier,
                },
                timeout=30,
            )
            assert token.status_code == 200, token.text
            assert query_of(callback)["state"] == state
        # Another host, or no domain: nothing at the root.
        response = requests.get(
            f"{server.endpoint}/oauth2/authorize", headers={"Host": f"unknown.127.0.0.1:{server.port}"}, timeout=30
        )
        assert response.status_code == 404
    finally:
        admin.delete_user_pool_domain(Domain=prefix, UserPoolId=app.pool_id)
    gone = requests.get(f"{server.endpoint}/oauth2/authorize", headers={"Host": f"{prefix}.127.0.0.1"}, timeout=30)
    assert gone.status_code == 404


def test_a_custom_domain_is_served_by_its_whole_name(server, app):
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("custom-"))["UserPool"]["Id"]
    host = f"{unique('login')}.example.com"
    created = admin.create_user_pool_domain(
        Domain=host, UserPoolId=pool_id, CustomDomainConfig={"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}
    )
    assert created["CloudFrontDomain"] == host
    described = admin.describe_user_pool_domain(Domain=host)["DomainDescription"]
    assert described["CustomDomainConfig"]["CertificateArn"].endswith("certificate/x")
    # The custom domain's pool answers; its unknown client is shown on a page.
    response = requests.get(
        f"{server.endpoint}/oauth2/authorize",
        params={"response_type": "code", "client_id": "nosuch", "redirect_uri": CALLBACK},
        headers={"Host": host},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400 and "not known" in response.text


# === the page keeps the pool's guards ===


def post_sign_in(app: App, username: str, password: str, browser: Browser | None = None) -> requests.Response:
    browser = browser or Browser()
    client = app.session()
    url, _, _, _ = app.authorize_url(client)
    to_login = location(browser.get(url), url)
    form = read_form(browser.get(to_login).text)
    return browser.post(
        urllib.parse.urljoin(to_login, form.action),
        {"username": username, "password": password, "_csrf": form.inputs["_csrf"]},
    )


def test_the_lockout_holds_on_the_page_alike_for_unknown_names(server, app):
    admin = server.admin
    username = unique("locked")
    admin.admin_create_user(UserPoolId=app.pool_id, Username=username, MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True)
    messages = {}
    for name in [username, unique("ghost")]:
        # Eight failures lock for eight seconds (1 s after the fifth, doubling).
        for _ in range(8):
            assert post_sign_in(app, name, "Wrong-Horse-1!").status_code in (401, 429)
        locked = post_sign_in(app, name, PASSWORD)
        assert locked.status_code == 429, locked.status_code
        messages[name] = " ".join(read_form(locked.text).text)
        assert "Too many failed attempts" in messages[name]
    assert len(set(messages.values())) == 1, "a locked real user looks like a locked unknown name"


def test_a_user_with_a_temporary_password_is_told_the_next_step(server, app):
    username = unique("temp")
    server.admin.admin_create_user(
        UserPoolId=app.pool_id, Username=username, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )
    answer = post_sign_in(app, username, PASSWORD)
    assert answer.status_code == 403 and "Location" not in answer.headers
    assert "must choose a new password" in answer.text


def test_sign_in_posts_are_limited_per_address(servers):
    from gatehouse_harness import FAST_ARGON2_CONFIG

    limited = servers.new(config=FAST_ARGON2_CONFIG + "[rate_limit]\nper_second = 1\nburst = 3\n")
    app = App(limited)
    statuses = [post_sign_in(app, app.username, "Wrong-Horse-1!").status_code for _ in range(8)]
    assert 429 in statuses, statuses
    assert statuses[:3] == [401, 401, 401], statuses
