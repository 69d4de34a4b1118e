"""Groups: CreateGroup/GetGroup/ListGroups/DeleteGroup, membership operations, and the
`cognito:groups` claim in ID and access tokens."""

from __future__ import annotations

import datetime

from gatehouse_harness import raises_cognito, unique, unverified_claims

ROLE_ARN = "arn:aws:iam::000000000000:role/e2e-readers"


def create_group(pool, name=None, **extra):
    params = {"UserPoolId": pool.pool_id, "GroupName": name or unique("group-")}
    params.update(extra)
    return pool.admin.create_group(**params)["Group"]


def test_create_group_stores_description_precedence_and_role_arn(pool):
    group = create_group(pool, "readers", Description="can read", Precedence=5, RoleArn=ROLE_ARN)
    for got in (group, pool.admin.get_group(UserPoolId=pool.pool_id, GroupName="readers")["Group"]):
        assert got["GroupName"] == "readers"
        assert got["UserPoolId"] == pool.pool_id
        assert got["Description"] == "can read"
        assert got["Precedence"] == 5
        assert got["RoleArn"] == ROLE_ARN
        assert isinstance(got["CreationDate"], datetime.datetime)
        assert isinstance(got["LastModifiedDate"], datetime.datetime)


def test_create_group_twice_is_group_exists(pool):
    create_group(pool, "dupe")
    with raises_cognito("GroupExistsException"):
        create_group(pool, "dupe")


def test_list_groups_returns_every_group_of_the_pool_across_pages(pool):
    names = {create_group(pool)["GroupName"] for _ in range(3)}
    seen: list[str] = []
    token = None
    for _ in range(20):
        kwargs = {"UserPoolId": pool.pool_id, "Limit": 2}
        if token:
            kwargs["NextToken"] = token
        page = pool.admin.list_groups(**kwargs)
        assert len(page["Groups"]) <= 2
        seen += [g["GroupName"] for g in page["Groups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(names)


def test_group_membership_appears_in_both_tokens(pool):
    create_group(pool, "admins", Precedence=1, RoleArn=ROLE_ARN)
    create_group(pool, "editors", Precedence=2)
    user = pool.admin_user()
    for group in ("admins", "editors"):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName=group)
    tokens = pool.tokens(user.username)
    for kind in ("IdToken", "AccessToken"):
        claims = unverified_claims(tokens[kind])
        assert set(claims.get("cognito:groups", [])) == {"admins", "editors"}, f"{kind}: {claims}"
    # Refreshed tokens carry the groups too.
    refreshed = pool.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert set(unverified_claims(refreshed["AccessToken"])["cognito:groups"]) == {"admins", "editors"}


def test_admin_list_groups_for_user_and_list_users_in_group(pool):
    create_group(pool, "team", Precedence=3)
    create_group(pool, "other")
    alice, bob, carol = (pool.admin_user() for _ in range(3))
    for user in (alice, bob):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName="team")
    pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=carol.username, GroupName="other")

    groups = pool.admin.admin_list_groups_for_user(UserPoolId=pool.pool_id, Username=alice.username)["Groups"]
    assert [g["GroupName"] for g in groups] == ["team"]
    assert groups[0]["Precedence"] == 3

    members = pool.admin.list_users_in_group(UserPoolId=pool.pool_id, GroupName="team")["Users"]
    assert {m["Username"] for m in members} == {alice.username, bob.username}
    assert all(m["UserStatus"] == "CONFIRMED" for m in members)


def test_adding_a_user_twice_to_a_group_keeps_one_membership(pool):
    create_group(pool, "once")
    user = pool.admin_user()
    for _ in range(2):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName="once")
    members = pool.admin.list_users_in_group(UserPoolId=pool.pool_id, GroupName="once")["Users"]
    assert [m["Username"] for m in members] == [user.username]


def test_admin_remove_user_from_group_drops_the_claim_at_next_login(pool):
    create_group(pool, "temp")
    create_group(pool, "kept")
    user = pool.admin_user()
    for group in ("temp", "kept"):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName=group)
    pool.admin.admin_remove_user_from_group(UserPoolId=pool.pool_id, Username=user.username, GroupName="temp")
    groups = pool.admin.admin_list_groups_for_user(UserPoolId=pool.pool_id, Username=user.username)["Groups"]
    assert [g["GroupName"] for g in groups] == ["kept"]
    assert pool.admin.list_users_in_group(UserPoolId=pool.pool_id, GroupName="temp")["Users"] == []
    claims = unverified_claims(pool.tokens(user.username)["IdToken"])
    assert claims["cognito:groups"] == ["kept"]


def test_delete_group_removes_it_and_its_memberships(pool):
    create_group(pool, "doomed")
    user = pool.admin_user()
    pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName="doomed")
    pool.admin.delete_group(UserPoolId=pool.pool_id, GroupName="doomed")
    with raises_cognito("ResourceNotFoundException"):
        pool.admin.get_group(UserPoolId=pool.pool_id, GroupName="doomed")
    assert pool.admin.admin_list_groups_for_user(UserPoolId=pool.pool_id, Username=user.username)["Groups"] == []
    assert pool.admin.list_groups(UserPoolId=pool.pool_id)["Groups"] == []
    claims = unverified_claims(pool.tokens(user.username)["AccessToken"])
    assert "doomed" not in claims.get("cognito:groups", [])


def test_group_operations_on_unknown_groups_and_users_fail_precisely(pool):
    create_group(pool, "real")
    user = pool.admin_user()
    with raises_cognito("ResourceNotFoundException"):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=user.username, GroupName="missing")
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=unique("ghost-"), GroupName="real")
    with raises_cognito("ResourceNotFoundException"):
        pool.admin.list_users_in_group(UserPoolId=pool.pool_id, GroupName="missing")
    with raises_cognito("ResourceNotFoundException"):
        pool.admin.delete_group(UserPoolId=pool.pool_id, GroupName="missing")
