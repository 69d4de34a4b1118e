"""User-pool details real apps hit, driven with boto3 on both storage backends: refresh-token
rotation (GetTokensFromRefreshToken; a reused rotated token revokes its whole sign-in, also
across two nodes on one PostgreSQL database), usernames that ignore case but keep it,
attributes that change only once verified, AddCustomAttributes and AWS's schema words,
AdminListUserAuthEvents with the lockout's events, booleans in any case, ListUsers filter
errors, `admin_only` recovery, and one gatehouse answering for several regions."""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from gatehouse_harness import (
    OTHER_PASSWORD,
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    attr_list,
    attrs,
    postgres_server_url,
    raises_cognito,
    unique,
)

ROTATING = {"Feature": "ENABLED", "RetryGracePeriodSeconds": 0}


def rotate(fixture: PoolFixture, token: str, client_id: str | None = None) -> dict:
    return fixture.public.get_tokens_from_refresh_token(
        ClientId=client_id or fixture.client_id, RefreshToken=token
    )["AuthenticationResult"]


# === refresh-token rotation ===


def test_rotation_hands_out_a_new_token_and_a_reused_one_revokes_the_sign_in(server):
    pool = PoolFixture.create(server, RefreshTokenRotation=ROTATING)
    described = pool.admin.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=pool.client_id)
    assert described["UserPoolClient"]["RefreshTokenRotation"] == ROTATING
    user = pool.signed_up_user("rot")
    first = pool.tokens(user.username)
    second = rotate(pool, first["RefreshToken"])
    assert second["RefreshToken"] != first["RefreshToken"]
    third = rotate(pool, second["RefreshToken"])
    assert pool.public.get_user(AccessToken=third["AccessToken"])["Username"] == user.username
    # REFRESH_TOKEN_AUTH cannot rotate: refused on this client.
    with raises_cognito("InvalidParameterException"):
        pool.refresh(third["RefreshToken"])
    # The first token again: the whole family goes, and every access token of the sign-in.
    with raises_cognito("RefreshTokenReuseException"):
        rotate(pool, first["RefreshToken"])
    with raises_cognito("NotAuthorizedException") as revoked:
        rotate(pool, third["RefreshToken"])
    assert revoked.message == "Refresh Token has been revoked"
    for tokens in (first, second, third):
        with raises_cognito("NotAuthorizedException"):
            pool.public.get_user(AccessToken=tokens["AccessToken"])
    # Another sign-in of the same user is untouched.
    again = pool.tokens(user.username)
    assert rotate(pool, again["RefreshToken"])["RefreshToken"]


def test_without_rotation_the_refresh_token_stays(server):
    pool = PoolFixture.create(server)
    user = pool.signed_up_user("plain")
    token = pool.tokens(user.username)["RefreshToken"]
    for _ in range(2):
        renewed = rotate(pool, token)
        assert "RefreshToken" not in renewed
        assert pool.public.get_user(AccessToken=renewed["AccessToken"])["Username"] == user.username
    with raises_cognito("InvalidParameterException"):
        pool.admin.update_user_pool_client(
            UserPoolId=pool.pool_id,
            ClientId=pool.client_id,
            RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 61},
        )


def test_a_confidential_client_sends_its_secret(server):
    pool = PoolFixture.create(server, GenerateSecret=True, RefreshTokenRotation=ROTATING)
    user = pool.signed_up_user("conf")
    token = pool.tokens(user.username)["RefreshToken"]
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_tokens_from_refresh_token(ClientId=pool.client_id, RefreshToken=token)
    with raises_cognito("NotAuthorizedException"):
        pool.public.get_tokens_from_refresh_token(
            ClientId=pool.client_id, RefreshToken=token, ClientSecret="not-the-secret-of-this-client"
        )
    renewed = pool.public.get_tokens_from_refresh_token(
        ClientId=pool.client_id, RefreshToken=token, ClientSecret=pool.client_secret
    )["AuthenticationResult"]
    assert renewed["RefreshToken"] != token


