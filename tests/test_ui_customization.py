"""Branding of the hosted pages over the Cognito protocol (SetUICustomization /
GetUICustomization, with boto3): a pool's settings and an app client's overriding them, CSS
only within Cognito's documented classes and properties and without anything that could load,
run or end the stylesheet, logos only as PNG or JPEG of at most 100 KB; then the sign-in page
showing the logo and the CSS under a Content-Security-Policy that still has no unsafe-inline."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse

import pytest
import requests
from botocore.exceptions import ClientError

from branding_support import png
from gatehouse_harness import unique
from oauth_support import Browser, location

CALLBACK = "http://localhost:8765/callback"
BRAND_CSS = (
    ".submitButton-customizable { background-color: #0a7d55; color: white; }\n"
    ".submitButton-customizable:hover { background-color: rgb(8, 94, 64); }\n"
    ".background-customizable { background-color: #eef6f2; }\n"
    "/* Cognito's template keeps comments */\n"
    ".label-customizable { font-weight: 500; }\n"
)


class Branded:
    """A pool with two app clients."""

    def __init__(self, server) -> None:
        self.server = server
        self.idp = server.admin
        self.pool_id = self.idp.create_user_pool(PoolName=unique("brand-"))["UserPool"]["Id"]

        self.client_a = self.new_client("Branded App")
        self.client_b = self.new_client("Plain App")

    def new_client(self, name: str) -> str:
        return self.idp.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName=name,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]

    def get(self, client_id: str | None = None) -> dict:
        kwargs = {"ClientId": client_id} if client_id else {}
        return self.idp.get_ui_customization(UserPoolId=self.pool_id, **kwargs)["UICustomization"]

    def set(self, client_id: str | None = None, **kwargs) -> dict:
        if client_id:
            kwargs["ClientId"] = client_id
        return self.idp.set_ui_customization(UserPoolId=self.pool_id, **kwargs)["UICustomization"]

    def refused(self, code: str, **kwargs) -> str:
        with pytest.raises(ClientError) as caught:
            self.idp.set_ui_customization(UserPoolId=self.pool_id, **kwargs)
        assert caught.value.response["Error"]["Code"] == code, caught.value.response
        return caught.value.response["Error"]["Message"]

    def login_page(self, client_id: str) -> tuple[requests.Response, str]:
        query = urllib.parse.urlencode(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": CALLBACK,
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            }
        )
        url = f"{self.server.endpoint}/{self.pool_id}/oauth2/authorize?{query}"
        browser = Browser()
        to_login = location(browser.get(url), url)
        page = browser.get(to_login)
        assert page.status_code == 200, page.text[:300]
        return page, to_login


@pytest.fixture(scope="module")
def branded(server) -> Branded:
    return Branded(server)


LOGO = png(180, 60, (10, 125, 85), (255, 255, 255))


def test_a_pools_branding_is_set_and_read_back_as_cognito_answers(branded):
    empty = branded.get()
    assert empty["UserPoolId"] == branded.pool_id and empty["ClientId"] == "ALL"
    assert "CSS" not in empty and "ImageUrl" not in empty

    got = branded.set(CSS=BRAND_CSS, ImageFile=LOGO)
    digest = hashlib.sha256(LOGO).hexdigest()
    assert got["ClientId"] == "ALL" and got["CSS"] == BRAND_CSS and got["CSSVersion"] == "1"
    assert got["ImageUrl"] == f"{branded.server.issuer(branded.pool_id)}/logo/{digest}"
    assert got["CreationDate"] == got["LastModifiedDate"]
    # `ALL` names the pool's own too, and every client without its own gets it.
    assert branded.get("ALL")["CSS"] == BRAND_CSS
    assert branded.get(branded.client_b)["ClientId"] == "ALL"
    again = branded.set(client_id="ALL", CSS=BRAND_CSS, ImageFile=LOGO)
    assert again["CSSVersion"] == "2" and again["CreationDate"] == got["CreationDate"]

    logo = requests.get(got["ImageUrl"], timeout=30)
    assert logo.status_code == 200 and logo.content == LOGO
    assert logo.headers["Content-Type"] == "image/png"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    # A logo is found only under its own pool.
    other = branded.idp.create_user_pool(PoolName=unique("other-"))["UserPool"]["Id"]
    assert requests.get(got["ImageUrl"].replace(branded.pool_id, other), timeout=30).status_code == 404


def test_a_clients_branding_overrides_the_pools(branded):
    branded.set(CSS=BRAND_CSS, ImageFile=LOGO)
    own_css = ".submitButton-customizable { background-color: #6a1b9a; }"
    own = branded.set(branded.client_a, CSS=own_css)
    assert own["ClientId"] == branded.client_a and own["CSS"] == own_css and "ImageUrl" not in own
    assert branded.get(branded.client_a)["CSS"] == own_css
    assert branded.get(branded.client_b)["CSS"] == BRAND_CSS
    assert branded.get()["CSS"] == BRAND_CSS

    page, _ = branded.login_page(branded.client_a)
    assert "#6a1b9a" in page.text and "#eef6f2" not in page.text and "/logo/" not in page.text
    page, _ = branded.login_page(branded.client_b)
    assert "#eef6f2" in page.text and "/logo/" in page.text

    message = branded.refused("ResourceNotFoundException", ClientId="nosuchclient", CSS=own_css)
    assert "nosuchclient" in message


@pytest.mark.parametrize(
    "css, named",
    [
        (".banner-customizable{background-color:red}</style><script>alert(1)</script>", "</style"),
        (".background-customizable{background-color:url(https://evil.example/track.png)}", "url("),
        ("@import url('https://evil.example/x.css');", "url("),
        ("@import 'https://evil.example/x.css';", "@import"),
        ("@font-face{font-family:x}", "@font-face"),
        (".label-customizable{font-weight:expression(alert(1))}", "expression("),
        (".label-customizable{font-weight:\\75rl(x)}", "\\"),
        (".submitButton-customizable{background-color:var(--x)}", "rgb()"),
        ("body{background-color:red}", "`body`"),
        ("form[action]{display:none}", "form[action]"),
        (".label-customizable{background-image:none}", "background-image"),
        (".logo-customizable{content:'x'}", "`'`"),
    ],
)
def test_hostile_css_is_refused_naming_the_offending_part(branded, css, named):
    before = branded.get()
    message = branded.refused("InvalidParameterException", CSS=css)
    assert named in message, message
    assert branded.get() == before, "nothing was written"


@pytest.mark.parametrize(
    "image, named",
    [
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "PNG or JPEG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "PNG or JPEG"),
        (b"<html><script>alert(1)</script></html>", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (100 * 1024), "at most 102400 bytes"),
    ],
)
def test_hostile_images_are_refused(branded, image, named):
    message = branded.refused("InvalidParameterException", ImageFile=image)
    assert named in message, message


def test_the_page_shows_the_logo_and_the_css_under_a_policy_without_unsafe_inline(branded):
    branded.set(CSS=BRAND_CSS, ImageFile=LOGO)
    pools_own, settings_nothing = branded.new_client("Pools look"), branded.new_client("Own empty")
    branded.set(settings_nothing)  # a client's own settings of nothing show nothing
    page, _ = branded.login_page(pools_own)
    digest = hashlib.sha256(LOGO).hexdigest()
    assert f'<img class="logo" src="/{branded.pool_id}/logo/{digest}"' in page.text
    css = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    assert "button[type=submit]{background-color:#0a7d55;color:white;}" in css
    assert ":root{--primary:#0a7d55;--primary-dark:rgb(8, 94, 64);}" in css
    assert "body{background-color:#eef6f2;}" in css
    assert "Cognito's template" not in css, "comments are not copied to the page"
    policy = page.headers["Content-Security-Policy"]
    hash_of = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{hash_of}';" in policy
    assert "unsafe-inline" not in policy and "script-src" not in policy
    assert "img-src 'self'" in policy

    plain, _ = branded.login_page(settings_nothing)
    assert "/logo/" not in plain.text and "#0a7d55" not in plain.text
