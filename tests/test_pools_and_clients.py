"""User pools and app clients through the operator API: create, describe, list, update, delete,
the shapes of generated ids, and the client settings that change how sign-in behaves."""

from __future__ import annotations

import datetime

from gatehouse_harness import (
    ACCOUNT_ID,
    CLIENT_ID_RE,
    CUSTOM_SCHEMA,
    PASSWORD,
    POOL_ID_RE,
    REGION,
    STRICT_PASSWORD_POLICY,
    UUID_RE,
    PoolFixture,
    attrs,
    create_client,
    create_pool,
    raises_cognito,
    secret_hash,
    unique,
    unique_email,
)


def schema_by_name(pool: dict) -> dict[str, dict]:
    return {a["Name"]: a for a in pool.get("SchemaAttributes", [])}


def test_create_user_pool_returns_cognito_shaped_id_arn_and_dates(server):
    pool = create_pool(server.admin)
    assert POOL_ID_RE.match(pool["Id"]), pool["Id"]
    assert pool["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{pool['Id']}"
    assert isinstance(pool["CreationDate"], datetime.datetime)
    assert isinstance(pool["LastModifiedDate"], datetime.datetime)


def test_create_user_pool_stores_password_policy_schema_and_username_settings(server):
    name = unique("policy-pool-")
    pool = create_pool(server.admin, email_username=True, PoolName=name)
    for described in (pool, server.admin.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]):
        assert described["Name"] == name
        policy = described["Policies"]["PasswordPolicy"]
        for key, value in STRICT_PASSWORD_POLICY.items():
            assert policy[key] == value, f"PasswordPolicy.{key}: expected {value}, got {policy.get(key)}"
        assert described["UsernameAttributes"] == ["email"]
        assert described["AutoVerifiedAttributes"] == ["email"]
        schema = schema_by_name(described)
        for custom in CUSTOM_SCHEMA:
            attribute = schema.get("custom:" + custom["Name"])
            assert attribute is not None, f"custom:{custom['Name']} missing from {sorted(schema)}"
            assert attribute["AttributeDataType"] == custom["AttributeDataType"]
            assert attribute["Mutable"] is True
        assert schema["custom:tier"]["StringAttributeConstraints"]["MaxLength"] == "32"
        assert schema["custom:age"]["NumberAttributeConstraints"]["MaxValue"] == "200"
        # Standard attributes are part of every pool's schema.
        assert {"sub", "email", "email_verified"} <= set(schema)


def test_create_user_pool_stores_mfa_configuration_and_alias_attributes(server):
    pool = create_pool(server.admin, MfaConfiguration="OFF", AliasAttributes=["email"])
    described = server.admin.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["MfaConfiguration"] == "OFF"
    assert described["AliasAttributes"] == ["email"]


def all_pool_ids(admin, page_size: int = 60) -> list[str]:
    """Every pool id ListUserPools returns, following NextToken to the end."""
    seen: list[str] = []
    token = None
    for _ in range(500):
        kwargs = {"MaxResults": page_size}
        if token:
            kwargs["NextToken"] = token
        page = admin.list_user_pools(**kwargs)
        assert len(page["UserPools"]) <= page_size
        for summary in page["UserPools"]:
            assert summary["Name"]
            seen.append(summary["Id"])
        token = page.get("NextToken")
        if not token:
            return seen
    raise AssertionError("ListUserPools pagination does not end")


def test_list_user_pools_pages_through_every_pool(server):
    created = {create_pool(server.admin)["Id"] for _ in range(3)}
    seen = all_pool_ids(server.admin, page_size=2)
    assert len(seen) == len(set(seen)), f"a pool was listed twice: {seen}"
    assert created <= set(seen)


