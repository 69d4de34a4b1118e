// amazon-cognito-identity-js (the library under Amplify's Auth) against `gatehouse serve`:
// SRP sign-in with authenticateUser, TOTP enrolment with associateSoftwareToken and
// verifySoftwareToken, a sign-in that completes totpRequired with sendMFACode(...,
// 'SOFTWARE_TOKEN_MFA'), the automatic device confirmation, and a device-SRP sign-in from
// the remembered device that skips MFA. Started by tests/test_cognito_identity_js.py, which
// creates the pool (MFA optional, devices remembered, software tokens on) and a confirmed
// user, and passes them in the environment. Exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} from 'amazon-cognito-identity-js';

const { GATEHOUSE_ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, PASSWORD } = process.env;
for (const [name, value] of Object.entries({ GATEHOUSE_ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, PASSWORD })) {
  assert.ok(value, `${name} must be set (run through tests/test_cognito_identity_js.py)`);
}

/** A storage of its own: one per simulated browser, so device keys stay with their browser. */
function memoryStorage() {
  const items = new Map();
  return {
    setItem: (k, v) => items.set(k, String(v)),
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    removeItem: (k) => items.delete(k),
    clear: () => items.clear(),
    items,
  };
}

function userIn(storage) {
  const pool = new CognitoUserPool({
    UserPoolId: POOL_ID,
    ClientId: CLIENT_ID,
    endpoint: GATEHOUSE_ENDPOINT,
    Storage: storage,
  });
  return new CognitoUser({ Username: USERNAME, Pool: pool, Storage: storage });
}

const details = () => new AuthenticationDetails({ Username: USERNAME, Password: PASSWORD });

/** RFC 6238 (HMAC-SHA1, 6 digits, 30 s) written here, independent of the server's. */
function totp(base32, unixSeconds) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

/** Waits until the clock is in the first 20 s of a TOTP step; returns now in seconds. */
async function earlyInStep() {
  while ((Date.now() / 1000) % 30 > 20) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() / 1000;
}

/** authenticateUser as a promise; resolves with which callback fired and its arguments. */
function authenticate(user) {
  return new Promise((resolve, reject) => {
    user.authenticateUser(details(), {
      onSuccess: (session, confirmationNecessary) => resolve({ kind: 'success', session, confirmationNecessary }),
      onFailure: reject,
      totpRequired: (name, parameters) => resolve({ kind: 'totpRequired', name, parameters }),
      mfaSetup: (name) => resolve({ kind: 'mfaSetup', name }),
      mfaRequired: (name) => reject(new Error(`unexpected mfaRequired ${name}`)),
      selectMFAType: (name) => reject(new Error(`unexpected selectMFAType ${name}`)),
      newPasswordRequired: () => reject(new Error('unexpected newPasswordRequired')),
    });
  });
}

test('SRP, TOTP enrolment, totpRequired and a device-SRP sign-in that skips MFA', async () => {
  // A first browser: SRP sign-in; the pool tracks devices, so the library confirms the new one.
  const laptop = memoryStorage();
  const first = userIn(laptop);
  const signedIn = await authenticate(first);
  assert.equal(signedIn.kind, 'success');
  assert.ok(signedIn.session.isValid());
  assert.equal(signedIn.session.getIdToken().payload['cognito:username'], USERNAME);
  const deviceKey = [...laptop.items].find(([k]) => k.endsWith('.deviceKey'))?.[1];
  assert.match(deviceKey ?? '', /^us-east-1_[0-9a-f-]{36}$/, 'the device was confirmed and cached');
  assert.equal(signedIn.session.getAccessToken().payload.device_key, deviceKey);

  // TOTP enrolment with the access token, then TOTP as the preferred factor.
  const secret = await new Promise((resolve, reject) => {
    first.associateSoftwareToken({ associateSecretCode: resolve, onFailure: reject });
  });
  assert.ok(secret.length >= 32, 'a secret of 160 bits or more');
  const now = await earlyInStep();
  await new Promise((resolve, reject) => {
    first.verifySoftwareToken(totp(secret, now), 'phone', { onSuccess: resolve, onFailure: reject });
  });
  await new Promise((resolve, reject) => {
    first.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });

  // Another browser, with no device yet: the sign-in asks for the code.
  const phone = userIn(memoryStorage());
  const challenged = await authenticate(phone);
  assert.equal(challenged.kind, 'totpRequired');
  assert.equal(challenged.name, 'SOFTWARE_TOKEN_MFA');
  const done = await new Promise((resolve, reject) => {
    phone.sendMFACode(totp(secret, now + 30), { onSuccess: resolve, onFailure: reject }, 'SOFTWARE_TOKEN_MFA');
  });
  assert.ok(done.isValid());

  // The first browser's remembered device proves itself with device SRP: no code asked.
  const again = await authenticate(userIn(laptop));
  assert.equal(again.kind, 'success', 'the remembered device skipped MFA');
  assert.equal(again.session.getAccessToken().payload.device_key, deviceKey);
});
