"""Password recovery, attribute verification and sign-out: ForgotPassword/ConfirmForgotPassword,
GetUserAttributeVerificationCode/VerifyUserAttribute, GlobalSignOut, AdminUserGlobalSignOut,
RevokeToken, and UpdateGroup."""

from __future__ import annotations

from gatehouse_harness import (
    OTHER_PASSWORD,
    PASSWORD,
    attrs,
    raises_cognito,
    unique,
    unique_email,
    unverified_claims,
)
from gatehouse_harness import shared_pool_fixtures


# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


def test_forgot_password_code_from_the_outbox_sets_a_new_password(pool, server):
    user = pool.signed_up_user()
    response = pool.public.forgot_password(ClientId=pool.client_id, Username=user.username)
    assert response["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = pool.code_for(user.email, purpose="ForgotPassword")
    pool.public.confirm_forgot_password(
        ClientId=pool.client_id, Username=user.username, ConfirmationCode=code, Password=OTHER_PASSWORD
    )
    assert pool.tokens(user.username, OTHER_PASSWORD)["AccessToken"]
    with raises_cognito("NotAuthorizedException"):
        pool.login(user.username, PASSWORD)


def test_confirm_forgot_password_with_a_wrong_code_is_code_mismatch(pool):
    user = pool.signed_up_user()
    pool.public.forgot_password(ClientId=pool.client_id, Username=user.username)
    code = pool.code_for(user.email, purpose="ForgotPassword")
    with raises_cognito("CodeMismatchException"):
        pool.public.confirm_forgot_password(
            ClientId=pool.client_id,
            Username=user.username,
            ConfirmationCode="000000" if code != "000000" else "111111",
            Password=OTHER_PASSWORD,
        )
    assert pool.tokens(user.username, PASSWORD)


def test_confirm_forgot_password_enforces_the_password_policy(pool):
    user = pool.signed_up_user()
    pool.public.forgot_password(ClientId=pool.client_id, Username=user.username)
    code = pool.code_for(user.email, purpose="ForgotPassword")
    with raises_cognito("InvalidPasswordException"):
        pool.public.confirm_forgot_password(
            ClientId=pool.client_id, Username=user.username, ConfirmationCode=code, Password="weak"
        )


def test_forgot_password_for_an_unknown_user_depends_on_existence_error_prevention(pool):
    legacy = pool
    with raises_cognito("UserNotFoundException"):
        legacy.public.forgot_password(ClientId=legacy.client_id, Username=unique("nobody-"))
    prevented = pool.with_client(PreventUserExistenceErrors="ENABLED")
    # Documented: a simulated delivery instead of an error.
    response = prevented.public.forgot_password(ClientId=prevented.client_id, Username=unique("nobody-"))
    assert "CodeDeliveryDetails" in response


def test_verify_user_attribute_verifies_a_changed_email(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    new_email = unique_email("changed")
    pool.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    code = pool.code_for(new_email, purpose="VerifyAttribute")
    with raises_cognito("CodeMismatchException"):
        pool.public.verify_user_attribute(
            AccessToken=tokens["AccessToken"], AttributeName="email", Code="000000" if code != "000000" else "111111"
        )
    pool.public.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=code)
    got = attrs(pool.get_user(user.username)["UserAttributes"])
    assert got["email"] == new_email
    assert got["email_verified"] == "true"


def test_get_user_attribute_verification_code_sends_a_fresh_code(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    response = pool.public.get_user_attribute_verification_code(
        AccessToken=tokens["AccessToken"], AttributeName="email"
    )
    assert response["CodeDeliveryDetails"]["AttributeName"] == "email"
    code = pool.code_for(user.email, purpose="VerifyAttribute")
    pool.public.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=code)


def test_global_sign_out_revokes_access_and_refresh_tokens(pool):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    other_session = pool.tokens(user.username)
    pool.public.global_sign_out(AccessToken=tokens["AccessToken"])
    for session in (tokens, other_session):
        with raises_cognito("NotAuthorizedException"):
            pool.public.get_user(AccessToken=session["AccessToken"])
        with raises_cognito("NotAuthorizedException"):
            pool.refresh(session["RefreshToken"])
    fresh = pool.tokens(user.username)
    assert pool.public.get_user(AccessToken=fresh["AccessToken"])["Username"] == user.username


def test_admin_user_global_sign_out_revokes_every_session(pool):
    user = pool.admin_user()
    first = pool.tokens(user.username)
    second = pool.tokens(user.username)
    pool.admin.admin_user_global_sign_out(UserPoolId=pool.pool_id, Username=user.username)
    for tokens in (first, second):
        with raises_cognito("NotAuthorizedException"):
            pool.refresh(tokens["RefreshToken"])
        with raises_cognito("NotAuthorizedException"):
            pool.public.get_user(AccessToken=tokens["AccessToken"])


def test_revoke_token_revokes_one_session_only(pool):
    user = pool.signed_up_user()
    revoked = pool.tokens(user.username)
    kept = pool.tokens(user.username)
    assert unverified_claims(revoked["AccessToken"])["origin_jti"] != unverified_claims(kept["AccessToken"])["origin_jti"]
    pool.public.revoke_token(Token=revoked["RefreshToken"], ClientId=pool.client_id)
    with raises_cognito("NotAuthorizedException"):
        pool.refresh(revoked["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_user(AccessToken=revoked["AccessToken"])
    assert pool.refresh(kept["RefreshToken"])["AuthenticationResult"]["AccessToken"]
    assert pool.public.get_user(AccessToken=kept["AccessToken"])["Username"] == user.username


def test_update_group_changes_description_precedence_and_role(pool):
    pool.admin.create_group(UserPoolId=pool.pool_id, GroupName="g", Description="old", Precedence=9)
    role = "arn:aws:iam::000000000000:role/e2e-updated"
    updated = pool.admin.update_group(
        UserPoolId=pool.pool_id, GroupName="g", Description="new", Precedence=1, RoleArn=role
    )["Group"]
    assert (updated["Description"], updated["Precedence"], updated["RoleArn"]) == ("new", 1, role)
    got = pool.admin.get_group(UserPoolId=pool.pool_id, GroupName="g")["Group"]
    assert (got["Description"], got["Precedence"], got["RoleArn"]) == ("new", 1, role)
