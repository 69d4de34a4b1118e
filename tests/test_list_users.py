"""ListUsers: the `Filter` syntax (`attr = "v"`, `attr ^= "v"`), status filters, `Limit` with
`PaginationToken`, and `AttributesToGet`."""

from __future__ import annotations

import pytest

from gatehouse_harness import PASSWORD, PoolFixture, attr_list, attrs, raises_cognito, unique


@pytest.fixture(scope="module")
def population(server):
    """A pool with five users: four confirmed (two emails starting `an`, one of them disabled)
    and one unconfirmed. Returns (pool, tag, {short name: username}). The tests using it only
    read, so the module shares it."""
    pool = PoolFixture.create(server)
    tag = unique("lu")
    names = {}
    for short, email in (
        ("ann", f"ann.{tag}@example.com"),
        ("andy", f"andy.{tag}@example.org"),
        ("bob", f"bob.{tag}@example.com"),
        ("dan", f"dan.{tag}@example.com"),
    ):
        username = f"{tag}-{short}"
        pool.admin.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=username,
            UserAttributes=attr_list({"email": email, "email_verified": "true", "name": short.title()}),
            MessageAction="SUPPRESS",
        )
        pool.admin.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        names[short] = username
    pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=names["dan"])
    names["uma"] = f"{tag}-uma"
    pool.sign_up(names["uma"], f"uma.{tag}@example.com")
    return pool, tag, names


def list_usernames(pool, **kwargs):
    users = pool.admin.list_users(UserPoolId=pool.pool_id, **kwargs)["Users"]
    return {u["Username"] for u in users}


def test_list_users_without_filter_returns_every_user_with_status_and_attributes(population):
    pool, _, names = population
    users = pool.admin.list_users(UserPoolId=pool.pool_id)["Users"]
    assert {u["Username"] for u in users} == set(names.values())
    by_name = {u["Username"]: u for u in users}
    assert by_name[names["ann"]]["UserStatus"] == "CONFIRMED"
    assert by_name[names["ann"]]["Enabled"] is True
    assert by_name[names["uma"]]["UserStatus"] == "UNCONFIRMED"
    assert by_name[names["dan"]]["Enabled"] is False
    assert attrs(by_name[names["bob"]]["Attributes"])["name"] == "Bob"


def test_list_users_filter_email_equals_matches_exactly_one(population):
    pool, tag, names = population
    assert list_usernames(pool, Filter=f'email = "ann.{tag}@example.com"') == {names["ann"]}
    assert list_usernames(pool, Filter='email = "nobody@example.com"') == set()


def test_list_users_filter_email_prefix(population):
    pool, _, names = population
    assert list_usernames(pool, Filter='email ^= "an"') == {names["ann"], names["andy"]}


def test_list_users_filter_username_prefix(population):
    pool, tag, names = population
    assert list_usernames(pool, Filter=f'username ^= "{tag}-b"') == {names["bob"]}
    assert list_usernames(pool, Filter=f'username = "{tag}-andy"') == {names["andy"]}


def test_list_users_filter_name_and_sub(population):
    pool, _, names = population
    assert list_usernames(pool, Filter='name = "Bob"') == {names["bob"]}
    sub = attrs(pool.get_user(names["ann"])["UserAttributes"])["sub"]
    assert list_usernames(pool, Filter=f'sub = "{sub}"') == {names["ann"]}


def test_list_users_filter_cognito_user_status(population):
    pool, _, names = population
    assert list_usernames(pool, Filter='cognito:user_status = "UNCONFIRMED"') == {names["uma"]}
    # Documented as case-insensitive.
    assert list_usernames(pool, Filter='cognito:user_status = "unconfirmed"') == {names["uma"]}
    confirmed = {names[n] for n in ("ann", "andy", "bob", "dan")}
    assert list_usernames(pool, Filter='cognito:user_status = "CONFIRMED"') == confirmed


