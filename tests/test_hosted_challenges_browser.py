"""The challenge pages in a real headless Chromium, with authlib as the app: a pool that
requires MFA, a person enrols an authenticator app from the enrolment page's text key (pyotp
stands in for the app), lands at the app's callback, and the next sign-in completes the TOTP
challenge. Screenshots of the enrolment and code pages at a desktop's and a phone's width
(target/screenshots/)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest

from browser_support import Page, chromium  # noqa: F401  (the fixture)
from gatehouse_harness import PASSWORD
from test_hosted_browser import RelyingParty


@pytest.fixture(scope="module")
def app(server) -> Iterator[RelyingParty]:
    app = RelyingParty(server)
    server.admin.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, MfaConfiguration="ON", SoftwareTokenMfaConfiguration={"Enabled": True}
    )
    try:
        yield app
    finally:
        app.close()


def sign_in_through_the_page(app: RelyingParty, chromium: Page, prompt: str | None = None):
    """authorize → the sign-in page, the password typed; (client, state, verifier, nonce)."""
    client, url, state, verifier, nonce = app.start()
    if prompt:
        url += f"&prompt={prompt}"
    chromium.open(url)
    chromium.wait_for_url(f"{app.issuer}/login?")
    chromium.fill({"Username or email": app.username, "Password": PASSWORD})
    chromium.submit()
    return client, state, verifier, nonce


def at_the_app(app: RelyingParty, chromium: Page, client, state: str, verifier: str, nonce: str) -> dict:
    callback = chromium.wait_for_url(app.callback)
    assert chromium.query()["state"] == state
    token = client.fetch_token(
        app.discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    return app.id_claims(token, nonce)


def test_a_person_enrols_an_authenticator_app_then_answers_its_challenge(app, chromium: Page):
    client, state, verifier, nonce = sign_in_through_the_page(app, chromium)
    key = chromium.element("#secret").text
    assert chromium.title == "Set up an authenticator app"
    # The QR code is an image the page's CSP lets the browser load and draw.
    drawn = chromium.driver.execute_script(
        "const i = document.querySelector('img.qr'); return i.complete && i.naturalWidth > 0;"
    )
    assert drawn, "the QR code was not drawn"
    chromium.screenshots("totp-enrolment")

    totp = pyotp.TOTP(key.replace(" ", ""))
    # The current code: accepted even if a 30 s step ends before the server checks it (a step
    # of drift either way).
    enrolled_at = time.time()
    chromium.fill({"Then enter the 6-digit code the app shows.": totp.at(enrolled_at)})
    chromium.submit()
    claims = at_the_app(app, chromium, client, state, verifier, nonce)
    assert claims["cognito:username"] == app.username
    assert claims["amr"] == ["pwd", "otp", "mfa"]

    # Signing in again (prompt=login: the hosted session is not enough) asks for the code.
    client, state, verifier, nonce = sign_in_through_the_page(app, chromium, prompt="login")
    chromium.element("#code")
    assert chromium.title == "Enter your authentication code"
    chromium.screenshots("totp-challenge")
    chromium.fill({"Code": "000000" if totp.now() != "000000" else "111111"})
    chromium.submit()
    assert chromium.element("[role=alert]").text == "That code is not right. Check it and try again."
    assert chromium.field("Code").get_attribute("aria-describedby") == "form-error"
    # A code of a later step than the enrolment's (a used step is refused): the current one,
    # or the next (accepted with a step of drift) while the enrolment's step lasts.
    chromium.fill({"Code": totp.at(max(time.time(), enrolled_at + 30))})
    chromium.submit()
    claims = at_the_app(app, chromium, client, state, verifier, nonce)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
