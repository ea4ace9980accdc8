// Request validation: query strings, path numbers and JSON bodies against schemas/api/*.json, with
// precise messages ({field, message}) and the body rules (413, 415). The schemas themselves compile
// in ajv strict mode and agree with the store's statuses.
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isStatus } from '../../src/store/apply.js';
import { API_SCHEMA_DIR, ApiError, apiValidator, parsePath, parseQuery, readJsonBody, safeName, type ApiSchemaName } from '../../src/http/validate-request.js';

const list = apiValidator('list-tickets.query');
const q = (s: string) => parseQuery(new URL(`http://x/v1/tickets?${s}`), list);

function fails(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected an ApiError');
}

async function failsAsync(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected an ApiError');
}

function request(body: string | Buffer | null, headers: Record<string, string> = {}): IncomingMessage {
  const s = new PassThrough();
  const h: Record<string, string> = { ...headers };
  if (body !== null) {
    h['content-length'] ??= String(Buffer.byteLength(body));
    s.end(body);
  } else s.end();
  return Object.assign(s, { headers: h }) as unknown as IncomingMessage;
}

describe('schemas/api', () => {
  it('every schema compiles (ajv strict) and has a matching name', () => {
    const files = readdirSync(API_SCHEMA_DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const name = f.replace(/\.json$/, '') as ApiSchemaName;
      const schema = JSON.parse(readFileSync(new URL(f, API_SCHEMA_DIR), 'utf8')) as { $id: string };
      expect(schema.$id.endsWith(`/api/${f}`)).toBe(true);
      expect(apiValidator(name).validate).toBeTypeOf('function');
    }
  });

  it("the status enum is exactly the store's statuses", () => {
    const statuses = (list.schema.properties?.['status'] as { enum: string[] }).enum;
    for (const s of statuses) expect(isStatus(s), s).toBe(true);
    for (const s of ['open', 'held', 'dropped']) expect(statuses).toContain(s);
  });
});

describe('parseQuery (list)', () => {
  it('applies defaults and types', () => {
    expect({ ...q('') }).toEqual({ limit: 50, order: 'asc' });
    expect({ ...q('limit=500&status=held&company=acme&contract=gold&since=2024-01-01T00:00:00Z&order=desc') }).toEqual({
      limit: 500,
      status: 'held',
      company: 'acme',
      contract: 'gold',
      since: '2024-01-01T00:00:00Z',
      order: 'desc',
    });
    expect(q('limit=007')['limit']).toBe(7);
    expect(fails(() => q('limit=+7')).details).toEqual([{ field: 'limit', message: 'must be an integer' }]); // '+' is a space in a query
  });

  const cases: [string, string, string][] = [
    ['limit=0', 'limit', 'must be >= 1'],
    ['limit=-3', 'limit', 'must be >= 1'],
    ['limit=501', 'limit', 'must be <= 500'],
    ['limit=99999999999999999999', 'limit', 'must be an integer'],
    ['limit=abc', 'limit', 'must be an integer'],
    ['limit=1e2', 'limit', 'must be an integer'],
    ['limit=0x10', 'limit', 'must be an integer'],
    ['limit= 5', 'limit', 'must be an integer'],
    ['status=bogus', 'status', 'must be one of open, held, dropped, rejected'],
    ['status=OPEN', 'status', 'must be one of open, held, dropped, rejected'],
    ['since=yesterday', 'since', 'must be an ISO 8601 date-time with a time zone, e.g. 2024-05-01T00:00:00Z'],
    ['since=2024-13-01T00:00:00Z', 'since', 'must be an ISO 8601 date-time with a time zone, e.g. 2024-05-01T00:00:00Z'],
    ['company=', 'company', 'must be a company id (letters, digits, -, _, .; at most 64 characters)'],
    ['contract=a%20b', 'contract', 'must be a contract id (letters, digits, -, _, .; at most 64 characters)'],
    ['cursor=', 'cursor', 'must be the `next` value of a previous page'],
    [`cursor=${'a'.repeat(201)}`, 'cursor', 'must be the `next` value of a previous page'],
    ['cursor=a.b', 'cursor', 'must be the `next` value of a previous page'],
    ['x=1', 'x', 'unknown parameter (allowed: company, contract, status, since, cursor, limit, order)'],
    ['__proto__=1', '__proto__', 'unknown parameter (allowed: company, contract, status, since, cursor, limit, order)'],
    ['constructor=1', 'constructor', 'unknown parameter (allowed: company, contract, status, since, cursor, limit, order)'],
    ['status=open&status=held', 'status', 'must be given at most once'],
  ];
  for (const [query, field, message] of cases) {
    it(`?${query} → ${field}: ${message}`, () => {
      const e = fails(() => q(query));
      expect(e.status).toBe(400);
      expect(e.details).toContainEqual({ field, message });
      expect(e.body().error).toContain(`${field} ${message}`);
    });
  }

  it('collects every problem, and never echoes values', () => {
    const secret = 'sk_live_0123456789abcdef';
    const e = fails(() => q(`limit=${secret}&status=${secret}&token=${secret}&since=${secret}`));
    expect(e.details.map((d) => d.field).sort()).toEqual(['limit', 'since', 'status', 'token']);
    expect(JSON.stringify(e.body())).not.toContain(secret);
  });

  it('bounds and cleans echoed parameter names', () => {
    expect(safeName('a'.repeat(100))).toHaveLength(64);
    expect(safeName('a\nb\u0000')).toBe('a?b?');
    const e = fails(() => q(`${'z'.repeat(200)}=1`));
    expect(e.details[0]!.field.length).toBeLessThanOrEqual(64);
  });
});