@pytest.fixture
def two_nodes() -> Iterator[tuple[GatehouseServer, GatehouseServer]]:
    database = PostgresDatabase(postgres_server_url())
    started: list[GatehouseServer] = []
    try:
        first = GatehouseServer(database_url=database.url, public_url="http://cluster.test", name="node-a")
        started.append(first)
        first.start()
        second = GatehouseServer(database_url=database.url, public_url="http://cluster.test", name="node-b")
        started.append(second)
        shutil.copy2(first.data_dir / "master.key", second.data_dir / "master.key")
        second.start()
        yield first, second
    finally:
        for node in reversed(started):
            node.close()
        database.drop()


def test_a_reuse_on_one_node_revokes_the_family_rotated_on_the_other(two_nodes):
    a, b = two_nodes
    on_a = PoolFixture.create(a, RefreshTokenRotation=ROTATING)
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    user = on_a.signed_up_user("nodes")
    first = on_a.tokens(user.username)
    second = rotate(on_b, first["RefreshToken"])
    third = rotate(on_a, second["RefreshToken"])
    with raises_cognito("RefreshTokenReuseException"):
        rotate(on_b, second["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        rotate(on_a, third["RefreshToken"])
    for node in (on_a, on_b):
        with raises_cognito("NotAuthorizedException"):
            node.public.get_user(AccessToken=third["AccessToken"])


# === usernames, attributes, schema ===


def test_usernames_ignore_case_where_the_pool_says_so_and_keep_theirs(server):
    pool = PoolFixture.create(server, pool_overrides={"UsernameConfiguration": {"CaseSensitive": False}})
    name = unique("Mixed-")
    user = pool.signed_up_user(name)
    assert pool.get_user(user.username.upper())["Username"] == user.username
    for spelling in (user.username.lower(), user.username.upper()):
        claims_name = pool.public.get_user(AccessToken=pool.tokens(spelling)["AccessToken"])["Username"]
        assert claims_name == user.username
    with raises_cognito("UsernameExistsException"):
        pool.sign_up(user.username.lower(), f"{unique('x')}@example.com")
    listed = pool.admin.list_users(UserPoolId=pool.pool_id, Filter=f'username = "{user.username.upper()}"')
    assert [u["Username"] for u in listed["Users"]] == [user.username]


def test_a_new_email_waits_for_its_code_where_the_pool_says_so(server):
    pool = PoolFixture.create(
        server,
        pool_overrides={
            "AliasAttributes": ["email"],
            "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
        },
    )
    user = pool.signed_up_user("verify")
    access = pool.tokens(user.username)["AccessToken"]
    new_email = f"{unique('new')}@example.com"
    pool.public.update_user_attributes(AccessToken=access, UserAttributes=attr_list({"email": new_email}))
    current = attrs(pool.get_user(user.username)["UserAttributes"])
    assert (current["email"], current["email_verified"]) == (user.email, "true")
    pool.tokens(user.email)
    code = pool.code_for(new_email, purpose="VerifyAttribute")
    pool.public.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code)
    assert attrs(pool.get_user(user.username)["UserAttributes"])["email"] == new_email
    pool.tokens(new_email)
    with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
        pool.login(user.email)


def test_schema_words_custom_attributes_and_booleans_as_aws_has_them(server):
    admin = server.admin
    with raises_cognito("InvalidParameterException") as untyped:
        admin.create_user_pool(PoolName=unique("p"), Schema=[{"Name": "custom"}])
    assert untyped.message == "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."
    with raises_cognito("InvalidParameterException") as bounds:
        admin.create_user_pool(
            PoolName=unique("p"),
            Schema=[
                {
                    "Name": "updated_at",
                    "AttributeDataType": "Number",
                    "NumberAttributeConstraints": {"MinValue": "2", "MaxValue": "1"},
                }
            ],
        )
    assert bounds.message == "user.updated_at: Max value cannot be less than min value."
    pool = admin.create_user_pool(
        PoolName=unique("p"),
        Schema=[{"Name": "secret", "AttributeDataType": "String", "DeveloperOnlyAttribute": True}],
    )["UserPool"]
    names = {a["Name"]: a for a in pool["SchemaAttributes"]}
    assert "dev:custom:secret" in names
    assert names["birthdate"]["StringAttributeConstraints"] == {"MinLength": "10", "MaxLength": "10"}
    admin.add_custom_attributes(
        UserPoolId=pool["Id"], CustomAttributes=[{"Name": "tier", "AttributeDataType": "String"}]
    )
    described = admin.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert "custom:tier" in {a["Name"] for a in described["SchemaAttributes"]}
    with raises_cognito("InvalidParameterException") as taken:
        admin.add_custom_attributes(
            UserPoolId=pool["Id"], CustomAttributes=[{"Name": "secret", "AttributeDataType": "String"}]
        )
    assert taken.message == "custom:secret: Existing attribute already has name dev:custom:secret."
    username = unique("b-")
    admin.admin_create_user(
        UserPoolId=pool["Id"],
        Username=username,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": f"{username}@example.com"},
            {"Name": "email_verified", "Value": "True"},
            {"Name": "custom:tier", "Value": "gold"},
        ],
    )
    got = attrs(admin.admin_get_user(UserPoolId=pool["Id"], Username=username)["UserAttributes"])
    assert (got["email_verified"], got["custom:tier"]) == ("true", "gold")
    with raises_cognito("InvalidParameterException") as bad_filter:
        admin.list_users(UserPoolId=pool["Id"], Filter="username = foo")
    assert bad_filter.message == "Error while parsing filter"


