"""Error paths: the exception names AWS uses for bad credentials, unknown users and resources,
password policy violations and bad parameters, and the protocol-level errors for bogus targets
and malformed bodies (sent as raw HTTP, since boto3 refuses to send them) — never a 500."""

from __future__ import annotations

import pytest
import requests

from gatehouse_harness import (
    PASSWORD,
    PoolFixture,
    raises_cognito,
    raw_error,
    unique,
    unique_email,
)
from gatehouse_harness import shared_pool_fixtures

# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


UNKNOWN_POOL = "us-east-1_AAAAAAAAA"
UNKNOWN_CLIENT = "a" * 26


# --- credentials and user existence ---


def test_wrong_password_is_not_authorized(pool):
    user = pool.signed_up_user()
    with raises_cognito("NotAuthorizedException") as err:
        pool.login(user.username, "Wrong-Password-1!")
    assert err.message, "the error explains itself"


def test_unknown_user_is_user_not_found_with_legacy_existence_errors(pool):
    with raises_cognito("UserNotFoundException"):
        pool.login(unique("nobody-"), PASSWORD)


def test_unknown_user_and_wrong_password_look_identical_when_existence_errors_are_prevented(pool):
    fixture = pool.with_client(PreventUserExistenceErrors="ENABLED")
    user = fixture.admin_user()
    with raises_cognito("NotAuthorizedException") as wrong_password:
        fixture.login(user.username, "Wrong-Password-1!")
    with raises_cognito("NotAuthorizedException") as unknown_user:
        fixture.login(unique("nobody-"), "Wrong-Password-1!")
    assert unknown_user.message == wrong_password.message
    with raises_cognito("NotAuthorizedException") as admin_unknown:
        fixture.admin_login(unique("nobody-"), "Wrong-Password-1!")
    assert admin_unknown.message == wrong_password.message


def test_unconfirmed_user_with_the_right_password_is_reported_even_when_existence_errors_are_prevented(pool):
    fixture = pool.with_client(PreventUserExistenceErrors="ENABLED")
    username, email = fixture.new_username()
    fixture.sign_up(username, email)
    with raises_cognito("UserNotConfirmedException"):
        fixture.login(username, PASSWORD)


def test_sign_up_of_an_existing_username_is_username_exists(pool):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    with raises_cognito("UsernameExistsException"):
        pool.sign_up(username, unique_email())


def test_sign_up_of_an_existing_email_in_an_email_username_pool_is_username_exists(email_pool):
    username, email = email_pool.new_username()
    email_pool.sign_up(username, email)
    with raises_cognito("UsernameExistsException"):
        email_pool.sign_up(email, email)


def test_confirm_sign_up_for_an_unknown_user_is_user_not_found_with_legacy_existence_errors(pool):
    with raises_cognito("UserNotFoundException"):
        pool.confirm(unique("nobody-"), "123456")


def test_resend_confirmation_code_for_a_confirmed_user_is_invalid_parameter(pool):
    user = pool.signed_up_user()
    with raises_cognito("InvalidParameterException"):
        pool.public.resend_confirmation_code(ClientId=pool.client_id, Username=user.username)


# --- password policy ---


@pytest.mark.parametrize(
    "rule, password",
    [
        ("MinimumLength", "Ab1!xyz"),
        ("RequireUppercase", "lowercase-only-1!"),
        ("RequireLowercase", "UPPERCASE-ONLY-1!"),
        ("RequireNumbers", "No-Numbers-Here!"),
        ("RequireSymbols", "NoSymbols12345"),
    ],
)
def test_sign_up_password_breaking_a_policy_rule_is_invalid_password(pool, rule, password):
    username, email = pool.new_username()
    with raises_cognito("InvalidPasswordException") as err:
        pool.sign_up(username, email, password=password)
    assert err.message, f"{rule}: the error should say which rule failed"
    with raises_cognito("UserNotFoundException"):
        pool.get_user(username)


def test_relaxed_policy_accepts_a_simple_password(server):
    relaxed = {
        "MinimumLength": 6,
        "RequireUppercase": False,
        "RequireLowercase": False,
        "RequireNumbers": False,
        "RequireSymbols": False,
    }
    fixture = PoolFixture.create(server, pool_overrides={"Policies": {"PasswordPolicy": relaxed}})
    username, email = fixture.new_username()
    # Simple, but not on the list of common passwords (which "simple" is).
    fixture.sign_up(username, email, password="zqvtrm")
    with raises_cognito("InvalidPasswordException"):
        fixture.sign_up(*fixture.new_username(), password="short")


