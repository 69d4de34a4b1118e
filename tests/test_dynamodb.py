"""DynamoDB with row-level access: gatehouse in front of dynalite (a DynamoDB-compatible server
started here on loopback), driven by boto3 and the AWS CLI with credentials from an identity
pool sign-in.

The role carries AWS's canonical row-level policy (`dynamodb:LeadingKeys` =
`${cognito-identity.amazonaws.com:sub}`): a user reads and writes the rows of its own partition
and nothing else; requests that try to hide which partition they touch are refused, never
forwarded on a guess.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ServerFactory
from gatehouse_harness import REGION, error_of, unique, wait_until
from test_identity_pools import NO_RETRIES, Setup, session_creds

ROOT = Path(__file__).resolve().parent.parent
TABLE = "Notes"
UPSTREAM_KEY = {"AWS_ACCESS_KEY_ID": "AKIAUPSTREAMEXAMPLE", "AWS_SECRET_ACCESS_KEY": "upstream-secret"}


def row_level_policy(table_arn: str) -> str:
    """AWS's documented per-user row-level policy."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                       "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
            "Resource": [table_arn],
            "Condition": {"ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}},
        }],
    })


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dynalite() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["node", str(ROOT / "node_modules" / "dynalite" / "cli.js"), "--host", "127.0.0.1", "--port", str(port),
         "--createTableMs", "0", "--deleteTableMs", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        assert wait_until(up, timeout=30), "dynalite did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def direct(url: str) -> Any:
    return boto3.session.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y").client(
        "dynamodb", endpoint_url=url, config=NO_RETRIES)


def create_table(upstream: Any, name: str, hash_key: str, range_key: str) -> None:
    """A table of string keys on dynalite, returned once it is ACTIVE: dynalite makes it on a timer
    even with `--createTableMs 0`, and a loaded machine can answer a PutItem before that timer ran."""
    upstream.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"},
                              {"AttributeName": range_key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    active = wait_until(lambda: upstream.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE",
                        timeout=30)
    assert active, f"dynalite did not make table {name} active"


class World:
    """gatehouse in front of dynalite, a table keyed by owner and id, users signed in."""

    def __init__(self, factory: ServerFactory, upstream: str) -> None:
        self.server = factory.new(extra_args=["--dynamodb-upstream", upstream], extra_env=UPSTREAM_KEY)
        self.upstream = direct(upstream)
        self.table = unique("Notes_")
        create_table(self.upstream, self.table, "owner", "id")
        self.setup = Setup(self.server)
        table_arn = f"arn:aws:dynamodb:{REGION}:000000000000:table/{self.table}"
        self.setup.iam.put_role_policy(RoleName=self.setup.auth_role["RoleName"], PolicyName="rows",
                                       PolicyDocument=row_level_policy(table_arn))

    def user(self) -> tuple[str, dict[str, Any]]:
        """(identity id, temporary credentials) of a new signed-in user."""
        _, id_token = self.setup.id_token()
        return self.setup.credentials(id_token)

    def client(self, credentials: dict[str, Any]) -> Any:
        session = boto3.session.Session(region_name=REGION, **session_creds(credentials))
        return session.client("dynamodb", endpoint_url=self.server.endpoint, config=NO_RETRIES)


@pytest.fixture(scope="module")
def world(backend: str, dynalite: str) -> Iterator[World]:
    factory = ServerFactory(backend)
    try:
        yield World(factory, dynalite)
    finally:
        factory.close()


def denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    code, message, status = error_of(raised.value)
    assert (code, status) == ("AccessDeniedException", 400), (code, status, message)
    return message


def item(owner: str, id_: str, text: str = "x") -> dict[str, Any]:
    return {"owner": {"S": owner}, "id": {"S": id_}, "text": {"S": text}}


def test_own_rows_allowed_other_rows_scan_and_delete_table_refused(world: World) -> None:
    me, creds = world.user()
    other, _ = world.user()
    world.upstream.put_item(TableName=world.table, Item=item(other, "1", "theirs"))
    db = world.client(creds)

    db.put_item(TableName=world.table, Item=item(me, "1", "mine"))
    got = db.get_item(TableName=world.table, Key={"owner": {"S": me}, "id": {"S": "1"}})
    assert got["Item"]["text"]["S"] == "mine"
    rows = db.query(TableName=world.table, KeyConditionExpression="#o = :me",
                    ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":me": {"S": me}})
    assert [r["id"]["S"] for r in rows["Items"]] == ["1"]

    message = denied(db.get_item, TableName=world.table, Key={"owner": {"S": other}, "id": {"S": "1"}})
    assert "dynamodb:GetItem" in message and world.table in message
    denied(db.put_item, TableName=world.table, Item=item(other, "2"))
    denied(db.query, TableName=world.table, KeyConditionExpression="owner = :o",
           ExpressionAttributeValues={":o": {"S": other}})
    denied(db.scan, TableName=world.table)
    denied(db.delete_table, TableName=world.table)
    # Nothing refused reached the table.
    assert world.upstream.describe_table(TableName=world.table)["Table"]["TableName"] == world.table
    theirs = world.upstream.query(TableName=world.table, KeyConditionExpression="#o = :o",
                                  ExpressionAttributeNames={"#o": "owner"},
                                  ExpressionAttributeValues={":o": {"S": other}})
    assert [r["id"]["S"] for r in theirs["Items"]] == ["1"]


