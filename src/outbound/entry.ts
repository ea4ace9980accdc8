// A new outbox entry from a built message: the one place that lists every field's starting value.
import { randomBytes } from 'node:crypto';
import type { OutboxEntry } from '../store/outbox-types.js';
import type { Composed } from './compose.js';
import type { OutboundRequest } from './resolve.js';

export interface NewOutboxMessage {
  purpose: OutboxEntry['purpose'];
  company: string | null;
  request: OutboundRequest & { kind: 'user' | 'system' };
  mailbox: string | null;
  ticket?: string | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  subject: string;
  composed: Composed;
}

export function newEntry(m: NewOutboxMessage, now = new Date()): OutboxEntry {
  return {
    // sortable by time, unguessable
    id: `msg_${now.getTime().toString(36)}${randomBytes(9).toString('hex')}`,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    purpose: m.purpose,
    company: m.company,
    request: m.request,
    mailbox: m.mailbox,
    ticket: m.ticket ?? null,
    idempotencyKey: m.idempotencyKey ?? null,
    ...(m.requestHash && { requestHash: m.requestHash }),
    messageId: m.composed.messageId,
    subject: m.subject,
    envelope: m.composed.envelope,
    raw: m.composed.raw.toString('latin1'),
    size: m.composed.raw.length,
    status: 'queued',
    attempts: 0,
    committed: 0,
    nextAttemptAt: null,
    accepted: [],
    rejected: [],
    response: null,
    confirmed: null,
    possibleDuplicate: false,
    lastError: null,
    sentAt: null,
    failedAt: null,
  };
}
