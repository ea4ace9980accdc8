// Why this file exists: the OpenAPI 3.1 contract of the HTTP API, built from the very JSON Schemas
// that validate the requests (schemas/api/*.json), the response schemas (schemas/api/responses.json)
// and the webhook payload (schemas/webhook-payload.schema.json) — no second copy to drift. Served at
// GET /openapi.json and written to schemas/openapi.json by scripts/gen-openapi.ts (a test fails when
// that file differs from this output). Each schema file becomes one component named by its title,
// with its $id dropped and its internal `#/$defs/X` references pointed at the component; the
// response file's $defs become one component each.
import { readFileSync } from 'node:fs';

type Json = Record<string, unknown>;

const SCHEMAS = new URL('../../schemas/', import.meta.url);
/** Request schemas (validated by validate-request.ts and outbound/message-request.ts). */
const REQUEST_FILES = ['api/list-tickets.query.json', 'api/article-path.json', 'api/approve.body.json', 'api/reject.body.json', 'api/message.json'];

function read(file: string): Json {
  return JSON.parse(readFileSync(new URL(file, SCHEMAS), 'utf8')) as Json;
}

/** Deep copy with every `$ref: "#/$defs/X"` rewritten by `to`. */
function rewriteRefs(v: unknown, to: (def: string) => string): unknown {
  if (Array.isArray(v)) return v.map((x) => rewriteRefs(x, to));
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? to(x.slice('#/$defs/'.length)) : rewriteRefs(x, to);
  }
  return out;
}

/** A whole schema file as one component: `#/$defs/X` → `#/components/schemas/<name>/$defs/X`. */
function component(file: string): [string, Json] {
  const { $id: _id, $schema: _s, ...schema } = read(file);
  const name = String(schema['title']);
  return [name, rewriteRefs(schema, (def) => `#/components/schemas/${name}/$defs/${def}`) as Json];
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => ({ $ref: `#/components/responses/${description}` });

const ERRORS: Record<string, string> = {
  BadRequest: 'The query, path or body breaks its schema (details name each field), or the body is not JSON.',
  Unauthorized: 'No bearer token, or not one of server.apiTokens (WWW-Authenticate: Bearer).',
  Forbidden: 'The token may not do this (an admin token, companies ["*"], is needed; or the company or mailbox is outside its scope).',
  NotFound: 'Unknown — or outside the token\'s companies, which looks the same.',
  PayloadTooLarge: 'The body is over the limit.',
  UnsupportedMediaType: 'The body is not application/json (UTF-8).',
  Unprocessable: 'Valid, but contradicts the stored state (e.g. a ticket of another company).',
  NotStarted: 'The daemon is starting or stopping, or the outbox is not available.',
};
const STATUS_OF: Record<string, string> = { BadRequest: '400', Unauthorized: '401', Forbidden: '403', NotFound: '404', PayloadTooLarge: '413', UnsupportedMediaType: '415', Unprocessable: '422', NotStarted: '503' };

/** The standard error answers of an operation, by name. */
function errors(...names: (keyof typeof STATUS_OF)[]): Json {
  return Object.fromEntries(names.map((n) => [STATUS_OF[n]!, err(n)]));
}

const bearer = [{ bearer: [] }];
const pathParam = (name: string, description: string, schema: Json = { type: 'string', maxLength: 200 }) => ({ name, in: 'path', required: true, description, schema });
const TICKET_ID = pathParam('id', 'Ticket id, e.g. ACME-000123.');

function listTicketsParameters(query: Json): Json[] {
  const props = (query['properties'] ?? {}) as Record<string, Json>;
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: 'query',
    required: false,
    ...(typeof p['description'] === 'string' && { description: p['description'] }),
    schema: { $ref: `#/components/schemas/${String(query['title'])}/properties/${name}` },
  }));
}