def test_batch_and_transact_items_with_one_foreign_key_are_refused(world: World) -> None:
    me, creds = world.user()
    other, _ = world.user()
    db = world.client(creds)
    db.batch_write_item(RequestItems={world.table: [{"PutRequest": {"Item": item(me, "b1")}}]})
    got = db.batch_get_item(RequestItems={world.table: {"Keys": [{"owner": {"S": me}, "id": {"S": "b1"}}]}})
    assert len(got["Responses"][world.table]) == 1
    denied(db.batch_write_item, RequestItems={world.table: [
        {"PutRequest": {"Item": item(me, "b2")}}, {"PutRequest": {"Item": item(other, "b2")}}]})
    denied(db.batch_get_item, RequestItems={world.table: {"Keys": [
        {"owner": {"S": me}, "id": {"S": "b1"}}, {"owner": {"S": other}, "id": {"S": "b1"}}]}})
    # The transactions' items are checked as PutItem / GetItem, each with its own key.
    denied(db.transact_write_items, TransactItems=[
        {"Put": {"TableName": world.table, "Item": item(me, "t1")}},
        {"Put": {"TableName": world.table, "Item": item(other, "t1")}}])
    denied(db.transact_get_items, TransactItems=[
        {"Get": {"TableName": world.table, "Key": {"owner": {"S": other}, "id": {"S": "b1"}}}}])
    assert "Item" not in world.upstream.get_item(TableName=world.table, Key={"owner": {"S": me}, "id": {"S": "b2"}})


def test_key_conditions_that_hide_the_partition_are_refused(world: World) -> None:
    me, creds = world.user()
    other, _ = world.user()
    db = world.client(creds)
    values = {":me": {"S": me}, ":them": {"S": other}}
    # A placeholder named like the sort key that stands for the partition key.
    denied(db.query, TableName=world.table, KeyConditionExpression="#s = :me AND #p = :them",
           ExpressionAttributeNames={"#s": "id", "#p": "owner"},
           ExpressionAttributeValues={":me": {"S": "1"}, ":them": {"S": other}})
    # OR in a key condition, and a key condition that names the partition key twice.
    denied(db.query, TableName=world.table, KeyConditionExpression="owner = :me OR owner = :them",
           ExpressionAttributeValues=values)
    denied(db.query, TableName=world.table, KeyConditionExpression="owner = :me AND #o = :them",
           ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues=values)


