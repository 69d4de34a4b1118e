"""Operator-side user management: AdminCreateUser with the NEW_PASSWORD_REQUIRED challenge,
AdminInitiateAuth, AdminSetUserPassword, AdminGetUser, attribute edits, disable/enable/delete and
what each does to existing refresh tokens."""

from __future__ import annotations

import datetime
import json
import time

from gatehouse_harness import (
    OTHER_PASSWORD,
    PASSWORD,
    UUID_RE,
    attr_list,
    attrs,
    raises_cognito,
    unique,
    unique_email,
)
from gatehouse_harness import shared_pool_fixtures

# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


TEMPORARY = "Temp-Pass-123!"


def create_invited(pool, *, message_action=None, temporary=None, username=None):
    email = unique_email("invited")
    params = {
        "UserPoolId": pool.pool_id,
        "Username": username or unique("invited-"),
        "UserAttributes": attr_list({"email": email, "email_verified": "true"}),
        "DesiredDeliveryMediums": ["EMAIL"],
    }
    if message_action:
        params["MessageAction"] = message_action
    if temporary:
        params["TemporaryPassword"] = temporary
    return pool.admin.admin_create_user(**params)["User"], params["Username"], email


def test_admin_create_user_with_suppress_creates_force_change_password_user_without_message(pool, server):
    user, username, email = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    assert user["Username"] == username
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert user["Enabled"] is True
    assert isinstance(user["UserCreateDate"], datetime.datetime)
    user_attrs = attrs(user["Attributes"])
    assert UUID_RE.match(user_attrs["sub"])
    assert user_attrs["email"] == email
    time.sleep(0.3)
    assert server.messages(pool_id=pool.pool_id, destination=email) == [], "SUPPRESS must send nothing"


def test_admin_create_user_by_default_sends_a_temporary_password_that_logs_in(pool, server):
    _, username, email = create_invited(pool)
    message = server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="AdminCreateUser")
    assert message["channel"] == "EMAIL"
    temporary = message.get("temporary_password")
    assert temporary, f"invitation has no temporary_password: {message}"
    assert "code" not in message
    response = pool.login(username, temporary)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_new_password_required_is_answered_with_respond_to_auth_challenge(pool):
    _, username, email = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    challenge = pool.login(username, TEMPORARY)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert challenge["Session"]
    assert "AuthenticationResult" not in challenge
    params = challenge["ChallengeParameters"]
    assert "USER_ID_FOR_SRP" in params
    assert isinstance(json.loads(params["requiredAttributes"]), list)
    assert json.loads(params["userAttributes"])["email"] == email

    response = pool.public.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
    )
    result = response["AuthenticationResult"]
    assert result["AccessToken"] and result["IdToken"] and result["RefreshToken"]
    assert pool.get_user(username)["UserStatus"] == "CONFIRMED"
    assert pool.tokens(username, PASSWORD)
    with raises_cognito("NotAuthorizedException"):
        pool.login(username, TEMPORARY)


def test_new_password_required_is_answered_with_admin_respond_to_auth_challenge(pool):
    _, username, _ = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    challenge = pool.admin_login(username, TEMPORARY)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    response = pool.admin.admin_respond_to_auth_challenge(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": OTHER_PASSWORD},
    )
    assert response["AuthenticationResult"]["AccessToken"]
    assert pool.get_user(username)["UserStatus"] == "CONFIRMED"
    assert pool.admin_login(username, OTHER_PASSWORD)["AuthenticationResult"]["IdToken"]


def test_new_password_required_with_a_weak_new_password_is_invalid_password(pool):
    _, username, _ = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    challenge = pool.login(username, TEMPORARY)
    with raises_cognito("InvalidPasswordException"):
        pool.public.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": "short"},
        )
    assert pool.get_user(username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_new_password_required_with_a_forged_session_is_not_authorized(pool):
    _, username, _ = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    pool.login(username, TEMPORARY)
    with raises_cognito("NotAuthorizedException"):
        pool.public.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session="A" * 64,
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
        )


def test_admin_create_user_resend_sends_a_new_temporary_password(pool, server):
    _, username, email = create_invited(pool)
    first = server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="AdminCreateUser")
    pool.admin.admin_create_user(
        UserPoolId=pool.pool_id, Username=username, MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"]
    )
    second = server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="AdminCreateUser", count=2)
    assert second["id"] != first["id"]
    assert second["temporary_password"]
    assert pool.login(username, second["temporary_password"])["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_admin_create_user_of_an_existing_username_is_username_exists(pool):
    _, username, _ = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    with raises_cognito("UsernameExistsException"):
        create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY, username=username)


def test_admin_create_user_with_a_temporary_password_breaking_the_policy_is_invalid_password(pool):
    with raises_cognito("InvalidPasswordException"):
        create_invited(pool, message_action="SUPPRESS", temporary="weak")


