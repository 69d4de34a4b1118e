"""SRP sign-in, MFA and remembered devices with the clients apps use: pycognito's `AWSSRP`
(SRP, its device SRP helpers) and pyotp (TOTP codes), driving `gatehouse serve` on both
backends, and across two nodes on one PostgreSQL database.

TOTP codes are computed for the server's 30-second steps; tests that need codes of
neighbouring steps first wait until the clock is early in a step, so that no step boundary
passes between computing a code and the server checking it.
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import time
from typing import Any, Iterator

import pyotp
import pytest
from pycognito.aws_srp import N_HEX, AWSSRP, generate_hash_device

from gatehouse_harness import (
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    postgres_server_url,
    raises_cognito,
)

SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
DEVICES = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}


def srp_pool(server: GatehouseServer, **pool_overrides: Any) -> PoolFixture:
    return PoolFixture.create(server, pool_overrides=pool_overrides or None, ExplicitAuthFlows=SRP_FLOWS)


def srp(pool: PoolFixture, username: str, password: str = PASSWORD, **kwargs: Any) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=pool.pool_id,
        client_id=kwargs.pop("client_id", pool.client_id),
        client=pool.public,
        **kwargs,
    )


def wait_for_early_in_step() -> float:
    """Waits until the clock is in the first 20 s of a 30-second TOTP step; returns now."""
    while time.time() % 30 > 20:
        time.sleep(0.2)
    return time.time()


def password_verifier(pool: PoolFixture, helper: AWSSRP, client_id: str | None = None) -> dict[str, Any]:
    """USER_SRP_AUTH, then the PASSWORD_VERIFIER answer as pycognito computes it."""
    auth = helper.get_auth_params()
    first = pool.public.initiate_auth(
        ClientId=client_id or pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth
    )
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    return helper.process_challenge(first["ChallengeParameters"], auth)


def answer(pool: PoolFixture, name: str, responses: dict[str, str], session: str | None = None) -> dict[str, Any]:
    extra = {"Session": session} if session else {}
    return pool.public.respond_to_auth_challenge(
        ClientId=pool.client_id, ChallengeName=name, ChallengeResponses=responses, **extra
    )


def enrol_totp(pool: PoolFixture, access_token: str) -> pyotp.TOTP:
    """AssociateSoftwareToken + VerifySoftwareToken with an access token, then TOTP on and
    preferred."""
    secret = pool.public.associate_software_token(AccessToken=access_token)["SecretCode"]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 20, "a secret of 160 bits or more"
    totp = pyotp.TOTP(secret)
    now = wait_for_early_in_step()
    verified = pool.public.verify_software_token(
        AccessToken=access_token, UserCode=totp.at(now), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    pool.public.set_user_mfa_preference(
        AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return totp


# === SRP ===


def test_pycognito_signs_in_with_srp_and_a_wrong_password_is_refused_and_counted(server):
    pool = srp_pool(server)
    user = pool.signed_up_user()
    tokens = srp(pool, user.username).authenticate_user()["AuthenticationResult"]
    me = pool.public.get_user(AccessToken=tokens["AccessToken"])
    assert me["Username"] == user.username
    assert tokens["RefreshToken"]
    # An alias of the user (the email is not one here) is refused as a name nobody holds.
    with raises_cognito("UserNotFoundException"):
        srp(pool, "nobody-" + user.username).authenticate_user()
    for _ in range(5):
        with raises_cognito("NotAuthorizedException") as refused:
            srp(pool, user.username, "Wrong-Password-1!").authenticate_user()
        assert refused.message == "Incorrect username or password."
    # Five wrong proofs lock the account as five wrong passwords do: the right one is refused.
    with raises_cognito("NotAuthorizedException") as locked:
        srp(pool, user.username).authenticate_user()
    assert locked.message == "Password attempts exceeded"
    with raises_cognito("NotAuthorizedException") as locked:
        pool.login(user.username)
    assert locked.message == "Password attempts exceeded"


def test_srp_with_a_client_secret_needs_the_secret_hash(server):
    pool = srp_pool(server)
    confidential = pool.with_client(ExplicitAuthFlows=SRP_FLOWS, GenerateSecret=True)
    user = pool.signed_up_user()
    tokens = srp(confidential, user.username, client_secret=confidential.client_secret).authenticate_user()
    assert tokens["AuthenticationResult"]["IdToken"]
    with raises_cognito("NotAuthorizedException") as refused:
        srp(confidential, user.username).authenticate_user()
    assert "secret" in refused.message


def test_srp_needs_the_flow_and_a_valid_srp_a(server):
    pool = PoolFixture.create(server, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    user = pool.signed_up_user()
    with raises_cognito("InvalidParameterException"):
        srp(pool, user.username).authenticate_user()
    pool = srp_pool(server)
    user = pool.signed_up_user()
    # A = 0 and A = N are refused (A mod N = 0), as is anything that is not a hex number.
    for bad in ["0", N_HEX, "not-hex"]:
        with raises_cognito("InvalidParameterException"):
            pool.public.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="USER_SRP_AUTH",
                AuthParameters={"USERNAME": user.username, "SRP_A": bad},
            )


def test_a_secret_block_is_answered_once_and_bound_to_its_client(server):
    pool = srp_pool(server)
    other = pool.with_client(ExplicitAuthFlows=SRP_FLOWS)
    user = pool.signed_up_user()
    responses = password_verifier(pool, srp(pool, user.username))
    with raises_cognito("NotAuthorizedException"):
        other.public.respond_to_auth_challenge(
            ClientId=other.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
        )
    assert "AuthenticationResult" in answer(pool, "PASSWORD_VERIFIER", responses)
    with raises_cognito("NotAuthorizedException") as replayed:
        answer(pool, "PASSWORD_VERIFIER", responses)
    assert "only be used once" in replayed.message


def test_a_timestamp_far_from_the_clock_is_refused(server):
    pool = srp_pool(server)
    user = pool.signed_up_user()
    responses = password_verifier(pool, srp(pool, user.username))
    earlier = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    responses["TIMESTAMP"] = AWSSRP.get_cognito_formatted_timestamp(earlier)
    with raises_cognito("InvalidParameterException"):
        answer(pool, "PASSWORD_VERIFIER", responses)


def test_users_whose_password_predates_srp_get_a_verifier_at_their_next_password_sign_in(server):
    """AdminSetUserPassword writes a verifier; a password sign-in keeps SRP working."""
    pool = srp_pool(server)
    user = pool.admin_user()
    assert "AuthenticationResult" in srp(pool, user.username).authenticate_user()
    assert "AuthenticationResult" in pool.login(user.username)
    assert "AuthenticationResult" in srp(pool, user.username).authenticate_user()


# === TOTP ===


def test_totp_enrolment_challenges_drift_and_replay(server):
    pool = srp_pool(server, MfaConfiguration="OPTIONAL")
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    totp = enrol_totp(pool, tokens["AccessToken"])
    me = pool.public.get_user(AccessToken=tokens["AccessToken"])
    assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert me["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    assert pool.get_user(user.username)["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    def challenge() -> dict[str, Any]:
        response = pool.login(user.username)
        assert response["ChallengeName"] == "SOFTWARE_TOKEN_MFA", response
        return response

    def code_answer(session: str, code: str) -> dict[str, Any]:
        return answer(
            pool, "SOFTWARE_TOKEN_MFA", {"USERNAME": user.username, "SOFTWARE_TOKEN_MFA_CODE": code}, session
        )

    # A wrong code is refused, and its session is spent.
    first = challenge()
    with raises_cognito("CodeMismatchException"):
        code_answer(first["Session"], "000000" if totp.now() != "000000" else "111111")
    with raises_cognito("NotAuthorizedException"):
        code_answer(first["Session"], totp.now())

    # ±1 step of drift, each step once; the steps must grow (the verification spent `now`'s).
    now = wait_for_early_in_step()
    assert "AuthenticationResult" in code_answer(challenge()["Session"], totp.at(now + 30))
    with raises_cognito("CodeMismatchException"):
        code_answer(challenge()["Session"], totp.at(now + 30))  # replayed
    with raises_cognito("CodeMismatchException"):
        code_answer(challenge()["Session"], totp.at(now))  # an earlier step than one accepted
    with raises_cognito("CodeMismatchException"):
        code_answer(challenge()["Session"], totp.at(now + 90))  # two steps ahead

    # With SRP too; the device-less sign-in gets no device metadata.
    helper = srp(pool, user.username)
    with pytest.raises(Exception) as raised:
        helper.authenticate_user()
    assert type(raised.value).__name__ == "SoftwareTokenMFAChallengeException"


def test_mfa_setup_inside_a_sign_in_on_a_pool_with_mfa_on(server):
    pool = srp_pool(server, MfaConfiguration="ON")
    server.admin.set_user_pool_mfa_config(
        UserPoolId=pool.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    config = server.admin.get_user_pool_mfa_config(UserPoolId=pool.pool_id)
    assert config["MfaConfiguration"] == "ON"
    assert config["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    user = pool.signed_up_user()
    response = pool.login(user.username)
    assert response["ChallengeName"] == "MFA_SETUP"
    assert "SOFTWARE_TOKEN_MFA" in response["ChallengeParameters"]["MFAS_CAN_SETUP"]
    associated = pool.public.associate_software_token(Session=response["Session"])
    totp = pyotp.TOTP(associated["SecretCode"])
    now = wait_for_early_in_step()
    with raises_cognito("NotAuthorizedException"):
        pool.public.associate_software_token(Session=response["Session"])  # spent
    # The code of the step before now: one step of drift is accepted.
    verified = pool.public.verify_software_token(
        Session=associated["Session"], UserCode=totp.at(now - 30), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    done = answer(pool, "MFA_SETUP", {"USERNAME": user.username}, verified["Session"])
    assert done["AuthenticationResult"]["AccessToken"]
    assert pool.get_user(user.username)["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    # From now on the sign-in asks for the code, SRP included.
    helper = srp(pool, user.username)
    responses = password_verifier(pool, helper)
    mfa = answer(pool, "PASSWORD_VERIFIER", responses)
    assert mfa["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    tokens = answer(
        pool,
        "SOFTWARE_TOKEN_MFA",
        {"USERNAME": user.username, "SOFTWARE_TOKEN_MFA_CODE": totp.at(now + 30)},
        mfa["Session"],
    )
    assert tokens["AuthenticationResult"]["IdToken"]


def test_a_new_password_then_mfa_setup_in_one_sign_in(server):
    pool = srp_pool(server, MfaConfiguration="ON")
    username = "invited-" + str(int(time.time() * 1000))
    server.admin.admin_create_user(
        UserPoolId=pool.pool_id, Username=username, TemporaryPassword="Temp-Pass-123!", MessageAction="SUPPRESS"
    )
    first = pool.login(username, "Temp-Pass-123!")
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    setup = answer(pool, "NEW_PASSWORD_REQUIRED", {"USERNAME": username, "NEW_PASSWORD": PASSWORD}, first["Session"])
    assert setup["ChallengeName"] == "MFA_SETUP"


# === email codes and SELECT_MFA_TYPE ===


def email_mfa_pool(server: GatehouseServer) -> PoolFixture:
    pool = srp_pool(server, MfaConfiguration="OPTIONAL")
    server.admin.set_user_pool_mfa_config(
        UserPoolId=pool.pool_id,
        MfaConfiguration="OPTIONAL",
        SoftwareTokenMfaConfiguration={"Enabled": True},
        EmailMfaConfiguration={"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"},
    )
    return pool


def email_code(pool: PoolFixture, email: str, count: int) -> str:
    message = pool.server.wait_for_message(pool_id=pool.pool_id, destination=email, purpose="MfaSignIn", count=count)
    assert message["code"] in message["body"]
    return message["code"]


def test_email_codes_as_a_second_factor(server):
    pool = email_mfa_pool(server)
    user = pool.signed_up_user()
    server.admin.admin_set_user_mfa_preference(
        UserPoolId=pool.pool_id, Username=user.username, EmailMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    response = pool.login(user.username)
    assert response["ChallengeName"] == "EMAIL_OTP"
    parameters = response["ChallengeParameters"]
    assert parameters["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    assert parameters["CODE_DELIVERY_DESTINATION"] == f"{user.email[0]}***@{user.email.split('@')[1][0]}***"
    code = email_code(pool, user.email, 1)
    with raises_cognito("CodeMismatchException"):
        answer(pool, "EMAIL_OTP", {"USERNAME": user.username, "EMAIL_OTP_CODE": "12345x"}, response["Session"])
    response = pool.login(user.username)
    code = email_code(pool, user.email, 2)
    done = answer(pool, "EMAIL_OTP", {"USERNAME": user.username, "EMAIL_OTP_CODE": code}, response["Session"])
    assert done["AuthenticationResult"]["AccessToken"]


def test_select_mfa_type_when_two_factors_and_none_preferred(server):
    pool = email_mfa_pool(server)
    user = pool.signed_up_user()
    tokens = pool.tokens(user.username)
    enrol_totp(pool, tokens["AccessToken"])
    pool.public.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"],
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
        EmailMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    assert sorted(pool.get_user(user.username)["UserMFASettingList"]) == ["EMAIL_OTP", "SOFTWARE_TOKEN_MFA"]
    response = pool.login(user.username)
    assert response["ChallengeName"] == "SELECT_MFA_TYPE"
    assert sorted(json.loads(response["ChallengeParameters"]["MFAS_CAN_CHOOSE"])) == ["EMAIL_OTP", "SOFTWARE_TOKEN_MFA"]
    chosen = answer(pool, "SELECT_MFA_TYPE", {"USERNAME": user.username, "ANSWER": "EMAIL_OTP"}, response["Session"])
    assert chosen["ChallengeName"] == "EMAIL_OTP"
    code = email_code(pool, user.email, 1)
    done = answer(pool, "EMAIL_OTP", {"USERNAME": user.username, "EMAIL_OTP_CODE": code}, chosen["Session"])
    assert done["AuthenticationResult"]["AccessToken"]
    with raises_cognito("InvalidParameterException"):
        pool.public.set_user_mfa_preference(
            AccessToken=tokens["AccessToken"], SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
        )


# === devices ===


def device_pool(server: GatehouseServer) -> PoolFixture:
    return srp_pool(server, MfaConfiguration="OPTIONAL", DeviceConfiguration=DEVICES)


def sign_in_with_totp(pool: PoolFixture, username: str, totp: pyotp.TOTP, at: float, device_key: str | None = None) -> dict[str, Any]:
    params = {"USERNAME": username, "PASSWORD": PASSWORD}
    if device_key:
        params["DEVICE_KEY"] = device_key
    first = pool.public.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
    assert first["ChallengeName"] == "SOFTWARE_TOKEN_MFA", first
    return answer(pool, "SOFTWARE_TOKEN_MFA", {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp.at(at)}, first["Session"])


def test_a_remembered_device_signs_in_with_device_srp_and_skips_mfa(server):
    pool = device_pool(server)
    user = pool.signed_up_user()
    first = pool.tokens(user.username)
    metadata = first["NewDeviceMetadata"]
    totp = enrol_totp(pool, first["AccessToken"])
    now = wait_for_early_in_step()
    result = sign_in_with_totp(pool, user.username, totp, now + 30)["AuthenticationResult"]
    device = result["NewDeviceMetadata"]
    assert device["DeviceKey"].startswith("us-east-1_") and device["DeviceKey"] != metadata["DeviceKey"]
    device_password, verifier = generate_hash_device(device["DeviceGroupKey"], device["DeviceKey"])
    confirmed = pool.public.confirm_device(
        AccessToken=result["AccessToken"],
        DeviceKey=device["DeviceKey"],
        DeviceSecretVerifierConfig=verifier,
        DeviceName="laptop",
    )
    assert confirmed["UserConfirmationNecessary"] is False
    shown = pool.public.get_device(AccessToken=result["AccessToken"], DeviceKey=device["DeviceKey"])["Device"]
    attributes = {a["Name"]: a["Value"] for a in shown["DeviceAttributes"]}
    assert attributes["device_name"] == "laptop"
    assert attributes["dev:device_remembered_status"] == "remembered"
    listed = pool.public.list_devices(AccessToken=result["AccessToken"])["Devices"]
    assert {d["DeviceKey"] for d in listed} == {metadata["DeviceKey"], device["DeviceKey"]}
    assert len(server.admin.admin_list_devices(UserPoolId=pool.pool_id, Username=user.username)["Devices"]) == 2

    # SRP with the device key: DEVICE_SRP_AUTH instead of the TOTP challenge.
    helper = srp(
        pool, user.username, device_key=device["DeviceKey"], device_group_key=device["DeviceGroupKey"],
        device_password=device_password,
    )
    responses = password_verifier(pool, helper)
    device_challenge = answer(pool, "PASSWORD_VERIFIER", responses)
    assert device_challenge["ChallengeName"] == "DEVICE_SRP_AUTH"
    verifier_challenge = answer(
        pool,
        "DEVICE_SRP_AUTH",
        {"USERNAME": user.username, "DEVICE_KEY": device["DeviceKey"], "SRP_A": format(helper.large_a_value, "x")},
        device_challenge["Session"],
    )
    assert verifier_challenge["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    proof = helper.process_device_challenge(verifier_challenge["ChallengeParameters"])
    tokens = answer(pool, "DEVICE_PASSWORD_VERIFIER", proof, verifier_challenge["Session"])["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens
    # A wrong device password is refused.
    wrong = srp(
        pool, user.username, device_key=device["DeviceKey"], device_group_key=device["DeviceGroupKey"],
        device_password="not-the-device-password",
    )
    challenge = answer(pool, "PASSWORD_VERIFIER", password_verifier(pool, wrong))
    step = answer(
        pool, "DEVICE_SRP_AUTH",
        {"USERNAME": user.username, "DEVICE_KEY": device["DeviceKey"], "SRP_A": format(wrong.large_a_value, "x")},
        challenge["Session"],
    )
    with raises_cognito("NotAuthorizedException"):
        answer(pool, "DEVICE_PASSWORD_VERIFIER", wrong.process_device_challenge(step["ChallengeParameters"]), step["Session"])

    # The refreshed access token names the device given with the refresh token.
    refreshed = pool.public.initiate_auth(
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": device["DeviceKey"]},
    )["AuthenticationResult"]
    assert refreshed["AccessToken"]

    # A device set not remembered while its device SRP is in flight skips MFA no more.
    helper = srp(
        pool, user.username, device_key=device["DeviceKey"], device_group_key=device["DeviceGroupKey"],
        device_password=device_password,
    )
    step = answer(pool, "PASSWORD_VERIFIER", password_verifier(pool, helper))
    step = answer(
        pool, "DEVICE_SRP_AUTH",
        {"USERNAME": user.username, "DEVICE_KEY": device["DeviceKey"], "SRP_A": format(helper.large_a_value, "x")},
        step["Session"],
    )
    server.admin.admin_update_device_status(
        UserPoolId=pool.pool_id, Username=user.username, DeviceKey=device["DeviceKey"], DeviceRememberedStatus="not_remembered"
    )
    with raises_cognito("ResourceNotFoundException"):
        answer(pool, "DEVICE_PASSWORD_VERIFIER", helper.process_device_challenge(step["ChallengeParameters"]), step["Session"])

    # A device not remembered any more gets the TOTP challenge again; a forgotten one is unknown.
    server.admin.admin_update_device_status(
        UserPoolId=pool.pool_id, Username=user.username, DeviceKey=device["DeviceKey"], DeviceRememberedStatus="not_remembered"
    )
    responses = password_verifier(pool, srp(pool, user.username, device_key=device["DeviceKey"], device_group_key=device["DeviceGroupKey"], device_password=device_password))
    assert answer(pool, "PASSWORD_VERIFIER", responses)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    pool.public.forget_device(AccessToken=tokens["AccessToken"], DeviceKey=device["DeviceKey"])
    forgotten = password_verifier(
        pool,
        srp(pool, user.username, device_key=device["DeviceKey"], device_group_key=device["DeviceGroupKey"],
            device_password=device_password),
    )
    with raises_cognito("ResourceNotFoundException") as gone:
        answer(pool, "PASSWORD_VERIFIER", forgotten)
    assert gone.message == "Device does not exist."
    # As amazon-cognito-identity-js does then: the same answer again, without the device.
    del forgotten["DEVICE_KEY"]
    assert answer(pool, "PASSWORD_VERIFIER", forgotten)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    with raises_cognito("ResourceNotFoundException"):
        server.admin.admin_get_device(UserPoolId=pool.pool_id, Username=user.username, DeviceKey=device["DeviceKey"])


# === two nodes ===


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[GatehouseServer, GatehouseServer]]:
    database = PostgresDatabase(postgres_server_url())
    started: list[GatehouseServer] = []
    try:
        first = GatehouseServer(database_url=database.url, name="node-a")
        started.append(first)
        first.start()
        second = GatehouseServer(database_url=database.url, name="node-b")
        started.append(second)
        shutil.copy2(first.data_dir / "master.key", second.data_dir / "master.key")
        second.start()
        yield first, second
    finally:
        for node in reversed(started):
            node.close()
        database.drop()


def test_srp_and_totp_across_two_nodes(nodes):
    a, b = nodes
    on_a = srp_pool(a, MfaConfiguration="OPTIONAL")
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    user = on_a.signed_up_user()
    # Initiate on one node, prove on the other; the secret block is spent for both.
    responses = password_verifier(on_a, srp(on_a, user.username))
    tokens = answer(on_b, "PASSWORD_VERIFIER", responses)["AuthenticationResult"]
    with raises_cognito("NotAuthorizedException"):
        answer(on_a, "PASSWORD_VERIFIER", responses)
    totp = enrol_totp(on_b, tokens["AccessToken"])
    now = wait_for_early_in_step()
    challenge = on_a.login(user.username)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    code = {"USERNAME": user.username, "SOFTWARE_TOKEN_MFA_CODE": totp.at(now + 30)}
    assert "AuthenticationResult" in answer(on_b, "SOFTWARE_TOKEN_MFA", code, challenge["Session"])
    # The code's step is spent on every node.
    again = on_b.login(user.username)
    with raises_cognito("CodeMismatchException"):
        answer(on_a, "SOFTWARE_TOKEN_MFA", code, again["Session"])
