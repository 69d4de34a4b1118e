"""Identity pools, IAM, STS and temporary credentials, driven by boto3 and the AWS CLI.

A user pool sign-in becomes AWS-style credentials through `cognito-identity` GetId and
GetCredentialsForIdentity, and STS accepts them (`sts.get_caller_identity`); roles and policies
are made with the boto3 `iam` client. Guests, role mappings (by group claim and by rules),
refused credentials (tampered secret or session token, foreign keys) and refused ID tokens
(forged, another client's, signed out) are each pinned here.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from gatehouse_harness import (
    ACCOUNT_ID,
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    REGION,
    GatehouseServer,
    PoolFixture,
    error_of,
    resend_when_an_idle_connection_closes,
    unique,
)

NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def client(server: GatehouseServer, service: str, credentials: dict[str, str] | None = None, unsigned: bool = False) -> Any:
    """A boto3 client for `service` on the server: the operator's credentials by default."""
    if unsigned:
        config = NO_RETRIES.merge(botocore.config.Config(signature_version=UNSIGNED))
        anonymous = boto3.session.Session(region_name=REGION).client(service, endpoint_url=server.endpoint, config=config)
        return resend_when_an_idle_connection_closes(anonymous)
    creds = credentials or {
        "aws_access_key_id": OPERATOR_ACCESS_KEY_ID,
        "aws_secret_access_key": OPERATOR_SECRET_ACCESS_KEY,
    }
    session = boto3.session.Session(region_name=REGION, **creds)
    signed = session.client(service, endpoint_url=server.endpoint, config=NO_RETRIES)
    return resend_when_an_idle_connection_closes(signed)


def session_creds(credentials: dict[str, Any]) -> dict[str, str]:
    """GetCredentialsForIdentity's (or AssumeRole's) credentials as boto3 session arguments."""
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials.get("SecretKey") or credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def expect_error(code: str, call: Any, *args: Any, **kwargs: Any) -> str:
    """Runs `call` and asserts it fails with `code`; returns the message."""
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    got, message, status = error_of(raised.value)
    assert got == code, f"expected {code}, got {got} (HTTP {status}): {message}"
    return message


def cognito_trust(pool_id: str | None = None, amr: str = "authenticated") -> str:
    """The trust policy identity pools need: the Cognito federated principal, this pool."""
    condition: dict[str, Any] = {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}}
    if pool_id:
        condition["StringEquals"] = {"cognito-identity.amazonaws.com:aud": pool_id}
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }],
    })


ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


class Setup:
    """A user pool with a client, an identity pool that accepts it, and its two roles."""

    def __init__(self, server: GatehouseServer, *, allow_guests: bool = True, server_side_check: bool = False) -> None:
        self.server = server
        self.users = PoolFixture.create(server)
        self.iam = client(server, "iam")
        self.identity_admin = client(server, "cognito-identity")
        self.identity = client(server, "cognito-identity", unsigned=True)
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.users.pool_id}"
        pool = self.identity_admin.create_identity_pool(
            IdentityPoolName=unique("pool_"),
            AllowUnauthenticatedIdentities=allow_guests,
            CognitoIdentityProviders=[{
                "ProviderName": self.provider,
                "ClientId": self.users.client_id,
                "ServerSideTokenCheck": server_side_check,
            }],
        )
        self.pool_id = pool["IdentityPoolId"]
        self.auth_role = self.role("Auth", cognito_trust(self.pool_id))
        self.guest_role = self.role("Guest", cognito_trust(self.pool_id, "unauthenticated"))
        self.identity_admin.set_identity_pool_roles(
            IdentityPoolId=self.pool_id,
            Roles={"authenticated": self.auth_role["Arn"], "unauthenticated": self.guest_role["Arn"]},
        )

    def role(self, prefix: str, trust: str) -> dict[str, Any]:
        return self.iam.create_role(RoleName=unique(prefix), AssumeRolePolicyDocument=trust)["Role"]

    def id_token(self, username: str | None = None) -> tuple[str, str]:
        """(username, ID token) of a new confirmed user (or `username`) signed in."""
        if username is None:
            username = self.users.admin_user().username
        return username, self.users.tokens(username)["IdToken"]

    def logins(self, id_token: str) -> dict[str, str]:
        return {self.provider: id_token}

    def credentials(self, id_token: str | None, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        logins = self.logins(id_token) if id_token else {}
        identity_id = self.identity.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        answer = self.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins, **kwargs)
        assert answer["IdentityId"] == identity_id
        return identity_id, answer["Credentials"]