def test_admin_initiate_auth_admin_user_password_auth_returns_tokens(pool):
    user = pool.admin_user()
    response = pool.admin_login(user.username)
    result = response["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    assert result["AccessToken"] and result["IdToken"] and result["RefreshToken"]
    with raises_cognito("NotAuthorizedException"):
        pool.admin_login(user.username, "Wrong-Password-1!")


def test_admin_set_user_password_permanent_confirms_the_user(pool):
    _, username, _ = create_invited(pool, message_action="SUPPRESS", temporary=TEMPORARY)
    pool.admin.admin_set_user_password(UserPoolId=pool.pool_id, Username=username, Password=PASSWORD, Permanent=True)
    assert pool.get_user(username)["UserStatus"] == "CONFIRMED"
    assert pool.tokens(username, PASSWORD)


def test_admin_set_user_password_not_permanent_forces_a_change_at_next_login(pool):
    user = pool.admin_user()
    pool.admin.admin_set_user_password(
        UserPoolId=pool.pool_id, Username=user.username, Password=OTHER_PASSWORD, Permanent=False
    )
    assert pool.get_user(user.username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    challenge = pool.login(user.username, OTHER_PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with raises_cognito("NotAuthorizedException"):
        pool.login(user.username, PASSWORD)


def test_admin_set_user_password_enforces_the_password_policy(pool):
    user = pool.admin_user()
    with raises_cognito("InvalidPasswordException"):
        pool.admin.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=user.username, Password="NoDigitsHere!", Permanent=True
        )


def test_admin_get_user_returns_status_dates_and_attributes(pool):
    user = pool.admin_user(attributes={"custom:tier": "gold", "name": "Bob"})
    got = pool.get_user(user.username)
    assert got["Username"] == user.username
    assert got["UserStatus"] == "CONFIRMED"
    assert got["Enabled"] is True
    assert isinstance(got["UserCreateDate"], datetime.datetime)
    assert isinstance(got["UserLastModifiedDate"], datetime.datetime)
    user_attrs = attrs(got["UserAttributes"])
    assert user_attrs["sub"] == user.sub
    assert user_attrs["email"] == user.email
    assert user_attrs["custom:tier"] == "gold"
    assert user_attrs["name"] == "Bob"


def test_admin_update_and_delete_user_attributes(pool):
    user = pool.admin_user(attributes={"name": "Before"})
    pool.admin.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username=user.username,
        UserAttributes=attr_list({"name": "After", "custom:tier": "bronze", "custom:age": "42"}),
    )
    got = attrs(pool.get_user(user.username)["UserAttributes"])
    assert got["name"] == "After"
    assert got["custom:tier"] == "bronze"
    assert got["custom:age"] == "42"
    pool.admin.admin_delete_user_attributes(
        UserPoolId=pool.pool_id, Username=user.username, UserAttributeNames=["name", "custom:tier"]
    )
    got = attrs(pool.get_user(user.username)["UserAttributes"])
    assert "name" not in got
    assert "custom:tier" not in got
    assert got["custom:age"] == "42"
    assert got["email"] == user.email


def test_admin_update_user_attributes_with_an_undeclared_attribute_is_invalid_parameter(pool):
    user = pool.admin_user()
    with raises_cognito("InvalidParameterException"):
        pool.admin.admin_update_user_attributes(
            UserPoolId=pool.pool_id, Username=user.username, UserAttributes=attr_list({"custom:undeclared": "x"})
        )


def test_admin_disable_user_blocks_login_refresh_and_access_tokens(pool):
    user = pool.admin_user()
    tokens = pool.tokens(user.username)
    pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=user.username)
    assert pool.get_user(user.username)["Enabled"] is False
    with raises_cognito("NotAuthorizedException"):
        pool.login(user.username)
    with raises_cognito("NotAuthorizedException"):
        pool.refresh(tokens["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_user(AccessToken=tokens["AccessToken"])


def test_admin_enable_user_allows_login_again_but_old_refresh_tokens_stay_revoked(pool):
    user = pool.admin_user()
    tokens = pool.tokens(user.username)
    pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=user.username)
    pool.admin.admin_enable_user(UserPoolId=pool.pool_id, Username=user.username)
    assert pool.get_user(user.username)["Enabled"] is True
    fresh = pool.tokens(user.username)
    assert pool.refresh(fresh["RefreshToken"])["AuthenticationResult"]["AccessToken"]
    with raises_cognito("NotAuthorizedException"):
        pool.refresh(tokens["RefreshToken"])


def test_admin_delete_user_removes_the_user_and_rejects_its_refresh_token(pool):
    user = pool.admin_user()
    tokens = pool.tokens(user.username)
    pool.admin.admin_delete_user(UserPoolId=pool.pool_id, Username=user.username)
    with raises_cognito("UserNotFoundException"):
        pool.get_user(user.username)
    with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
        pool.refresh(tokens["RefreshToken"])
    with raises_cognito("UserNotFoundException"):  # the client is LEGACY (the API default)
        pool.login(user.username)


def test_admin_operations_on_an_unknown_user_are_user_not_found(pool):
    ghost = unique("ghost-")
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_get_user(UserPoolId=pool.pool_id, Username=ghost)
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=ghost)
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_set_user_password(UserPoolId=pool.pool_id, Username=ghost, Password=PASSWORD, Permanent=True)
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_delete_user(UserPoolId=pool.pool_id, Username=ghost)
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=ghost)


def test_users_of_one_pool_are_invisible_in_another(pool, server):
    from gatehouse_harness import PoolFixture

    user = pool.admin_user()
    other = PoolFixture.create(server)
    with raises_cognito("UserNotFoundException"):
        other.get_user(user.username)
    with raises_cognito("UserNotFoundException"):
        other.login(user.username)
