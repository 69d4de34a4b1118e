"""Paged listings through boto3's paginators: ListIdentityPools (`MaxResults`, `NextToken`),
IAM ListRoles and ListPolicies (`MaxItems`, `Marker`, `IsTruncated`) with their filters
applied before paging, so a page is never short because of them."""

from __future__ import annotations

from typing import Any

from gatehouse_harness import GatehouseServer, unique
from test_identity_pools import ALLOW_ALL, client, cognito_trust, expect_error


def pages(paginator: Any, key: str, **kwargs: Any) -> list[list[Any]]:
    return [page[key] for page in paginator.paginate(**kwargs)]


def test_identity_pools_page_with_max_results_and_next_token(server: GatehouseServer) -> None:
    admin = client(server, "cognito-identity")
    made = {admin.create_identity_pool(IdentityPoolName=unique("paged_"),
                                       AllowUnauthenticatedIdentities=True)["IdentityPoolId"] for _ in range(5)}
    got = pages(admin.get_paginator("list_identity_pools"), "IdentityPools",
                PaginationConfig={"PageSize": 2})
    assert len(got) >= 3 and all(len(page) <= 2 for page in got[:-1])
    assert all(len(page) == 2 for page in got[:-1]), "only the last page is short"
    ids = [p["IdentityPoolId"] for page in got for p in page]
    assert len(ids) == len(set(ids)) and made <= set(ids)
    # MaxResults is Cognito's 1 to 60 (botocore itself refuses less than 1).
    expect_error("InvalidParameterException", admin.list_identity_pools, MaxResults=61)


def test_list_identities_pages(server: GatehouseServer) -> None:
    admin = client(server, "cognito-identity")
    public = client(server, "cognito-identity", unsigned=True)
    pool_id = admin.create_identity_pool(IdentityPoolName=unique("guests_"),
                                         AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    made = {public.get_id(IdentityPoolId=pool_id)["IdentityId"] for _ in range(5)}
    first = admin.list_identities(IdentityPoolId=pool_id, MaxResults=3)
    assert len(first["Identities"]) == 3 and "NextToken" in first
    rest = admin.list_identities(IdentityPoolId=pool_id, MaxResults=3, NextToken=first["NextToken"])
    assert len(rest["Identities"]) == 2 and "NextToken" not in rest
    assert {i["IdentityId"] for i in first["Identities"] + rest["Identities"]} == made


def test_iam_roles_and_policies_page_with_marker_and_max_items(server: GatehouseServer) -> None:
    iam = client(server, "iam")
    path = f"/{unique('paged').lower()}/"
    roles = sorted((iam.create_role(RoleName=unique(f"Paged{i}"), Path=path,
                                    AssumeRolePolicyDocument=cognito_trust())["Role"]["RoleName"]
                    for i in range(5)), key=str.lower)
    iam.create_role(RoleName=unique("Elsewhere"), AssumeRolePolicyDocument=cognito_trust())
    got = pages(iam.get_paginator("list_roles"), "Roles", PathPrefix=path, PaginationConfig={"PageSize": 2})
    assert [len(page) for page in got] == [2, 2, 1]
    assert [r["RoleName"] for page in got for r in page] == roles
    # One page by hand: IsTruncated and the Marker that continues it.
    first = iam.list_roles(PathPrefix=path, MaxItems=4)
    assert first["IsTruncated"] is True and len(first["Roles"]) == 4
    last = iam.list_roles(PathPrefix=path, MaxItems=4, Marker=first["Marker"])
    assert last["IsTruncated"] is False and "Marker" not in last
    assert [r["RoleName"] for r in first["Roles"] + last["Roles"]] == roles

    policies = [iam.create_policy(PolicyName=unique(f"Paged{i}"), Path=path,
                                  PolicyDocument=ALLOW_ALL)["Policy"] for i in range(5)]
    arns = sorted(p["Arn"] for p in policies)
    got = pages(iam.get_paginator("list_policies"), "Policies", Scope="Local", PathPrefix=path,
                PaginationConfig={"PageSize": 2})
    assert [len(page) for page in got] == [2, 2, 1]
    assert [p["Arn"] for page in got for p in page] == arns
    # OnlyAttached filters before paging: two attached policies fill a page of two.
    for arn in arns[1:4:2]:
        iam.attach_role_policy(RoleName=roles[0], PolicyArn=arn)
    attached = pages(iam.get_paginator("list_policies"), "Policies", PathPrefix=path, OnlyAttached=True,
                     PaginationConfig={"PageSize": 2})
    assert [[p["Arn"] for p in page] for page in attached] == [[arns[1], arns[3]]]
    aws = iam.list_policies(Scope="AWS", MaxItems=1)
    assert (aws["Policies"], aws["IsTruncated"], "Marker" in aws) == ([], False, False)


def test_max_items_above_iam_limit_is_refused(server: GatehouseServer) -> None:
    # botocore itself refuses less than 1.
    iam = client(server, "iam")
    expect_error("ValidationError", iam.list_roles, MaxItems=1001)
    expect_error("ValidationError", iam.list_policies, MaxItems=1001)
