"""The hosted pages of a sign-in's next steps, driven as a browser drives them (parse each page's
form, post it with its hidden fields and CSRF token): a new password with the pool's required
attributes, a TOTP code (pyotp), an email code (from the outbox), the choice of a factor, and
the enrolment of a software token from the page's text key and its QR code. Each ends at the
app's callback with a code that authlib redeems. Then what an attacker tries: a form without its
CSRF token, a replayed session, wrong codes up to the lockout, a tampered request in the URL,
and a session carried to another client or pool."""

from __future__ import annotations

import base64
import html
import os
import re
import time
import urllib.parse
import warnings
from dataclasses import dataclass

import pyotp
import pytest
import requests

from gatehouse_harness import PASSWORD, unique
from oauth_support import Browser, location, read_form

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402
    from authlib.oidc.core import CodeIDToken  # noqa: E402

CALLBACK = "http://localhost:8765/callback"
NEW_PASSWORD = "Fresh-Battery-42!"


class Pool:
    """A pool with MFA settings, one public OAuth client (and a second one), and users."""

    def __init__(self, server, mfa: str = "OPTIONAL", email_mfa: bool = True, **pool) -> None:
        admin = server.admin
        self.server = server
        self.name = unique("hosted-")
        self.pool_id = admin.create_user_pool(PoolName=self.name, **pool)["UserPool"]["Id"]
        if mfa != "OFF":
            settings = dict(MfaConfiguration=mfa, SoftwareTokenMfaConfiguration={"Enabled": True})
            if email_mfa:
                settings["EmailMfaConfiguration"] = {"Message": "Your code is {####}", "Subject": "Code"}
            admin.set_user_pool_mfa_config(UserPoolId=self.pool_id, **settings)
        common = dict(
            UserPoolId=self.pool_id,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=["COGNITO"],
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )
        self.client_id = admin.create_user_pool_client(ClientName="app", **common)["UserPoolClient"]["ClientId"]
        self.other_client_id = admin.create_user_pool_client(ClientName="other", **common)["UserPoolClient"][
            "ClientId"
        ]
        self.issuer = f"{server.endpoint}/{self.pool_id}"
        self.discovery = server.discovery(self.pool_id)

    def user(self, temporary: bool = False, **attributes: str) -> tuple[str, str]:
        """A user (confirmed, or with a temporary password); (username, email)."""
        username = unique("u")
        email = f"{username}@example.com"
        attrs = {"email": email, "email_verified": "true", **attributes}
        admin = self.server.admin
        admin.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
            MessageAction="SUPPRESS",
            **({"TemporaryPassword": PASSWORD} if temporary else {}),
        )
        if not temporary:
            admin.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True)
        return username, email

    def totp_user(self) -> tuple[str, pyotp.TOTP]:
        """A user with a verified software token, preferred (enrolled through the API, its
        first code one step old so that the page's code of now is newer)."""
        username, _ = self.user()
        public = self.server.public
        tokens = public.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        secret = public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
        totp = pyotp.TOTP(secret)
        public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp.at(time.time() - 30))
        public.set_user_mfa_preference(
            AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
        )
        return username, totp


