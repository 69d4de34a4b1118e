"""The hosted account pages as a person meets them, driven as forms (parse the page, post it
with its CSRF token): sign-up with the pool's required attributes → the code from the outbox →
confirm → back at the app's callback signed in, the code exchanged by authlib; the password
policy and the schema refusing a form in the pool's own words; a taken name, told or hidden as
the client's PreventUserExistenceErrors says; forgot → reset → sign in with the new password;
wrong and expired codes; forms without their CSRF token; a tampered request and a client whose
callback is not registered."""

from __future__ import annotations

import html
import os
import re
import urllib.parse
import warnings

import pytest

from gatehouse_harness import PASSWORD, unique
from oauth_support import Browser, location, query_of, read_form

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt as jose_jwt  # noqa: E402
    from authlib.oidc.core import CodeIDToken  # noqa: E402

CALLBACK = "http://localhost:8765/callback"
SCOPES = "openid email profile"
NEW_PASSWORD = "Another-Horse-42!"


class Site:
    """A pool whose sign-up asks for `name` (required) besides the email it verifies, with a
    client that tells which names are taken and one that prevents user-existence errors."""

    def __init__(self, server) -> None:
        admin = server.admin
        self.server = server
        self.pool_id = admin.create_user_pool(
            PoolName=unique("account-"),
            AutoVerifiedAttributes=["email"],
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 10,
                    "RequireUppercase": True,
                    "RequireLowercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": False,
                }
            },
            Schema=[
                {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
            ],
        )["UserPool"]["Id"]
        self.issuer = f"{server.endpoint}/{self.pool_id}"
        common = dict(
            UserPoolId=self.pool_id,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=["COGNITO"],
        )
        self.telling_id = admin.create_user_pool_client(
            ClientName="telling", PreventUserExistenceErrors="LEGACY", **common
        )["UserPoolClient"]["ClientId"]
        self.hiding_id = admin.create_user_pool_client(
            ClientName="hiding", PreventUserExistenceErrors="ENABLED", **common
        )["UserPoolClient"]["ClientId"]
        self.discovery = server.discovery(self.pool_id)

    def session(self, client_id: str) -> OAuth2Session:
        return OAuth2Session(
            client_id,
            redirect_uri=CALLBACK,
            scope=SCOPES,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )

    def start(self, client_id: str, browser: Browser):
        """A fresh authorization request followed to the sign-in page: (client, login URL,
        verifier, nonce, state)."""
        client = self.session(client_id)
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = client.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        to_login = location(browser.get(url), url)
        return client, to_login, verifier, nonce, state

    def id_claims(self, token: dict, nonce: str, client_id: str) -> dict:
        jwks = self.server.jwks(self.pool_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jose_jwt.decode(
                token["id_token"],
                JsonWebKey.import_key_set(jwks),
                claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.issuer}},
                claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
            )
            claims.validate()
        return dict(claims)


@pytest.fixture(scope="module")
def site(server) -> Site:
    return Site(server)


