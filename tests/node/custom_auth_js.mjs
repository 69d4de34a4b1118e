// amazon-cognito-identity-js against `gatehouse serve` and the passwordless example
// (examples/triggers/passwordless): a passwordless sign-in with initiateAuth and the
// customChallenge callback (a wrong code first, answered again in the same sign-in, then the
// emailed one), and a password-then-code sign-in with authenticateUser and the flow type
// CUSTOM_AUTH (SRP_A, PASSWORD_VERIFIER, then the customChallenge). Started by
// tests/test_passwordless_example.py, which runs gatehouse and the example, creates the pool
// and a confirmed user, and passes them in the environment; the emails are the JSON files the
// example writes to OUTBOX. Exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { AuthenticationDetails, CognitoUser, CognitoUserPool } from 'amazon-cognito-identity-js';

const { GATEHOUSE_ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, EMAIL, PASSWORD, OUTBOX } = process.env;
for (const [name, value] of Object.entries({ GATEHOUSE_ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, EMAIL, PASSWORD, OUTBOX })) {
  assert.ok(value, `${name} must be set (run through tests/test_passwordless_example.py)`);
}

function memoryStorage() {
  const items = new Map();
  return {
    setItem: (k, v) => items.set(k, String(v)),
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    removeItem: (k) => items.delete(k),
    clear: () => items.clear(),
  };
}

function newUser() {
  const storage = memoryStorage();
  const pool = new CognitoUserPool({ UserPoolId: POOL_ID, ClientId: CLIENT_ID, endpoint: GATEHOUSE_ENDPOINT, Storage: storage });
  return new CognitoUser({ Username: USERNAME, Pool: pool, Storage: storage });
}

/** The emails the example sent to EMAIL, oldest first. */
function mails() {
  let names = [];
  try {
    names = readdirSync(OUTBOX).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names
    .map((n) => JSON.parse(readFileSync(join(OUTBOX, n), 'utf8')))
    .filter((m) => m.to === EMAIL);
}

/** Waits for the `count`-th email to EMAIL and returns the code in it. */
async function code(count) {
  for (let i = 0; i < 200; i += 1) {
    const sent = mails();
    if (sent.length >= count) {
      const match = /\b(\d{6})\b/.exec(sent[count - 1].text);
      assert.ok(match, `no code in ${sent[count - 1].text}`);
      return match[1];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no email number ${count} to ${EMAIL} in ${OUTBOX}`);
}

/** The callbacks as a promise: resolves with which one fired and its argument. */
function outcome(start) {
  return new Promise((resolve, reject) => {
    start({
      onSuccess: (session) => resolve({ kind: 'success', session }),
      onFailure: reject,
      customChallenge: (parameters) => resolve({ kind: 'customChallenge', parameters }),
      newPasswordRequired: () => reject(new Error('unexpected newPasswordRequired')),
      mfaRequired: (name) => reject(new Error(`unexpected mfaRequired ${name}`)),
      totpRequired: (name) => reject(new Error(`unexpected totpRequired ${name}`)),
      selectMFAType: (name) => reject(new Error(`unexpected selectMFAType ${name}`)),
      mfaSetup: (name) => reject(new Error(`unexpected mfaSetup ${name}`)),
    });
  });
}

function wrongCode(right) {
  return right === '000000' ? '111111' : '000000';
}

test('passwordless: initiateAuth, a wrong code, then the emailed code', async () => {
  const user = newUser();
  user.setAuthenticationFlowType('CUSTOM_AUTH');
  const before = mails().length;
  const asked = await outcome((cb) => user.initiateAuth(new AuthenticationDetails({ Username: USERNAME }), cb));
  assert.equal(asked.kind, 'customChallenge');
  assert.match(asked.parameters.email, /^.\*\*\*@/, 'the masked address, from publicChallengeParameters');
  assert.equal(asked.parameters.USERNAME, USERNAME);
  assert.ok(!('digest' in asked.parameters), 'private parameters never reach the client');
  const right = await code(before + 1);

  const again = await outcome((cb) => user.sendCustomChallengeAnswer(wrongCode(right), cb));
  assert.equal(again.kind, 'customChallenge', 'a wrong code: the same sign-in asks again');
  assert.equal(mails().length, before + 1, 'no second email: the same code stands');

  const done = await outcome((cb) => user.sendCustomChallengeAnswer(right, cb));
  assert.equal(done.kind, 'success');
  assert.ok(done.session.isValid());
  const claims = done.session.getIdToken().payload;
  assert.equal(claims['cognito:username'], USERNAME);
  assert.equal(claims.email, EMAIL);
});

test('password then code: authenticateUser with CUSTOM_AUTH (SRP_A, PASSWORD_VERIFIER, CUSTOM_CHALLENGE)', async () => {
  const user = newUser();
  user.setAuthenticationFlowType('CUSTOM_AUTH');
  const before = mails().length;
  const details = new AuthenticationDetails({ Username: USERNAME, Password: PASSWORD });
  const asked = await outcome((cb) => user.authenticateUser(details, cb));
  assert.equal(asked.kind, 'customChallenge', 'the password was right: the code comes next');
  const right = await code(before + 1);
  const done = await outcome((cb) => user.sendCustomChallengeAnswer(right, cb));
  assert.equal(done.kind, 'success');
  assert.equal(done.session.getAccessToken().payload.username, USERNAME);

  const wrong = newUser();
  wrong.setAuthenticationFlowType('CUSTOM_AUTH');
  const sent = mails().length;
  await assert.rejects(
    outcome((cb) => wrong.authenticateUser(new AuthenticationDetails({ Username: USERNAME, Password: `${PASSWORD}x` }), cb)),
    (err) => err.code === 'NotAuthorizedException' && err.message === 'Incorrect username or password.',
  );
  assert.equal(mails().length, sent, 'a wrong password: no code is sent');
});
