// Checks HTTP responses against the committed OpenAPI document (schemas/openapi.json): the path and
// method are in it, the status is one the operation declares, the media type matches, and a JSON
// body validates against the declared schema (ajv 2020-12, formats). `checkedFetch` is a drop-in for
// fetch in the integration tests: it throws (failing the test) on any mismatch, and returns the
// response unread.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, any>;

const DOC_ID = 'https://mailroom.dev/openapi.json';
export const OPENAPI = JSON.parse(readFileSync(new URL('../../schemas/openapi.json', import.meta.url), 'utf8')) as Json;

let ajv: Ajv2020 | null = null;
const compiled = new Map<string, ValidateFunction>();

/** A validator for a schema object of the document (refs resolve inside the document). */
export function schemaValidator(schema: Json): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    if (!ajv) {
      // strict: false because the document itself (openapi, paths ...) is no schema; its schemas are
      // still compiled in full. x-message is the request schemas' own keyword.
      ajv = new Ajv2020({ strict: false, allErrors: true });
      (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
      ajv.addSchema({ ...OPENAPI, $id: DOC_ID });
    }
    const rel = JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, `"$ref":"${DOC_ID}#/`)) as Json;
    v = ajv.compile(rel);
    compiled.set(key, v);
  }
  return v;
}

/** The document's path template matching a concrete path, e.g. /v1/tickets/ACME-1 → /v1/tickets/{id}. */
export function matchPath(pathname: string): string | null {
  const segs = pathname.split('/');
  for (const template of Object.keys(OPENAPI['paths'] as Json)) {
    const t = template.split('/');
    if (t.length === segs.length && t.every((s, i) => /^\{.+\}$/.test(s) || s === segs[i])) return template;
  }
  return null;
}

const deref = (o: Json): Json => {
  if (typeof o?.['$ref'] !== 'string') return o;
  return (o['$ref'] as string)
    .slice(2)
    .split('/')
    .reduce((x: Json, k) => x[k], OPENAPI);
};

/** Problems of one response (empty = it conforms). */
export function responseProblems(method: string, url: string, status: number, contentType: string | null, body: string): string[] {
  const { pathname } = new URL(url, 'http://x');
  const template = matchPath(pathname);
  // The router's own answers: 404 for a path it does not know, 405 for a method a path lacks.
  const routerError = (expected: number, what: string) => (status === expected && (contentType ?? '').startsWith('application/json') && typeof (JSON.parse(body) as Json)['error'] === 'string' ? [] : [`${method} ${pathname}: ${what} (and the answer is not ${expected} {error})`]);
  if (!template) return routerError(404, 'no such path in the OpenAPI document');
  const op = (OPENAPI['paths'] as Json)[template][method.toLowerCase()] as Json | undefined;
  if (!op) return routerError(405, `no such operation on ${template} in the OpenAPI document`);
  const declared = op['responses'] as Json;
  const r = declared[String(status)] ?? declared[`${String(status)[0]}XX`] ?? declared['default'];
  if (!r) return [`${method} ${template}: status ${status} is not declared (declared: ${Object.keys(declared).join(', ')})`];
  const content = deref(r)['content'] as Json | undefined;
  if (!content) return [];
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const media = content[type] ?? (type !== '' && Object.keys(content).includes('application/octet-stream') ? content['application/octet-stream'] : undefined);
  if (!media) return [`${method} ${template} ${status}: content-type ${type || '(none)'} is not declared (declared: ${Object.keys(content).join(', ')})`];
  if (type !== 'application/json') return [];
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return [`${method} ${template} ${status}: body is not JSON`];
  }
  const validate = schemaValidator(media['schema'] as Json);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => `${method} ${template} ${status}: ${e.instancePath || '(body)'} ${e.message ?? e.keyword}`);
}

/** Throws when the response does not conform; returns it unread. */
export async function checkResponse(method: string, url: string, res: Response): Promise<Response> {
  const body = method === 'HEAD' ? '' : await res.clone().text();
  const problems = responseProblems(method, url, res.status, res.headers.get('content-type'), body);
  if (problems.length) throw new Error(`response does not match schemas/openapi.json:\n  ${problems.join('\n  ')}`);
  return res;
}

/** fetch, then checkResponse. */
export async function checkedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init);
  return checkResponse((init.method ?? 'GET').toUpperCase(), String(url), res);
}