def test_list_users_filter_status_enabled_or_disabled(population):
    pool, _, names = population
    assert list_usernames(pool, Filter='status = "Disabled"') == {names["dan"]}
    assert list_usernames(pool, Filter='status = "Enabled"') == set(names.values()) - {names["dan"]}


def test_list_users_limit_and_pagination_token_walk_every_user_once(population):
    pool, _, names = population
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"UserPoolId": pool.pool_id, "Limit": 2}
        if token:
            kwargs["PaginationToken"] = token
        page = pool.admin.list_users(**kwargs)
        pages += 1
        assert len(page["Users"]) <= 2
        seen += [u["Username"] for u in page["Users"]]
        token = page.get("PaginationToken")
        if not token:
            break
        assert pages < 10, "pagination does not end"
    assert pages >= 3, "five users at two per page take three pages"
    assert len(seen) == len(set(seen)), f"a user appeared twice: {seen}"
    assert set(seen) == set(names.values())


def test_list_users_pagination_combines_with_a_filter(population):
    pool, _, names = population
    seen: list[str] = []
    token = None
    for _ in range(10):
        kwargs = {"UserPoolId": pool.pool_id, "Limit": 1, "Filter": 'email ^= "an"'}
        if token:
            kwargs["PaginationToken"] = token
        page = pool.admin.list_users(**kwargs)
        seen += [u["Username"] for u in page["Users"]]
        token = page.get("PaginationToken")
        if not token:
            break
    assert sorted(seen) == sorted([names["ann"], names["andy"]])


def test_list_users_attributes_to_get_returns_only_those_attributes(population):
    pool, _, names = population
    users = pool.admin.list_users(UserPoolId=pool.pool_id, AttributesToGet=["email"])["Users"]
    assert {u["Username"] for u in users} == set(names.values())
    for user in users:
        assert set(attrs(user["Attributes"])) == {"email"}, user


def test_list_users_with_an_unsupported_filter_is_invalid_parameter(population):
    pool, _, _ = population
    for bad in ('custom:tier = "x"', 'email == "x"', "email = unquoted", 'email ~ "x"'):
        with raises_cognito("InvalidParameterException"):
            pool.admin.list_users(UserPoolId=pool.pool_id, Filter=bad)


def test_list_users_limit_above_60_is_invalid_parameter(population):
    pool, _, _ = population
    with raises_cognito("InvalidParameterException"):
        pool.admin.list_users(UserPoolId=pool.pool_id, Limit=61)


def test_list_users_of_an_unknown_pool_is_resource_not_found(server):
    with raises_cognito("ResourceNotFoundException"):
        server.admin.list_users(UserPoolId="us-east-1_AAAAAAAAA")


def test_list_users_prefix_filter_treats_like_wildcards_literally(population):
    pool, tag, names = population
    # `%` and `_` are SQL LIKE wildcards; in a Cognito filter they are plain characters.
    assert list_usernames(pool, Filter='email ^= "%"') == set()
    assert list_usernames(pool, Filter='email ^= "_"') == set()
    assert list_usernames(pool, Filter='email ^= "a_n"') == set()
    assert list_usernames(pool, Filter=f'username ^= "{tag}%"') == set()
    assert list_usernames(pool, Filter='email ^= "\\\\"') == set()


def test_list_users_filter_values_are_data_not_query_text(population):
    pool, _, _ = population
    assert list_usernames(pool, Filter="email = \"x' OR '1'='1\"") == set()
    assert list_usernames(pool, Filter='email = "x\\" OR \\"1\\"=\\"1"') == set()


def test_list_users_filter_matches_a_value_with_an_escaped_quote(pool):
    username = unique("quote-")
    pool.admin.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=username,
        UserAttributes=attr_list({"name": 'Dwayne "The Rock" J'}),
        MessageAction="SUPPRESS",
    )
    assert list_usernames(pool, Filter='name = "Dwayne \\"The Rock\\" J"') == {username}
    assert list_usernames(pool, Filter='name ^= "Dwayne \\"The"') == {username}
