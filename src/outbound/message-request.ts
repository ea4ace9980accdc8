// Validation of the message API bodies against schemas/api/message.json (ajv, strict), with the
// same error shape as the rest of the API: 400 {"error": "invalid request body: to[0] must be an
// e-mail address", "details": [{"field", "message"}]}. Messages name the field and the rule, never
// echo the value. Also turns a validated body into a SubmitInput (base64 attachments decoded).
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { AddressInput } from './address.js';
import type { AttachmentInput } from './compose.js';
import type { SubmitInput } from './submit.js';
import type { ReplyBody } from './ticket-reply.js';

export interface FieldProblem {
  field: string;
  message: string;
}

export interface MessageBody {
  company: string;
  contract?: string;
  workflow?: string;
  mailbox?: string;
  kind: 'user' | 'system';
  from?: AddressInput;
  to?: AddressInput | AddressInput[];
  cc?: AddressInput | AddressInput[];
  bcc?: AddressInput | AddressInput[];
  subject?: string;
  text?: string;
  html?: string;
  attachments?: { filename: string; contentType?: string; content: string; cid?: string }[];
  ticket?: string;
}

const SCHEMA_URL = new URL('../../schemas/api/message.json', import.meta.url);
let validators: { message: ValidateFunction; reply: ValidateFunction } | null = null;

function compile() {
  if (validators) return validators;
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as { $id: string };
  ajv.addSchema(schema);
  validators = { message: ajv.getSchema(schema.$id)!, reply: ajv.getSchema(`${schema.$id}#/$defs/TicketReply`)! };
  return validators;
}

const fieldOf = (path: string) =>
  path
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');

/** ajv errors → one problem per field (oneOf noise folded into the most specific message). */
export function describe(errors: ErrorObject[] | null | undefined): FieldProblem[] {
  const out = new Map<string, string>();
  const countProblems = new Set<string>();
  for (const e of errors ?? []) {
    const p = e.params as Record<string, unknown>;
    let field = fieldOf(e.instancePath);
    let message: string;
    const custom = (e.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
    switch (e.keyword) {
      case 'additionalProperties':
        field = [field, String(p.additionalProperty).replace(/[^\x20-\x7e]/g, '?').slice(0, 64)].filter(Boolean).join('.');
        message = 'is not a known field';
        break;
      case 'required':
        field = [field, String(p.missingProperty)].filter(Boolean).join('.');
        message = 'is required';
        break;
      case 'oneOf':
      case 'if':
        continue;
      case 'enum':
        message = `must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
        break;
      case 'maxItems':
      case 'minItems':
        // A list that is too long also fails the one-address branch of a oneOf ("must be an e-mail
        // address"): the count is what is wrong, so it wins over whatever that branch said.
        out.set(field || '(body)', `must list at ${e.keyword === 'maxItems' ? 'most' : 'least'} ${String(p.limit)}${Array.isArray(e.data) ? ` (it lists ${e.data.length})` : ''}`);
        countProblems.add(field || '(body)');
        continue;
      default:
        message = typeof custom === 'string' ? custom : (e.message ?? `fails ${e.keyword}`);
    }
    field ||= '(body)';
    // The string branch of Address fails with "must be string" when an object was meant: keep the better one.
    if (countProblems.has(field)) continue;
    if (!out.has(field) || out.get(field) === 'must be string' || out.get(field) === 'must be object') out.set(field, message);
  }
  return [...out].map(([field, message]) => ({ field, message }));
}

export function validateMessageBody(body: unknown): { ok: true; value: MessageBody } | { ok: false; problems: FieldProblem[] } {
  const v = compile().message;
  return v(body) ? { ok: true, value: body as MessageBody } : { ok: false, problems: describe(v.errors) };
}

/** Validate a POST /v1/tickets/:id/reply body; recipients become lists, attachments are decoded. */
export function validateReplyBody(body: unknown): { ok: true; value: ReplyBody } | { ok: false; problems: FieldProblem[] } {
  const v = compile().reply;
  if (!v(body)) return { ok: false, problems: describe(v.errors) };
  const b = body as Omit<MessageBody, 'company' | 'kind'> & { kind?: 'user' | 'system' };
  return { ok: true, value: toReplyBody({ ...b, company: '', kind: b.kind ?? 'user' }) };
}

const list = (a: AddressInput | AddressInput[] | undefined): AddressInput[] | undefined => (a === undefined ? undefined : Array.isArray(a) ? a : [a]);

export function decodeAttachments(a: MessageBody['attachments']): AttachmentInput[] | undefined {
  return a?.map((x) => ({ filename: x.filename, content: Buffer.from(x.content, 'base64'), ...(x.contentType && { contentType: x.contentType }), ...(x.cid && { cid: x.cid }) }));
}

export function toSubmitInput(b: MessageBody, idempotencyKey: string | null): SubmitInput {
  const attachments = decodeAttachments(b.attachments);
  return {
    purpose: 'message',
    company: b.company,
    ...(b.contract !== undefined && { contract: b.contract }),
    ...(b.workflow !== undefined && { workflow: b.workflow }),
    ...(b.mailbox !== undefined && { mailbox: b.mailbox }),
    kind: b.kind,
    person: b.from ?? null,
    to: list(b.to) ?? [],
    ...(b.cc !== undefined && { cc: list(b.cc)! }),
    ...(b.bcc !== undefined && { bcc: list(b.bcc)! }),
    subject: b.subject ?? '',
    ...(b.text !== undefined && { text: b.text }),
    ...(b.html !== undefined && { html: b.html }),
    ...(attachments && { attachments }),
    idempotencyKey,
  };
}

/** The reply fields of a POST /v1/messages body that names a ticket. */
export function toReplyBody(b: MessageBody): ReplyBody {
  const attachments = decodeAttachments(b.attachments);
  return {
    ...(b.to !== undefined && { to: list(b.to)! }),
    ...(b.cc !== undefined && { cc: list(b.cc)! }),
    ...(b.bcc !== undefined && { bcc: list(b.bcc)! }),
    ...(b.subject !== undefined && { subject: b.subject }),
    ...(b.text !== undefined && { text: b.text }),
    ...(b.html !== undefined && { html: b.html }),
    ...(b.from !== undefined && { from: b.from }),
    ...(b.mailbox !== undefined && { mailbox: b.mailbox }),
    kind: b.kind,
    ...(attachments && { attachments }),
  };
}