def test_password_longer_than_256_characters_is_rejected(pool):
    username, email = pool.new_username()
    with raises_cognito({"InvalidParameterException", "InvalidPasswordException"}):
        pool.sign_up(username, email, password="Aa1!" * 64 + "x")


# --- parameters ---


def test_sign_up_with_an_undeclared_attribute_is_invalid_parameter(pool):
    username, email = pool.new_username()
    with raises_cognito("InvalidParameterException"):
        pool.sign_up(username, email, attributes={"custom:undeclared": "x"})


def test_sign_up_with_a_custom_number_outside_its_range_is_invalid_parameter(pool):
    username, email = pool.new_username()
    with raises_cognito("InvalidParameterException"):
        pool.sign_up(username, email, attributes={"custom:age": "500"})


def test_create_user_pool_with_an_out_of_range_password_length_is_invalid_parameter(server):
    with raises_cognito("InvalidParameterException"):
        server.admin.create_user_pool(
            PoolName=unique("bad-"), Policies={"PasswordPolicy": {"MinimumLength": 100}}
        )


def test_admin_initiate_auth_without_password_is_invalid_parameter(pool):
    user = pool.admin_user()
    with raises_cognito("InvalidParameterException"):
        pool.admin.admin_initiate_auth(
            UserPoolId=pool.pool_id,
            ClientId=pool.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.username},
        )


def test_initiate_auth_with_an_unsupported_flow_is_invalid_parameter(pool):
    with raises_cognito("InvalidParameterException"):
        pool.public.initiate_auth(
            ClientId=pool.client_id, AuthFlow="NO_SUCH_FLOW", AuthParameters={"USERNAME": "x"}
        )


# --- unknown resources ---


def test_unknown_pool_is_resource_not_found(server):
    with raises_cognito("ResourceNotFoundException"):
        server.admin.describe_user_pool(UserPoolId=UNKNOWN_POOL)
    with raises_cognito("ResourceNotFoundException"):
        server.admin.create_user_pool_client(UserPoolId=UNKNOWN_POOL, ClientName="x")
    with raises_cognito("ResourceNotFoundException"):
        server.admin.admin_get_user(UserPoolId=UNKNOWN_POOL, Username="x")
    with raises_cognito("ResourceNotFoundException"):
        server.admin.delete_user_pool(UserPoolId=UNKNOWN_POOL)


def test_unknown_client_is_resource_not_found(pool, server):
    with raises_cognito("ResourceNotFoundException"):
        server.public.initiate_auth(
            ClientId=UNKNOWN_CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "x", "PASSWORD": PASSWORD},
        )
    with raises_cognito("ResourceNotFoundException"):
        server.public.sign_up(ClientId=UNKNOWN_CLIENT, Username="x", Password=PASSWORD)
    with raises_cognito("ResourceNotFoundException"):
        server.admin.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=UNKNOWN_CLIENT)


def test_client_of_another_pool_is_resource_not_found(pool, server):
    other = PoolFixture.create(server)
    with raises_cognito("ResourceNotFoundException"):
        server.admin.describe_user_pool_client(UserPoolId=other.pool_id, ClientId=pool.client_id)


# --- tokens the server did not issue ---


def test_get_user_with_a_garbage_access_token_is_not_authorized(server):
    with raises_cognito("NotAuthorizedException"):
        server.public.get_user(AccessToken="not-a-token")


def test_get_user_with_a_tampered_access_token_is_not_authorized(pool):
    user = pool.signed_up_user()
    token = pool.tokens(user.username)["AccessToken"]
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_user(AccessToken=".".join([header, payload, flipped]))


