"""Cognito's sign-up and message triggers, end to end with boto3: PreSignUp (SignUp and
AdminCreateUser), PostConfirmation (ConfirmSignUp, AdminConfirmSignUp, ConfirmForgotPassword),
CustomMessage (each code and the invitation) and CustomEmailSender, answered by the trigger
server of `trigger_support` (every call's signature verified with docs/functions.md's snippet).

Each event is checked against the members Cognito documents for the trigger; each response
member is shown to take effect; failures (an error, a timeout, a down endpoint, an answer of
the wrong shape) come back as Cognito's errors, and a refused sign-up leaves nothing behind.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gatehouse_harness import PASSWORD, attr_list, attrs, raises_cognito, unique_email
from trigger_support import (  # noqa: F401 (fixtures)
    DOCS,
    Reply,
    Triggered,
    function_arn,
    trigger_gatehouse,
    trigger_server,
    triggered,
)

NOT_APPLICABLE = "CLIENT_ID_NOT_APPLICABLE"
COMMON = {"version", "region", "userPoolId", "triggerSource", "userName", "callerContext", "request", "response"}


def documented_opener() -> Any:
    text = DOCS.read_text()
    match = re.search(r"<!-- snippet: open_code.py -->\n```\w+\n(.*?)```", text, re.S)
    assert match, "docs/functions.md has no `open_code.py` snippet"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["open_gatehouse_code"]


def check_envelope(event: dict[str, Any], t: Triggered, pool_id: str, source: str, client_id: str) -> None:
    assert set(event) == COMMON, event
    assert event["version"] == "1"
    assert event["region"] == "us-east-1"
    assert event["userPoolId"] == pool_id
    assert event["triggerSource"] == source
    assert event["callerContext"] == {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id}


def sign_up(t: Triggered, pool: dict[str, str], email: str, **extra: Any) -> dict[str, Any]:
    return t.public.sign_up(
        ClientId=pool["client_id"],
        Username=email,
        Password=PASSWORD,
        UserAttributes=attr_list({"email": email, "name": "Jane"}),
        **extra,
    )


def outbox_settled(t: Triggered) -> None:
    """Outbox files are written after the answer: once a message sent now is there, one an
    earlier request would have sent is too, so its absence means something."""
    pool = t.pool()
    email = unique_email("marker")
    sign_up(t, pool, email)
    t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="SignUp")


def user_count(t: Triggered, pool_id: str) -> int:
    return len(t.admin.list_users(UserPoolId=pool_id)["Users"])


# === configuration ===


def test_lambda_config_is_kept_and_unregistered_functions_are_refused(triggered: Triggered) -> None:
    t = triggered
    every = t.lambda_config(
        PreSignUp="pre-sign-up",
        CustomMessage="custom-message",
        PostConfirmation="post-confirmation",
        PreAuthentication="pre-authentication",
        PostAuthentication="post-authentication",
        DefineAuthChallenge="define-auth-challenge",
        CreateAuthChallenge="create-auth-challenge",
        VerifyAuthChallengeResponse="verify-auth-challenge",
        PreTokenGenerationConfig={"LambdaVersion": "V2_0", "LambdaArn": function_arn("pre-token-generation")},
        UserMigration="user-migration",
        CustomEmailSender={"LambdaVersion": "V1_0", "LambdaArn": function_arn("custom-email-sender")},
        KMSKeyID="arn:aws:kms:us-east-1:123456789012:key/test",
    )
    pool_id = t.admin.create_user_pool(PoolName="all-triggers", LambdaConfig=every)["UserPool"]["Id"]
    described = t.admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["LambdaConfig"]
    assert described == every

    nowhere = function_arn("nowhere")
    with raises_cognito("InvalidParameterException") as refused:
        t.admin.create_user_pool(PoolName="unregistered", LambdaConfig={"PreSignUp": nowhere})
    assert nowhere in refused.message and "--function" in refused.message
    with raises_cognito("InvalidParameterException") as refused:
        t.admin.update_user_pool(UserPoolId=pool_id, LambdaConfig={"PostConfirmation": nowhere})
    assert nowhere in refused.message
    assert t.admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["LambdaConfig"] == every
    with raises_cognito("InvalidParameterException"):
        t.admin.create_user_pool(
            PoolName="no-kms",
            LambdaConfig={"CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": function_arn("custom-email-sender")}},
        )


# === PreSignUp ===


def test_pre_sign_up_event_and_default_answer(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PreSignUp="pre-sign-up")
    email = unique_email("pre")
    out = sign_up(
        t,
        pool,
        email,
        ValidationData=[{"Name": "captcha", "Value": "ok"}],
        ClientMetadata={"source": "web"},
    )
    assert out["UserConfirmed"] is False
    event = t.triggers.last("PreSignUp_SignUp")
    check_envelope(event, t, pool["pool_id"], "PreSignUp_SignUp", pool["client_id"])
    assert event["userName"] == out["UserSub"]  # email-username pools: the username is the sub
    assert set(event["request"]) == {"userAttributes", "validationData", "clientMetadata"}
    assert event["request"]["userAttributes"] == {"email": email, "name": "Jane"}
    assert event["request"]["validationData"] == {"captcha": "ok"}
    assert event["request"]["clientMetadata"] == {"source": "web"}
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyPhone": False, "autoVerifyEmail": False}
    # Without a decision the user is unconfirmed and gets the code.
    user = t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)
    assert user["UserStatus"] == "UNCONFIRMED"
    t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="SignUp")

    # Without ValidationData / ClientMetadata they are null, as Cognito sends them.
    sign_up(t, pool, unique_email("bare"))
    bare = t.triggers.last("PreSignUp_SignUp")["request"]
    assert bare["validationData"] is None and bare["clientMetadata"] is None


def test_pre_sign_up_auto_confirm_and_verify(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PreSignUp="pre-sign-up")
    t.triggers.on("PreSignUp_SignUp", Reply.respond_with(autoConfirmUser=True, autoVerifyEmail=True))
    email = unique_email("auto")
    out = sign_up(t, pool, email)
    assert out["UserConfirmed"] is True
    assert "CodeDeliveryDetails" not in out
    user = t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs(user["UserAttributes"])["email_verified"] == "true"
    outbox_settled(t)
    assert t.server.messages(pool_id=pool["pool_id"], destination=email) == []
    # The confirmed user signs in at once.
    tokens = t.public.initiate_auth(
        ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )
    assert "AuthenticationResult" in tokens

    # autoVerifyEmail alone: verified, still unconfirmed (and a code to confirm with).
    t.triggers.on("PreSignUp_SignUp", Reply.respond_with(autoVerifyEmail=True))
    other = unique_email("verify")
    assert sign_up(t, pool, other)["UserConfirmed"] is False
    user = t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=other)
    assert user["UserStatus"] == "UNCONFIRMED"
    assert attrs(user["UserAttributes"])["email_verified"] == "true"


def test_pre_sign_up_rejection_writes_nothing(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PreSignUp="pre-sign-up")
    t.triggers.on("PreSignUp_SignUp", Reply.error("Invalid email domain"))
    email = unique_email("rejected")
    with raises_cognito("UserLambdaValidationException") as refused:
        sign_up(t, pool, email)
    assert refused.message == "PreSignUp failed with error Invalid email domain."
    assert user_count(t, pool["pool_id"]) == 0
    outbox_settled(t)
    assert t.server.messages(pool_id=pool["pool_id"]) == []
    # A non-2xx status with a Lambda-shaped body is the same failure.
    t.triggers.on("PreSignUp_SignUp", Reply.failed_status(500, "Try later"))
    with raises_cognito("UserLambdaValidationException") as refused:
        sign_up(t, pool, email)
    assert refused.message == "PreSignUp failed with error Try later."
    # The name stays free: once the function accepts, the same email signs up.
    t.triggers.on("PreSignUp_SignUp", Reply())
    sign_up(t, pool, email)
    assert user_count(t, pool["pool_id"]) == 1


@pytest.mark.parametrize(
    "function, reply, error, message",
    [
        ("pre-sign-up", Reply.raw(b"<html>not json</html>"), "InvalidLambdaResponseException", "Invalid lambda function output : Invalid JSON"),
        ("pre-sign-up", Reply(body=["not", "an", "event"]), "InvalidLambdaResponseException", "Unrecognizable lambda output"),
        ("pre-sign-up", Reply.respond_with(autoConfirmUser="yes"), "InvalidLambdaResponseException", "Unrecognizable lambda output"),
        ("slow", Reply.late(5), "UnexpectedLambdaException", "PreSignUp invocation failed due to error Socket timeout while invoking Lambda function."),
        ("down", None, "UnexpectedLambdaException", "PreSignUp invocation failed due to error ServiceException."),
    ],
    ids=["not-json", "not-an-event", "flag-not-boolean", "timeout", "down"],
)
def test_pre_sign_up_failures(triggered: Triggered, function: str, reply: Reply | None, error: str, message: str) -> None:
    t = triggered
    pool = t.pool(PreSignUp=function)
    if reply is not None:
        t.triggers.on("PreSignUp_SignUp", reply)
    with raises_cognito(error) as refused:
        sign_up(t, pool, unique_email("fail"))
    assert refused.message == message
    assert user_count(t, pool["pool_id"]) == 0


def test_pre_sign_up_admin_create_user(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PreSignUp="pre-sign-up")
    t.triggers.on("PreSignUp_AdminCreateUser", Reply.respond_with(autoVerifyEmail=True, autoConfirmUser=True))
    email = unique_email("invited")
    user = t.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=email,
        UserAttributes=attr_list({"email": email}),
        ValidationData=[{"Name": "ticket", "Value": "42"}],
        ClientMetadata={"by": "ops"},
        MessageAction="SUPPRESS",
    )["User"]
    event = t.triggers.last("PreSignUp_AdminCreateUser")
    check_envelope(event, t, pool["pool_id"], "PreSignUp_AdminCreateUser", NOT_APPLICABLE)
    assert event["request"] == {
        "userAttributes": {"email": email},
        "validationData": {"ticket": "42"},
        "clientMetadata": {"by": "ops"},
    }
    # An invited user still changes the temporary password first; the email is verified.
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert attrs(user["Attributes"])["email_verified"] == "true"

    t.triggers.on("PreSignUp_AdminCreateUser", Reply.error("not on the list"))
    with raises_cognito("UserLambdaValidationException") as refused:
        t.admin.admin_create_user(UserPoolId=pool["pool_id"], Username=unique_email("no"), MessageAction="SUPPRESS")
    assert refused.message == "PreSignUp failed with error not on the list."
    assert user_count(t, pool["pool_id"]) == 1


# === PostConfirmation ===


def test_post_confirmation_after_confirm_sign_up(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PostConfirmation="post-confirmation")
    email = unique_email("confirm")
    sub = sign_up(t, pool, email)["UserSub"]
    code = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="SignUp")["code"]
    t.public.confirm_sign_up(ClientId=pool["client_id"], Username=email, ConfirmationCode=code, ClientMetadata={"step": "2"})
    event = t.triggers.last("PostConfirmation_ConfirmSignUp")
    check_envelope(event, t, pool["pool_id"], "PostConfirmation_ConfirmSignUp", pool["client_id"])
    assert event["userName"] == sub
    assert set(event["request"]) == {"userAttributes", "clientMetadata"}
    user_attributes = event["request"]["userAttributes"]
    assert user_attributes["sub"] == sub
    assert user_attributes["email"] == email
    assert user_attributes["email_verified"] == "true"
    assert user_attributes["cognito:user_status"] == "CONFIRMED"
    assert event["request"]["clientMetadata"] == {"step": "2"}


def test_post_confirmation_failure_leaves_the_user_confirmed(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PostConfirmation="post-confirmation")
    t.triggers.on("PostConfirmation_ConfirmSignUp", Reply.error("crm down"))
    email = unique_email("stays")
    sign_up(t, pool, email)
    code = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="SignUp")["code"]
    with raises_cognito("UserLambdaValidationException") as refused:
        t.public.confirm_sign_up(ClientId=pool["client_id"], Username=email, ConfirmationCode=code)
    assert refused.message == "PostConfirmation failed with error crm down."
    assert t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)["UserStatus"] == "CONFIRMED"


def test_post_confirmation_after_admin_confirm_and_forgot_password(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PostConfirmation="post-confirmation")
    email = unique_email("admin")
    sign_up(t, pool, email)
    t.admin.admin_confirm_sign_up(UserPoolId=pool["pool_id"], Username=email, ClientMetadata={"by": "ops"})
    event = t.triggers.last("PostConfirmation_ConfirmSignUp")
    check_envelope(event, t, pool["pool_id"], "PostConfirmation_ConfirmSignUp", NOT_APPLICABLE)
    assert event["request"]["clientMetadata"] == {"by": "ops"}

    # ConfirmForgotPassword: the email must be verified to receive a reset code.
    t.admin.admin_update_user_attributes(
        UserPoolId=pool["pool_id"], Username=email, UserAttributes=attr_list({"email_verified": "true"})
    )
    t.public.forgot_password(ClientId=pool["client_id"], Username=email)
    code = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="ForgotPassword")["code"]
    t.public.confirm_forgot_password(
        ClientId=pool["client_id"], Username=email, ConfirmationCode=code, Password="New-Horse-8!"
    )
    event = t.triggers.last("PostConfirmation_ConfirmForgotPassword")
    check_envelope(event, t, pool["pool_id"], "PostConfirmation_ConfirmForgotPassword", pool["client_id"])
    assert event["request"]["userAttributes"]["email"] == email


def test_auto_confirmed_users_do_not_run_post_confirmation(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(PreSignUp="pre-sign-up", PostConfirmation="post-confirmation")
    t.triggers.on("PreSignUp_SignUp", Reply.respond_with(autoConfirmUser=True))
    sign_up(t, pool, unique_email("auto"))
    assert t.triggers.events(function="post-confirmation") == []


# === CustomMessage ===


def test_custom_message_sign_up_and_resend(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(CustomMessage="custom-message")

    def rewrite(event: dict[str, Any]) -> Reply:
        code = event["request"]["codeParameter"]
        return Reply.respond_with(emailSubject="Welcome aboard", emailMessage=f"<b>Your code: {code}</b>")

    t.triggers.on("CustomMessage_SignUp", rewrite)
    email = unique_email("msg")
    sub = sign_up(t, pool, email)["UserSub"]
    event = t.triggers.last("CustomMessage_SignUp")
    check_envelope(event, t, pool["pool_id"], "CustomMessage_SignUp", NOT_APPLICABLE)
    assert event["userName"] == sub
    request = event["request"]
    assert request["codeParameter"] == "{####}"
    assert request["usernameParameter"] is None
    assert request["userAttributes"]["email"] == email
    assert request["userAttributes"]["cognito:user_status"] == "UNCONFIRMED"
    assert event["response"] == {"smsMessage": None, "emailMessage": None, "emailSubject": None}
    message = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="SignUp")
    assert message["subject"] == "Welcome aboard"
    assert message["body"] == f"<b>Your code: {message['code']}</b>"

    # A message without the code placeholder is not used: the pool's own message goes out
    # (the subject still applies).
    t.triggers.on("CustomMessage_ResendCode", Reply.respond_with(emailSubject="Again", emailMessage="no code here"))
    t.public.resend_confirmation_code(ClientId=pool["client_id"], Username=email)
    assert t.triggers.last("CustomMessage_ResendCode")["request"]["codeParameter"] == "{####}"
    resent = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="ResendConfirmationCode")
    assert resent["subject"] == "Again"
    assert "no code here" not in resent["body"] and resent["code"] in resent["body"]


def test_custom_message_invitation_forgot_password_and_attributes(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(CustomMessage="custom-message")
    t.triggers.on(
        "CustomMessage_AdminCreateUser",
        lambda e: Reply.respond_with(
            emailMessage=f"Hi {e['request']['usernameParameter']}, use {e['request']['codeParameter']}"
        ),
    )
    email = unique_email("inv")
    t.admin.admin_create_user(
        UserPoolId=pool["pool_id"], Username=email, UserAttributes=attr_list({"email": email}), DesiredDeliveryMediums=["EMAIL"]
    )
    event = t.triggers.last("CustomMessage_AdminCreateUser")
    assert event["request"]["usernameParameter"] == "{username}"
    invitation = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="AdminCreateUser")
    assert invitation["body"] == f"Hi {email}, use {invitation['temporary_password']}"

    # An invitation without the username placeholder is not used.
    t.triggers.on("CustomMessage_AdminCreateUser", Reply.respond_with(emailMessage="Only {####}"))
    other = unique_email("inv2")
    t.admin.admin_create_user(
        UserPoolId=pool["pool_id"], Username=other, UserAttributes=attr_list({"email": other}), DesiredDeliveryMediums=["EMAIL"]
    )
    plain = t.server.wait_for_message(pool_id=pool["pool_id"], destination=other, purpose="AdminCreateUser")
    assert not plain["body"].startswith("Only")

    # A confirmed user with a verified email: forgot password, attribute change, verification.
    user = unique_email("fp")
    t.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=user,
        UserAttributes=attr_list({"email": user, "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )
    t.admin.admin_set_user_password(UserPoolId=pool["pool_id"], Username=user, Password=PASSWORD, Permanent=True)
    for source in ("CustomMessage_ForgotPassword", "CustomMessage_UpdateUserAttribute", "CustomMessage_VerifyUserAttribute"):
        t.triggers.on(source, Reply.respond_with(emailMessage=f"{source}: {{####}}"))
    t.public.forgot_password(ClientId=pool["client_id"], Username=user)
    reset = t.server.wait_for_message(pool_id=pool["pool_id"], destination=user, purpose="ForgotPassword")
    assert reset["body"] == f"CustomMessage_ForgotPassword: {reset['code']}"

    token = t.public.initiate_auth(
        ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]["AccessToken"]
    new_email = unique_email("moved")
    t.public.update_user_attributes(AccessToken=token, UserAttributes=attr_list({"email": new_email}))
    t.triggers.wait_for("CustomMessage_UpdateUserAttribute")
    t.public.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    t.triggers.wait_for("CustomMessage_VerifyUserAttribute")
    # Outbox files are written after the answer: wait for both.
    t.server.wait_for_message(pool_id=pool["pool_id"], destination=new_email, purpose="VerifyAttribute", count=2)
    sent = [m["body"] for m in t.server.messages(pool_id=pool["pool_id"], purpose="VerifyAttribute")]
    assert any(b.startswith("CustomMessage_UpdateUserAttribute: ") for b in sent), sent
    assert any(b.startswith("CustomMessage_VerifyUserAttribute: ") for b in sent), sent


def test_custom_message_failure_fails_the_operation(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(CustomMessage="custom-message")
    t.triggers.on("CustomMessage_ForgotPassword", Reply.error("template missing"))
    email = unique_email("cmfail")
    t.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=email,
        UserAttributes=attr_list({"email": email, "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )
    with raises_cognito("UserLambdaValidationException") as refused:
        t.public.forgot_password(ClientId=pool["client_id"], Username=email)
    assert refused.message == "CustomMessage failed with error template missing."
    outbox_settled(t)
    assert t.server.messages(pool_id=pool["pool_id"], destination=email) == []


# === CustomEmailSender ===


def test_custom_email_sender_gets_the_sealed_code(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(
        CustomEmailSender={"LambdaVersion": "V1_0", "LambdaArn": function_arn("custom-email-sender")},
        KMSKeyID="arn:aws:kms:us-east-1:123456789012:key/test",
    )
    email = unique_email("sender")
    sign_up(t, pool, email)
    event = t.triggers.last("CustomEmailSender_SignUp")
    check_envelope(event, t, pool["pool_id"], "CustomEmailSender_SignUp", NOT_APPLICABLE)
    request = event["request"]
    assert request["type"] == "customEmailSenderRequestV1"
    assert request["userAttributes"]["email"] == email
    assert set(request) == {"type", "code", "clientMetadata", "userAttributes"}
    # gatehouse sends nothing itself; the code opens with the function's signing secret (the
    # documented snippet) and confirms the user.
    outbox_settled(t)
    assert t.server.messages(pool_id=pool["pool_id"], destination=email) == []
    code = documented_opener()(t.triggers.secret, request["code"])
    assert re.fullmatch(r"\d{6}", code)
    assert code not in t.triggers.last("CustomEmailSender_SignUp")["request"]["code"]
    t.public.confirm_sign_up(ClientId=pool["client_id"], Username=email, ConfirmationCode=code)
    assert t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)["UserStatus"] == "CONFIRMED"
    # Another secret does not open it.
    with pytest.raises(Exception):
        documented_opener()("some-other-secret-0123456789", request["code"])

    # A failing sender fails the operation with its message.
    t.triggers.on("CustomEmailSender_ForgotPassword", Reply.error("ses throttled"))
    with raises_cognito("UserLambdaValidationException") as refused:
        t.public.forgot_password(ClientId=pool["client_id"], Username=email)
    assert refused.message == "CustomEmailSender failed with error ses throttled."


def test_custom_message_authentication_code(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(CustomMessage="custom-message")
    t.admin.set_user_pool_mfa_config(
        UserPoolId=pool["pool_id"],
        MfaConfiguration="OPTIONAL",
        SoftwareTokenMfaConfiguration={"Enabled": True},
        EmailMfaConfiguration={"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"},
    )
    email = unique_email("otp")
    t.admin.admin_create_user(
        UserPoolId=pool["pool_id"],
        Username=email,
        UserAttributes=attr_list({"email": email, "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )
    t.admin.admin_set_user_password(UserPoolId=pool["pool_id"], Username=email, Password=PASSWORD, Permanent=True)
    t.admin.admin_set_user_mfa_preference(
        UserPoolId=pool["pool_id"], Username=email, EmailMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    t.triggers.on(
        "CustomMessage_Authentication",
        Reply.respond_with(emailSubject="Sign in", emailMessage="One-time code {####}"),
    )
    response = t.public.initiate_auth(
        ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )
    assert response["ChallengeName"] == "EMAIL_OTP"
    event = t.triggers.last("CustomMessage_Authentication")
    assert event["request"]["codeParameter"] == "{####}"
    assert event["request"]["userAttributes"]["email"] == email
    message = t.server.wait_for_message(pool_id=pool["pool_id"], destination=email, purpose="MfaSignIn")
    assert (message["subject"], message["body"]) == ("Sign in", f"One-time code {message['code']}")


def test_custom_sms_sender_gets_the_sealed_code(triggered: Triggered) -> None:
    t = triggered
    pool = t.pool(
        pool_args={"AutoVerifiedAttributes": ["phone_number"]},
        CustomSMSSender={"LambdaVersion": "V1_0", "LambdaArn": function_arn("custom-sms-sender")},
        KMSKeyID="arn:aws:kms:us-east-1:123456789012:key/test",
    )
    email = unique_email("sms")
    t.public.sign_up(
        ClientId=pool["client_id"],
        Username=email,
        Password=PASSWORD,
        UserAttributes=attr_list({"email": email, "phone_number": "+15555550123"}),
    )
    event = t.triggers.last("CustomSMSSender_SignUp")
    request = event["request"]
    assert request["type"] == "customSMSSenderRequestV1"
    assert request["userAttributes"]["phone_number"] == "+15555550123"
    code = documented_opener()(t.triggers.secret, request["code"])
    outbox_settled(t)
    assert t.server.messages(pool_id=pool["pool_id"]) == []
    t.public.confirm_sign_up(ClientId=pool["client_id"], Username=email, ConfirmationCode=code)
    user = t.admin.admin_get_user(UserPoolId=pool["pool_id"], Username=email)
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs(user["UserAttributes"])["phone_number_verified"] == "true"
