"""Sets up the identity-pool benchmark through boto3 and writes wrk scripts for
scripts/bench/federation.sh: a user pool user signed in, an identity pool whose authenticated
role carries AWS's row-level DynamoDB policy, a table in dynalite with the user's row, and

- get_credentials.lua: GetCredentialsForIdentity with the user's ID token;
- ddb_gatehouse.lua:   GetItem of the user's row, signed with the identity's temporary
                       credentials, for gatehouse's endpoint;
- ddb_direct.lua:      the same GetItem signed with the upstream's key, for dynalite itself.

A SigV4 signature stays valid for five minutes, so the DynamoDB scripts are written last and
the runs that use them start at once.

usage: setup_federation.py ENDPOINT DYNALITE_URL OUT_DIR
"""

import json
import os
import sys
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

endpoint, dynalite, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
region = "us-east-1"
config = Config(retries={"max_attempts": 1})
operator = {
    "aws_access_key_id": os.environ["GATEHOUSE_OPERATOR_ACCESS_KEY_ID"],
    "aws_secret_access_key": os.environ["GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"],
}


def client(service: str, url: str = endpoint, **creds: str):
    return boto3.client(service, endpoint_url=url, region_name=region, config=config, **(creds or operator))


idp = client("cognito-idp")
pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
app = idp.create_user_pool_client(UserPoolId=pool, ClientName="bench",
                                  ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
client_id = app["UserPoolClient"]["ClientId"]
username, password = "bench-user", "Bench-Passw0rd!"
idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
id_token = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password}
                             )["AuthenticationResult"]["IdToken"]

provider = f"cognito-idp.{region}.amazonaws.com/{pool}"
ci = client("cognito-identity")
identity_pool = ci.create_identity_pool(IdentityPoolName="bench", AllowUnauthenticatedIdentities=False,
                                       CognitoIdentityProviders=[{"ProviderName": provider,
                                                                  "ClientId": client_id}])["IdentityPoolId"]
trust = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool},
                  "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]}
iam = client("iam")
role = iam.create_role(RoleName="BenchUsers", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
table = "Bench"
table_arn = f"arn:aws:dynamodb:{region}:000000000000:table/{table}"
iam.put_role_policy(RoleName="BenchUsers", PolicyName="rows", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "Resource": [table_arn],
        "Condition": {"ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}}}]}))
ci.set_identity_pool_roles(IdentityPoolId=identity_pool, Roles={"authenticated": role["Arn"]})

public = boto3.client("cognito-identity", endpoint_url=endpoint, region_name=region, config=config,
                      aws_access_key_id="x", aws_secret_access_key="y")
logins = {provider: id_token}
identity_id = public.get_id(IdentityPoolId=identity_pool, Logins=logins)["IdentityId"]
creds = public.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]

upstream_key = {"aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"]}
direct = client("dynamodb", dynalite, **upstream_key)
direct.create_table(TableName=table,
                    KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"},
                               {"AttributeName": "id", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "owner", "AttributeType": "S"},
                                          {"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
# dynalite makes the table on a timer even with `--createTableMs 0`: wait until it is ACTIVE.
direct.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
direct.put_item(TableName=table, Item={"owner": {"S": identity_id}, "id": {"S": "1"},
                                       "text": {"S": "a note of about a hundred bytes " * 3}})
# Through gatehouse once with boto3, so the proxy has the key schema cached before the runs.
through = client("dynamodb", endpoint, aws_access_key_id=creds["AccessKeyId"],
                 aws_secret_access_key=creds["SecretKey"], aws_session_token=creds["SessionToken"])
assert through.get_item(TableName=table, Key={"owner": {"S": identity_id}, "id": {"S": "1"}})["Item"]


def lua(path: Path, body: str, headers: dict[str, str]) -> None:
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items() if k.lower() != "host"]
    path.write_text("\n".join(lines) + "\n")


lua(out / "get_credentials.lua", json.dumps({"IdentityId": identity_id, "Logins": logins}), {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AWSCognitoIdentityService.GetCredentialsForIdentity"})


def signed_get_item(url: str, credentials: Credentials) -> None:
    body = json.dumps({"TableName": table, "Key": {"owner": {"S": identity_id}, "id": {"S": "1"}}})
    request = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"})
    SigV4Auth(credentials, "dynamodb", region).add_auth(request)
    return body, dict(request.headers.items())


body, headers = signed_get_item(endpoint, Credentials(creds["AccessKeyId"], creds["SecretKey"],
                                                      creds["SessionToken"]))
lua(out / "ddb_gatehouse.lua", body, headers)
body, headers = signed_get_item(dynalite, Credentials(upstream_key["aws_access_key_id"],
                                                      upstream_key["aws_secret_access_key"]))
lua(out / "ddb_direct.lua", body, headers)
# The same signed GetItem as data, for the instruction count (dynamodb_instructions.sh).
body, headers = signed_get_item(endpoint, Credentials(creds["AccessKeyId"], creds["SecretKey"],
                                                      creds["SessionToken"]))
(out / "ddb_gatehouse.json").write_text(json.dumps({"body": body, "headers": headers}))