@dataclass
class Flow:
    """One authorization request as a browser carries it through the pages."""

    pool: Pool
    browser: Browser
    client: OAuth2Session
    state: str
    verifier: str
    nonce: str
    url: str  # the page the browser is on
    page: requests.Response

    def submit(self, fields: dict[str, str], drop: tuple[str, ...] = ()) -> requests.Response:
        """Posts the current page's form: its hidden fields and `fields`."""
        form = read_form(self.page.text)
        assert form.action, self.page.text[:500]
        data = {k: v for k, v in form.inputs.items() if k in ("_csrf", "challenge", "session")}
        data.update(fields)
        for name in drop:
            data.pop(name, None)
        target = urllib.parse.urljoin(self.url, html.unescape(form.action))
        response = self.browser.post(target, data)
        if response.status_code != 302:
            self.url, self.page = target, response
        return response

    def action(self) -> str:
        """Where the current page's form posts."""
        return urllib.parse.urljoin(self.url, html.unescape(read_form(self.page.text).action or ""))

    def hidden(self, name: str) -> str:
        return read_form(self.page.text).inputs[name]

    def text(self) -> str:
        return " ".join(" ".join(read_form(self.page.text).text).split())

    def finish(self, response: requests.Response) -> dict:
        """The callback's code redeemed by authlib; the validated ID token's claims."""
        callback = location(response, CALLBACK)
        assert callback.startswith(CALLBACK), callback
        token = self.client.fetch_token(
            self.pool.discovery["token_endpoint"],
            authorization_response=callback,
            state=self.state,
            code_verifier=self.verifier,
        )
        assert "access_token" in token and "id_token" in token
        jwks = requests.get(self.pool.discovery["jwks_uri"], timeout=30).json()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jose_jwt.decode(
                token["id_token"],
                JsonWebKey.import_key_set(jwks),
                claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.pool.issuer}},
                claims_params={
                    "nonce": self.nonce,
                    "client_id": self.pool.client_id,
                    "access_token": token["access_token"],
                },
            )
            claims.validate()
        return dict(claims)


def start(pool: Pool, client_id: str | None = None, browser: Browser | None = None) -> Flow:
    """authorize → the sign-in page."""
    browser = browser or Browser()
    client = OAuth2Session(
        client_id or pool.client_id,
        redirect_uri=CALLBACK,
        scope="openid email profile",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        pool.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    to_login = location(browser.get(url), url)
    page = browser.get(to_login)
    assert page.status_code == 200, page.text[:500]
    return Flow(pool, browser, client, state, verifier, nonce, to_login, page)


def signed_in_to_challenge(pool: Pool, username: str, title: str, **kwargs) -> Flow:
    """The sign-in form posted with the password; the next page must have `title`."""
    flow = start(pool, **kwargs)
    answer = flow.submit({"username": username, "password": PASSWORD})
    assert answer.status_code == 200, (answer.status_code, answer.text[:800])
    assert title in flow.text(), flow.text()
    assert "/challenge?" in read_form(answer.text).action
    return flow


def email_code(pool: Pool, email: str, count: int) -> str:
    message = pool.server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="MfaSignIn", count=count)
    return message["code"]


# === every challenge, to the end ===


