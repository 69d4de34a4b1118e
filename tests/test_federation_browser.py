"""Federation through a real headless Chromium: authlib (the app) → gatehouse's sign-in page
→ its "Sign in with Upstream" button → the real upstream provider (the npm package
`oidc-provider` on loopback) with its login and consent pages → `/oauth2/idpresponse` → back
at the app, whose ID token (validated by authlib: signature, iss, aud, nonce, at_hash)
carries `identities` and the provider's group."""

from __future__ import annotations

import http.server
import os
import threading
import warnings

import requests
from selenium.webdriver.common.by import By

from browser_support import Page, chromium  # noqa: F401  (the fixture)
from gatehouse_harness import unique
from test_federation import UPSTREAM_CLIENT, UPSTREAM_SECRET, OidcProviderProcess

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402
    from authlib.oidc.core import CodeIDToken  # noqa: E402


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


def test_a_person_signs_in_with_the_upstream_provider_in_chromium(server, chromium: Page) -> None:
    app_http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=app_http.serve_forever, daemon=True)
    thread.start()
    callback = f"http://127.0.0.1:{app_http.server_address[1]}/callback"
    admin = server.admin
    pool_id = admin.create_user_pool(PoolName=unique("fedbrowser-"))["UserPool"]["Id"]
    issuer = f"{server.endpoint}/{pool_id}"
    upstream = OidcProviderProcess(f"{issuer}/oauth2/idpresponse")
    try:
        admin.create_identity_provider(
            UserPoolId=pool_id,
            ProviderName="Upstream",
            ProviderType="OIDC",
            ProviderDetails={
                "client_id": UPSTREAM_CLIENT,
                "client_secret": UPSTREAM_SECRET,
                "authorize_scopes": "openid email profile",
                "attributes_request_method": "GET",
                "oidc_issuer": upstream.issuer,
            },
            AttributeMapping={"email": "email", "name": "name"},
        )
        client_id = admin.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="Example Notes",
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[callback],
            SupportedIdentityProviders=["COGNITO", "Upstream"],
        )["UserPoolClient"]["ClientId"]
        discovery = server.discovery(pool_id)
        client = OAuth2Session(
            client_id,
            redirect_uri=callback,
            scope="openid email profile",
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = client.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )

        chromium.open(url)
        chromium.wait_for_url(f"{issuer}/login?")
        button = chromium.element("a.idp")
        assert button.text == "Sign in with Upstream"
        chromium.screenshots("sign-in-federated")
        button.click()
        chromium.wait_for_url(f"{upstream.issuer}/interaction/")
        # oidc-provider's development login page: any login name, any password.
        chromium.driver.find_element(By.NAME, "login").send_keys("ursula")
        chromium.driver.find_element(By.NAME, "password").send_keys("any")
        chromium.submit()
        # Its consent page.
        chromium.wait_for(lambda page: page.url.startswith(callback) or "interaction" in page.url, "consent")
        if not chromium.url.startswith(callback):
            chromium.submit()
        landed = chromium.wait_for_url(callback)
        assert chromium.query()["state"] == state
        assert "Back at the app." in chromium.text()

        token = client.fetch_token(
            discovery["token_endpoint"], authorization_response=landed, state=state, code_verifier=verifier
        )
        jwks = requests.get(discovery["jwks_uri"], timeout=30).json()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jose_jwt.decode(
                token["id_token"],
                JsonWebKey.import_key_set(jwks),
                claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": issuer}},
                claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
            )
            claims.validate()
        assert claims["cognito:username"] == "Upstream_ursula"
        assert claims["email"] == "ursula@upstream.example"
        assert claims["identities"][0]["providerName"] == "Upstream"
        assert f"{pool_id}_Upstream" in claims["cognito:groups"]
        info = client.get(discovery["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"]
    finally:
        upstream.close()
        app_http.shutdown()
        app_http.server_close()
        thread.join()
