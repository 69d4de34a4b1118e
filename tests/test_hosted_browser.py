"""The hosted pages in a real browser, with a real relying party: authlib starts an
authorization code flow with PKCE, a headless Chromium follows it to the sign-in page and
signs in there like a person (typing into the labelled fields, pressing the button), the
browser lands on the app's callback (a small HTTP server on loopback), and authlib exchanges
the code, validates the ID token through the JWKS and calls userInfo. Screenshots of the pages
are saved at a desktop's and a phone's width (target/screenshots/)."""

from __future__ import annotations

import http.server
import os
import threading
import urllib.parse
import warnings
from collections.abc import Iterator

import pytest
import requests

from browser_support import Page, chromium  # noqa: F401  (the fixture)
from gatehouse_harness import PASSWORD, unique

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

with warnings.catch_warnings():
    # authlib.jose still validates ID tokens (CodeIDToken); it warns about its successor.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402
    from authlib.oidc.core import CodeIDToken  # noqa: E402

SCOPES = "openid email profile"


class RelyingParty:
    """The app: its callback on loopback (it shows a page, so the browser has somewhere to
    land), one public client registered with that callback, and authlib for the protocol."""

    def __init__(self, server) -> None:
        self.server = server

        class Callback(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the handler's name is the method's)
                body = b"<!DOCTYPE html><title>Signed in</title><p>Back at the app.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        self.callback = f"http://127.0.0.1:{self.http.server_address[1]}/callback"

        admin = server.admin
        self.pool_id = admin.create_user_pool(PoolName=unique("browser-"))["UserPool"]["Id"]
        self.issuer = f"{server.endpoint}/{self.pool_id}"
        self.client_id = admin.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="Example Notes",
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[self.callback],
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]
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

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()

    def start(self) -> tuple[OAuth2Session, str, str, str, str]:
        """(client, url, state, verifier, nonce): a fresh authorization request."""
        client = OAuth2Session(
            self.client_id,
            redirect_uri=self.callback,
            scope=SCOPES,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )
        verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = client.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        return client, url, state, verifier, nonce

    def id_claims(self, token: dict, nonce: str) -> dict:
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
                    "client_id": self.client_id,
                    "access_token": token["access_token"],
                },
            )
            claims.validate()
        return dict(claims)


@pytest.fixture(scope="module")
def app(server) -> Iterator[RelyingParty]:
    app = RelyingParty(server)
    try:
        yield app
    finally:
        app.close()


def test_a_person_signs_in_through_the_page_and_the_app_gets_validated_tokens(app, chromium: Page):
    client, url, state, verifier, nonce = app.start()
    chromium.open(url)
    chromium.wait_for_url(f"{app.issuer}/login?")
    assert chromium.title == "Sign in"
    assert "Example Notes" in chromium.text(".sub")
    chromium.screenshots("sign-in")

    chromium.fill({"Username or email": app.username, "Password": PASSWORD})
    chromium.submit()
    callback = chromium.wait_for_url(app.callback)
    assert chromium.query()["state"] == state and "code" in chromium.query()
    assert "Back at the app." in chromium.text()

    token = client.fetch_token(
        app.discovery["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    claims = app.id_claims(token, nonce)
    assert claims["cognito:username"] == app.username and claims["email"] == app.email
    info = client.get(app.discovery["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["email"] == app.email


def test_a_wrong_password_shows_the_page_again_with_an_accessible_error(app, chromium: Page):
    _, url, _, _, _ = app.start()
    chromium.open(url)
    chromium.wait_for_url(f"{app.issuer}/login?")
    chromium.fill({"Username or email": app.username, "Password": "Wrong-Horse-1!"})
    chromium.submit()
    alert = chromium.element("[role=alert]")
    assert alert.text == "Incorrect username or password."
    username = chromium.field("Username or email")
    assert username.get_attribute("value") == app.username
    for label in ["Username or email", "Password"]:
        field = chromium.field(label)
        assert field.get_attribute("aria-describedby") == alert.get_attribute("id"), label
        assert field.get_attribute("aria-invalid") == "true", label
    # The browser's accessibility tree names each field by its label.
    assert chromium.field("Password").accessible_name == "Password"
    assert urllib.parse.urlsplit(chromium.url).path == f"/{app.pool_id}/login"
    chromium.screenshots("sign-in-error")


def test_a_branded_sign_in_page_shows_the_logo_and_the_colours(app, server, chromium: Page):
    from branding_support import png

    logo = png(240, 80, (106, 27, 154), (255, 255, 255))
    server.admin.set_ui_customization(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        CSS=(
            ".submitButton-customizable { background-color: #6a1b9a; }\n"
            ".background-customizable { background-color: #f4eef8; }\n"
            ".banner-customizable { background-color: #ffffff; }"
        ),
        ImageFile=logo,
    )
    try:
        _, url, _, _, _ = app.start()
        chromium.open(url)
        chromium.wait_for_url(f"{app.issuer}/login?")
        image = chromium.element("img.logo")
        # The logo loaded (the page's policy allowed it) at its own size.
        assert chromium.driver.execute_script("return arguments[0].naturalWidth", image) == 240
        button = chromium.element("button[type=submit]")
        assert button.value_of_css_property("background-color") == "rgba(106, 27, 154, 1)"
        body = chromium.element("body")
        assert body.value_of_css_property("background-color") == "rgba(244, 238, 248, 1)"
        chromium.screenshots("sign-in-branded")
    finally:
        server.admin.set_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id)