@pytest.fixture(scope="module")
def setup(server: GatehouseServer) -> Setup:
    return Setup(server)


# === the whole journey ===


def test_a_sign_in_becomes_credentials_that_sts_accepts(setup: Setup) -> None:
    username, id_token = setup.id_token()
    identity_id, credentials = setup.credentials(id_token)
    region, _, uuid = identity_id.partition(":")
    assert region == REGION and len(uuid) == 36, identity_id
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretKey"]) == 40
    assert credentials["SessionToken"]
    # One hour by default.
    lifetime = credentials["Expiration"].timestamp() - __import__("time").time()
    assert 3500 < lifetime <= 3600, lifetime

    sts = client(setup.server, "sts", session_creds(credentials))
    me = sts.get_caller_identity()
    role_name = setup.auth_role["RoleName"]
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/CognitoIdentityCredentials"
    assert me["Account"] == ACCOUNT_ID
    assert me["UserId"] == f"{setup.auth_role['RoleId']}:CognitoIdentityCredentials"

    # The same login is the same identity, whichever key names the provider.
    again = setup.identity.get_id(IdentityPoolId=setup.pool_id, Logins=setup.logins(id_token))
    assert again["IdentityId"] == identity_id
    issuer_key = setup.server.endpoint.split("://", 1)[1] + "/" + setup.users.pool_id
    other_form = setup.identity.get_id(IdentityPoolId=setup.pool_id, Logins={issuer_key: id_token})
    assert other_form["IdentityId"] == identity_id
    described = setup.identity_admin.describe_identity(IdentityId=identity_id)
    assert described["Logins"] == [setup.provider]
    listed = setup.identity_admin.list_identities(IdentityPoolId=setup.pool_id, MaxResults=60)
    assert identity_id in [i["IdentityId"] for i in listed["Identities"]]


def test_the_operator_is_the_account_to_sts(server: GatehouseServer) -> None:
    me = client(server, "sts").get_caller_identity()
    assert me == {**me, "Account": ACCOUNT_ID, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root", "UserId": ACCOUNT_ID}


def test_the_aws_cli_gets_the_caller_identity_with_temporary_credentials(setup: Setup, tmp_path: Path) -> None:
    _, id_token = setup.id_token()
    _, credentials = setup.credentials(id_token)
    aws = Path(os.environ.get("VIRTUAL_ENV", Path(__file__).resolve().parent.parent / ".venv")) / "bin" / "aws"
    if not aws.exists():
        aws = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "aws"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    })
    result = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--endpoint-url", setup.server.endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["Arn"].endswith(f":assumed-role/{setup.auth_role['RoleName']}/CognitoIdentityCredentials")
    # A tampered session token is refused by the CLI's request too.
    env["AWS_SESSION_TOKEN"] = credentials["SessionToken"][:-8] + "AAAAAAAA"
    refused = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--endpoint-url", setup.server.endpoint],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert refused.returncode != 0 and "InvalidClientTokenId" in refused.stderr, refused.stderr


# === guests ===


def test_guests_get_the_unauthenticated_role(setup: Setup) -> None:
    identity_id, credentials = setup.credentials(None)
    me = client(setup.server, "sts", session_creds(credentials)).get_caller_identity()
    assert me["Arn"].endswith(f":assumed-role/{setup.guest_role['RoleName']}/CognitoIdentityCredentials")
    # Each GetId without logins is a new guest.
    other = setup.identity.get_id(IdentityPoolId=setup.pool_id)["IdentityId"]
    assert other != identity_id
    # A guest identity asking with somebody's logins is refused: logins are linked by GetId.
    _, id_token = setup.id_token()
    expect_error("NotAuthorizedException", setup.identity.get_credentials_for_identity,
                 IdentityId=identity_id, Logins=setup.logins(id_token))


