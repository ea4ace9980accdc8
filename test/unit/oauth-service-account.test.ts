// The service account's JWT bearer grant (src/oauth/service-account.ts): the assertion Google wants
// (iss the account, sub the mailbox, aud the token endpoint, scope, one hour, RS256 with its kid),
// verifiable with the account's public key; a broken key file is a config error that shows no key.
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseServiceAccountKey, serviceAccountAssertion } from '../../src/oauth/service-account.js';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const file = JSON.stringify({ type: 'service_account', private_key_id: 'abc123', private_key: keys.privateKey, client_email: 'sa@p.iam.gserviceaccount.com' });

describe('service account assertion', () => {
  it('names the account, the mailbox, the endpoint and the scope; signed RS256 with the key id', async () => {
    const jwt = await serviceAccountAssertion(parseServiceAccountKey(file), { user: 'desk@acme.example', scope: 'https://www.googleapis.com/auth/gmail.modify', tokenUrl: 'https://oauth2.googleapis.com/token', now: Date.now() });
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'abc123' });
    const { payload } = await jwtVerify(jwt, await importSPKI(keys.publicKey, 'RS256'), { audience: 'https://oauth2.googleapis.com/token', issuer: 'sa@p.iam.gserviceaccount.com' });
    expect(payload).toMatchObject({ sub: 'desk@acme.example', scope: 'https://www.googleapis.com/auth/gmail.modify' });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('a file that is no service account key: a config error without the file\'s content', () => {
    for (const bad of ['not json', JSON.stringify({ client_email: 'x@y', private_key: 'SECRET-MATERIAL' }), '{}']) {
      let err: Error | null = null;
      try {
        parseServiceAccountKey(bad);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toMatchObject({ kind: 'config' });
      expect(err!.message).not.toContain('SECRET-MATERIAL');
    }
  });
});
