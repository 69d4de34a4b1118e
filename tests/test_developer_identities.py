"""Developer-authenticated identities and unlinking, driven by boto3's `cognito-identity`
client: GetOpenIdTokenForDeveloperIdentity, LookupDeveloperIdentity, MergeDeveloperIdentities
and UnlinkDeveloperIdentity take the operator's signature and this pool's own
`DeveloperProviderName`; UnlinkIdentity is public and removes only logins the caller proves
in the same call. An identity whose last login is unlinked is disabled: hidden by
`HideDisabled` and refused everything, never handed out as a guest.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from gatehouse_harness import ACCOUNT_ID, GatehouseServer, unique
from test_identity_pools import Setup, client, expect_error, session_creds


class DeveloperSetup(Setup):
    """Setup's pools (guests allowed) with a developer provider of their own."""

    def __init__(self, server: GatehouseServer) -> None:
        super().__init__(server)
        self.developer = f"login.{unique('app').lower()}.example"
        pool = self.identity_admin.describe_identity_pool(IdentityPoolId=self.pool_id)
        pool.pop("ResponseMetadata", None)
        self.identity_admin.update_identity_pool(**{**pool, "DeveloperProviderName": self.developer})

    def developer_token(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        logins = {self.developer: identifier, **kwargs.pop("Logins", {})}
        return self.identity_admin.get_open_id_token_for_developer_identity(
            IdentityPoolId=self.pool_id, Logins=logins, **kwargs)

    def identifiers(self, identity_id: str, **kwargs: Any) -> list[str]:
        answer = self.identity_admin.lookup_developer_identity(
            IdentityPoolId=self.pool_id, IdentityId=identity_id, **kwargs)
        assert answer["IdentityId"] == identity_id
        return answer["DeveloperUserIdentifierList"]

    def listed(self, hide_disabled: bool) -> set[str]:
        """Every identity of the pool, two a page (botocore has no paginator for it)."""
        ids: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = self.identity_admin.list_identities(
                IdentityPoolId=self.pool_id, MaxResults=2, HideDisabled=hide_disabled, **token)
            assert len(page["Identities"]) <= 2
            ids += [i["IdentityId"] for i in page["Identities"]]
            if "NextToken" not in page:
                break
            token = {"NextToken": page["NextToken"]}
        assert len(ids) == len(set(ids)), "no identity on two pages"
        return set(ids)


@pytest.fixture(scope="module")
def dev(server: GatehouseServer) -> DeveloperSetup:
    return DeveloperSetup(server)


def test_a_developer_token_is_an_identity_sts_accepts(dev: DeveloperSetup) -> None:
    answer = dev.developer_token("alice", TokenDuration=300)
    identity_id = answer["IdentityId"]
    claims = jwt.decode(answer["Token"], options={"verify_signature": False})
    assert (claims["sub"], claims["aud"]) == (identity_id, dev.pool_id)
    assert claims["amr"] == ["authenticated", dev.developer, f"{dev.developer}:{dev.pool_id}:alice"]
    assert claims["exp"] - claims["iat"] == 300
    # The same developer user is the same identity; the default lifetime is 15 minutes.
    again = dev.developer_token("alice")
    assert again["IdentityId"] == identity_id
    default = jwt.decode(again["Token"], options={"verify_signature": False})
    assert default["exp"] - default["iat"] == 900
    # The basic flow: STS takes the token for a role that trusts the pool's authenticated users.
    sts = client(dev.server, "sts", unsigned=True)
    assumed = sts.assume_role_with_web_identity(RoleArn=dev.auth_role["Arn"], RoleSessionName="backend",
                                                WebIdentityToken=answer["Token"])
    assert assumed["SubjectFromWebIdentityToken"] == identity_id
    me = client(dev.server, "sts", session_creds(assumed["Credentials"])).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{dev.auth_role['RoleName']}/backend"
    # A lifetime above a day is refused (botocore itself refuses less than a second).
    expect_error("InvalidParameterException", dev.developer_token, "alice", TokenDuration=86_401)


def test_lookup_link_merge_and_unlink_developer_users(dev: DeveloperSetup) -> None:
    admin = dev.identity_admin
    carol = dev.developer_token("carol")["IdentityId"]
    # A second identifier linked to the same identity; looked up both ways, a page at a time.
    assert dev.developer_token("carol-phone", IdentityId=carol)["IdentityId"] == carol
    assert dev.identifiers(carol) == ["carol", "carol-phone"]
    first = admin.lookup_developer_identity(IdentityPoolId=dev.pool_id, IdentityId=carol, MaxResults=1)
    assert first["DeveloperUserIdentifierList"] == ["carol"]
    assert dev.identifiers(carol, MaxResults=1, NextToken=first["NextToken"]) == ["carol-phone"]
    by_user = admin.lookup_developer_identity(IdentityPoolId=dev.pool_id, DeveloperUserIdentifier="carol-phone")
    assert by_user["IdentityId"] == carol

    dave = dev.developer_token("dave")["IdentityId"]
    assert dave != carol
    # An identifier of another identity is not relinked, and lookups that disagree conflict.
    expect_error("DeveloperUserAlreadyRegisteredException", dev.developer_token, "dave", IdentityId=carol)
    assert dev.identifiers(carol) == ["carol", "carol-phone"]
    expect_error("ResourceConflictException", admin.lookup_developer_identity, IdentityPoolId=dev.pool_id,
                 IdentityId=carol, DeveloperUserIdentifier="dave")
    expect_error("ResourceNotFoundException", admin.lookup_developer_identity, IdentityPoolId=dev.pool_id,
                 DeveloperUserIdentifier="nobody")
    expect_error("InvalidParameterException", admin.lookup_developer_identity, IdentityPoolId=dev.pool_id)

    # Merging dave into carol: dave's identity is gone, his identifier now names carol's.
    merged = admin.merge_developer_identities(SourceUserIdentifier="dave", DestinationUserIdentifier="carol",
                                              DeveloperProviderName=dev.developer, IdentityPoolId=dev.pool_id)
    assert merged["IdentityId"] == carol
    expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=dave)
    assert dev.identifiers(carol) == ["carol", "carol-phone", "dave"]

    admin.unlink_developer_identity(IdentityId=carol, IdentityPoolId=dev.pool_id,
                                    DeveloperProviderName=dev.developer, DeveloperUserIdentifier="dave")
    expect_error("ResourceNotFoundException", admin.unlink_developer_identity, IdentityId=carol,
                 IdentityPoolId=dev.pool_id, DeveloperProviderName=dev.developer, DeveloperUserIdentifier="dave")
    assert dev.identifiers(carol) == ["carol", "carol-phone"]
    # Unlinked, dave is a new identity the next time he is seen.
    assert dev.developer_token("dave")["IdentityId"] not in {carol, dave}


