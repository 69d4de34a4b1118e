"""Token-endpoint benchmark set-up for scripts/bench/oauth2.sh, through gatehouse's own interfaces.

    setup_oauth2.py ENDPOINT WORK_DIR            creates the pool and clients, signs the user in
                                                 once through the hosted page; prints shell
                                                 assignments
    setup_oauth2.py ENDPOINT WORK_DIR codes N    mints N fresh authorization codes into
                                                 WORK_DIR/codes (one a line)

The pool has a resource server with two scopes, a confidential machine client allowed
client_credentials on them, a confidential web client allowed the code flow, and a confirmed user.
The user signs in once through the hosted sign-in form (authorize → the page → its POST with the
CSRF token, as tests/test_oauth2.py does); every further code comes from `/oauth2/authorize` with
that sign-in's session cookie and `prompt=none`, which is what a returning user's browser does: the
same code record, the same redirect, without one argon2id verification per code.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import sys
import threading
import urllib.parse
from pathlib import Path

import boto3
import requests
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from oauth_support import Browser, location, query_of, read_form  # noqa: E402

CALLBACK = "http://localhost:8765/callback"
API = "https://api.example.com/orders"
PASSWORD = "Bench-Passw0rd!"


def setup(endpoint: str, work: Path) -> None:
    admin = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ["GATEHOUSE_OPERATOR_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    pool = admin.create_user_pool(PoolName="bench-oauth2")["UserPool"]["Id"]
    admin.create_resource_server(
        UserPoolId=pool,
        Identifier=API,
        Name="orders",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}],
    )
    machine = admin.create_user_pool_client(
        UserPoolId=pool,
        ClientName="machine",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[f"{API}/read", f"{API}/write"],
    )["UserPoolClient"]
    web = admin.create_user_pool_client(
        UserPoolId=pool,
        ClientName="web",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    username = "bench-user"
    admin.admin_create_user(
        UserPoolId=pool,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": "bench@example.com"}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    admin.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)

    # One sign-in through the hosted page; its session cookie mints the codes.
    issuer = f"{endpoint}/{pool}"
    browser = Browser()
    url = f"{issuer}/oauth2/authorize?" + urllib.parse.urlencode(authorize_query(web["ClientId"]))
    to_login = location(browser.get(url), url)
    form = read_form(browser.get(to_login).text)
    answer = browser.post(
        urllib.parse.urljoin(to_login, form.action or ""),
        {"username": username, "password": PASSWORD, "_csrf": form.inputs["_csrf"]},
    )
    assert "code" in query_of(location(answer, CALLBACK)), answer.text[:300]
    cookie = "; ".join(f"{name}={c.value}" for name, c in browser.cookies.items())
    (work / "oauth2.json").write_text(json.dumps({"issuer": issuer, "client_id": web["ClientId"], "cookie": cookie}))
    print(f"pool_id={pool}")
    print(f"machine_id={machine['ClientId']}")
    print(f"machine_secret='{machine['ClientSecret']}'")
    print(f"web_id={web['ClientId']}")
    print(f"web_secret='{web['ClientSecret']}'")
    print(f"callback='{CALLBACK}'")
    print(f"api_scope='{API}/read'")


def authorize_query(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(16),
        **extra,
    }


def mint(work: Path, count: int) -> None:
    settings = json.loads((work / "oauth2.json").read_text())
    local = threading.local()

    def one(_: int) -> str:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        query = authorize_query(settings["client_id"], prompt="none")
        url = f"{settings['issuer']}/oauth2/authorize?" + urllib.parse.urlencode(query)
        answer = session.get(url, headers={"Cookie": settings["cookie"]}, allow_redirects=False, timeout=30)
        target = answer.headers.get("Location", "")
        assert answer.status_code == 302 and target.startswith(CALLBACK), (answer.status_code, target)
        given = query_of(target)
        assert given.get("state") == query["state"] and "code" in given, target
        return given["code"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(one, range(count)))
    assert len(set(codes)) == count
    (work / "codes").write_text("\n".join(codes) + "\n")


if __name__ == "__main__":
    endpoint, work = sys.argv[1], Path(sys.argv[2])
    if sys.argv[3:4] == ["codes"]:
        mint(work, int(sys.argv[4]))
    else:
        setup(endpoint, work)
