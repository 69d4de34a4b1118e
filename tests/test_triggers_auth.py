"""The authentication triggers and UserMigration, end to end with real clients (boto3,
pycognito's SRP) and the tests' trigger server (`trigger_support`):

- PreAuthentication: its event (`PreAuthentication_Authentication`, `userAttributes`,
  `validationData` from `ClientMetadata`, `userNotFound`), asked before the password is checked
  (a refusal wins over a wrong password and counts nothing), on USER_PASSWORD_AUTH,
  ADMIN_USER_PASSWORD_AUTH and USER_SRP_AUTH; a name nobody holds is sent only when the client
  prevents user-existence errors; never on a refresh;
- PostAuthentication: its event (`newDeviceUsed`, `clientMetadata` of the answer that ends the
  sign-in), a refusal leaves no tokens; never on a refresh;
- PreTokenGeneration V1_0 and V2_0: every response field honoured (claims added, overridden and
  suppressed, groups and roles replaced, access-token claims and scopes), the claims Cognito
  protects left alone, the trigger sources (`_Authentication`, `_NewPasswordChallenge`,
  `_RefreshTokens`), a malformed answer and a failing function with Cognito's errors;
- UserMigration: `UserMigration_Authentication` creates the user with the answer's attributes
  and status, `UserMigration_ForgotPassword` creates it for the reset, `forceAliasCreation`,
  a refusal answered as for an unknown user.

Every call the trigger server receives must carry a valid signature (the `triggered` fixture).
Runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from gatehouse_harness import PASSWORD, attr_list, attrs, create_client, error_of, unique, unverified_claims
from trigger_support import Reply, Triggered, function_arn, trigger_gatehouse, trigger_server, triggered  # noqa: F401

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]


def setup(
    t: Triggered, prevent: bool = False, pool_args: dict[str, Any] | None = None, **triggers: Any
) -> dict[str, str]:
    """A pool (email usernames unless `pool_args` say otherwise) with `triggers`, and a client
    allowing every password flow."""
    args: dict[str, Any] = {
        "PoolName": unique("trigauth"),
        "UsernameAttributes": ["email"],
        "AutoVerifiedAttributes": ["email"],
        "LambdaConfig": t.lambda_config(**triggers),
    }
    args.update(pool_args or {})
    args = {k: v for k, v in args.items() if v is not None}
    pool = {"pool_id": t.server.admin.create_user_pool(**args)["UserPool"]["Id"]}
    client = create_client(
        t.server.admin,
        pool["pool_id"],
        ExplicitAuthFlows=FLOWS,
        PreventUserExistenceErrors="ENABLED" if prevent else "LEGACY",
    )
    pool["client_id"] = client["ClientId"]
    return pool


def user(t: Triggered, pool: dict[str, str], **extra: str) -> tuple[str, str]:
    """A confirmed user (email username): `(username, sub)`."""
    email = f"{unique('u')}@example.com"
    created = t.server.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=email,
        UserAttributes=attr_list({"email": email, "email_verified": "true", **extra}),
        MessageAction="SUPPRESS",
    )["User"]
    t.server.admin.admin_set_user_password(
        UserPoolId=pool["pool_id"], Username=email, Password=PASSWORD, Permanent=True
    )
    return created["Username"], attrs(created["Attributes"])["sub"]


def login(t: Triggered, pool: dict[str, str], name: str, password: str = PASSWORD, **kw: Any) -> dict[str, Any]:
    return t.server.public.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": password},
        **kw,
    )


def fails(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    code, message, _ = error_of(raised.value)
    return code, message


def srp_tokens(t: Triggered, pool: dict[str, str], name: str) -> dict[str, Any]:
    srp = AWSSRP(
        username=name,
        password=PASSWORD,
        pool_id=pool["pool_id"],
        client_id=pool["client_id"],
        client=t.server.public,
    )
    return srp.authenticate_user()["AuthenticationResult"]


# === PreAuthentication ===


def test_pre_authentication_event_and_refusal_before_the_password_check(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreAuthentication="pre-authentication")
    name, sub = user(t, pool)
    login(t, pool, name, ClientMetadata={"device": "kiosk-7"})
    event = t.triggers.last("PreAuthentication_Authentication")
    assert event["version"] == "1" and event["region"] == "us-east-1"
    assert event["userPoolId"] == pool["pool_id"] and event["userName"] == name
    assert event["callerContext"]["clientId"] == pool["client_id"]
    request = event["request"]
    assert request["userAttributes"]["sub"] == sub
    email = attrs(t.server.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=name)["UserAttributes"])
    assert request["userAttributes"]["email"] == email["email"]
    assert request["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert request["validationData"] == {"device": "kiosk-7"}
    assert request["userNotFound"] is False

    # A refusal wins over a wrong password: the trigger is asked first.
    t.triggers.on("PreAuthentication_Authentication", Reply.error("Sign-in is closed for maintenance"))
    for password in (PASSWORD, "Wrong-Password-1!"):
        code, message = fails(lambda: login(t, pool, name, password))
        assert code == "UserLambdaValidationException"
        assert message == "PreAuthentication failed with error Sign-in is closed for maintenance."
    # ... and counts nothing: more refusals than the lockout allows, then a normal sign-in.
    for _ in range(6):
        fails(lambda: login(t, pool, name, "Wrong-Password-1!"))
    t.triggers.reset()
    assert "AuthenticationResult" in login(t, pool, name)


def test_pre_authentication_on_admin_and_srp_sign_ins(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreAuthentication="pre-authentication")
    name, _ = user(t, pool)
    t.server.admin.admin_initiate_auth(
        UserPoolId=pool["pool_id"],
        ClientId=pool["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        ClientMetadata={"from": "admin"},
    )
    assert t.triggers.last("PreAuthentication_Authentication")["request"]["validationData"] == {"from": "admin"}
    srp_tokens(t, pool, name)
    assert len(t.triggers.events("PreAuthentication_Authentication")) == 2
    # With SRP the refusal comes at InitiateAuth, before any proof is asked for.
    t.triggers.on("PreAuthentication_Authentication", Reply.error("No SRP today"))
    code, message = fails(
        lambda: t.server.public.initiate_auth(
            ClientId=pool["client_id"],
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": name, "SRP_A": secrets.token_hex(384)},
        )
    )
    assert (code, message) == ("UserLambdaValidationException", "PreAuthentication failed with error No SRP today.")


def test_pre_authentication_for_unknown_names_only_when_existence_is_hidden(triggered: Triggered) -> None:
    t = triggered
    legacy = setup(t, PreAuthentication="pre-authentication")
    code, _ = fails(lambda: login(t, legacy, "nobody@example.com"))
    assert code == "UserNotFoundException"
    assert t.triggers.events("PreAuthentication_Authentication") == []
    hidden = setup(t, prevent=True, PreAuthentication="pre-authentication")
    code, _ = fails(lambda: login(t, hidden, "nobody@example.com"))
    assert code == "NotAuthorizedException"
    event = t.triggers.last("PreAuthentication_Authentication")
    assert event["request"]["userNotFound"] is True
    assert event["request"]["userAttributes"] == {}


# === PostAuthentication ===


def test_post_authentication_event_and_refusal(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PostAuthentication="post-authentication")
    name, sub = user(t, pool)
    tokens = login(t, pool, name)["AuthenticationResult"]
    event = t.triggers.last("PostAuthentication_Authentication")
    assert event["userName"] == name and event["callerContext"]["clientId"] == pool["client_id"]
    assert event["request"]["userAttributes"]["sub"] == sub
    assert event["request"]["newDeviceUsed"] is False
    srp_tokens(t, pool, name)
    assert len(t.triggers.events("PostAuthentication_Authentication")) == 2

    # Refreshing is not a sign-in: neither trigger is asked.
    t.triggers.reset()
    t.server.public.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    assert t.triggers.events() == []

    t.triggers.on("PostAuthentication_Authentication", Reply.error("Audit log unavailable"))
    code, message = fails(lambda: login(t, pool, name))
    assert (code, message) == (
        "UserLambdaValidationException",
        "PostAuthentication failed with error Audit log unavailable.",
    )


def test_pre_and_post_authentication_together(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreAuthentication="pre-authentication", PostAuthentication="post-authentication")
    name, _ = user(t, pool)
    login(t, pool, name)
    sources = [e["triggerSource"] for e in t.triggers.events()]
    assert sources == ["PreAuthentication_Authentication", "PostAuthentication_Authentication"]


# === PreTokenGeneration ===


def group(t: Triggered, pool: dict[str, str], name: str, username: str, role: str | None = None) -> None:
    extra = {"RoleArn": role} if role else {}
    t.server.admin.create_group(UserPoolId=pool["pool_id"], GroupName=name, Precedence=1, **extra)
    t.server.admin.admin_add_user_to_group(UserPoolId=pool["pool_id"], Username=username, GroupName=name)


def test_pre_token_v1_claims_and_groups(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreTokenGeneration="pre-token-generation")
    name, sub = user(t, pool)
    role = "arn:aws:iam::123456789012:role/readers"
    group(t, pool, "readers", name, role)
    t.triggers.on(
        "TokenGeneration_Authentication",
        Reply.respond_with(
            claimsOverrideDetails={
                "claimsToAddOrOverride": {"tenant": "acme", "email": "shown@example.com", "sub": "forged", "iss": "x"},
                "claimsToSuppress": ["email_verified", "cognito:username", "aud"],
                "groupOverrideDetails": {
                    "groupsToOverride": ["editors", "auditors"],
                    "iamRolesToOverride": ["arn:aws:iam::123456789012:role/editors"],
                    "preferredRole": "arn:aws:iam::123456789012:role/editors",
                },
            }
        ),
    )
    tokens = login(t, pool, name)["AuthenticationResult"]
    event = t.triggers.last("TokenGeneration_Authentication")
    assert event["version"] == "1"
    assert event["request"]["groupConfiguration"] == {
        "groupsToOverride": ["readers"],
        "iamRolesToOverride": [role],
        "preferredRole": role,
    }
    assert "scopes" not in event["request"]
    id_claims = unverified_claims(tokens["IdToken"])
    access = unverified_claims(tokens["AccessToken"])
    assert id_claims["tenant"] == "acme" and id_claims["email"] == "shown@example.com"
    assert "email_verified" not in id_claims
    # Claims Cognito protects are left as they were.
    assert id_claims["sub"] == sub and id_claims["cognito:username"] == name
    assert id_claims["aud"] == pool["client_id"] and id_claims["iss"].endswith(pool["pool_id"])
    # Groups change in both tokens; roles in the ID token.
    assert id_claims["cognito:groups"] == ["editors", "auditors"]
    assert access["cognito:groups"] == ["editors", "auditors"]
    assert id_claims["cognito:roles"] == ["arn:aws:iam::123456789012:role/editors"]
    assert id_claims["cognito:preferred_role"] == "arn:aws:iam::123456789012:role/editors"
    # V1 leaves the access token's own claims alone.
    assert "tenant" not in access and access["scope"] == "aws.cognito.signin.user.admin"

    # An empty groupOverrideDetails removes the groups.
    t.triggers.on(
        "TokenGeneration_Authentication",
        Reply.respond_with(claimsOverrideDetails={"groupOverrideDetails": None}),
    )
    tokens = login(t, pool, name)["AuthenticationResult"]
    assert "cognito:groups" not in unverified_claims(tokens["IdToken"])
    assert "cognito:groups" not in unverified_claims(tokens["AccessToken"])
    assert "cognito:roles" not in unverified_claims(tokens["IdToken"])


def test_pre_token_v2_access_token_claims_and_scopes(triggered: Triggered) -> None:
    t = triggered
    pool = setup(
        t,
        PreTokenGenerationConfig={"LambdaVersion": "V2_0", "LambdaArn": function_arn("pre-token-generation")},
    )
    name, _ = user(t, pool)
    t.triggers.on(
        "TokenGeneration_Authentication",
        Reply.respond_with(
            claimsAndScopeOverrideDetails={
                "idTokenGeneration": {
                    "claimsToAddOrOverride": {"org": {"id": 7, "name": "Acme"}, "roles": ["a", "b"]},
                    "claimsToSuppress": ["email"],
                },
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"tenant": "acme", "level": 3, "client_id": "forged"},
                    "claimsToSuppress": ["username"],
                    "scopesToAdd": ["orders/read", "orders/write"],
                    "scopesToSuppress": ["aws.cognito.signin.user.admin", "orders/write"],
                },
            }
        ),
    )
    tokens = login(t, pool, name, ClientMetadata={"ignored": "by InitiateAuth"})["AuthenticationResult"]
    event = t.triggers.last("TokenGeneration_Authentication")
    assert event["version"] == "2"
    assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
    id_claims = unverified_claims(tokens["IdToken"])
    access = unverified_claims(tokens["AccessToken"])
    assert id_claims["org"] == {"id": 7, "name": "Acme"} and id_claims["roles"] == ["a", "b"]
    assert "email" not in id_claims
    assert access["tenant"] == "acme" and access["level"] == 3
    assert access["client_id"] == pool["client_id"] and access["username"] == name
    assert access["scope"] == "orders/read"


def test_pre_token_sources_and_client_metadata(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreTokenGeneration="pre-token-generation")
    email = f"{unique('new')}@example.com"
    t.server.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=email,
        TemporaryPassword="Temporary-Pass-1!",
        UserAttributes=attr_list({"email": email, "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )
    challenge = login(t, pool, email, "Temporary-Pass-1!")
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    t.triggers.on(
        "TokenGeneration_NewPasswordChallenge",
        Reply.respond_with(claimsOverrideDetails={"claimsToAddOrOverride": {"first": "yes"}}),
    )
    answered = t.server.public.respond_to_auth_challenge(
        ClientId=pool["client_id"],
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD},
        ClientMetadata={"campaign": "spring"},
    )["AuthenticationResult"]
    event = t.triggers.last("TokenGeneration_NewPasswordChallenge")
    assert event["request"]["clientMetadata"] == {"campaign": "spring"}
    assert unverified_claims(answered["IdToken"])["first"] == "yes"
    t.server.public.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": answered["RefreshToken"]},
    )
    assert t.triggers.last("TokenGeneration_RefreshTokens")["userName"] == event["userName"]


def test_pre_token_failures_mint_nothing(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreTokenGeneration="pre-token-generation")
    name, _ = user(t, pool)
    t.triggers.on("TokenGeneration_Authentication", Reply.error("No tokens for you"))
    assert fails(lambda: login(t, pool, name)) == (
        "UserLambdaValidationException",
        "PreTokenGeneration failed with error No tokens for you.",
    )
    malformed = [
        {"claimsOverrideDetails": {"claimsToAddOrOverride": ["not", "a", "map"]}},
        {"claimsOverrideDetails": {"claimsToSuppress": "email"}},
        {"claimsOverrideDetails": {"claimsToAddOrOverride": {"nested": {"a": 1}}}},
    ]
    for response in malformed:
        t.triggers.on("TokenGeneration_Authentication", Reply.respond_with(**response))
        code, _ = fails(lambda: login(t, pool, name))
        assert code == "InvalidLambdaResponseException", response
    # Nothing was stored on the way: the user's sessions are those of the earlier sign-ins only
    # (none here), so a global sign-out has nothing to revoke and signing in still works.
    t.triggers.reset()
    assert "AuthenticationResult" in login(t, pool, name)


# === UserMigration ===


def migration_reply(attributes: dict[str, str], **extra: Any) -> Any:
    def reply(event: dict[str, Any]) -> Reply:
        if event["request"].get("password", PASSWORD) != PASSWORD:
            return Reply.error("Bad password")
        return Reply.respond_with(userAttributes=attributes, **extra)

    return reply


def test_user_migration_on_sign_in(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, UserMigration="user-migration")
    email = f"{unique('old')}@example.com"
    t.triggers.on(
        "UserMigration_Authentication",
        migration_reply(
            {"email": email, "email_verified": "true", "name": "Old Timer", "sub": "ignored"},
            finalUserStatus="CONFIRMED",
            messageAction="SUPPRESS",
        ),
    )
    # A wrong password there: answered as for an unknown user, nothing created.
    code, _ = fails(lambda: login(t, pool, email, "Wrong-Password-1!"))
    assert code == "UserNotFoundException"
    tokens = login(t, pool, email, ClientMetadata={"origin": "legacy-app"})["AuthenticationResult"]
    event = t.triggers.last("UserMigration_Authentication")
    assert event["userName"] == email and event["callerContext"]["clientId"] == pool["client_id"]
    assert event["request"]["password"] == PASSWORD
    assert event["request"]["validationData"] == {"origin": "legacy-app"}
    claims = unverified_claims(tokens["IdToken"])
    assert claims["name"] == "Old Timer" and claims["sub"] != "ignored"
    got = t.server.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)
    assert got["UserStatus"] == "CONFIRMED"
    # Now a local user: the function is not asked again.
    calls = len(t.triggers.events("UserMigration_Authentication"))
    login(t, pool, email)
    assert len(t.triggers.events("UserMigration_Authentication")) == calls


def test_user_migration_reset_required_and_forgot_password(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, UserMigration="user-migration")
    first = f"{unique('reset')}@example.com"
    t.triggers.on(
        "UserMigration_Authentication",
        migration_reply({"email": first, "email_verified": "true"}, finalUserStatus="RESET_REQUIRED"),
    )
    code, _ = fails(lambda: login(t, pool, first))
    assert code == "PasswordResetRequiredException"
    got = t.server.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=first)
    assert got["UserStatus"] == "RESET_REQUIRED"

    second = f"{unique('forgot')}@example.com"
    t.triggers.on(
        "UserMigration_ForgotPassword",
        Reply.respond_with(
            userAttributes={"email": second, "email_verified": "true"},
            messageAction="SUPPRESS",
            desiredDeliveryMediums=["EMAIL"],
        ),
    )
    delivery = t.server.public.forgot_password(
        ClientId=pool["client_id"], Username=second, ClientMetadata={"channel": "help-desk"}
    )
    assert delivery["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    event = t.triggers.last("UserMigration_ForgotPassword")
    assert event["userName"] == second and "password" not in event["request"]
    assert event["request"]["clientMetadata"] == {"channel": "help-desk"}
    got = t.server.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=second)
    assert got["UserStatus"] == "RESET_REQUIRED"


def test_user_migration_alias_and_bad_answers(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, pool_args={"UsernameAttributes": None, "AliasAttributes": ["email"]}, UserMigration="user-migration")
    shared = f"{unique('shared')}@example.com"
    holder = unique("holder")
    t.server.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=holder,
        UserAttributes=attr_list({"email": shared, "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )
    newcomer = unique("newcomer")
    t.triggers.on("UserMigration_Authentication", migration_reply({"email": shared, "email_verified": "true"}))
    code, _ = fails(lambda: login(t, pool, newcomer))
    assert code == "AliasExistsException"
    t.triggers.on(
        "UserMigration_Authentication",
        migration_reply({"email": shared, "email_verified": "true"}, forceAliasCreation=True),
    )
    assert "AuthenticationResult" in login(t, pool, newcomer)
    moved = attrs(t.server.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=holder)["UserAttributes"])
    assert moved["email_verified"] == "false"

    for bad in [{"finalUserStatus": "UNCONFIRMED"}, {"messageAction": "SHOUT"}, {"forceAliasCreation": "yes"}]:
        t.triggers.on("UserMigration_Authentication", migration_reply({"email": "x@example.com"}, **bad))
        code, _ = fails(lambda: login(t, pool, unique("bad")))
        assert code == "InvalidLambdaResponseException", bad


# === the hosted sign-in page and the OAuth code flow ===


def test_the_hosted_sign_in_calls_the_triggers_and_hosted_auth_tokens(triggered: Triggered) -> None:
    from test_oauth2 import App, code_flow

    t = triggered
    app = App(t.server)
    t.server.admin.update_user_pool(
        UserPoolId=app.pool_id,
        LambdaConfig=t.lambda_config(
            PreAuthentication="pre-authentication",
            PostAuthentication="post-authentication",
            PreTokenGenerationConfig={
                "LambdaVersion": "V2_0",
                "LambdaArn": function_arn("pre-token-generation"),
            },
        ),
    )
    t.triggers.on(
        "TokenGeneration_HostedAuth",
        Reply.respond_with(
            claimsAndScopeOverrideDetails={
                "idTokenGeneration": {"claimsToAddOrOverride": {"tenant": "acme"}},
                "accessTokenGeneration": {"scopesToSuppress": ["profile"], "claimsToAddOrOverride": {"tier": "gold"}},
            }
        ),
    )
    _, token, nonce, _ = code_flow(app)
    sources = [e["triggerSource"] for e in t.triggers.events()]
    assert sources == [
        "PreAuthentication_Authentication",
        "PostAuthentication_Authentication",
        "TokenGeneration_HostedAuth",
    ]
    event = t.triggers.last("TokenGeneration_HostedAuth")
    assert sorted(event["request"]["scopes"]) == ["email", "openid", "profile"]
    # The ID token still validates as OpenID Connect requires (nonce, at_hash, aud).
    claims = app.id_claims(token, nonce)
    assert claims["tenant"] == "acme"
    access = unverified_claims(token["access_token"])
    assert access["tier"] == "gold"
    assert sorted(access["scope"].split()) == ["email", "openid"]


def test_post_authentication_says_when_a_new_device_is_used(triggered: Triggered) -> None:
    t = triggered
    pool = setup(
        t,
        pool_args={
            "DeviceConfiguration": {
                "ChallengeRequiredOnNewDevice": False,
                "DeviceOnlyRememberedOnUserPrompt": True,
            }
        },
        PostAuthentication="post-authentication",
    )
    name, _ = user(t, pool)
    result = login(t, pool, name)["AuthenticationResult"]
    assert "NewDeviceMetadata" in result
    assert t.triggers.last("PostAuthentication_Authentication")["request"]["newDeviceUsed"] is True


def test_client_metadata_is_bounded_before_any_function_is_asked(triggered: Triggered) -> None:
    t = triggered
    pool = setup(t, PreAuthentication="pre-authentication", UserMigration="user-migration")
    name, _ = user(t, pool)
    too_much = [
        {f"k{i}": "v" for i in range(51)},
        {"k" * 257: "v"},
        {"k": "v" * 2049},
    ]
    for metadata in too_much:
        code, _ = fails(lambda: login(t, pool, name, ClientMetadata=metadata))
        assert code == "InvalidParameterException"
        code, _ = fails(
            lambda: t.server.public.forgot_password(ClientId=pool["client_id"], Username="x@example.com", ClientMetadata=metadata)
        )
        assert code == "InvalidParameterException"
    assert t.triggers.events() == []
    # At the limits it goes through.
    login(t, pool, name, ClientMetadata={f"k{i}": "v" * 2048 for i in range(50)})
    assert len(t.triggers.last("PreAuthentication_Authentication")["request"]["validationData"]) == 50