def test_another_pools_developer_provider_is_refused(dev: DeveloperSetup, server: GatehouseServer) -> None:
    other = DeveloperSetup(server)
    admin = dev.identity_admin
    erin = dev.developer_token("erin")["IdentityId"]
    other.developer_token("erin")
    # The other pool's provider name in this pool: not its developer provider.
    expect_error("InvalidParameterException", admin.merge_developer_identities, SourceUserIdentifier="erin",
                 DestinationUserIdentifier="erin", DeveloperProviderName=other.developer, IdentityPoolId=dev.pool_id)
    expect_error("InvalidParameterException", admin.unlink_developer_identity, IdentityId=erin,
                 IdentityPoolId=dev.pool_id, DeveloperProviderName=other.developer, DeveloperUserIdentifier="erin")
    expect_error("InvalidParameterException", admin.get_open_id_token_for_developer_identity,
                 IdentityPoolId=dev.pool_id, Logins={other.developer: "erin"})
    expect_error("NotAuthorizedException", dev.developer_token, "erin", Logins={other.developer: "erin"})
    # An identity of the other pool is not this pool's to link to.
    theirs = other.developer_token("frank")["IdentityId"]
    expect_error("ResourceNotFoundException", dev.developer_token, "frank", IdentityId=theirs)
    # Nobody claims a developer login in public: the developer provider is no public provider.
    expect_error("NotAuthorizedException", dev.identity.get_id, IdentityPoolId=dev.pool_id,
                 Logins={dev.developer: "erin"})
    # Developer operations are the operator's.
    expect_error("MissingAuthenticationTokenException", dev.identity.get_open_id_token_for_developer_identity,
                 IdentityPoolId=dev.pool_id, Logins={dev.developer: "erin"})