def test_update_user_pool_changes_the_enforced_password_policy(server):
    fixture = PoolFixture.create(server)
    server.admin.update_user_pool(
        UserPoolId=fixture.pool_id,
        Policies={"PasswordPolicy": {**STRICT_PASSWORD_POLICY, "MinimumLength": 20}},
        AutoVerifiedAttributes=["email"],
    )
    described = server.admin.describe_user_pool(UserPoolId=fixture.pool_id)["UserPool"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 20
    assert described["LastModifiedDate"] >= described["CreationDate"]
    username, email = fixture.new_username()
    with raises_cognito("InvalidPasswordException"):
        fixture.sign_up(username, email, password=PASSWORD)  # 16 characters < 20
    fixture.sign_up(username, email, password=PASSWORD + "-long-enough")


def test_delete_user_pool_makes_it_and_its_clients_unknown(server):
    fixture = PoolFixture.create(server)
    server.admin.delete_user_pool(UserPoolId=fixture.pool_id)
    with raises_cognito("ResourceNotFoundException"):
        server.admin.describe_user_pool(UserPoolId=fixture.pool_id)
    with raises_cognito("ResourceNotFoundException"):
        fixture.login("anyone", PASSWORD)
    assert fixture.pool_id not in all_pool_ids(server.admin)


def test_create_client_without_secret_returns_26_char_lowercase_id_and_no_secret(server):
    pool = create_pool(server.admin)
    client = create_client(server.admin, pool["Id"])
    assert CLIENT_ID_RE.match(client["ClientId"]), client["ClientId"]
    assert client["UserPoolId"] == pool["Id"]
    assert "ClientSecret" not in client


def test_create_client_with_secret_returns_secret_and_describe_shows_settings(server):
    pool = create_pool(server.admin)
    name = unique("secret-client-")
    client = create_client(
        server.admin,
        pool["Id"],
        ClientName=name,
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
        AccessTokenValidity=30,
        IdTokenValidity=2,
        RefreshTokenValidity=10,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
        ReadAttributes=["email", "email_verified", "custom:tier"],
        WriteAttributes=["email", "custom:tier"],
    )
    assert CLIENT_ID_RE.match(client["ClientId"])
    assert client.get("ClientSecret"), "GenerateSecret=True must return a ClientSecret"
    described = server.admin.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])[
        "UserPoolClient"
    ]
    assert described["ClientName"] == name
    assert described["ClientSecret"] == client["ClientSecret"]
    assert set(described["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert described["PreventUserExistenceErrors"] == "ENABLED"
    assert described["AccessTokenValidity"] == 30
    assert described["IdTokenValidity"] == 2
    assert described["RefreshTokenValidity"] == 10
    assert described["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"}
    assert set(described["ReadAttributes"]) == {"email", "email_verified", "custom:tier"}
    assert set(described["WriteAttributes"]) == {"email", "custom:tier"}


def test_list_user_pool_clients_lists_each_client_of_the_pool(server):
    pool = create_pool(server.admin)
    ids = {create_client(server.admin, pool["Id"])["ClientId"] for _ in range(3)}
    other = create_pool(server.admin)
    create_client(server.admin, other["Id"])
    listed = server.admin.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
    assert {c["ClientId"] for c in listed} == ids
    assert all(c["UserPoolId"] == pool["Id"] and c["ClientName"] for c in listed)


def test_update_user_pool_client_changes_name_and_allowed_auth_flows(server):
    fixture = PoolFixture.create(server)
    user = fixture.admin_user()
    fixture.tokens(user.username)
    updated = server.admin.update_user_pool_client(
        UserPoolId=fixture.pool_id,
        ClientId=fixture.client_id,
        ClientName="renamed",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    assert updated["ClientName"] == "renamed"
    described = server.admin.describe_user_pool_client(UserPoolId=fixture.pool_id, ClientId=fixture.client_id)[
        "UserPoolClient"
    ]
    assert described["ClientName"] == "renamed"
    assert set(described["ExplicitAuthFlows"]) == {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    with raises_cognito("InvalidParameterException"):
        fixture.login(user.username)
    assert "AuthenticationResult" in fixture.admin_login(user.username)


def test_delete_user_pool_client_makes_it_unknown(server):
    fixture = PoolFixture.create(server)
    server.admin.delete_user_pool_client(UserPoolId=fixture.pool_id, ClientId=fixture.client_id)
    with raises_cognito("ResourceNotFoundException"):
        server.admin.describe_user_pool_client(UserPoolId=fixture.pool_id, ClientId=fixture.client_id)
    with raises_cognito("ResourceNotFoundException"):
        fixture.sign_up(*fixture.new_username())
    assert server.admin.list_user_pool_clients(UserPoolId=fixture.pool_id, MaxResults=60)["UserPoolClients"] == []


def test_client_with_secret_requires_secret_hash_on_sign_up_and_login(server):
    fixture = PoolFixture.create(server, GenerateSecret=True)
    assert fixture.client_secret
    username, email = fixture.new_username()
    with raises_cognito("NotAuthorizedException"):
        server.public.sign_up(
            ClientId=fixture.client_id,
            Username=username,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
    fixture.sign_up(username, email)  # with the right SECRET_HASH
    fixture.confirm(username, fixture.code_for(email))
    with raises_cognito("NotAuthorizedException"):
        server.public.initiate_auth(
            ClientId=fixture.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
    result = fixture.login(username)
    assert "AccessToken" in result["AuthenticationResult"]


def test_client_with_secret_rejects_a_wrong_secret_hash(server):
    fixture = PoolFixture.create(server, GenerateSecret=True)
    user = fixture.admin_user()
    wrong = secret_hash(user.username, fixture.client_id, "not-the-secret")
    with raises_cognito("NotAuthorizedException"):
        server.public.initiate_auth(
            ClientId=fixture.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.username, "PASSWORD": PASSWORD, "SECRET_HASH": wrong},
        )
    username, email = fixture.new_username()
    with raises_cognito("NotAuthorizedException"):
        server.public.sign_up(
            ClientId=fixture.client_id,
            Username=username,
            Password=PASSWORD,
            SecretHash=secret_hash(username, fixture.client_id, "not-the-secret"),
            UserAttributes=[{"Name": "email", "Value": email}],
        )


def test_sign_up_returns_uuid_sub_matching_the_sub_attribute(server):
    fixture = PoolFixture.create(server)
    username, email = fixture.new_username()
    response = fixture.sign_up(username, email)
    assert UUID_RE.match(response["UserSub"]), response["UserSub"]
    assert response["UserConfirmed"] is False
    user = fixture.get_user(username)
    assert attrs(user["UserAttributes"])["sub"] == response["UserSub"]


def test_auth_flow_missing_from_explicit_auth_flows_is_invalid_parameter(server):
    fixture = PoolFixture.create(server, ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])
    user = fixture.admin_user()
    with raises_cognito("InvalidParameterException"):
        fixture.login(user.username)
    with raises_cognito("InvalidParameterException"):
        fixture.admin_login(user.username)


def test_each_pool_gets_distinct_ids(server):
    pools = [create_pool(server.admin)["Id"] for _ in range(3)]
    clients = [create_client(server.admin, pools[0])["ClientId"] for _ in range(3)]
    assert len(set(pools)) == 3
    assert len(set(clients)) == 3


def test_email_username_pool_accepts_email_and_rejects_other_usernames(server):
    fixture = PoolFixture.create(server, email_username=True)
    with raises_cognito("InvalidParameterException"):
        fixture.sign_up("not-an-email", unique_email())
    email = unique_email()
    fixture.sign_up(email, email)
