"""Sign-up through the hosted pages in a real headless Chromium: from the app's authorization
request to the sign-in page, its "Sign up" link, the form filled by its labels (the pool's
required attribute included), the code from the outbox typed into the confirmation page, and
back at the app's callback signed in; authlib exchanges the code and validates the ID token.
Screenshots of the sign-up page at a desktop's and a phone's width (target/screenshots/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from browser_support import Page, chromium  # noqa: F401  (the fixture)
from gatehouse_harness import PASSWORD, unique
from test_hosted_browser import RelyingParty


class SignUpApp(RelyingParty):
    """The relying party, on a pool that verifies emails and requires a name."""

    def __init__(self, server) -> None:
        super().__init__(server)
        admin = server.admin
        self.pool_id = admin.create_user_pool(
            PoolName=unique("browser-signup-"),
            AutoVerifiedAttributes=["email"],
            Schema=[{"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True}],
        )["UserPool"]["Id"]
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
        self.discovery = server.discovery(self.pool_id)


@pytest.fixture(scope="module")
def app(server) -> Iterator[SignUpApp]:
    app = SignUpApp(server)
    try:
        yield app
    finally:
        app.close()


def test_a_person_signs_up_confirms_with_the_emailed_code_and_reaches_the_app(app, server, chromium: Page):
    client, url, state, verifier, nonce = app.start()
    chromium.open(url)
    chromium.wait_for_url(f"{app.issuer}/login?")
    chromium.driver.find_element(By.LINK_TEXT, "Sign up").click()
    chromium.wait_for_url(f"{app.issuer}/signup?")
    assert chromium.title == "Create an account"
    assert "At least 8 characters" in chromium.text(".rules")
    chromium.screenshots("sign-up")

    name = unique("bea")
    email = f"{name}@example.com"
    chromium.fill({"Username": name, "Email": email, "Full name": "Bea Example", "Password": PASSWORD})
    chromium.submit()
    assert chromium.title == "Confirm your account"
    assert "b***@e***" in chromium.text("[role=status]")
    code = server.wait_for_message(pool_id=app.pool_id, destination=email, purpose="SignUp")["code"]
    chromium.fill({"Code": code})
    chromium.submit("Confirm account")
    callback = chromium.wait_for_url(app.callback)
    assert chromium.query()["state"] == state

    token = client.fetch_token(
        app.discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    claims = app.id_claims(token, nonce)
    assert claims["cognito:username"] == name and claims["email"] == email
    assert claims["name"] == "Bea Example" and claims["email_verified"] is True
