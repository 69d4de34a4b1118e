"""The self-service journey a browser app drives without credentials: SignUp → code from the
outbox → ConfirmSignUp → InitiateAuth USER_PASSWORD_AUTH → REFRESH_TOKEN_AUTH → GetUser, plus
the user's own operations (UpdateUserAttributes, ChangePassword, DeleteUser)."""

from __future__ import annotations

import re

from gatehouse_harness import (
    OTHER_PASSWORD,
    PASSWORD,
    UUID_RE,
    attrs,
    raises_cognito,
    unique_email,
    unverified_claims,
)
from gatehouse_harness import shared_pool_fixtures


# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


def test_sign_up_delivers_a_code_to_the_outbox_and_confirm_sign_up_confirms(pool, server):
    username, email = pool.new_username("alice")
    response = pool.sign_up(username, email, attributes={"custom:tier": "gold"})
    assert response["UserConfirmed"] is False
    assert UUID_RE.match(response["UserSub"])
    details = response["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL"
    assert details["AttributeName"] == "email"
    assert details["Destination"]

    message = server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="SignUp")
    assert message["channel"] == "EMAIL"
    assert re.fullmatch(r"[0-9]{6}", message["code"]), message["code"]
    assert message["username"] in (username, response["UserSub"])
    assert "temporary_password" not in message

    before = pool.get_user(username)
    assert before["UserStatus"] == "UNCONFIRMED"

    pool.confirm(username, message["code"])
    after = pool.get_user(username)
    assert after["UserStatus"] == "CONFIRMED"
    assert after["Enabled"] is True
    user_attrs = attrs(after["UserAttributes"])
    assert user_attrs["email"] == email
    assert user_attrs["email_verified"] == "true", "AutoVerifiedAttributes email: confirming verifies it"
    assert user_attrs["custom:tier"] == "gold"
    assert user_attrs["sub"] == response["UserSub"]


def test_password_login_returns_bearer_tokens_valid_for_an_hour(pool):
    user = pool.signed_up_user()
    response = pool.login(user.username, user.password)
    result = response["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    assert result["IdToken"] and result["AccessToken"] and result["RefreshToken"]
    assert response.get("ChallengeParameters", {}) == {}
    assert "ChallengeName" not in response
    # The refresh token is opaque, not a JWT gatehouse would have to parse.
    assert not _is_jwt(result["RefreshToken"])


def _is_jwt(token: str) -> bool:
    try:
        unverified_claims(token)
        return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a JWT"
        return False


def test_refresh_token_auth_issues_new_id_and_access_tokens_keeping_auth_time(pool):
    user = pool.signed_up_user()
    first = pool.tokens(user.username)
    refreshed_response = pool.refresh(first["RefreshToken"])
    refreshed = refreshed_response["AuthenticationResult"]
    assert "RefreshToken" not in refreshed, "REFRESH_TOKEN_AUTH must not hand out a new refresh token"
    assert refreshed["TokenType"] == "Bearer"
    assert refreshed["ExpiresIn"] == 3600
    assert refreshed["IdToken"] != first["IdToken"]
    assert refreshed["AccessToken"] != first["AccessToken"]
    for kind in ("IdToken", "AccessToken"):
        old, new = unverified_claims(first[kind]), unverified_claims(refreshed[kind])
        assert new["auth_time"] == old["auth_time"], f"{kind}: auth_time must survive a refresh"
        assert new["jti"] != old["jti"], f"{kind}: a refreshed token is a new token"
        assert new["origin_jti"] == old["origin_jti"], f"{kind}: origin_jti ties it to the same sign-in"
        assert new["sub"] == user.sub
    # The refreshed access token works like the first one.
    got = pool.public.get_user(AccessToken=refreshed["AccessToken"])
    assert attrs(got["UserAttributes"])["sub"] == user.sub


def test_refresh_token_auth_is_also_accepted_as_refresh_token_flow(pool):
    user = pool.signed_up_user()
    first = pool.tokens(user.username)
    response = pool.public.initiate_auth(
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN", AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}
    )
    assert response["AuthenticationResult"]["AccessToken"]


def test_get_user_returns_username_and_attributes_for_the_access_token(pool):
    user = pool.signed_up_user(attributes={"name": "Alice Liddell", "custom:tier": "silver"})
    tokens = pool.tokens(user.username)
    got = pool.public.get_user(AccessToken=tokens["AccessToken"])
    assert got["Username"] == user.username
    user_attrs = attrs(got["UserAttributes"])
    assert user_attrs["sub"] == user.sub
    assert user_attrs["email"] == user.email
    assert user_attrs["email_verified"] == "true"
    assert user_attrs["name"] == "Alice Liddell"
    assert user_attrs["custom:tier"] == "silver"


def test_email_username_pool_gives_users_a_uuid_username_and_logs_in_by_email(email_pool):
    user = email_pool.signed_up_user()
    tokens = email_pool.tokens(user.email)
    got = email_pool.public.get_user(AccessToken=tokens["AccessToken"])
    # With UsernameAttributes=email, Cognito's username is the generated sub, not the address.
    assert got["Username"] == user.sub
    assert attrs(got["UserAttributes"])["email"] == user.email
    id_claims = unverified_claims(tokens["IdToken"])
    assert id_claims["cognito:username"] == user.sub
    assert id_claims["email"] == user.email
    assert unverified_claims(tokens["AccessToken"])["username"] == user.sub
    # The operator API finds the user by the address too.
    assert email_pool.get_user(user.email)["Username"] == user.sub


def test_resend_confirmation_code_sends_a_new_code_that_confirms(pool, server):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    pool.code_for(email)
    response = pool.public.resend_confirmation_code(ClientId=pool.client_id, Username=username)
    assert response["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert response["CodeDeliveryDetails"]["AttributeName"] == "email"
    resent = server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="ResendConfirmationCode")
    pool.confirm(username, resent["code"])
    assert pool.get_user(username)["UserStatus"] == "CONFIRMED"


def test_confirm_sign_up_with_a_wrong_code_is_code_mismatch(pool):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    code = pool.code_for(email)
    wrong = "000000" if code != "000000" else "111111"
    with raises_cognito("CodeMismatchException"):
        pool.confirm(username, wrong)
    assert pool.get_user(username)["UserStatus"] == "UNCONFIRMED"
    pool.confirm(username, code)  # the right code still works after one miss


def test_confirm_sign_up_of_a_confirmed_user_is_not_authorized(pool):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    code = pool.code_for(email)
    pool.confirm(username, code)
    with raises_cognito("NotAuthorizedException"):
        pool.confirm(username, code)


def test_login_before_confirming_is_user_not_confirmed(pool):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    with raises_cognito("UserNotConfirmedException"):
        pool.login(username)


def test_admin_confirm_sign_up_lets_the_user_log_in(pool):
    username, email = pool.new_username()
    pool.sign_up(username, email)
    pool.admin.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=username)
    assert pool.get_user(username)["UserStatus"] == "CONFIRMED"
    assert pool.tokens(username)["AccessToken"]