def test_admin_only_recovery_sends_everyone_to_the_administrator(server):
    pool = PoolFixture.create(
        server,
        pool_overrides={"AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]}},
    )
    user = pool.signed_up_user("adm")
    for name in (user.username, unique("nobody-")):
        with raises_cognito("NotAuthorizedException") as refused:
            pool.public.forgot_password(ClientId=pool.client_id, Username=name)
        assert refused.message == "Contact administrator to reset password."


def test_auth_events_report_passwords_and_the_lockout(server):
    pool = PoolFixture.create(server)
    user = pool.signed_up_user("events")
    pool.tokens(user.username)
    for _ in range(5):
        with raises_cognito("NotAuthorizedException"):
            pool.login(user.username, OTHER_PASSWORD)
    with raises_cognito("NotAuthorizedException") as locked:
        pool.login(user.username, PASSWORD)
    assert locked.message == "Password attempts exceeded"
    events = []
    token = None
    while True:
        page = pool.admin.admin_list_user_auth_events(
            UserPoolId=pool.pool_id, Username=user.username, MaxResults=4, **({"NextToken": token} if token else {})
        )
        events += page["AuthEvents"]
        token = page.get("NextToken")
        if not token:
            break
    assert [e["EventResponse"] for e in events] == ["Fail"] * 6 + ["Pass"]
    assert events[0]["EventRisk"]["RiskDecision"] == "Block"
    assert events[0]["ChallengeResponses"] == []
    assert events[-1]["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    assert all(e["EventType"] == "SignIn" for e in events)


# === regions ===


def test_one_gatehouse_answers_for_several_regions(servers):
    node = servers.new(extra_args=["--region", "us-east-1,us-west-2"])
    west = node.client(region="us-west-2")
    pool = west.create_user_pool(PoolName=unique("west"))["UserPool"]
    assert pool["Id"].startswith("us-west-2_")
    assert pool["Arn"] == f"arn:aws:cognito-idp:us-west-2:000000000000:userpool/{pool['Id']}"
    assert node.discovery(pool["Id"])["issuer"] == node.issuer(pool["Id"])
    east_ids = [p["Id"] for p in node.admin.list_user_pools(MaxResults=60)["UserPools"]]
    assert pool["Id"] not in east_ids
    with raises_cognito("ResourceNotFoundException"):
        node.admin.describe_user_pool(UserPoolId=pool["Id"])
    assert west.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Id"] == pool["Id"]
    with raises_cognito("InvalidSignatureException"):
        node.client(region="eu-west-1").list_user_pools(MaxResults=10)
