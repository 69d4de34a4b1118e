"""Cognito's CSV user import over the Cognito protocol, with boto3 and a plain HTTP PUT:
GetCSVHeader, CreateUserImportJob (its PreSignedUrl served by gatehouse, single-use and scoped
to its job), StartUserImportJob, DescribeUserImportJob, ListUserImportJobs. Imported users
arrive in RESET_REQUIRED, as in Cognito, and get in through ForgotPassword."""

from __future__ import annotations

import csv
import io

import requests

from gatehouse_harness import OTHER_PASSWORD, PoolFixture, raises_cognito, unique, wait_until

ROLE = "arn:aws:iam::000000000000:role/CognitoImport"
CUSTOM = {"Name": "tier", "AttributeDataType": "String", "Mutable": True}


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in header})
    return out.getvalue()


def put(url: str, body: str) -> requests.Response:
    # What Cognito's documentation has people run: a PUT with the KMS header.
    return requests.put(url, data=body.encode(), headers={"x-amz-server-side-encryption": "aws:kms"}, timeout=30)


def test_csv_import_job_brings_users_in_reset_required(server):
    pool = PoolFixture.create(server, pool_overrides={"Schema": [CUSTOM]})
    admin = server.admin
    header = admin.get_csv_header(UserPoolId=pool.pool_id)
    assert header["UserPoolId"] == pool.pool_id
    columns = header["CSVHeader"]
    assert columns[:3] == ["name", "given_name", "family_name"]
    assert "cognito:username" in columns and "cognito:mfa_enabled" in columns and "custom:tier" in columns

    job = admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="first", CloudWatchLogsRoleArn=ROLE)[
        "UserImportJob"
    ]
    assert job["Status"] == "Created" and job["JobId"].startswith("import-")
    url = job["PreSignedUrl"]
    assert url.startswith(server.endpoint + "/user-import/" + job["JobId"] + "?")

    alice, bob = unique("alice-"), unique("bob-")
    rows = [
        {"cognito:username": alice, "email": f"{alice}@example.com", "email_verified": "true",
         "given_name": "Alice", "custom:tier": "gold", "cognito:mfa_enabled": "false"},
        {"cognito:username": bob, "email": f"{bob}@example.com", "email_verified": "false",
         "cognito:mfa_enabled": "false"},
        {"cognito:username": unique("bad-"), "email_verified": "maybe"},
    ]
    body = csv_text(columns, rows)

    # The URL is scoped to its job and its token: another job's path or a changed token is refused.
    other = admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="other", CloudWatchLogsRoleArn=ROLE)[
        "UserImportJob"
    ]
    token = url.split("token=", 1)[1]
    stolen = put(f"{server.endpoint}/user-import/{other['JobId']}?token={token}", body)
    assert stolen.status_code == 403 and "<Code>AccessDenied</Code>" in stolen.text
    forged = put(url[:-4] + ("0000" if not url.endswith("0000") else "1111"), body)
    assert forged.status_code == 403

    uploaded = put(url, body)
    assert uploaded.status_code == 200, uploaded.text
    again = put(url, body)
    assert again.status_code == 403, "the upload URL works once"

    started = admin.start_user_import_job(UserPoolId=pool.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["JobId"] == job["JobId"]
    described = admin.describe_user_import_job(UserPoolId=pool.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert described["Status"] == "Succeeded", described
    assert (described["ImportedUsers"], described["SkippedUsers"], described["FailedUsers"]) == (2, 0, 1)
    assert "row 4" in described["CompletionMessage"]
    assert "PreSignedUrl" not in described
    listed = admin.list_user_import_jobs(UserPoolId=pool.pool_id, MaxResults=60)["UserImportJobs"]
    assert {j["JobId"] for j in listed} == {job["JobId"], other["JobId"]}

    user = admin.admin_get_user(UserPoolId=pool.pool_id, Username=alice)
    assert user["UserStatus"] == "RESET_REQUIRED"
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["given_name"] == "Alice" and attributes["custom:tier"] == "gold"
    assert attributes["email_verified"] == "true"

    # No password yet: a sign-in fails as any wrong password does (saying "reset required" to
    # any password would tell who was imported); ForgotPassword lets the user in.
    with raises_cognito("NotAuthorizedException"):
        pool.login(alice, OTHER_PASSWORD)
    pool.public.forgot_password(ClientId=pool.client_id, Username=alice)
    code = pool.code_for(f"{alice}@example.com", purpose="ForgotPassword")
    pool.public.confirm_forgot_password(ClientId=pool.client_id, Username=alice, ConfirmationCode=code,
                                        Password=OTHER_PASSWORD)
    assert "AccessToken" in pool.tokens(alice, OTHER_PASSWORD)

    # A job runs once, and only with its file.
    with raises_cognito("PreconditionNotMetException"):
        admin.start_user_import_job(UserPoolId=pool.pool_id, JobId=job["JobId"])
    with raises_cognito("PreconditionNotMetException"):
        admin.start_user_import_job(UserPoolId=pool.pool_id, JobId=other["JobId"])
    with raises_cognito("ResourceNotFoundException"):
        admin.describe_user_import_job(UserPoolId=pool.pool_id, JobId="import-0000000000")


def test_import_operations_need_the_operator_signature_and_a_file_that_is_csv(server):
    pool = PoolFixture.create(server)
    with raises_cognito({"MissingAuthenticationTokenException", "NotAuthorizedException",
                         "UnrecognizedClientException", "AccessDeniedException"}):
        server.public.get_csv_header(UserPoolId=pool.pool_id)
    job = server.admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="broken",
                                              CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert put(job["PreSignedUrl"], 'cognito:username\n"never closed\n').status_code == 200
    server.admin.start_user_import_job(UserPoolId=pool.pool_id, JobId=job["JobId"])
    described = server.admin.describe_user_import_job(UserPoolId=pool.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert described["Status"] == "Failed" and "not closed" in described["CompletionMessage"]
    big = put(server.admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="big",
                                                  CloudWatchLogsRoleArn=ROLE)["UserImportJob"]["PreSignedUrl"],
              "x" * (1024 * 1024 + 1))
    assert big.status_code == 413


def test_stop_user_import_job_stops_a_job_before_or_while_it_runs(server):
    import threading

    pool = PoolFixture.create(server)
    admin = server.admin
    columns = admin.get_csv_header(UserPoolId=pool.pool_id)["CSVHeader"]

    # Not started: stopped at once; its upload URL and its file go with it, so it never runs.
    waiting = admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="waiting",
                                           CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert put(waiting["PreSignedUrl"], csv_text(columns, [{"cognito:username": unique("w-")}])).status_code == 200
    stopped = admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId=waiting["JobId"])["UserImportJob"]
    assert stopped["Status"] == "Stopped" and "CompletionDate" in stopped
    with raises_cognito("PreconditionNotMetException"):
        admin.start_user_import_job(UserPoolId=pool.pool_id, JobId=waiting["JobId"])
    with raises_cognito("PreconditionNotMetException"):
        admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId=waiting["JobId"])
    unused = admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="unused",
                                          CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId=unused["JobId"])
    assert put(unused["PreSignedUrl"], "cognito:username\nx\n").status_code == 403

    # Running: marked Stopping, and the runner stops between two rows with what it imported.
    total = 4000
    prefix = unique("bulk-")
    rows = [{"cognito:username": f"{prefix}{n}"} for n in range(total)]
    running = admin.create_user_import_job(UserPoolId=pool.pool_id, JobName="bulk",
                                           CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert put(running["PreSignedUrl"], csv_text(["cognito:username"], rows)).status_code == 200
    outcome: list[object] = []
    runner = threading.Thread(target=lambda: outcome.append(
        server.client().start_user_import_job(UserPoolId=pool.pool_id, JobId=running["JobId"])))
    runner.start()

    def status() -> str:
        return admin.describe_user_import_job(UserPoolId=pool.pool_id,
                                              JobId=running["JobId"])["UserImportJob"]["Status"]

    assert wait_until(lambda: status() != "Created", timeout=30)
    stopping = admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId=running["JobId"])["UserImportJob"]
    # The answer describes the job after the stop was recorded: the runner may have seen the
    # stop and finished in between (it checks every few rows), so `Stopped` is right too. That
    # it stopped while running shows below: rows imported, the rest skipped.
    assert stopping["Status"] in ("Stopping", "Stopped"), stopping
    runner.join(timeout=600)
    assert outcome, "StartUserImportJob returned"
    final = admin.describe_user_import_job(UserPoolId=pool.pool_id, JobId=running["JobId"])["UserImportJob"]
    assert final["Status"] == "Stopped", final
    assert final["ImportedUsers"] + final["SkippedUsers"] + final["FailedUsers"] == total
    assert final["ImportedUsers"] < total and final["SkippedUsers"] > 0
    listed = admin.list_users(UserPoolId=pool.pool_id, Filter=f'username ^= "{prefix}"', Limit=60)
    assert len(listed["Users"]) == min(final["ImportedUsers"], 60)

    # Finished jobs and unknown ones cannot be stopped.
    with raises_cognito("PreconditionNotMetException"):
        admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId=running["JobId"])
    with raises_cognito("ResourceNotFoundException"):
        admin.stop_user_import_job(UserPoolId=pool.pool_id, JobId="import-0000000000")