def test_a_temporary_password_gets_the_new_password_page(server):
    # The page also asks the pool's required attributes a user lacks (AdminCreateUser here
    # refuses to create such a user; the template's fields are checked in the web crate).
    pool = Pool(server, mfa="OFF")
    username, _ = pool.user(temporary=True)
    flow = signed_in_to_challenge(pool, username, "Choose a new password")
    session = flow.hidden("session")
    assert flow.hidden("challenge") == "NEW_PASSWORD_REQUIRED"
    assert 'name="attr:' not in flow.page.text
    # Two different passwords, a password the policy refuses, an attribute nobody may write:
    # the same page again with the same (unspent) session.
    for fields, message in [
        ({"new_password": NEW_PASSWORD, "confirm_password": "Other-42!x"}, "not the same"),
        ({"new_password": "short", "confirm_password": "short"}, "requirements"),
        ({"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "attr:custom:nope": "x"}, "missing or not valid"),
    ]:
        again = flow.submit(fields)
        assert again.status_code == 400, (again.status_code, flow.text())
        assert message in flow.text() and "Choose a new password" in flow.text()
        assert flow.hidden("session") == session
    done = flow.submit({"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "attr:given_name": "Jane"})
    claims = flow.finish(done)
    assert claims["cognito:username"] == username and claims["amr"] == ["pwd"]
    user = server.admin.admin_get_user(UserPoolId=pool.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "given_name", "Value": "Jane"} in user["UserAttributes"]
    # The new password is the user's now.
    server.public.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": NEW_PASSWORD},
    )


def test_a_totp_challenge_asks_again_after_a_wrong_code_and_never_takes_a_spent_session(server):
    pool = Pool(server)
    username, totp = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    first = flow.hidden("session")
    wrong = flow.submit({"code": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 401 and "not right" in flow.text()
    second = flow.hidden("session")
    assert second != first
    # The first session was spent by the wrong code: replayed with the right one, it sends
    # the user back to sign in.
    replay = flow.browser.post(
        flow.action(), {"_csrf": flow.hidden("_csrf"), "challenge": "SOFTWARE_TOKEN_MFA", "session": first, "code": totp.now()}
    )
    assert replay.status_code == 401 and "Location" not in replay.headers
    assert "expired or was already completed" in replay.text and 'name="password"' in replay.text
    claims = flow.finish(flow.submit({"code": totp.now()}))
    assert claims["cognito:username"] == username
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    # The page's sessions are not the API's.
    with pytest.raises(server.public.exceptions.NotAuthorizedException):
        server.public.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=second,
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp.now()},
        )


def test_an_email_code_from_the_outbox_signs_in(server):
    pool = Pool(server)
    username, email = pool.user()
    server.admin.admin_set_user_mfa_preference(
        UserPoolId=pool.pool_id, Username=username, EmailMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    flow = signed_in_to_challenge(pool, username, "Check your email")
    assert f"{email[0]}***@e***" in flow.text()
    code = email_code(pool, email, 1)
    wrong = flow.submit({"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 401 and "not right" in flow.text()
    # Asked again, the code already sent still works (no second email).
    claims = flow.finish(flow.submit({"code": code}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert len(server.messages(pool_id=pool.pool_id, destination=email, purpose="MfaSignIn")) == 1


def test_a_choice_of_factor_then_its_code(server):
    pool = Pool(server)
    username, totp = pool.totp_user()
    email = f"{username}@example.com"
    server.admin.admin_set_user_mfa_preference(
        UserPoolId=pool.pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
        EmailMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    flow = signed_in_to_challenge(pool, username, "Choose how to verify")
    assert flow.hidden("challenge") == "SELECT_MFA_TYPE"
    assert 'value="SOFTWARE_TOKEN_MFA"' in flow.page.text and 'value="EMAIL_OTP"' in flow.page.text
    assert "Authenticator app" in flow.text() and "Code by email" in flow.text()
    chosen = flow.submit({"factor": "EMAIL_OTP"})
    assert chosen.status_code == 200 and "Check your email" in flow.text()
    claims = flow.finish(flow.submit({"code": email_code(pool, email, 1)}))
    assert claims["cognito:username"] == username


def qr_svg(page: str) -> str:
    match = re.search(r'<img class="qr" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, page
    return base64.b64decode(match.group(1)).decode()


def test_totp_enrolment_from_the_page_key_then_the_totp_challenge(server):
    pool = Pool(server, mfa="ON", email_mfa=False)
    username, _ = pool.user()
    flow = signed_in_to_challenge(pool, username, "Set up an authenticator app")
    assert flow.hidden("challenge") == "MFA_SETUP"
    key = re.search(r'<code id="secret"[^>]*>([A-Z2-7 ]+)</code>', flow.page.text)
    assert key, flow.page.text
    secret = key.group(1).replace(" ", "")
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    svg = qr_svg(flow.page.text)
    assert svg.startswith("<?xml") and "<svg" in svg and re.search(r'<path fill="#000" d="M[0-9]', svg)
    assert "<script" not in svg and "href" not in svg
    # The CSP allows the data: image and still no script.
    csp = flow.page.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in csp and "script-src" not in csp
    totp = pyotp.TOTP(secret)
    # A wrong code: the same key again, with a new session.
    wrong = flow.submit({"code": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 401 and "not right" in flow.text()
    assert secret in flow.page.text.replace(" ", "")
    # The first code one step old (accepted with a step of drift), so the next sign-in's
    # code of now is newer.
    claims = flow.finish(flow.submit({"code": totp.at(time.time() - 30)}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    mfa = server.admin.admin_get_user(UserPoolId=pool.pool_id, Username=username)
    assert mfa.get("PreferredMfaSetting") == "SOFTWARE_TOKEN_MFA"
    again = signed_in_to_challenge(pool, username, "Enter your authentication code")
    again.finish(again.submit({"code": totp.now()}))


def test_a_new_password_then_the_enrolment_in_one_sign_in(server):
    pool = Pool(server, mfa="ON", email_mfa=False)
    username, _ = pool.user(temporary=True)
    flow = signed_in_to_challenge(pool, username, "Choose a new password")
    enrol = flow.submit({"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert enrol.status_code == 200 and "Set up an authenticator app" in flow.text()
    key = re.search(r'<code id="secret"[^>]*>([A-Z2-7 ]+)</code>', flow.page.text)
    assert key, flow.page.text
    totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    claims = flow.finish(flow.submit({"code": totp.now()}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]


# === what an attacker tries ===


def test_a_challenge_form_without_its_csrf_token_is_refused(server):
    pool = Pool(server)
    username, totp = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    refused = flow.submit({"code": totp.now()}, drop=("_csrf",))
    assert refused.status_code == 403 and "Location" not in refused.headers
    assert "This form has expired" in flow.text()
    # Another browser (no pre-session cookie) with the token is refused too.
    stranger = Browser()
    form = {"_csrf": "x", "challenge": "SOFTWARE_TOKEN_MFA", "session": "y", "code": totp.now()}
    assert stranger.post(flow.action(), form).status_code == 403


def test_wrong_codes_hit_the_lockout_then_end_the_sign_in(server):
    pool = Pool(server)
    username, totp = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    wrong = "000000" if totp.now() != "000000" else "111111"
    statuses = []
    for _ in range(4):
        statuses.append(flow.submit({"code": wrong}).status_code)
        assert "Enter your authentication code" in flow.text()
    assert set(statuses) <= {401, 429}, statuses
    # The fifth answer is the last this sign-in gets: back to the password.
    last = flow.submit({"code": wrong})
    assert last.status_code == 429 and 'name="password"' in last.text
    assert "Too many failed attempts" in flow.text()


def test_a_tampered_request_in_the_url_is_checked_again(server):
    pool = Pool(server)
    username, totp = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    form = read_form(flow.page.text)
    data = {k: form.inputs[k] for k in ("_csrf", "challenge", "session")} | {"code": totp.now()}
    parts = urllib.parse.urlsplit(flow.action())
    query = dict(urllib.parse.parse_qsl(parts.query))
    # To a callback that is not registered: the error page, never a redirect.
    evil = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query | {"redirect_uri": "https://evil.example/cb"})))
    refused = flow.browser.post(evil, data)
    assert refused.status_code == 400 and "Location" not in refused.headers
    # To another client of the pool: its request is valid, the session is not its.
    other = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query | {"client_id": pool.other_client_id})))
    moved = flow.browser.post(other, data)
    assert moved.status_code == 401 and "expired or was already completed" in moved.text
    # The session was not spent by either: the real page still signs in.
    flow.finish(flow.browser.post(flow.action(), data))


def test_a_challenge_session_does_not_work_in_another_pool(server):
    pool, elsewhere = Pool(server), Pool(server)
    username, totp = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    stranger = start(elsewhere, browser=flow.browser)
    form = read_form(flow.page.text)
    data = {
        "_csrf": read_form(stranger.page.text).inputs["_csrf"],
        "challenge": "SOFTWARE_TOKEN_MFA",
        "session": form.inputs["session"],
        "code": totp.now(),
    }
    target = stranger.url.replace("/login?", "/challenge?")
    moved = flow.browser.post(target, data)
    assert moved.status_code == 401 and "expired or was already completed" in moved.text


def test_a_challenge_page_reloaded_goes_back_to_sign_in(server):
    pool = Pool(server)
    username, _ = pool.totp_user()
    flow = signed_in_to_challenge(pool, username, "Enter your authentication code")
    reload = flow.browser.get(flow.action())
    assert reload.status_code == 302 and "/login?" in reload.headers["Location"]


def test_challenge_pages_speak_french(server):
    pool = Pool(server)
    username, _ = pool.totp_user()
    flow = start(pool)
    form = read_form(flow.page.text)
    answer = flow.browser.post(
        urllib.parse.urljoin(flow.url, html.unescape(form.action)),
        {"username": username, "password": PASSWORD, "_csrf": form.inputs["_csrf"]},
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    assert answer.status_code == 200 and "Saisissez votre code d’authentification" in answer.text
