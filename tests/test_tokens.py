"""Tokens as a relying party sees them: discovery document, JWKS, RS256 signatures verified with
PyJWT, Cognito's claim sets, lifetimes from the client's settings, one key per token kind."""

from __future__ import annotations

import time

from gatehouse_harness import (
    PoolFixture,
    TokenVerifier,
    UUID_RE,
    unique,
    unverified_claims,
)
from gatehouse_harness import shared_pool_fixtures

import jwt


# Tests here create their own users and leave the pool and its client alone.
pool, email_pool = shared_pool_fixtures()


def test_discovery_document_names_the_issuer_and_jwks_uri(pool, server):
    doc = server.discovery(pool.pool_id)
    assert doc["issuer"] == f"{server.endpoint}/{pool.pool_id}"
    assert doc["jwks_uri"] == f"{server.endpoint}/{pool.pool_id}/.well-known/jwks.json"
    assert "RS256" in doc.get("id_token_signing_alg_values_supported", ["RS256"])


def test_jwks_holds_public_rsa_keys_only(pool, server):
    jwks = server.jwks(pool.pool_id)
    keys = jwks["keys"]
    assert len(keys) >= 2, "ID and access tokens are signed with different keys"
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert key["kid"] and key["n"] and key["e"]
        for private in ("d", "p", "q", "dp", "dq", "qi"):
            assert private not in key, f"JWKS leaks private component {private!r}"
    assert len({k["kid"] for k in keys}) == len(keys)


def test_unknown_pool_has_no_discovery_document(server):
    response = server.get("/us-east-1_AAAAAAAAA/.well-known/jwks.json")
    assert response.status_code == 404, response.status_code


def test_id_token_verifies_and_carries_cognito_claims(pool, server):
    fixture = pool
    group = unique("staff-")
    fixture.admin.create_group(UserPoolId=fixture.pool_id, GroupName=group, Precedence=1)
    user = fixture.signed_up_user(attributes={"custom:tier": "gold", "name": "Token Tester"})
    fixture.admin.admin_add_user_to_group(UserPoolId=fixture.pool_id, Username=user.username, GroupName=group)
    before = int(time.time())
    tokens = fixture.tokens(user.username)
    verifier = TokenVerifier(server, fixture.pool_id)
    claims = verifier.id_token(tokens["IdToken"], fixture.client_id)
    assert claims["iss"] == f"{server.endpoint}/{fixture.pool_id}"
    assert claims["aud"] == fixture.client_id
    assert claims["token_use"] == "id"
    assert claims["sub"] == user.sub and UUID_RE.match(claims["sub"])
    assert claims["cognito:username"] == user.username
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["name"] == "Token Tester"
    assert claims["custom:tier"] == "gold"
    assert claims["cognito:groups"] == [group]
    assert claims["jti"] and claims["origin_jti"] and claims["event_id"]
    assert before - 5 <= claims["auth_time"] <= claims["iat"] <= int(time.time()) + 5
    assert claims["exp"] - claims["iat"] == 3600
    assert "client_id" not in claims and "scope" not in claims
    assert "password" not in str(claims).lower()


def test_access_token_verifies_and_carries_cognito_claims(pool, server):
    fixture = pool
    user = fixture.signed_up_user(attributes={"custom:tier": "gold"})
    tokens = fixture.tokens(user.username)
    verifier = TokenVerifier(server, fixture.pool_id)
    claims = verifier.access_token(tokens["AccessToken"])
    id_claims = verifier.id_token(tokens["IdToken"], fixture.client_id)
    assert claims["iss"] == f"{server.endpoint}/{fixture.pool_id}"
    assert claims["token_use"] == "access"
    assert claims["client_id"] == fixture.client_id
    assert "aud" not in claims
    assert claims["sub"] == user.sub
    assert claims["username"] == user.username
    assert claims["scope"] == "aws.cognito.signin.user.admin"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["auth_time"] == id_claims["auth_time"]
    assert claims["origin_jti"] == id_claims["origin_jti"], "both tokens of one sign-in share origin_jti"
    assert claims["jti"] != id_claims["jti"]
    assert "email" not in claims and "custom:tier" not in claims, "access tokens carry no profile attributes"
    assert "cognito:groups" not in claims, "no groups, no claim"