describe('parseQuery (no parameters) and parsePath', () => {
  it('rejects any parameter', () => {
    const e = fails(() => parseQuery(new URL('http://x/v1/tickets/A-1?x=1&y=2'), apiValidator('no-query')));
    expect(e.details).toEqual([
      { field: 'x', message: 'unknown parameter (none allowed)' },
      { field: 'y', message: 'unknown parameter (none allowed)' },
    ]);
    expect({ ...parseQuery(new URL('http://x/v1/tickets/A-1'), apiValidator('no-query')) }).toEqual({});
  });

  it('article numbers are positive integers', () => {
    const v = apiValidator('article-path');
    expect(parsePath({ n: '3' }, v)['n']).toBe(3);
    expect(fails(() => parsePath({ n: '0' }, v)).details).toEqual([{ field: 'n', message: 'must be >= 1' }]);
    expect(fails(() => parsePath({ n: 'x' }, v)).details).toEqual([{ field: 'n', message: 'must be an integer' }]);
    expect(fails(() => parsePath({ n: 'x' }, v)).message).toBe('invalid path: n must be an integer');
  });
});

describe('readJsonBody', () => {
  const reject = apiValidator('reject.body');
  const JSON_CT = { 'content-type': 'application/json' };

  it('no body or an empty body is {}', async () => {
    expect(await readJsonBody(request(null), reject)).toEqual({});
    expect(await readJsonBody(request('', { 'content-length': '0' }), reject)).toEqual({});
    expect(await readJsonBody(request('  ', JSON_CT), reject)).toEqual({});
  });

  it('parses and validates JSON', async () => {
    expect(await readJsonBody(request('{"reason":"spam"}', JSON_CT), reject)).toEqual({ reason: 'spam' });
    expect(await readJsonBody(request('\ufeff{"reason":"ü"}', { 'content-type': 'Application/JSON; Charset=UTF-8' }), reject)).toEqual({ reason: 'ü' });
    const e = await failsAsync(readJsonBody(request('{"reason":"x","extra":1}', JSON_CT), reject));
    expect(e.status).toBe(400);
    expect(e.details).toEqual([{ field: 'extra', message: 'unknown field (allowed: reason)' }]);
    const long = await failsAsync(readJsonBody(request(JSON.stringify({ reason: 'x'.repeat(2001) }), JSON_CT), reject));
    expect(long.details).toEqual([{ field: 'reason', message: 'must NOT have more than 2000 characters' }]);
    const proto = await failsAsync(readJsonBody(request('{"__proto__":{"x":1}}', JSON_CT), reject));
    expect(proto.details).toEqual([{ field: '__proto__', message: 'unknown field (allowed: reason)' }]);
  });

  it('400 for invalid JSON or UTF-8, without echoing the body', async () => {
    const e = await failsAsync(readJsonBody(request('{"reason": "secret-value', JSON_CT), reject));
    expect(e.status).toBe(400);
    expect(e.message).toBe('request body is not valid JSON');
    const u = await failsAsync(readJsonBody(request(Buffer.from([0x7b, 0xff, 0x7d]), JSON_CT), reject));
    expect(u.message).toBe('request body is not valid UTF-8');
    for (const body of ['[]', '"x"', 'null', '1']) {
      const n = await failsAsync(readJsonBody(request(body, JSON_CT), reject));
      expect(n.details).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    }
  });

  it('415 for a body that is not application/json (or not UTF-8)', async () => {
    for (const ct of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-patch+json', 'application/json; charset=utf-16']) {
      const e = await failsAsync(readJsonBody(request('{}', ct ? { 'content-type': ct } : {}), reject));
      expect(e.status, String(ct)).toBe(415);
      expect(e.headers['connection']).toBe('close');
    }
  });

  it('413 over 1 MiB: declared (before reading) or streamed', async () => {
    const declared = await failsAsync(readJsonBody(request('{}', { ...JSON_CT, 'content-length': String(2 * 1024 * 1024) }), reject));
    expect(declared.status).toBe(413);
    const big = Buffer.alloc(1024 * 1024 + 10, 0x20);
    const chunked = await failsAsync(readJsonBody(request(big, { ...JSON_CT, 'content-length': '', 'transfer-encoding': 'chunked' }), reject));
    expect(chunked.status).toBe(413);
    expect(chunked.message).toBe('request body too large (limit 1048576 bytes)');
  });
});