def signed_raw(world: World, credentials: dict[str, Any], body: bytes, targets: list[str]) -> tuple[int, dict[str, Any]]:
    """Sends `body` signed for the first target with `targets` as X-Amz-Target headers."""
    request = AWSRequest(method="POST", url=world.server.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": targets[0]})
    creds = Credentials(credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"])
    SigV4Auth(creds, "dynamodb", REGION).add_auth(request)
    host = world.server.endpoint.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=30)
    connection.putrequest("POST", "/", skip_accept_encoding=True)
    for name, value in request.headers.items():
        if name.lower() != "x-amz-target":
            connection.putheader(name, value)
    for target in targets:
        connection.putheader("X-Amz-Target", target)
    connection.putheader("Content-Length", str(len(body)))
    try:
        connection.endheaders(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the body was read: the answer is already on the wire
    response = connection.getresponse()
    text = response.read()
    connection.close()
    return response.status, (json.loads(text) if text.startswith(b"{") else {})


def test_smuggling_tricks_are_refused_before_the_upstream(world: World) -> None:
    me, creds = world.user()
    other, _ = world.user()
    get = json.dumps({"TableName": world.table, "Key": {"owner": {"S": me}, "id": {"S": "1"}}}).encode()
    status, answer = signed_raw(world, creds, get, ["DynamoDB_20120810.GetItem"])
    assert status == 200, answer
    # A second X-Amz-Target: which one would the upstream act on?
    status, answer = signed_raw(world, creds, get, ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.DeleteTable"])
    assert status == 400 and answer["__type"].endswith("ValidationException"), answer
    # Duplicate JSON keys: two readers may pick different partitions.
    dup = ('{"TableName":"%s","Key":{"owner":{"S":"%s"},"owner":{"S":"%s"},"id":{"S":"1"}}}'
           % (world.table, me, other)).encode()
    status, answer = signed_raw(world, creds, dup, ["DynamoDB_20120810.GetItem"])
    assert status == 400 and answer["__type"].endswith("SerializationException"), answer
    # A table named by an ARN or with path tricks never reaches a policy or the upstream.
    db = world.client(creds)
    for name in [f"arn:aws:dynamodb:{REGION}:000000000000:table/{world.table}", f"{world.table}/index/x", "*"]:
        with pytest.raises(ClientError) as raised:
            db.get_item(TableName=name, Key={"owner": {"S": me}, "id": {"S": "1"}})
        assert error_of(raised.value)[0] == "ValidationException", name
    # An oversize body is refused whole.
    big = json.dumps({"TableName": world.table, "Item": {**item(me, "big"), "blob": {"S": "x" * (1024 * 1024)}}}).encode()
    status, _ = signed_raw(world, creds, big, ["DynamoDB_20120810.PutItem"])
    assert status == 413
    assert "Item" not in world.upstream.get_item(TableName=world.table, Key={"owner": {"S": me}, "id": {"S": "big"}})


def raw_post(world: World, headers: list[tuple[str, str]], body: bytes | None = None,
             chunks: list[bytes] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POSTs to `/` as given (a body, chunks sent with chunked encoding, or only the head)."""
    host = world.server.endpoint.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=30)
    connection.putrequest("POST", "/", skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if chunks is not None:
        connection.putheader("Transfer-Encoding", "chunked")
    try:
        connection.endheaders(body)
        for chunk in chunks or []:
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if chunks is not None:
            connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the body was read: the answer is already on the wire
    response = connection.getresponse()
    text = response.read()
    answer_headers = {k.lower(): v for k, v in response.getheaders()}
    connection.close()
    return response.status, answer_headers, (json.loads(text) if text.startswith(b"{") else {})


def test_dynamodb_requests_keep_the_listeners_body_rules_and_request_ids(world: World) -> None:
    """DynamoDB's requests reach the proxy ahead of the listener's other layers: the body
    limit, its refusals and `x-amzn-RequestId` on every answer hold there too."""
    me, creds = world.user()
    target = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810.GetItem")]
    # Allowed: the upstream's answer, with a request id.
    get = json.dumps({"TableName": world.table, "Key": {"owner": {"S": me}, "id": {"S": "1"}}}).encode()
    request = AWSRequest(method="POST", url=world.server.endpoint + "/", data=get, headers=dict(target))
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]),
              "dynamodb", REGION).add_auth(request)
    signed = [(k, v) for k, v in request.headers.items()] + [("Content-Length", str(len(get)))]
    status, headers, answer = raw_post(world, signed, get)
    assert status == 200 and headers.get("x-amzn-requestid"), (status, headers, answer)
    # Refused by the proxy: DynamoDB's error, with a request id.
    status, headers, answer = raw_post(world, target + [("Content-Length", str(len(get)))], get)
    assert (status, answer.get("__type")) == (400, "com.amazon.coral.service#MissingAuthenticationTokenException")
    assert headers.get("x-amzn-requestid")
    # A body announced over the limit is refused before it is read.
    status, headers, answer = raw_post(world, target + [("Content-Length", str(1024 * 1024 + 1))])
    assert (status, answer.get("__type"), headers.get("x-amzn-errortype")) == (
        413, "SerializationException", "SerializationException"), (status, headers, answer)
    assert headers.get("x-amzn-requestid")
    # So is one streamed past it without a length.
    status, headers, answer = raw_post(world, target, chunks=[b"x" * (256 * 1024)] * 5)
    assert (status, answer.get("__type")) == (413, "SerializationException"), (status, answer)
    assert headers.get("x-amzn-requestid")
    # A DynamoDB target on another method or path is not the proxy's.
    host = world.server.endpoint.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=30)
    connection.request("GET", "/", headers=dict(target))
    assert connection.getresponse().status == 405
    connection.close()


def test_the_aws_cli_reads_its_own_row(world: World, tmp_path: Path) -> None:
    me, creds = world.user()
    world.client(creds).put_item(TableName=world.table, Item=item(me, "cli", "from the cli"))
    aws = ROOT / ".venv" / "bin" / "aws"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    })
    key = json.dumps({"owner": {"S": me}, "id": {"S": "cli"}})
    result = subprocess.run(
        [str(aws), "dynamodb", "get-item", "--table-name", world.table, "--key", key,
         "--endpoint-url", world.server.endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Item"]["text"]["S"] == "from the cli"
    other_key = key.replace(me, "us-east-1:00000000-0000-0000-0000-000000000000")
    refused = subprocess.run(
        [str(aws), "dynamodb", "get-item", "--table-name", world.table, "--key", other_key,
         "--endpoint-url", world.server.endpoint],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert refused.returncode != 0 and "AccessDeniedException" in refused.stderr, refused.stderr


def test_the_aws_sdk_for_javascript_v3_reads_and_writes_only_its_own_rows(world: World) -> None:
    """tests/node/dynamodb_sdk_v3.mjs: `fromCognitoIdentityPool` with the user pool's ID token,
    then @aws-sdk/client-dynamodb GetItem / PutItem; the other user's row stays untouched."""
    assert (ROOT / "node_modules" / "@aws-sdk" / "client-dynamodb").is_dir(), (
        "node_modules lacks @aws-sdk/client-dynamodb: run ./scripts/test (npm ci)")
    _, id_token = world.setup.id_token()
    other, _ = world.user()
    world.upstream.put_item(TableName=world.table, Item=item(other, "1", "theirs"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        GATEHOUSE_ENDPOINT=world.server.endpoint,
        REGION=REGION,
        IDENTITY_POOL_ID=world.setup.pool_id,
        USER_POOL_ID=world.setup.users.pool_id,
        ID_TOKEN=id_token,
        TABLE=world.table,
        OTHER_OWNER=other,
    )
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(ROOT / "tests" / "node" / "dynamodb_sdk_v3.mjs")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, f"node test failed:\n{run.stdout}\n{run.stderr}\n{world.server.stderr_text()[-4000:]}"
    assert "pass 1" in run.stdout, run.stdout
    # The browser's own row reached the table; the other user's row is as it was.
    mine = world.setup.identity.get_id(IdentityPoolId=world.setup.pool_id, Logins=world.setup.logins(id_token))
    got = world.upstream.get_item(TableName=world.table, Key={"owner": {"S": mine["IdentityId"]}, "id": {"S": "js"}})
    assert got["Item"]["text"]["S"] == "from the browser"
    assert "Item" not in world.upstream.get_item(TableName=world.table, Key={"owner": {"S": other}, "id": {"S": "js"}})
    theirs = world.upstream.get_item(TableName=world.table, Key={"owner": {"S": other}, "id": {"S": "1"}})
    assert theirs["Item"]["text"]["S"] == "theirs"