def test_a_pool_without_guests_refuses_them(server: GatehouseServer) -> None:
    closed = Setup(server, allow_guests=False)
    expect_error("NotAuthorizedException", closed.identity.get_id, IdentityPoolId=closed.pool_id)


def test_an_authenticated_identity_needs_its_logins(setup: Setup) -> None:
    _, id_token = setup.id_token()
    identity_id, _ = setup.credentials(id_token)
    expect_error("NotAuthorizedException", setup.identity.get_credentials_for_identity, IdentityId=identity_id)
    _, someone_else = setup.id_token()
    expect_error("NotAuthorizedException", setup.identity.get_credentials_for_identity,
                 IdentityId=identity_id, Logins=setup.logins(someone_else))
    expect_error("ResourceNotFoundException", setup.identity.get_credentials_for_identity,
                 IdentityId=f"{REGION}:00000000-0000-4000-8000-000000000000")


# === refused credentials ===


def test_tampered_secrets_and_session_tokens_are_refused(setup: Setup) -> None:
    _, id_token = setup.id_token()
    _, credentials = setup.credentials(id_token)
    good = session_creds(credentials)
    wrong_secret = {**good, "aws_secret_access_key": good["aws_secret_access_key"][:-1] + ("A" if good["aws_secret_access_key"][-1] != "A" else "B")}
    expect_error("SignatureDoesNotMatch", client(setup.server, "sts", wrong_secret).get_caller_identity)

    blob = bytearray(base64.b64decode(good["aws_session_token"]))
    blob[len(blob) // 2] ^= 0x01
    tampered = {**good, "aws_session_token": base64.b64encode(bytes(blob)).decode()}
    expect_error("InvalidClientTokenId", client(setup.server, "sts", tampered).get_caller_identity)

    # Another credential's token with this key id: tokens are bound to their key.
    _, other = setup.credentials(setup.id_token()[1])
    swapped = {**good, "aws_session_token": other["SessionToken"]}
    expect_error("InvalidClientTokenId", client(setup.server, "sts", swapped).get_caller_identity)

    # An ASIA key without its token, and an unknown long-term key.
    no_token = {k: v for k, v in good.items() if k != "aws_session_token"}
    expect_error("InvalidClientTokenId", client(setup.server, "sts", no_token).get_caller_identity)
    stranger = {"aws_access_key_id": "AKIAUNKNOWNUNKNOWN00", "aws_secret_access_key": "x" * 40}
    expect_error("InvalidClientTokenId", client(setup.server, "sts", stranger).get_caller_identity)


def test_credentials_from_another_deployment_are_refused(setup: Setup, servers: Any) -> None:
    other = servers.new()
    foreign = Setup(other)
    _, credentials = foreign.credentials(foreign.id_token()[1])
    expect_error("InvalidClientTokenId", client(setup.server, "sts", session_creds(credentials)).get_caller_identity)


# === refused ID tokens ===


def test_forged_and_foreign_id_tokens_are_refused(setup: Setup) -> None:
    _, id_token = setup.id_token()
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "00000000-0000-4000-8000-000000000000"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","kid":"x"}').rstrip(b"=").decode() + f".{forged_payload}."
    for token in (forged, none_alg, id_token[:-4] + "AAAA", "not-a-jwt"):
        expect_error("NotAuthorizedException", setup.identity.get_id, IdentityPoolId=setup.pool_id, Logins=setup.logins(token))
    # An access token is not an ID token; a token of another client of the same user pool is
    # not for this identity pool; a user pool the identity pool does not list is unsupported.
    username, _ = setup.id_token()
    access = setup.users.tokens(username)["AccessToken"]
    message = expect_error("NotAuthorizedException", setup.identity.get_id, IdentityPoolId=setup.pool_id,
                           Logins=setup.logins(access))
    assert message == "Invalid login token. An ID token is required.", message
    other_client = setup.users.with_client()
    other_token = other_client.tokens(username)["IdToken"]
    expect_error("NotAuthorizedException", setup.identity.get_id, IdentityPoolId=setup.pool_id, Logins=setup.logins(other_token))
    stranger = PoolFixture.create(setup.server)
    stranger_user = stranger.admin_user()
    stranger_token = stranger.tokens(stranger_user.username)["IdToken"]
    expect_error("NotAuthorizedException", setup.identity.get_id, IdentityPoolId=setup.pool_id,
                 Logins={f"cognito-idp.{REGION}.amazonaws.com/{stranger.pool_id}": stranger_token})
    # More than ten logins.
    expect_error("LimitExceededException", setup.identity.get_id, IdentityPoolId=setup.pool_id,
                 Logins={f"p{i}.example/{i}": "x" for i in range(11)})


@pytest.mark.parametrize("server_side_check", [False, True])
def test_signed_out_id_tokens_are_refused(server: GatehouseServer, server_side_check: bool) -> None:
    s = Setup(server, server_side_check=server_side_check)
    username, id_token = s.id_token()
    identity_id, _ = s.credentials(id_token)
    access = s.users.tokens(username)["AccessToken"]
    s.users.public.global_sign_out(AccessToken=access)
    expect_error("NotAuthorizedException", s.identity.get_id, IdentityPoolId=s.pool_id, Logins=s.logins(id_token))
    expect_error("NotAuthorizedException", s.identity.get_credentials_for_identity,
                 IdentityId=identity_id, Logins=s.logins(id_token))
    # A fresh sign-in works again, on the same identity.
    fresh = s.users.tokens(username)["IdToken"]
    assert s.credentials(fresh)[0] == identity_id


def test_a_trust_policy_that_does_not_trust_the_pool_refuses_credentials(setup: Setup) -> None:
    other_pool = setup.identity_admin.create_identity_pool(
        IdentityPoolName=unique("untrusted_"),
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=[{"ProviderName": setup.provider, "ClientId": setup.users.client_id}],
    )["IdentityPoolId"]
    # Roles whose trust policies name the first pool only.
    setup.identity_admin.set_identity_pool_roles(
        IdentityPoolId=other_pool,
        Roles={"authenticated": setup.auth_role["Arn"], "unauthenticated": setup.guest_role["Arn"]},
    )
    _, id_token = setup.id_token()
    logins = setup.logins(id_token)
    identity_id = setup.identity.get_id(IdentityPoolId=other_pool, Logins=logins)["IdentityId"]
    expect_error("InvalidIdentityPoolConfigurationException", setup.identity.get_credentials_for_identity,
                 IdentityId=identity_id, Logins=logins)
    guest = setup.identity.get_id(IdentityPoolId=other_pool)["IdentityId"]
    expect_error("InvalidIdentityPoolConfigurationException", setup.identity.get_credentials_for_identity, IdentityId=guest)


# === role mappings ===


def test_role_mapping_by_group_claim(setup: Setup) -> None:
    admins_role = setup.role("Admins", cognito_trust(setup.pool_id))
    readers_role = setup.role("Readers", cognito_trust(setup.pool_id))
    admins, readers = unique("admins"), unique("readers")
    setup.users.admin.create_group(UserPoolId=setup.users.pool_id, GroupName=admins, RoleArn=admins_role["Arn"], Precedence=1)
    setup.users.admin.create_group(UserPoolId=setup.users.pool_id, GroupName=readers, RoleArn=readers_role["Arn"], Precedence=2)
    username = setup.users.admin_user().username
    for group in (admins, readers):
        setup.users.admin.admin_add_user_to_group(UserPoolId=setup.users.pool_id, Username=username, GroupName=group)
    mapped_pool = setup.identity_admin.create_identity_pool(
        IdentityPoolName=unique("token_"),
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": setup.provider, "ClientId": setup.users.client_id}],
    )["IdentityPoolId"]
    for role in (admins_role, readers_role, setup.auth_role):
        setup.iam.update_assume_role_policy(RoleName=role["RoleName"], PolicyDocument=cognito_trust())
    setup.identity_admin.set_identity_pool_roles(
        IdentityPoolId=mapped_pool,
        Roles={"authenticated": setup.auth_role["Arn"]},
        RoleMappings={setup.provider: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
    )
    roles = setup.identity_admin.get_identity_pool_roles(IdentityPoolId=mapped_pool)
    assert roles["RoleMappings"][setup.provider]["Type"] == "Token"
    id_token = setup.users.tokens(username)["IdToken"]
    logins = setup.logins(id_token)
    identity_id = setup.identity.get_id(IdentityPoolId=mapped_pool, Logins=logins)["IdentityId"]

    def arn_of(**kwargs: Any) -> str:
        creds = setup.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins, **kwargs)["Credentials"]
        return client(setup.server, "sts", session_creds(creds)).get_caller_identity()["Arn"]

    assert f"/{admins_role['RoleName']}/" in arn_of(), "cognito:preferred_role: the group of lowest precedence"
    assert f"/{readers_role['RoleName']}/" in arn_of(CustomRoleArn=readers_role["Arn"])
    expect_error("NotAuthorizedException", setup.identity.get_credentials_for_identity,
                 IdentityId=identity_id, Logins=logins, CustomRoleArn=setup.guest_role["Arn"])
    # A user in no group is ambiguous: Deny refuses.
    loner = setup.users.admin_user().username
    loner_logins = setup.logins(setup.users.tokens(loner)["IdToken"])
    loner_id = setup.identity.get_id(IdentityPoolId=mapped_pool, Logins=loner_logins)["IdentityId"]
    expect_error("NotAuthorizedException", setup.identity.get_credentials_for_identity, IdentityId=loner_id, Logins=loner_logins)


def test_role_mapping_by_rules(setup: Setup) -> None:
    engineers = setup.role("Eng", cognito_trust())
    setup.iam.update_assume_role_policy(RoleName=setup.auth_role["RoleName"], PolicyDocument=cognito_trust())
    rules_pool = setup.identity_admin.create_identity_pool(
        IdentityPoolName=unique("rules_"),
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": setup.provider, "ClientId": setup.users.client_id}],
    )["IdentityPoolId"]
    setup.identity_admin.set_identity_pool_roles(
        IdentityPoolId=rules_pool,
        Roles={"authenticated": setup.auth_role["Arn"]},
        RoleMappings={setup.provider: {
            "Type": "Rules",
            "AmbiguousRoleResolution": "AuthenticatedRole",
            "RulesConfiguration": {"Rules": [
                {"Claim": "custom:tier", "MatchType": "Equals", "Value": "gold", "RoleARN": engineers["Arn"]},
                {"Claim": "custom:tier", "MatchType": "StartsWith", "Value": "go", "RoleARN": setup.guest_role["Arn"]},
            ]},
        }},
    )

    def role_for(tier: str) -> str:
        user = setup.users.admin_user(attributes={"custom:tier": tier})
        logins = setup.logins(setup.users.tokens(user.username)["IdToken"])
        identity_id = setup.identity.get_id(IdentityPoolId=rules_pool, Logins=logins)["IdentityId"]
        creds = setup.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
        return client(setup.server, "sts", session_creds(creds)).get_caller_identity()["Arn"]

    assert f"/{engineers['RoleName']}/" in role_for("gold"), "the first matching rule wins"
    assert f"/{setup.auth_role['RoleName']}/" in role_for("silver"), "no rule: the authenticated role"
    expect_error("InvalidParameterException", setup.identity_admin.set_identity_pool_roles,
                 IdentityPoolId=rules_pool, Roles={},
                 RoleMappings={"unknown.example": {"Type": "Token", "AmbiguousRoleResolution": "Deny"}})


# === identity pool management ===


def test_identity_pool_management(setup: Setup) -> None:
    admin = setup.identity_admin
    described = admin.describe_identity_pool(IdentityPoolId=setup.pool_id)
    assert described["CognitoIdentityProviders"][0]["ProviderName"] == setup.provider
    updated = admin.update_identity_pool(
        IdentityPoolId=setup.pool_id,
        IdentityPoolName=described["IdentityPoolName"],
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=described["CognitoIdentityProviders"],
        DeveloperProviderName="login.example",
    )
    assert updated["DeveloperProviderName"] == "login.example"
    pools = admin.list_identity_pools(MaxResults=60)["IdentityPools"]
    assert setup.pool_id in [p["IdentityPoolId"] for p in pools]
    arn = f"arn:aws:cognito-identity:{REGION}:{ACCOUNT_ID}:identitypool/{setup.pool_id}"
    admin.tag_resource(ResourceArn=arn, Tags={"team": "a"})
    assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "a"}
    admin.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert admin.list_tags_for_resource(ResourceArn=arn).get("Tags", {}) == {}
    guest = setup.identity.get_id(IdentityPoolId=setup.pool_id)["IdentityId"]
    gone = admin.delete_identities(IdentityIdsToDelete=[guest, f"{REGION}:00000000-0000-4000-8000-000000000000"])
    assert [u["IdentityId"] for u in gone["UnprocessedIdentityIds"]] == [f"{REGION}:00000000-0000-4000-8000-000000000000"]
    expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=guest)
    # Operator operations need the operator's signature; public ones ignore none.
    expect_error("MissingAuthenticationTokenException", setup.identity.describe_identity_pool, IdentityPoolId=setup.pool_id)
    doomed = admin.create_identity_pool(IdentityPoolName=unique("doomed_"), AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    admin.delete_identity_pool(IdentityPoolId=doomed)
    expect_error("ResourceNotFoundException", admin.describe_identity_pool, IdentityPoolId=doomed)
    expect_error("ResourceNotFoundException", setup.identity.get_id, IdentityPoolId=doomed)


# === IAM ===


def test_roles_and_policies_with_the_iam_client(setup: Setup) -> None:
    iam = setup.iam
    name = unique("Role")
    trust = json.loads(cognito_trust(setup.pool_id))
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description="d",
                              Tags=[{"Key": "team", "Value": "blue"}])["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    assert created["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name.lower())["Role"]
    assert got["AssumeRolePolicyDocument"] == trust, "documents come back decoded, as from IAM"
    assert got["MaxSessionDuration"] == 3600
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    expect_error("EntityAlreadyExists", iam.create_role, RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(trust))
    expect_error("MalformedPolicyDocument", iam.create_role, RoleName=unique("Bad"), AssumeRolePolicyDocument='{"Statement": "x"}')
    message = expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName=name, PolicyName="p",
                           PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NoSuchOperator": {"a": "b"}}}]}))
    assert "NoSuchOperator" in message

    inline = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    assert iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"] == inline
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]

    policy = iam.create_policy(PolicyName=unique("Managed"), PolicyDocument=json.dumps(inline))["Policy"]
    assert policy["DefaultVersionId"] == "v1"
    v2_doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}
    v2 = iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(v2_doc), SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"]
    assert iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v2")["PolicyVersion"]["Document"] == v2_doc
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]] == ["v2", "v1"]
    iam.attach_role_policy(RoleName=name, PolicyArn=policy["Arn"])
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == [
        {"PolicyName": policy["PolicyName"], "PolicyArn": policy["Arn"]}]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1
    assert policy["Arn"] in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    expect_error("DeleteConflict", iam.delete_policy, PolicyArn=policy["Arn"])
    expect_error("DeleteConflict", iam.delete_role, RoleName=name)

    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=policy["Arn"])
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == policy["Arn"]
    iam.delete_role_permissions_boundary(RoleName=name)
    iam.tag_role(RoleName=name, Tags=[{"Key": "env", "Value": "prod"}])
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]} == {"team": "blue", "env": "prod"}
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert [t["Key"] for t in iam.list_role_tags(RoleName=name)["Tags"]] == ["env"]

    simulated = iam.simulate_principal_policy(PolicySourceArn=created["Arn"], ActionNames=["dynamodb:PutItem", "s3:GetObject"])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in simulated["EvaluationResults"]}
    assert decisions == {"dynamodb:PutItem": "allowed", "s3:GetObject": "implicitDeny"}
    custom = iam.simulate_custom_policy(
        PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/env": "prod"}}}]})],
        ActionNames=["s3:DeleteObject"],
        ContextEntries=[{"ContextKeyName": "aws:PrincipalTag/env", "ContextKeyValues": ["prod"], "ContextKeyType": "string"}],
    )
    assert custom["EvaluationResults"][0]["EvalDecision"] == "explicitDeny"

    iam.detach_role_policy(RoleName=name, PolicyArn=policy["Arn"])
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    expect_error("NoSuchEntity", iam.delete_role_policy, RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    iam.delete_policy(PolicyArn=policy["Arn"])
    expect_error("NoSuchEntity", iam.get_role, RoleName=name)
    expect_error("NoSuchEntity", iam.get_policy, PolicyArn=policy["Arn"])


def test_openid_connect_providers(setup: Setup) -> None:
    iam = setup.iam
    url = f"https://{unique('issuer')}.example.com"
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=["app"], ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{url[8:]}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert (got["Url"], got["ClientIDList"], got["ThumbprintList"]) == (url[8:], ["app"], ["a" * 40])
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    expect_error("EntityAlreadyExists", iam.create_open_id_connect_provider, Url=url, ClientIDList=["app"], ThumbprintList=["a" * 40])
    expect_error("InvalidInput", iam.create_open_id_connect_provider, Url="http://plain.example", ClientIDList=["app"], ThumbprintList=["a" * 40])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    expect_error("NoSuchEntity", iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)


def test_iam_takes_the_operator_only(setup: Setup) -> None:
    _, credentials = setup.credentials(setup.id_token()[1])
    expect_error("AccessDenied", client(setup.server, "iam", session_creds(credentials)).list_roles)
    unsigned = client(setup.server, "iam", unsigned=True)
    expect_error("MissingAuthenticationToken", unsigned.list_roles)


# === AssumeRole ===


def test_assume_role_for_the_operator_and_for_allowed_sessions(setup: Setup) -> None:
    account_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]})
    target = setup.role("Target", account_trust)
    sts = client(setup.server, "sts")
    assumed = sts.assume_role(RoleArn=target["Arn"], RoleSessionName="ops", DurationSeconds=900)
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{target['RoleName']}/ops"
    me = client(setup.server, "sts", session_creds(assumed["Credentials"])).get_caller_identity()
    assert me["UserId"] == f"{target['RoleId']}:ops"
    expect_error("ValidationError", sts.assume_role, RoleArn=target["Arn"], RoleSessionName="ops", DurationSeconds=7200)

    # A Cognito session may assume it only when its own policies allow sts:AssumeRole there.
    _, credentials = setup.credentials(setup.id_token()[1])
    cognito_sts = client(setup.server, "sts", session_creds(credentials))
    expect_error("AccessDenied", cognito_sts.assume_role, RoleArn=target["Arn"], RoleSessionName="s1")
    allow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target["Arn"]}]})
    setup.iam.put_role_policy(RoleName=setup.auth_role["RoleName"], PolicyName="assume", PolicyDocument=allow)
    try:
        chained = cognito_sts.assume_role(RoleArn=target["Arn"], RoleSessionName="s1")
        assert chained["AssumedRoleUser"]["AssumedRoleId"] == f"{target['RoleId']}:s1"
    finally:
        setup.iam.delete_role_policy(RoleName=setup.auth_role["RoleName"], PolicyName="assume")
    # A role that does not trust the account is refused even to the operator.
    cognito_only = setup.role("CognitoOnly", cognito_trust(setup.pool_id))
    expect_error("AccessDenied", sts.assume_role, RoleArn=cognito_only["Arn"], RoleSessionName="ops")
    expect_error("MalformedPolicyDocument", sts.assume_role, RoleArn=target["Arn"], RoleSessionName="ops", Policy="{")


