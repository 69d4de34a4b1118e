"""SigV4 on the Cognito endpoint: operator operations need a valid signature from the operator
credentials (botocore signs; the server's documented exception names are asserted), public
operations need none and ignore one if present."""

from __future__ import annotations

import datetime
import json

from gatehouse_harness import (
    INVALID_SIGNATURE,
    MISSING_AUTH,
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    PASSWORD,
    UNRECOGNIZED_CLIENT,
    PoolFixture,
    raises_cognito,
    raw_error,
)


def test_operator_operation_without_signature_is_missing_authentication_token(server):
    with raises_cognito(MISSING_AUTH):
        server.public.list_user_pools(MaxResults=10)
    with raises_cognito(MISSING_AUTH):
        server.public.create_user_pool(PoolName="unsigned")


def test_every_kind_of_operator_operation_requires_a_signature(pool, server):
    calls = {
        "AdminGetUser": lambda: server.public.admin_get_user(UserPoolId=pool.pool_id, Username="x"),
        "AdminCreateUser": lambda: server.public.admin_create_user(UserPoolId=pool.pool_id, Username="x"),
        "AdminInitiateAuth": lambda: server.public.admin_initiate_auth(
            UserPoolId=pool.pool_id,
            ClientId=pool.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "x", "PASSWORD": PASSWORD},
        ),
        "ListUsers": lambda: server.public.list_users(UserPoolId=pool.pool_id),
        "DescribeUserPool": lambda: server.public.describe_user_pool(UserPoolId=pool.pool_id),
        "CreateUserPoolClient": lambda: server.public.create_user_pool_client(
            UserPoolId=pool.pool_id, ClientName="x"
        ),
        "CreateGroup": lambda: server.public.create_group(UserPoolId=pool.pool_id, GroupName="x"),
        "DeleteUserPool": lambda: server.public.delete_user_pool(UserPoolId=pool.pool_id),
    }
    for name, call in calls.items():
        with raises_cognito(MISSING_AUTH):
            call()
    # Nothing above took effect.
    assert server.admin.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Id"] == pool.pool_id
    assert server.admin.list_groups(UserPoolId=pool.pool_id)["Groups"] == []


def test_wrong_secret_key_is_invalid_signature(server):
    client = server.client(secret_access_key=OPERATOR_SECRET_ACCESS_KEY[:-1] + "X")
    with raises_cognito(INVALID_SIGNATURE):
        client.list_user_pools(MaxResults=10)


def test_unknown_access_key_is_unrecognized_client(server):
    client = server.client(access_key_id="AKIAUNKNOWNKEY000000")
    with raises_cognito(UNRECOGNIZED_CLIENT):
        client.list_user_pools(MaxResults=10)


def test_invalid_session_token_is_unrecognized_client(server):
    client = server.client(session_token="not-a-session-token-gatehouse-issued")
    with raises_cognito(UNRECOGNIZED_CLIENT):
        client.list_user_pools(MaxResults=10)


def test_signature_for_another_region_is_invalid_signature(server):
    response = server.raw("ListUserPools", {"MaxResults": 1}, sign=True, region="eu-west-1")
    assert raw_error(response)[0] == INVALID_SIGNATURE
    assert response.status_code == 400


def test_signature_ten_minutes_old_is_invalid_signature(server):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    response = server.raw("ListUserPools", {"MaxResults": 1}, sign=True, signing_time=past)
    assert raw_error(response)[0] == INVALID_SIGNATURE


def test_signature_ten_minutes_in_the_future_is_invalid_signature(server):
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    response = server.raw("ListUserPools", {"MaxResults": 1}, sign=True, signing_time=future)
    assert raw_error(response)[0] == INVALID_SIGNATURE


def test_signature_within_the_five_minute_skew_is_accepted(server):
    for minutes in (-4, 4):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
        response = server.raw("ListUserPools", {"MaxResults": 1}, sign=True, signing_time=at)
        assert response.status_code == 200, f"skew {minutes} min: {response.status_code} {response.text}"