def test_id_and_access_tokens_are_signed_with_different_kids(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    id_kid = jwt.get_unverified_header(tokens["IdToken"])["kid"]
    access_kid = jwt.get_unverified_header(tokens["AccessToken"])["kid"]
    assert id_kid != access_kid
    assert jwt.get_unverified_header(tokens["IdToken"])["alg"] == "RS256"
    kids = {k["kid"] for k in server.jwks(pool.pool_id)["keys"]}
    assert {id_kid, access_kid} <= kids


def test_pools_sign_with_their_own_keys(pool, server):
    first = pool
    second = PoolFixture.create(server)
    user = first.signed_up_user()
    tokens = first.tokens(user.username)
    other_kids = {k["kid"] for k in server.jwks(second.pool_id)["keys"]}
    assert jwt.get_unverified_header(tokens["IdToken"])["kid"] not in other_kids
    assert jwt.get_unverified_header(tokens["AccessToken"])["kid"] not in other_kids


def test_refreshed_tokens_verify_against_the_same_jwks(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    refreshed = pool.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    verifier = TokenVerifier(server, pool.pool_id)
    id_claims = verifier.id_token(refreshed["IdToken"], pool.client_id)
    access_claims = verifier.access_token(refreshed["AccessToken"])
    assert id_claims["sub"] == access_claims["sub"] == user.sub
    assert id_claims["exp"] - id_claims["iat"] == 3600


def test_admin_initiate_auth_tokens_verify_like_the_others(pool, server):
    user = pool.admin_user()
    tokens = pool.admin_login(user.username)["AuthenticationResult"]
    verifier = TokenVerifier(server, pool.pool_id)
    assert verifier.id_token(tokens["IdToken"], pool.client_id)["cognito:username"] == user.username
    assert verifier.access_token(tokens["AccessToken"])["username"] == user.username


def test_client_token_validity_units_set_the_lifetimes(pool, server):
    fixture = pool.with_client(
        IdTokenValidity=2,
        AccessTokenValidity=30,
        RefreshTokenValidity=1,
        TokenValidityUnits={"IdToken": "hours", "AccessToken": "minutes", "RefreshToken": "days"},
    )
    user = fixture.signed_up_user()
    response = fixture.tokens(user.username)
    assert response["ExpiresIn"] == 30 * 60, "ExpiresIn is the access token's lifetime"
    verifier = TokenVerifier(server, fixture.pool_id)
    id_claims = verifier.id_token(response["IdToken"], fixture.client_id)
    access_claims = verifier.access_token(response["AccessToken"])
    assert id_claims["exp"] - id_claims["iat"] == 2 * 3600
    assert access_claims["exp"] - access_claims["iat"] == 30 * 60
    refreshed = fixture.refresh(response["RefreshToken"])["AuthenticationResult"]
    assert refreshed["ExpiresIn"] == 30 * 60
    refreshed_id = unverified_claims(refreshed["IdToken"])
    assert refreshed_id["exp"] - refreshed_id["iat"] == 2 * 3600


def test_token_validity_without_units_is_in_default_units(pool):
    # Without TokenValidityUnits, AccessTokenValidity and IdTokenValidity are in hours.
    fixture = pool.with_client(AccessTokenValidity=2, IdTokenValidity=3)
    user = fixture.signed_up_user()
    response = fixture.tokens(user.username)
    assert response["ExpiresIn"] == 2 * 3600
    assert unverified_claims(response["IdToken"])["exp"] - unverified_claims(response["IdToken"])["iat"] == 3 * 3600


def test_read_attributes_limit_the_id_token_claims(pool):
    fixture = pool.with_client(ReadAttributes=["email", "email_verified"])
    user = fixture.signed_up_user(attributes={"custom:tier": "gold", "name": "Hidden"})
    claims = unverified_claims(fixture.tokens(user.username)["IdToken"])
    assert claims["email"] == user.email
    assert "custom:tier" not in claims, "custom:tier is not in the client's ReadAttributes"
    assert "name" not in claims
    assert claims["cognito:username"] == user.username and claims["sub"] == user.sub


def test_a_token_signed_by_another_key_does_not_verify(pool, server):
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    claims = unverified_claims(tokens["AccessToken"])
    header = jwt.get_unverified_header(tokens["AccessToken"])
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forged_key, algorithm="RS256", headers={"kid": header["kid"]})
    verifier = TokenVerifier(server, pool.pool_id)
    try:
        verifier.access_token(forged)
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a token signed by a foreign key verified against the JWKS")
    from gatehouse_harness import raises_cognito

    with raises_cognito("NotAuthorizedException"):
        pool.public.get_user(AccessToken=forged)
