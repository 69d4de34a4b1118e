// The AWS SDK for JavaScript v3 as a browser app uses it against `gatehouse serve` in front of
// dynalite: `fromCognitoIdentityPool` (@aws-sdk/credential-providers) with the user pool's ID
// token in `logins` under the key the SDKs and Amplify build
// (`cognito-idp.{region}.amazonaws.com/{userPoolId}`), then @aws-sdk/client-dynamodb with
// those credentials. The role carries the canonical row-level policy: PutItem and GetItem on
// the caller's own partition succeed, the same calls on another user's partition fail with
// AccessDeniedException. Started by tests/test_dynamodb.py, which makes the table, the
// identity pool, the signed-in user and the other user's row, and passes them in the
// environment.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';

const env = {};
for (const name of ['GATEHOUSE_ENDPOINT', 'REGION', 'IDENTITY_POOL_ID', 'USER_POOL_ID', 'ID_TOKEN', 'TABLE', 'OTHER_OWNER']) {
  env[name] = process.env[name];
  assert.ok(env[name], `${name} must be set (run through tests/test_dynamodb.py)`);
}

const credentials = fromCognitoIdentityPool({
  identityPoolId: env.IDENTITY_POOL_ID,
  logins: { [`cognito-idp.${env.REGION}.amazonaws.com/${env.USER_POOL_ID}`]: env.ID_TOKEN },
  clientConfig: { region: env.REGION, endpoint: env.GATEHOUSE_ENDPOINT, maxAttempts: 1 },
});

const db = new DynamoDBClient({
  region: env.REGION,
  endpoint: env.GATEHOUSE_ENDPOINT,
  credentials,
  maxAttempts: 1,
});

const key = (owner, id) => ({ owner: { S: owner }, id: { S: id } });

async function refused(command) {
  await assert.rejects(db.send(command), (err) => {
    assert.equal(err.name, 'AccessDeniedException', `${err.name}: ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, 400);
    return true;
  });
}

test('own rows are readable and writable, another user\'s are refused', async () => {
  const issued = await credentials();
  assert.match(issued.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.ok(issued.sessionToken, 'a session token');
  assert.ok(issued.expiration > new Date(), 'credentials not yet expired');
  const me = issued.identityId;
  assert.match(me, new RegExp(`^${env.REGION}:[0-9a-f-]{36}$`));
  assert.notEqual(me, env.OTHER_OWNER);

  await db.send(new PutItemCommand({
    TableName: env.TABLE,
    Item: { ...key(me, 'js'), text: { S: 'from the browser' } },
  }));
  const got = await db.send(new GetItemCommand({ TableName: env.TABLE, Key: key(me, 'js'), ConsistentRead: true }));
  assert.equal(got.Item?.text?.S, 'from the browser');

  await refused(new GetItemCommand({ TableName: env.TABLE, Key: key(env.OTHER_OWNER, '1') }));
  await refused(new PutItemCommand({
    TableName: env.TABLE,
    Item: { ...key(env.OTHER_OWNER, 'js'), text: { S: 'not mine' } },
  }));
});