def test_body_changed_after_signing_is_rejected(server):
    from gatehouse_harness import sigv4_headers
    import requests

    url = server.endpoint + "/"
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
    }
    signed = sigv4_headers(
        url,
        b'{"MaxResults": 1}',
        headers,
        access_key_id=OPERATOR_ACCESS_KEY_ID,
        secret_access_key=OPERATOR_SECRET_ACCESS_KEY,
    )
    response = requests.post(url, data=b'{"MaxResults": 2}', headers=signed, timeout=30)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] == INVALID_SIGNATURE


def test_target_changed_after_signing_is_rejected(server):
    from gatehouse_harness import sigv4_headers
    import requests

    url = server.endpoint + "/"
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
    }
    signed = sigv4_headers(
        url, b"{}", headers, access_key_id=OPERATOR_ACCESS_KEY_ID, secret_access_key=OPERATOR_SECRET_ACCESS_KEY
    )
    signed["X-Amz-Target"] = "AWSCognitoIdentityProviderService.CreateUserPool"
    response = requests.post(url, data=b'{"PoolName": "sneaky"}', headers=signed, timeout=30)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] == INVALID_SIGNATURE


def test_a_signature_that_leaves_the_target_out_cannot_be_replayed_as_another_operation(pool, server):
    """A request signed over everything but `X-Amz-Target` (what a captured log line, a
    proxy or a lax client could leave) must not become DeleteUserPool."""
    from gatehouse_harness import sigv4_headers
    import requests

    url = server.endpoint + "/"
    body = json.dumps({"UserPoolId": pool.pool_id}).encode()
    signed = sigv4_headers(
        url,
        body,
        {"Content-Type": "application/x-amz-json-1.1"},
        access_key_id=OPERATOR_ACCESS_KEY_ID,
        secret_access_key=OPERATOR_SECRET_ACCESS_KEY,
    )
    assert "x-amz-target" not in signed["Authorization"]
    signed["X-Amz-Target"] = "AWSCognitoIdentityProviderService.DeleteUserPool"
    response = requests.post(url, data=body, headers=signed, timeout=30)
    assert response.status_code == 400, response.text
    assert raw_error(response) == (INVALID_SIGNATURE, "`x-amz-target` must be a signed header")
    assert server.admin.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Id"] == pool.pool_id


def test_a_presigned_url_without_the_target_is_refused(pool, server):
    """botocore's query signer covers only `host`: a presigned DescribeUserPool URL, valid for
    days, must not be usable with any `X-Amz-Target`."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests

    body = json.dumps({"UserPoolId": pool.pool_id}).encode()
    request = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=body)
    credentials = botocore.credentials.Credentials(OPERATOR_ACCESS_KEY_ID, OPERATOR_SECRET_ACCESS_KEY)
    botocore.auth.SigV4QueryAuth(credentials, "cognito-idp", "us-east-1", expires=7 * 24 * 3600).add_auth(request)
    assert "X-Amz-SignedHeaders=host" in request.url
    for operation in ("DescribeUserPool", "DeleteUserPool"):
        response = requests.post(
            request.url,
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            },
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert raw_error(response) == (INVALID_SIGNATURE, "`x-amz-target` must be a signed header"), operation
    assert server.admin.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Id"] == pool.pool_id


def test_public_operation_with_an_operator_signature_is_accepted(server):
    fixture = PoolFixture.create(server)
    username, email = fixture.new_username()
    # The admin client signs every request, public ones included.
    server.admin.sign_up(
        ClientId=fixture.client_id,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    server.admin.confirm_sign_up(ClientId=fixture.client_id, Username=username, ConfirmationCode=fixture.code_for(email))
    response = server.admin.initiate_auth(
        ClientId=fixture.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert server.admin.get_user(AccessToken=response["AuthenticationResult"]["AccessToken"])["Username"] == username


def test_public_operation_with_a_signature_from_unknown_credentials_is_accepted(server):
    fixture = PoolFixture.create(server)
    user = fixture.admin_user()
    stranger = server.client(access_key_id="AKIASTRANGER00000000", secret_access_key="whatever")
    response = stranger.initiate_auth(
        ClientId=fixture.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.username, "PASSWORD": PASSWORD},
    )
    assert response["AuthenticationResult"]["AccessToken"]
    bad_secret = server.client(secret_access_key="wrong-secret")
    assert bad_secret.get_user(AccessToken=response["AuthenticationResult"]["AccessToken"])["Username"] == user.username