export function buildOpenApi(version: string): Json {
  const requests = Object.fromEntries(REQUEST_FILES.map(component));
  const responses = read('api/responses.json');
  const responseDefs = rewriteRefs(responses['$defs'], (def) => `#/components/schemas/${def}`) as Record<string, Json>;
  const payload = component('webhook-payload.schema.json');
  const clash = Object.keys(responseDefs).find((k) => k in requests || k === payload[0]);
  if (clash) throw new Error(`openapi: component ${clash} is defined twice`);
  const query = requests['ListTicketsQuery']!;

  const blob = (type: string, description: string) => ({ description, headers: { 'content-disposition': { description: 'attachment; filename=...', schema: { type: 'string' } } }, content: { [type]: { schema: { type: 'string', contentMediaType: type } } } });

  const paths: Json = {
    '/-/healthy': { get: { operationId: 'healthy', summary: 'Liveness (no I/O).', security: [], responses: { 200: json(ref('Health'), 'Alive.') } } },
    '/-/ready': { get: { operationId: 'ready', summary: 'Readiness: the config is loaded, every part started and the store answers (503 with a reason otherwise).', security: [], responses: { 200: json(ref('Health'), 'Ready.'), 503: json(ref('Health'), 'Not ready.') } } },
    '/openapi.json': { get: { operationId: 'openapi', summary: 'This document.', security: [], responses: { 200: json({ type: 'object' }, 'The OpenAPI 3.1 document.') } } },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (open, or an admin token with server.metricsAuth: token; 404 here when served on server.metricsListen).',
        security: [{}, { bearer: [] }],
        responses: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors('Unauthorized', 'Forbidden', 'NotFound') },
      },
    },
    '/-/reload': {
      post: {
        operationId: 'reload',
        summary: 'Reload the configuration now (admin token). A failed reload changes nothing.',
        responses: { 200: json(ref('Reload'), 'Applied or unchanged.'), 422: json(ref('Reload'), 'The new configuration is invalid (problems listed); the running one stays.'), 500: json(ref('Reload'), 'Applying failed; the running configuration stays.'), ...errors('Unauthorized', 'Forbidden', 'NotStarted') },
      },
    },
    '/v1/status': {
      get: { operationId: 'status', summary: 'Mailboxes, config, webhooks, store and outbox (a company token: its mailboxes only).', responses: { 200: json(ref('Status'), 'The daemon\'s state.'), ...errors('Unauthorized', 'NotStarted') } },
    },
    '/v1/mailboxes/{id}/resume': {
      post: {
        operationId: 'resumeMailbox',
        summary: 'Lift a mailbox\'s suspension (both its reading and its sending side).',
        parameters: [pathParam('id', 'Mailbox id (or `default`, the global default sender: admin tokens only).')],
        responses: { 200: json(ref('MailboxResumed'), 'Resumed.'), 409: json(ref('Error'), 'The mailbox is not suspended.'), ...errors('Unauthorized', 'NotFound', 'NotStarted') },
      },
    },
    '/v1/webhooks': {
      get: { operationId: 'listWebhooks', summary: 'Per webhook: pending, held, blocked and dead deliveries (admin token).', responses: { 200: json(ref('Webhooks'), 'Every webhook, configured or with deliveries left.'), ...errors('Unauthorized', 'Forbidden', 'NotStarted') } },
    },
    '/v1/webhooks/{id}/replay': {
      post: {
        operationId: 'replayWebhook',
        summary: 'Deliver dead letters again: one (`delivery`), or all of this webhook\'s (no body). Admin token.',
        parameters: [pathParam('id', 'Webhook id.')],
        requestBody: { required: false, content: { 'application/json': { schema: ref('WebhookReplayBody') } } },
        responses: { 200: json(ref('WebhookReplayed'), 'How many were queued again.'), ...errors('BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'NotStarted') },
      },
    },
    '/v1/tickets': {
      get: {
        operationId: 'listTickets',
        summary: 'Tickets of the token\'s companies, a page at a time.',
        parameters: listTicketsParameters(query),
        responses: { 200: json(ref('TicketPage'), 'A page of tickets.'), ...errors('BadRequest', 'Unauthorized', 'NotStarted') },
      },
    },
    '/v1/tickets/{id}': {
      get: { operationId: 'getTicket', summary: 'A ticket with its articles (sanitised HTML, attachment and raw URLs).', parameters: [TICKET_ID], responses: { 200: json(ref('Ticket'), 'The ticket.'), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'NotStarted') } },
    },
    '/v1/tickets/{id}/articles/{n}/raw': {
      get: {
        operationId: 'getArticleRaw',
        summary: 'The exact stored message of an article (a download: CSP sandbox, nosniff).',
        parameters: [TICKET_ID, { name: 'n', in: 'path', required: true, description: 'Article number.', schema: { $ref: '#/components/schemas/ArticlePath/properties/n' } }],
        responses: { 200: blob('message/rfc822', 'The message as received.'), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'NotStarted') },
      },
    },
    '/v1/tickets/{id}/attachments/{attachmentId}': {
      get: {
        operationId: 'getAttachment',
        summary: 'An attachment\'s bytes (a download, under its safe filename).',
        parameters: [TICKET_ID, pathParam('attachmentId', '"<article>.<index>" as listed, e.g. 2.1.')],
        responses: { 200: blob('application/octet-stream', 'The attachment (Content-Type: its media type when safe, else application/octet-stream).'), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'NotStarted') },
      },
    },
    '/v1/tickets/{id}/reply': {
      post: {
        operationId: 'replyToTicket',
        summary: 'Send a reply to a ticket through its contract\'s mailbox.',
        parameters: [TICKET_ID, { $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/MessageRequest/$defs/TicketReply' } } } },
        responses: { 202: json(ref('MessageAccepted'), 'Durable in the outbox.'), ...errors('BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType', 'NotStarted') },
      },
    },
    '/v1/messages': {
      post: {
        operationId: 'sendMessage',
        summary: 'Queue one outbound message.',
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: { 'application/json': { schema: ref('MessageRequest') } } },
        responses: { 202: json(ref('MessageAccepted'), 'Durable in the outbox.'), ...errors('BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType', 'Unprocessable', 'NotStarted') },
      },
    },
    '/v1/messages/{id}': {
      get: { operationId: 'getMessage', summary: 'An outbound message: queued, sending, sent (with the server\'s reply), retrying or failed (with the reason).', parameters: [pathParam('id', 'Message id.')], responses: { 200: json(ref('Message'), 'The message.'), ...errors('Unauthorized', 'NotFound', 'NotStarted') } },
    },
  };
  for (const action of ['approve', 'reject'] as const) {
    paths[`/v1/tickets/{id}/${action}`] = {
      post: {
        operationId: `${action}Ticket`,
        summary: action === 'approve' ? 'Release a held ticket: it opens and its held webhook deliveries go out.' : 'Reject a held ticket: its held webhook deliveries are cancelled.',
        parameters: [TICKET_ID],
        requestBody: { required: false, content: { 'application/json': { schema: ref(action === 'approve' ? 'ApproveBody' : 'RejectBody') } } },
        responses: { 200: json(ref('TicketSummary'), 'The ticket after the change.'), 409: json(ref('NotHeld'), 'The ticket is not held.'), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType', 'NotStarted') },
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'mailroom HTTP API',
      version,
      description: 'Tickets read from inbound mailboxes, outbound messages, webhook and mailbox operations. Every /v1 and /-/reload call needs a bearer token from server.apiTokens; a token scoped to companies sees only theirs. Errors are JSON {error, details?}. The operator console (/console) is HTML and not part of this contract.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: bearer,
    paths,
    webhooks: {
      ticketEvent: {
        post: {
          operationId: 'ticketEvent',
          summary: 'What a webhook sink receives for each ticket or article (signed; see the README).',
          requestBody: { required: true, content: { 'application/json': { schema: ref(payload[0]) } } },
          responses: { '2XX': { description: 'Delivered.' }, '4XX': { description: 'Dead-lettered at once (replay through /v1/webhooks/{id}/replay).' }, '5XX': { description: 'Retried with backoff.' } },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token of server.apiTokens.' } },
      parameters: {
        IdempotencyKey: { name: 'Idempotency-Key', in: 'header', required: false, description: 'A retried POST with the same key returns the first message instead of queueing another.', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' } },
      },
      responses: Object.fromEntries(Object.entries(ERRORS).map(([name, description]) => [name, json(ref('Error'), description)])),
      schemas: { ...requests, ...responseDefs, [payload[0]]: payload[1] },
    },
  };
}

let cached: string | null = null;

/** The document as served and as committed (2-space JSON with a final newline). */
export function openApiText(): string {
  if (cached === null) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = `${JSON.stringify(buildOpenApi(pkg.version), null, 2)}\n`;
  }
  return cached;
}