def test_unlink_identity_removes_only_logins_the_caller_proves(dev: DeveloperSetup) -> None:
    _, token = dev.id_token()
    logins = dev.logins(token)
    identity_id = dev.identity.get_id(IdentityPoolId=dev.pool_id, Logins=logins)["IdentityId"]
    dev.developer_token("grace", IdentityId=identity_id)
    _, stranger = dev.id_token()
    stranger_id = dev.identity.get_id(IdentityPoolId=dev.pool_id, Logins=dev.logins(stranger))["IdentityId"]

    # The developer login is not proven by a user-pool token; another user's token proves nothing here.
    expect_error("NotAuthorizedException", dev.identity.unlink_identity, IdentityId=identity_id, Logins=logins,
                 LoginsToRemove=[dev.developer])
    expect_error("NotAuthorizedException", dev.identity.unlink_identity, IdentityId=identity_id,
                 Logins=dev.logins(stranger), LoginsToRemove=[dev.provider])
    expect_error("InvalidParameterException", dev.identity.unlink_identity, IdentityId=identity_id, Logins={},
                 LoginsToRemove=[dev.provider])
    assert dev.identity_admin.describe_identity(IdentityId=identity_id)["Logins"] == sorted([dev.provider, dev.developer])
    assert dev.identity_admin.describe_identity(IdentityId=stranger_id)["Logins"] == [dev.provider]

    dev.identity.unlink_identity(IdentityId=identity_id, Logins=logins, LoginsToRemove=[dev.provider])
    assert dev.identity_admin.describe_identity(IdentityId=identity_id)["Logins"] == [dev.developer]
    # The unlinked login is a new identity the next time it is seen.
    fresh = dev.identity.get_id(IdentityPoolId=dev.pool_id, Logins=logins)["IdentityId"]
    assert fresh != identity_id


def test_an_identity_without_logins_left_is_disabled_not_a_guest(dev: DeveloperSetup) -> None:
    identity_id = dev.developer_token("heidi")["IdentityId"]
    guest = dev.identity.get_id(IdentityPoolId=dev.pool_id)["IdentityId"]
    assert {identity_id, guest} <= dev.listed(hide_disabled=True)
    dev.identity_admin.unlink_developer_identity(IdentityId=identity_id, IdentityPoolId=dev.pool_id,
                                                 DeveloperProviderName=dev.developer,
                                                 DeveloperUserIdentifier="heidi")
    # The pool takes guests, yet the emptied identity gets no guest credentials or token.
    message = expect_error("NotAuthorizedException", dev.identity.get_credentials_for_identity,
                           IdentityId=identity_id)
    assert "forbidden" in message
    expect_error("NotAuthorizedException", dev.identity.get_open_id_token, IdentityId=identity_id)
    assert identity_id in dev.listed(hide_disabled=False)
    assert identity_id not in dev.listed(hide_disabled=True)
    assert guest in dev.listed(hide_disabled=True)
    # Linking a developer user again brings it back.
    assert dev.developer_token("heidi-2", IdentityId=identity_id)["IdentityId"] == identity_id
    assert identity_id in dev.listed(hide_disabled=True)
    assert dev.identifiers(identity_id) == ["heidi-2"]


OWN_ISSUER = "cognito-identity.amazonaws.com"


