"""Creates a benchmark pool, client and confirmed user through boto3 and prints shell
assignments (client_id, username, password, refresh_token) for scripts/bench/identity.sh."""

import os
import sys

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
admin = boto3.client(
    "cognito-idp",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=os.environ["GATEHOUSE_OPERATOR_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"],
    config=Config(retries={"max_attempts": 1}),
)
pool = admin.create_user_pool(PoolName="bench")["UserPool"]["Id"]
client = admin.create_user_pool_client(
    UserPoolId=pool,
    ClientName="bench",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
username, password = "bench-user", "Bench-Passw0rd!"
admin.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
tokens = admin.initiate_auth(
    ClientId=client,
    AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": username, "PASSWORD": password},
)["AuthenticationResult"]
print(f"client_id={client}")
print(f"username={username}")
print(f"password='{password}'")
print(f"refresh_token='{tokens['RefreshToken']}'")