def page_url(login_url: str, page: str) -> str:
    """Another account page of the same pool, with the same authorization request."""
    parts = urllib.parse.urlsplit(login_url)
    path = parts.path.rsplit("/", 1)[0] + "/" + page
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def links(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def text_of(page: str) -> str:
    return " ".join(" ".join(read_form(page).text).split())


def submit(browser: Browser, url: str, page_text: str, fields: dict[str, str], csrf: bool = True):
    """Posts the page's first form with `fields` (and its CSRF token)."""
    form = read_form(page_text)
    assert form.action is not None, page_text[:500]
    data = dict(fields)
    if csrf:
        data["_csrf"] = form.inputs["_csrf"]
    return browser.post(urllib.parse.urljoin(url, form.action), data)


def sign_up_form(site: Site, client_id: str, browser: Browser | None = None):
    browser = browser or Browser()
    client, to_login, verifier, nonce, state = site.start(client_id, browser)
    url = page_url(to_login, "signup")
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    return browser, client, url, page, verifier, nonce, state


def user_exists(site: Site, email: str) -> bool:
    users = site.server.admin.list_users(UserPoolId=site.pool_id, Filter=f'email = "{email}"')["Users"]
    return bool(users)


def test_sign_up_confirm_and_arrive_at_the_app_signed_in(site, server):
    browser = Browser()
    client, to_login, verifier, nonce, state = site.start(site.telling_id, browser)
    login = browser.get(to_login)
    # The sign-in page links to sign-up and the forgotten password, with the same request.
    hrefs = links(login.text)
    signup_url = next(h for h in hrefs if "/signup?" in h)
    assert any("/forgotPassword?" in h for h in hrefs)
    assert query_of(signup_url)["client_id"] == site.telling_id
    url = urllib.parse.urljoin(to_login, signup_url)
    page = browser.get(url)
    assert page.status_code == 200
    form = read_form(page.text)
    # The pool's required attribute is asked for; the email too (the pool verifies it).
    assert {"username", "password", "email", "name", "_csrf"} <= set(form.inputs)
    assert 'type="email"' in page.text
    assert "At least 10 characters" in text_of(page.text)
    name = unique("new")
    email = f"{name}@example.com"
    answer = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": email, "name": "New Person"})
    assert answer.status_code == 200, answer.text[:800]
    assert "n***@e***" in text_of(answer.text)
    proof_cookie = f"__Host-gatehouse-signup-{site.pool_id}"
    assert proof_cookie in browser.cookies
    attributes = [a.strip().lower() for a in browser.cookies[proof_cookie].attributes.split(";")]
    assert {"path=/", "secure", "httponly", "samesite=lax"} <= set(attributes)
    code = server.wait_for_message(pool_id=site.pool_id, destination=email, purpose="SignUp")["code"]
    confirmed = submit(browser, url, answer.text, {"username": name, "code": code})
    # Confirmed: straight to the app's callback with a code, no password typed again.
    callback = location(confirmed, CALLBACK)
    assert callback.startswith(CALLBACK) and query_of(callback)["state"] == state
    assert proof_cookie not in browser.cookies
    assert f"__Host-gatehouse-session-{site.pool_id}" in browser.cookies
    token = client.fetch_token(
        site.discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    claims = site.id_claims(token, nonce, site.telling_id)
    assert claims["cognito:username"] == name and claims["email"] == email
    assert claims["email_verified"] is True and claims["name"] == "New Person"
    user = server.admin.admin_get_user(UserPoolId=site.pool_id, Username=name)
    assert user["UserStatus"] == "CONFIRMED"


def test_a_confirmation_elsewhere_ends_on_the_sign_in_page(site, server):
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    name = unique("elsewhere")
    email = f"{name}@example.com"
    answer = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": email, "name": "E"})
    assert answer.status_code == 200
    code = server.wait_for_message(pool_id=site.pool_id, destination=email, purpose="SignUp")["code"]
    # Another browser (no proof of the sign-up) confirms: the sign-in page follows.
    other = Browser()
    confirm_url = page_url(url, "confirmUser") + "&username=" + urllib.parse.quote(name)
    confirm_page = other.get(confirm_url)
    assert read_form(confirm_page.text).inputs["username"] == name
    done = submit(other, confirm_url, confirm_page.text, {"username": name, "code": code})
    assert done.status_code == 200 and "Location" not in done.headers
    assert "Your account is confirmed" in text_of(done.text)
    assert "/login?" in read_form(done.text).action
    # The proof in the first browser was not spent, but the account is confirmed now: the
    # code is not accepted twice.
    again = submit(browser, url, answer.text, {"username": name, "code": code})
    assert again.status_code == 400


def test_required_attributes_and_the_password_policy_are_enforced(site):
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    name = unique("req")
    email = f"{name}@example.com"
    missing = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": email, "name": ""})
    assert missing.status_code == 400
    assert "`name` is required" in text_of(missing.text)
    # The form comes back with what was typed (never the password).
    again = read_form(missing.text)
    assert again.inputs["username"] == name and again.inputs["email"] == email and again.inputs.get("password", "") == ""
    weak = submit(browser, url, missing.text, {"username": name, "password": "short1A", "email": email, "name": "N"})
    assert weak.status_code == 400
    assert "Password did not conform with policy" in text_of(weak.text)
    assert not user_exists(site, email)


def test_a_taken_name_is_told_or_hidden_as_the_client_says(site, server):
    name = unique("taken")
    email = f"{name}@example.com"
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    first = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": email, "name": "T"})
    assert first.status_code == 200
    # A client that lets SignUp say so: the pool's own words.
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    taken = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": f"x{email}", "name": "T"})
    assert taken.status_code == 400 and "User already exists" in text_of(taken.text)
    # A client that prevents user-existence errors: a taken name looks like a new one.
    answers = []
    for who in [name, unique("fresh")]:
        browser, _, url, page, *_ = sign_up_form(site, site.hiding_id)
        answer = submit(browser, url, page.text, {"username": who, "password": PASSWORD, "email": f"{who}@example.com", "name": "T"})
        assert answer.status_code == 200, answer.text[:500]
        assert f"__Host-gatehouse-signup-{site.pool_id}" in browser.cookies
        # The same page, but for the (masked) address each one typed.
        answers.append(re.sub(r"\w\*\*\*@\w\*\*\*", "ADDRESS", text_of(answer.text)))
    assert answers[0] == answers[1] and "ADDRESS" in answers[0]
    # Only the real new user got a message: the existing user's address got nothing more.
    assert len(server.messages(pool_id=site.pool_id, destination=email)) == 1


def test_forgot_reset_and_sign_in_with_the_new_password(site, server):
    name = unique("forgets")
    email = f"{name}@example.com"
    server.admin.admin_create_user(
        UserPoolId=site.pool_id,
        Username=name,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": "F"},
        ],
        MessageAction="SUPPRESS",
    )
    server.admin.admin_set_user_password(UserPoolId=site.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    browser = Browser()
    client, to_login, verifier, nonce, state = site.start(site.telling_id, browser)
    url = page_url(to_login, "forgotPassword")
    page = browser.get(url)
    assert page.status_code == 200
    sent = submit(browser, url, page.text, {"username": name})
    assert sent.status_code == 200, sent.text[:500]
    assert "/confirmForgotPassword?" in read_form(sent.text).action
    code = server.wait_for_message(pool_id=site.pool_id, destination=email, purpose="ForgotPassword")["code"]
    reset_url = page_url(to_login, "confirmForgotPassword")
    # A password the policy refuses, with the right code: said, and the code still works.
    weak = submit(browser, reset_url, sent.text, {"username": name, "code": code, "password": "weak"})
    assert weak.status_code == 400 and "Password did not conform with policy" in text_of(weak.text)
    done = submit(browser, reset_url, weak.text, {"username": name, "code": code, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text[:500]
    assert "password was changed" in text_of(done.text)
    signed_in = submit(browser, to_login, done.text, {"username": name, "password": NEW_PASSWORD})
    callback = location(signed_in, CALLBACK)
    token = client.fetch_token(
        site.discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    assert site.id_claims(token, nonce, site.telling_id)["cognito:username"] == name


def test_forgot_password_answers_alike_for_nobody(site):
    answers = []
    for who in [unique("nobody"), unique("nobody")]:
        browser = Browser()
        _, to_login, *_ = site.start(site.telling_id, browser)
        url = page_url(to_login, "forgotPassword")
        page = browser.get(url)
        answer = submit(browser, url, page.text, {"username": who})
        assert answer.status_code == 200
        answers.append(re.sub(r"nobody-?\w+", "N", text_of(answer.text)))
    assert answers[0] == answers[1]
    assert "sent" in answers[0]


def test_wrong_and_expired_codes_are_refused(site, server):
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    name = unique("codes")
    email = f"{name}@example.com"
    answer = submit(browser, url, page.text, {"username": name, "password": PASSWORD, "email": email, "name": "C"})
    code = server.wait_for_message(pool_id=site.pool_id, destination=email, purpose="SignUp")["code"]
    wrong = submit(browser, url, answer.text, {"username": name, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and "Invalid verification code" in text_of(wrong.text)
    # A wrong code for a name nobody holds reads the same.
    nobody = submit(browser, url, answer.text, {"username": unique("nobody"), "code": "123456"})
    assert nobody.status_code == 400 and "Invalid verification code" in text_of(nobody.text)
    sql(server, f"UPDATE one_time_codes SET expires_at = 0 WHERE pool_id = '{site.pool_id}'")
    expired = submit(browser, url, answer.text, {"username": name, "code": code})
    assert expired.status_code == 400 and "expired" in text_of(expired.text)
    # A new code (the resend form) works.
    resend_form = answer.text.split('class="secondary"', 1)[1]
    resend_action = html.unescape(re.search(r'action="([^"]+)"', answer.text.split("<form", 2)[2]).group(1))
    assert "/resendcode?" in resend_action and "username" in resend_form
    resent = browser.post(
        urllib.parse.urljoin(url, resend_action),
        {"username": name, "_csrf": read_form(answer.text).inputs["_csrf"]},
    )
    assert resent.status_code == 200 and "new code" in text_of(resent.text)
    fresh = server.wait_for_message(pool_id=site.pool_id, destination=email, purpose="ResendConfirmationCode")["code"]
    done = submit(browser, url, resent.text, {"username": name, "code": fresh})
    assert done.status_code == 302


def sql(server, statement: str) -> None:
    if server.database_url:
        import subprocess

        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.database_url, "-c", statement],
            check=True,
            capture_output=True,
            timeout=60,
        )
    else:
        import sqlite3

        with sqlite3.connect(server.data_dir / "gatehouse.db") as db:
            db.execute(statement)


@pytest.mark.parametrize("page", ["signup", "confirmUser", "resendcode", "forgotPassword", "confirmForgotPassword"])
def test_forms_without_their_csrf_token_are_refused(site, server, page):
    browser = Browser()
    _, to_login, *_ = site.start(site.telling_id, browser)
    browser.get(to_login)
    url = page_url(to_login, page)
    name = unique("csrf")
    email = f"{name}@example.com"
    fields = {"username": name, "password": PASSWORD, "email": email, "name": "C", "code": "123456"}
    for csrf in [None, "forged", read_form(Browser().get(to_login).text).inputs["_csrf"]]:
        data = dict(fields)
        if csrf is not None:
            data["_csrf"] = csrf
        answer = browser.post(url, data)
        assert answer.status_code == 403, (page, csrf, answer.status_code, answer.text[:300])
        assert "Location" not in answer.headers
    assert not user_exists(site, email)
    assert not server.messages(pool_id=site.pool_id, destination=email)


def test_a_tampered_request_or_an_unregistered_callback_signs_nobody_up(site, server):
    browser, _, url, page, *_ = sign_up_form(site, site.telling_id)
    name = unique("tamper")
    email = f"{name}@example.com"
    form = read_form(page.text)
    action = urllib.parse.urljoin(url, form.action)
    tampered = action.replace(urllib.parse.quote(CALLBACK, safe=""), urllib.parse.quote("https://evil.example/cb", safe=""))
    assert tampered != action
    answer = browser.post(
        tampered, {"username": name, "password": PASSWORD, "email": email, "name": "T", "_csrf": form.inputs["_csrf"]}
    )
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "not registered" in text_of(answer.text)
    # A client whose callbacks do not include the one asked for: the page itself refuses.
    other = server.admin.create_user_pool_client(
        UserPoolId=site.pool_id,
        ClientName="elsewhere",
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"],
        CallbackURLs=["https://other.example/cb"],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]["ClientId"]
    query = urllib.parse.urlencode(
        {
            "client_id": other,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        }
    )
    signup = f"{site.issuer}/signup?{query}"
    shown = Browser().get(signup)
    assert shown.status_code == 400 and "<form" not in shown.text
    posted = Browser().post(signup, {"username": name, "password": PASSWORD, "email": email, "name": "T"})
    assert posted.status_code == 400
    assert not user_exists(site, email)
