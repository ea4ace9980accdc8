// The HTTP limits' defaults live in the schema (docs, editor completion); the resolver and the
// HttpServer's own fallback must say the same.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { resolveSnapshot } from '../../src/config/resolve.js';
import { DEFAULT_HTTP_LIMITS } from '../../src/http/server.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/mailroom.schema.json', import.meta.url), 'utf8'));
const server = schema.$defs.Server.properties;

describe('server limits defaults', () => {
  it('schema defaults = resolved defaults = DEFAULT_HTTP_LIMITS', () => {
    const fromSchema = {
      headersTimeoutMs: parseDuration(server.headersTimeout.default),
      requestTimeoutMs: parseDuration(server.requestTimeout.default),
      keepAliveTimeoutMs: parseDuration(server.keepAliveTimeout.default),
      maxConnections: server.maxConnections.default,
    };
    const snap = resolveSnapshot({ version: 1 }, { hash: 'x', files: [], locations: new Map(), warnings: [] });
    expect(snap.server.limits).toEqual(fromSchema);
    expect(DEFAULT_HTTP_LIMITS).toEqual(fromSchema);
    expect(fromSchema.headersTimeoutMs).toBe(10_000);
    expect(snap.server.metricsListen).toBeNull();
    expect(snap.server.metricsAuth).toBe(server.metricsAuth.default);
  });
});