def test_get_user_with_an_id_token_is_not_authorized(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_user(AccessToken=tokens["IdToken"])


def test_refresh_with_a_garbage_refresh_token_is_not_authorized(pool):
    with raises_cognito("NotAuthorizedException"):
        pool.refresh("garbage-refresh-token")


def test_refresh_token_of_another_client_is_not_authorized(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    other_client = pool.new_client()["ClientId"]
    with raises_cognito("NotAuthorizedException"):
        pool.refresh(tokens["RefreshToken"], client_id=other_client)


# --- protocol errors (raw HTTP) ---


def test_unknown_target_is_unknown_operation(server):
    response = server.raw("NoSuchOperation", {}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] == "UnknownOperationException"
    response = server.raw("NoSuchOperation", {})
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] in {"UnknownOperationException", "MissingAuthenticationTokenException"}


def test_target_of_another_service_is_unknown_operation(server):
    response = server.raw("SomeOtherService.ListThings", {}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] == "UnknownOperationException"


def test_missing_target_header_is_unknown_operation(server):
    response = server.raw(None, {}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] == "UnknownOperationException"


@pytest.mark.parametrize(
    "body",
    [
        b'{"ClientId": ',
        b"not json at all",
        b"{'single': 'quotes'}",
        b"\xff\xfe\x00garbage",
        b"",
        b"[]",
        b'"a string"',
        b"null",
        b'{"ClientId": "x"} trailing',
    ],
    ids=["truncated", "text", "single-quotes", "binary", "empty", "array", "string", "null", "trailing"],
)
def test_malformed_json_body_is_a_serialization_error_not_a_500(server, body):
    response = server.raw("SignUp", body)
    assert response.status_code == 400, f"{response.status_code}: {response.text}"
    assert raw_error(response)[0] in {"SerializationException", "InvalidParameterException"}


@pytest.mark.parametrize(
    "body",
    [
        {"ClientId": 5, "Username": "u", "Password": PASSWORD},
        {"ClientId": ["x"], "Username": "u", "Password": PASSWORD},
        {"ClientId": "c", "Username": {"a": 1}, "Password": PASSWORD},
        {"ClientId": "c", "Username": "u", "Password": PASSWORD, "UserAttributes": "email=a@b.c"},
        {"ClientId": "c", "Username": "u", "Password": PASSWORD, "UserAttributes": [{"Name": 1, "Value": 2}]},
        {"ClientId": "c", "Username": "u", "Password": True},
    ],
    ids=["int-for-string", "list-for-string", "object-for-string", "string-for-list", "ints-in-attrs", "bool"],
)
def test_wrong_field_types_are_rejected_as_client_errors_not_500(server, body):
    response = server.raw("SignUp", body)
    assert response.status_code == 400, f"{response.status_code}: {response.text}"
    assert raw_error(response)[0] in {"SerializationException", "InvalidParameterException"}


def test_missing_required_fields_are_invalid_parameter(server):
    response = server.raw("SignUp", {"Username": "u", "Password": PASSWORD})
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] in {"InvalidParameterException", "SerializationException"}
    response = server.raw("ListUsers", {}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] in {"InvalidParameterException", "SerializationException"}


def test_wrong_field_types_on_an_operator_operation_are_client_errors(server):
    response = server.raw("ListUsers", {"UserPoolId": UNKNOWN_POOL, "Limit": "ten"}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] in {"SerializationException", "InvalidParameterException"}
    response = server.raw("CreateUserPool", {"PoolName": "x", "Policies": []}, sign=True)
    assert response.status_code == 400, response.text
    assert raw_error(response)[0] in {"SerializationException", "InvalidParameterException"}


def test_errors_carry_the_json_content_type_and_error_type_header(server):
    response = server.raw("InitiateAuth", {
        "ClientId": UNKNOWN_CLIENT,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "x", "PASSWORD": PASSWORD},
    })
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    error_type, message = raw_error(response)
    assert error_type == "ResourceNotFoundException"
    assert message


def test_oversized_body_is_refused_without_harming_the_server(server):
    huge = b'{"ClientId": "' + b"a" * (8 * 1024 * 1024) + b'"}'
    try:
        response = server.raw("SignUp", huge)
    except requests.ConnectionError:
        # Closing the connection on an oversized body is an acceptable refusal.
        response = None
    if response is not None:
        assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:200]}"
    assert server.get("/health").status_code == 200


def test_successful_responses_are_amz_json(server):
    response = server.raw("ListUserPools", {"MaxResults": 1}, sign=True)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    assert "UserPools" in response.json()


def test_get_on_the_api_root_is_not_a_server_error(server):
    response = server.get("/")
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"


def test_health_endpoint_reports_ok(server):
    response = server.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