def test_a_developer_token_is_a_login_of_the_enhanced_flow(dev: DeveloperSetup, server: GatehouseServer) -> None:
    """AWS's enhanced flow with developer-authenticated identities: the back end's token goes in
    `Logins` under `cognito-identity.amazonaws.com`, for GetId and GetCredentialsForIdentity."""
    answer = dev.developer_token("ivan")
    identity_id, token = answer["IdentityId"], answer["Token"]
    logins = {OWN_ISSUER: token}
    assert dev.identity.get_id(IdentityPoolId=dev.pool_id, Logins=logins)["IdentityId"] == identity_id
    creds = dev.identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
    assert creds["IdentityId"] == identity_id
    me = client(server, "sts", session_creds(creds["Credentials"])).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{dev.auth_role['RoleName']}/CognitoIdentityCredentials"
    # GetOpenIdToken with it works too, and names the developer login in `amr`.
    again = dev.identity.get_open_id_token(IdentityId=identity_id, Logins=logins)
    amr = jwt.decode(again["Token"], options={"verify_signature": False})["amr"]
    assert amr[0] == "authenticated" and f"{dev.developer}:{dev.pool_id}:ivan" in amr

    # A user-pool login joins the identity the token names.
    _, id_token = dev.id_token()
    both = {**logins, **dev.logins(id_token)}
    assert dev.identity.get_id(IdentityPoolId=dev.pool_id, Logins=both)["IdentityId"] == identity_id
    assert dev.identity_admin.describe_identity(IdentityId=identity_id)["Logins"] == sorted([dev.developer, dev.provider])


def test_a_developer_token_proves_only_its_own_identity_of_its_own_pool(dev: DeveloperSetup, server: GatehouseServer) -> None:
    judy = dev.developer_token("judy")
    other_id = dev.developer_token("karl")["IdentityId"]
    # Another identity of the pool: the token names judy's.
    expect_error("NotAuthorizedException", dev.identity.get_credentials_for_identity, IdentityId=other_id,
                 Logins={OWN_ISSUER: judy["Token"]})
    # Another pool's token: its `aud` is not this pool.
    other = DeveloperSetup(server)
    theirs = other.developer_token("judy")
    expect_error("NotAuthorizedException", dev.identity.get_id, IdentityPoolId=dev.pool_id,
                 Logins={OWN_ISSUER: theirs["Token"]})
    # A token whose signature does not verify.
    head, body, signature = judy["Token"].split(".")
    forged_claims = jwt.decode(judy["Token"], options={"verify_signature": False}) | {"sub": other_id}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    expect_error("NotAuthorizedException", dev.identity.get_credentials_for_identity, IdentityId=other_id,
                 Logins={OWN_ISSUER: f"{head}.{forged_body}.{signature}"})
    # A user pool's ID token under this key is not this service's token.
    _, id_token = dev.id_token()
    expect_error("NotAuthorizedException", dev.identity.get_id, IdentityPoolId=dev.pool_id,
                 Logins={OWN_ISSUER: id_token})
    # A guest's OpenID token proves no sign-in: it never makes the guest authenticated.
    guest = dev.identity.get_id(IdentityPoolId=dev.pool_id)["IdentityId"]
    guest_token = dev.identity.get_open_id_token(IdentityId=guest)["Token"]
    message = expect_error("NotAuthorizedException", dev.identity.get_id, IdentityPoolId=dev.pool_id,
                           Logins={OWN_ISSUER: guest_token})
    assert "authenticated identity" in message
    expect_error("NotAuthorizedException", dev.identity.get_credentials_for_identity, IdentityId=guest,
                 Logins={OWN_ISSUER: guest_token})
    # The token is not a login to link for the operator either.
    expect_error("InvalidParameterException", dev.developer_token, "judy-2", Logins={OWN_ISSUER: judy["Token"]})
    # Once the developer user is unlinked, the identity is disabled and its token refused.
    dev.identity_admin.unlink_developer_identity(IdentityId=judy["IdentityId"], IdentityPoolId=dev.pool_id,
                                                 DeveloperProviderName=dev.developer, DeveloperUserIdentifier="judy")
    expect_error("NotAuthorizedException", dev.identity.get_credentials_for_identity, IdentityId=judy["IdentityId"],
                 Logins={OWN_ISSUER: judy["Token"]})
    expect_error("NotAuthorizedException", dev.identity.get_id, IdentityPoolId=dev.pool_id,
                 Logins={OWN_ISSUER: judy["Token"]})