def test_update_user_attributes_changes_what_get_user_returns(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    pool.public.update_user_attributes(
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "name", "Value": "Renamed"}, {"Name": "custom:tier", "Value": "platinum"}],
    )
    got = attrs(pool.public.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"])
    assert got["name"] == "Renamed"
    assert got["custom:tier"] == "platinum"
    assert got["email"] == user.email


def test_update_user_attributes_changing_email_sends_a_verification_code(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    new_email = unique_email("moved")
    response = pool.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    deliveries = response.get("CodeDeliveryDetailsList", [])
    assert [d["AttributeName"] for d in deliveries] == ["email"], deliveries
    message = server.wait_for_message(pool_id=pool.pool_id, destination=new_email, purpose="VerifyAttribute")
    assert message["code"]
    got = attrs(pool.get_user(user.username)["UserAttributes"])
    assert got["email"] == new_email
    assert got["email_verified"] == "false"


def test_update_user_attributes_with_an_undeclared_attribute_is_invalid_parameter(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    with raises_cognito("InvalidParameterException"):
        pool.public.update_user_attributes(
            AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "custom:nope", "Value": "x"}]
        )


def test_change_password_replaces_the_password(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    pool.public.change_password(
        PreviousPassword=PASSWORD, ProposedPassword=OTHER_PASSWORD, AccessToken=tokens["AccessToken"]
    )
    with raises_cognito("NotAuthorizedException"):
        pool.login(user.username, PASSWORD)
    assert pool.tokens(user.username, OTHER_PASSWORD)["AccessToken"]


def test_change_password_with_a_wrong_previous_password_is_not_authorized(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    with raises_cognito("NotAuthorizedException"):
        pool.public.change_password(
            PreviousPassword="Wrong-Password-1!", ProposedPassword=OTHER_PASSWORD, AccessToken=tokens["AccessToken"]
        )
    assert pool.tokens(user.username, PASSWORD)


def test_change_password_enforces_the_password_policy(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    with raises_cognito("InvalidPasswordException"):
        pool.public.change_password(
            PreviousPassword=PASSWORD, ProposedPassword="alllowercase1!", AccessToken=tokens["AccessToken"]
        )


def test_delete_user_removes_the_user_and_revokes_the_refresh_token(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    pool.public.delete_user(AccessToken=tokens["AccessToken"])
    with raises_cognito("UserNotFoundException"):
        pool.get_user(user.username)
    with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
        pool.refresh(tokens["RefreshToken"])
    with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
        pool.public.get_user(AccessToken=tokens["AccessToken"])


def test_passwords_are_compared_in_full_without_truncation(pool):
    long_password = "Aa1!" + "x" * 120 + "-tail-A"
    user = pool.signed_up_user(password=long_password)
    assert pool.tokens(user.username, long_password)
    # Same first 100+ characters, different end: bcrypt-style truncation would accept it.
    with raises_cognito("NotAuthorizedException"):
        pool.login(user.username, long_password[:-1] + "B")


def test_a_256_character_password_is_accepted(pool):
    password = ("Aa1!" * 64)[:256]
    user = pool.signed_up_user(password=password)
    assert pool.tokens(user.username, password)
