// A `tokenFile` holding fewer than 16 characters is refused like an inline `token` (which the schema
// rejects): a request presenting it gets no principal, so a guessable token never opens the API.
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFromSources } from '../../src/config/load.js';
import { loadSchema } from '../../src/config/schema.js';
import { authenticate, MIN_API_TOKEN_LENGTH } from '../../src/http/auth.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-token-'));
const snapWith = (file: string) =>
  loadFromSources([{ name: 'm.yaml', absolute: '/m.yaml', text: `version: 1\nserver:\n  apiTokens:\n    - { name: p, tokenFile: ${file}, companies: ["*"] }\n` }], { env: {} }).snapshot!;
const req = (token: string) => ({ headers: { authorization: `Bearer ${token}` } }) as IncomingMessage;

describe('tokenFile length', () => {
  it('the minimum is the schema minLength of an inline token', () => {
    const schema = loadSchema() as { $defs: { ApiToken: { properties: { token: { minLength: number } } } } };
    expect(MIN_API_TOKEN_LENGTH).toBe(schema.$defs.ApiToken.properties.token.minLength);
  });

  it('a file with fewer than 16 characters authenticates nobody', async () => {
    const file = join(dir, 'short');
    writeFileSync(file, 'changeme-123\n');
    expect(await authenticate(req('changeme-123'), snapWith(file))).toBeNull();
  });

  it('a file with 16 characters or more works', async () => {
    const file = join(dir, 'long');
    writeFileSync(file, '0123456789abcdef\n');
    expect(await authenticate(req('0123456789abcdef'), snapWith(file))).toEqual({ name: 'p', companies: '*' });
  });
});
