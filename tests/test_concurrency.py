"""Requests racing each other, as real traffic does: the same username signed up at once, one
user logging in and refreshing from many threads. Each must give AWS's answer (one winner,
UsernameExistsException for the rest), never a 500 or a storage-busy error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from gatehouse_harness import PASSWORD, attrs, error_of, unique_email
from gatehouse_harness import shared_pool_fixtures

# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


THREADS = 8


def outcome(call):
    try:
        return "ok", call()
    except ClientError as exc:
        code, message, status = error_of(exc)
        return code, f"HTTP {status}: {message}"


def test_racing_sign_ups_of_one_username_have_exactly_one_winner(pool):
    username = "racer-" + unique_email().split("@")[0]

    def sign_up(i):
        return outcome(lambda: pool.sign_up(username, unique_email(f"race{i}")))

    with ThreadPoolExecutor(THREADS) as executor:
        results = list(executor.map(sign_up, range(THREADS)))
    kinds = [kind for kind, _ in results]
    assert kinds.count("ok") == 1, results
    assert set(kinds) - {"ok"} == {"UsernameExistsException"}, results
    users = pool.admin.list_users(UserPoolId=pool.pool_id, Filter=f'username = "{username}"')["Users"]
    assert len(users) == 1


def test_racing_sign_ups_of_one_email_in_an_email_username_pool_have_exactly_one_winner(email_pool):
    email = unique_email("race")

    with ThreadPoolExecutor(THREADS) as executor:
        results = list(executor.map(lambda _: outcome(lambda: email_pool.sign_up(email, email)), range(THREADS)))
    kinds = [kind for kind, _ in results]
    assert kinds.count("ok") == 1, results
    assert set(kinds) - {"ok"} == {"UsernameExistsException"}, results


def test_parallel_logins_and_refreshes_of_one_user_all_succeed(pool):
    user = pool.signed_up_user()
    with ThreadPoolExecutor(THREADS) as executor:
        logins = list(executor.map(lambda _: outcome(lambda: pool.tokens(user.username)), range(THREADS * 2)))
    assert all(kind == "ok" for kind, _ in logins), [r for r in logins if r[0] != "ok"]
    refresh_token = logins[0][1]["RefreshToken"]
    with ThreadPoolExecutor(THREADS) as executor:
        refreshes = list(executor.map(lambda _: outcome(lambda: pool.refresh(refresh_token)), range(THREADS * 2)))
    assert all(kind == "ok" for kind, _ in refreshes), [r for r in refreshes if r[0] != "ok"]


def test_parallel_attribute_updates_leave_one_consistent_value(pool):
    user = pool.admin_user()
    values = [f"tier{i}" for i in range(THREADS)]

    def update(value):
        return outcome(
            lambda: pool.admin.admin_update_user_attributes(
                UserPoolId=pool.pool_id,
                Username=user.username,
                UserAttributes=[{"Name": "custom:tier", "Value": value}],
            )
        )

    with ThreadPoolExecutor(THREADS) as executor:
        results = list(executor.map(update, values))
    assert all(kind == "ok" for kind, _ in results), results
    final = attrs(pool.get_user(user.username)["UserAttributes"])["custom:tier"]
    assert final in values
    assert attrs(pool.get_user(user.username)["UserAttributes"])["email"] == user.email
    assert pool.tokens(user.username, PASSWORD)
