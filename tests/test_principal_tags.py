"""Principal tags (attributes for access control), driven by boto3: an identity pool's
principal-tag attribute map (SetPrincipalTagAttributeMap / GetPrincipalTagAttributeMap, with
`UseDefaults` or a map of its own) and the `PrincipalTags` of
GetOpenIdTokenForDeveloperIdentity become session tags of the credentials, so a role policy
with `${aws:PrincipalTag/tier}` lets a user reach one DynamoDB partition (in dynalite, behind
gatehouse) and refuses another. Session tags need `sts:TagSession` in the trust policy.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import boto3
import jwt
import pytest

from conftest import ServerFactory
from gatehouse_harness import ACCOUNT_ID, REGION, unique
from test_dynamodb import UPSTREAM_KEY, create_table, denied, direct, dynalite  # noqa: F401  (the dynalite fixture)
from test_identity_pools import NO_RETRIES, Setup, client, expect_error, session_creds

OWN_ISSUER = "cognito-identity.amazonaws.com"


def tagging_trust(pool_id: str) -> str:
    """The identity pool's trust, letting its authenticated identities tag their sessions."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
        }],
    })


def tier_rows_policy(table_arn: str) -> str:
    """Rows whose partition key is the caller's `tier` tag."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": [table_arn],
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/tier}"]}},
        }],
    })


class World:
    """gatehouse in front of dynalite; an identity pool whose authenticated role reads rows by tier."""

    def __init__(self, factory: ServerFactory, upstream: str) -> None:
        self.server = factory.new(extra_args=["--dynamodb-upstream", upstream], extra_env=UPSTREAM_KEY)
        self.upstream = direct(upstream)
        self.table = unique("Tiers_")
        create_table(self.upstream, self.table, "tier", "id")
        for tier in ("gold", "silver"):
            self.upstream.put_item(TableName=self.table, Item={"tier": {"S": tier}, "id": {"S": "1"},
                                                              "text": {"S": f"{tier} news"}})
        self.setup = Setup(self.server)
        s = self.setup
        self.developer = f"login.{unique('app').lower()}.example"
        pool = s.identity_admin.describe_identity_pool(IdentityPoolId=s.pool_id)
        pool.pop("ResponseMetadata", None)
        s.identity_admin.update_identity_pool(**{**pool, "DeveloperProviderName": self.developer})
        self.role = s.role("Tiered", tagging_trust(s.pool_id))
        table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{self.table}"
        s.iam.put_role_policy(RoleName=self.role["RoleName"], PolicyName="tiers",
                              PolicyDocument=tier_rows_policy(table_arn))
        s.identity_admin.set_identity_pool_roles(IdentityPoolId=s.pool_id,
                                                 Roles={"authenticated": self.role["Arn"],
                                                        "unauthenticated": s.guest_role["Arn"]})

    def db(self, credentials: dict[str, Any]) -> Any:
        session = boto3.session.Session(region_name=REGION, **session_creds(credentials))
        return session.client("dynamodb", endpoint_url=self.server.endpoint, config=NO_RETRIES)

    def reads_only(self, credentials: dict[str, Any], tier: str) -> None:
        """The credentials read their tier's row and are refused the other tier's."""
        db = self.db(credentials)
        got = db.get_item(TableName=self.table, Key={"tier": {"S": tier}, "id": {"S": "1"}})
        assert got["Item"]["text"]["S"] == f"{tier} news"
        other = "silver" if tier == "gold" else "gold"
        denied(db.get_item, TableName=self.table, Key={"tier": {"S": other}, "id": {"S": "1"}})


@pytest.fixture(scope="module")
def world(backend: str, dynalite: str) -> Iterator[World]:  # noqa: F811
    factory = ServerFactory(backend)
    try:
        yield World(factory, dynalite)
    finally:
        factory.close()


def test_the_attribute_map_is_set_and_read_per_provider(world: World) -> None:
    s = world.setup
    admin = s.identity_admin
    empty = admin.get_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider)
    assert (empty["UseDefaults"], empty.get("PrincipalTags", {})) == (False, {})
    defaults = admin.set_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider,
                                                     UseDefaults=True)
    assert defaults["PrincipalTags"] == {"client": "aud", "username": "sub"}
    got = admin.get_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider)
    assert (got["UseDefaults"], got["PrincipalTags"]) == (True, {"client": "aud", "username": "sub"})
    custom = admin.set_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider,
                                                   UseDefaults=False, PrincipalTags={"tier": "custom:tier"})
    assert (custom["UseDefaults"], custom["PrincipalTags"]) == (False, {"tier": "custom:tier"})
    got = admin.get_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider)
    assert (got["IdentityProviderName"], got["PrincipalTags"]) == (s.provider, {"tier": "custom:tier"})

    expect_error("InvalidParameterException", admin.set_principal_tag_attribute_map, IdentityPoolId=s.pool_id,
                 IdentityProviderName="login.unknown.example", PrincipalTags={"tier": "x"})
    expect_error("InvalidParameterException", admin.set_principal_tag_attribute_map, IdentityPoolId=s.pool_id,
                 IdentityProviderName=s.provider, PrincipalTags={"aws:tier": "custom:tier"})
    expect_error("ResourceNotFoundException", admin.get_principal_tag_attribute_map,
                 IdentityPoolId=f"{REGION}:00000000-0000-0000-0000-000000000000", IdentityProviderName=s.provider)
    # The operator's: a public caller is refused.
    expect_error("MissingAuthenticationTokenException", s.identity.get_principal_tag_attribute_map,
                 IdentityPoolId=s.pool_id, IdentityProviderName=s.provider)


def test_mapped_claims_are_session_tags_that_policies_read(world: World) -> None:
    s = world.setup
    s.identity_admin.set_principal_tag_attribute_map(IdentityPoolId=s.pool_id, IdentityProviderName=s.provider,
                                                     UseDefaults=False, PrincipalTags={"tier": "custom:tier"})
    for tier in ("gold", "silver"):
        user = s.users.admin_user(attributes={"custom:tier": tier})
        _, creds = s.credentials(s.users.tokens(user.username)["IdToken"])
        world.reads_only(creds, tier)
    # GetOpenIdToken (the basic flow) carries the same tags for STS.
    user = s.users.admin_user(attributes={"custom:tier": "gold"})
    logins = s.logins(s.users.tokens(user.username)["IdToken"])
    identity_id = s.identity.get_id(IdentityPoolId=s.pool_id, Logins=logins)["IdentityId"]
    token = s.identity.get_open_id_token(IdentityId=identity_id, Logins=logins)["Token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["https://aws.amazon.com/tags"]["principal_tags"] == {"tier": ["gold"]}
    sts = client(world.server, "sts", unsigned=True)
    assumed = sts.assume_role_with_web_identity(RoleArn=world.role["Arn"], RoleSessionName="basic",
                                                WebIdentityToken=token)
    world.reads_only(assumed["Credentials"], "gold")


def test_developer_principal_tags_travel_in_the_token(world: World) -> None:
    s = world.setup
    admin = s.identity_admin
    answer = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=s.pool_id, Logins={world.developer: unique("dev")}, PrincipalTags={"tier": "silver"})
    logins = {OWN_ISSUER: answer["Token"]}
    creds = s.identity.get_credentials_for_identity(IdentityId=answer["IdentityId"], Logins=logins)["Credentials"]
    world.reads_only(creds, "silver")
    sts = client(world.server, "sts", unsigned=True)
    assumed = sts.assume_role_with_web_identity(RoleArn=world.role["Arn"], RoleSessionName="dev",
                                                WebIdentityToken=answer["Token"])
    world.reads_only(assumed["Credentials"], "silver")

    # A role whose trust policy does not allow sts:TagSession gets no tagged session.
    untagged = s.role("NoTags", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity"}]}))
    expect_error("AccessDenied", sts.assume_role_with_web_identity, RoleArn=untagged["Arn"],
                 RoleSessionName="dev", WebIdentityToken=answer["Token"])
    s.identity_admin.set_identity_pool_roles(IdentityPoolId=s.pool_id, Roles={"authenticated": untagged["Arn"]})
    try:
        expect_error("InvalidIdentityPoolConfigurationException", s.identity.get_credentials_for_identity,
                     IdentityId=answer["IdentityId"], Logins=logins)
    finally:
        s.identity_admin.set_identity_pool_roles(IdentityPoolId=s.pool_id,
                                                 Roles={"authenticated": world.role["Arn"],
                                                        "unauthenticated": s.guest_role["Arn"]})

    # Tags that break STS's rules are refused when the token is made.
    for bad in ({"aws:tier": "x"}, {"tier": 'a"b'}, {f"k{i}": "v" for i in range(51)}):
        expect_error("InvalidParameterException", admin.get_open_id_token_for_developer_identity,
                     IdentityPoolId=s.pool_id, Logins={world.developer: "x"}, PrincipalTags=bad)


def test_a_session_token_with_the_most_tags_still_signs_requests(world: World) -> None:
    """50 tags within the 4 KiB budget: the session token carrying them fits in a request."""
    s = world.setup
    tags = {f"k{i:02}": "v" * 70 for i in range(49)} | {"tier": "gold"}
    assert sum(len(k) + len(v) for k, v in tags.items()) <= 4096
    answer = s.identity_admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=s.pool_id, Logins={world.developer: unique("dev")}, PrincipalTags=tags)
    creds = s.identity.get_credentials_for_identity(IdentityId=answer["IdentityId"],
                                                    Logins={OWN_ISSUER: answer["Token"]})["Credentials"]
    assert len(creds["SessionToken"]) < 16 * 1024
    world.reads_only(creds, "gold")
    me = client(world.server, "sts", session_creds(creds)).get_caller_identity()
    assert me["Arn"].endswith("/CognitoIdentityCredentials")
    # Over the budget (each tag within STS's own limits) is refused.
    over = tags | {f"k{i:02}": "v" * 256 for i in range(6)}
    assert sum(len(k) + len(v) for k, v in over.items()) > 4096
    expect_error("InvalidParameterException", s.identity_admin.get_open_id_token_for_developer_identity,
                 IdentityPoolId=s.pool_id, Logins={world.developer: "x"}, PrincipalTags=over)