# === GetOpenIdToken and AssumeRoleWithWebIdentity ===


def test_an_open_id_token_becomes_a_role_session_through_sts(setup: Setup) -> None:
    import jwt
    import requests

    _, id_token = setup.id_token()
    logins = setup.logins(id_token)
    identity_id = setup.identity.get_id(IdentityPoolId=setup.pool_id, Logins=logins)["IdentityId"]
    answer = setup.identity.get_open_id_token(IdentityId=identity_id, Logins=logins)
    assert answer["IdentityId"] == identity_id
    token = answer["Token"]

    # The issuer publishes its discovery document and keys; an OIDC library verifies the token.
    issuer = f"{setup.server.endpoint}/cognito-identity"
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == issuer
    keys = jwt.PyJWKClient(discovery["jwks_uri"])
    claims = jwt.decode(token, keys.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                        audience=setup.pool_id, issuer=issuer)
    assert claims["sub"] == identity_id
    assert claims["amr"][0] == "authenticated" and setup.provider in claims["amr"]
    assert claims["exp"] - claims["iat"] == 600

    # Without the identity's own login there is no token.
    expect_error("NotAuthorizedException", setup.identity.get_open_id_token, IdentityId=identity_id)

    web_trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": setup.pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
        }],
    })
    role = setup.role("Web", web_trust)
    sts = client(setup.server, "sts", unsigned=True)
    assumed = sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="web-app",
                                                WebIdentityToken=token)
    assert assumed["SubjectFromWebIdentityToken"] == identity_id
    assert assumed["Audience"] == setup.pool_id
    assert assumed["Provider"] == "cognito-identity.amazonaws.com"
    me = client(setup.server, "sts", session_creds(assumed["Credentials"])).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role['RoleName']}/web-app"

    # A role trusting another pool, a tampered token and a token of no known issuer are refused.
    other = setup.role("WebOther", web_trust.replace(setup.pool_id, f"{REGION}:00000000-0000-0000-0000-000000000000"))
    expect_error("AccessDenied", sts.assume_role_with_web_identity, RoleArn=other["Arn"],
                 RoleSessionName="web-app", WebIdentityToken=token)
    head, payload, signature = token.split(".")
    forged_claims = {**claims, "sub": f"{REGION}:11111111-1111-1111-1111-111111111111"}
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode(), signature])
    expect_error("InvalidIdentityToken", sts.assume_role_with_web_identity, RoleArn=role["Arn"],
                 RoleSessionName="web-app", WebIdentityToken=forged)
    expect_error("InvalidIdentityToken", sts.assume_role_with_web_identity, RoleArn=role["Arn"],
                 RoleSessionName="web-app", WebIdentityToken=id_token)


def test_guests_get_open_id_tokens_with_the_unauthenticated_amr(setup: Setup) -> None:
    import jwt

    identity_id = setup.identity.get_id(IdentityPoolId=setup.pool_id)["IdentityId"]
    token = setup.identity.get_open_id_token(IdentityId=identity_id)["Token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["amr"] == ["unauthenticated"] and claims["aud"] == setup.pool_id
    # A role trusting authenticated identities only does not take a guest.
    role = setup.role("WebAuthOnly", cognito_trust(setup.pool_id))
    sts = client(setup.server, "sts", unsigned=True)
    expect_error("AccessDenied", sts.assume_role_with_web_identity, RoleArn=role["Arn"],
                 RoleSessionName="guest", WebIdentityToken=token)
