// Webhook payloads carry an attachment's safe name (no path separators or control characters, as
// the API shows it) plus `originalFilename` when the sender's name differs: a receiver that saves
// by `filename` must never write "../../evil .html" outside its directory.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../src/sinks/webhook/payload.js';
import type { Delivery } from '../../src/store/embedded/webhook-queue.js';
import type { Ticket } from '../../src/store/index.js';

const att = (id: string, filename: string) => ({ id, filename, contentType: 'text/html', size: 10, inline: false });
const ticket = {
  id: 'ACME-000001', company: 'acme', contract: null, status: 'open', tags: [], fields: {}, subject: 's', createdAt: '2026-05-04T10:00:00.000Z',
  articles: [{ no: 1, messageId: '<m@x>', subject: 's', from: { address: 'a@x.example', name: '' }, to: [], cc: [], serverDate: null, receivedAt: '2026-05-04T10:00:00.000Z', size: 100, flags: [], text: 't', html: null,
    attachments: [att('a'.repeat(64), '../../evil .html'), att('b'.repeat(64), 'nota.pdf')] }],
} as unknown as Ticket;
const delivery = { id: 'd1', webhook: 'erp', ticketId: ticket.id, articleNo: 1, event: 'ticket.created' } as Delivery;

describe('webhook payload attachment names', () => {
  it('sends the safe name, and originalFilename only when it differs', async () => {
    const p = (await buildPayload(delivery, ticket, { baseUrl: 'http://m.example', inlineUpTo: 0, readBlob: async () => Buffer.alloc(0) })) as { article: { attachments: Record<string, unknown>[] } };
    expect(p.article.attachments[0]).toMatchObject({ filename: '.._.._evil .html', originalFilename: '../../evil .html' });
    expect(p.article.attachments[1]).toMatchObject({ filename: 'nota.pdf' });
    expect(p.article.attachments[1]).not.toHaveProperty('originalFilename');
    const schema = JSON.parse(readFileSync(new URL('../../schemas/webhook-payload.schema.json', import.meta.url), 'utf8'));
    const items = schema.properties.article.properties.attachments.items;
    expect(Object.keys(items.properties)).toContain('originalFilename');
    const v = new Ajv2020({ strict: false }).compile(items);
    for (const a of p.article.attachments) expect(v(a), JSON.stringify(v.errors)).toBe(true);
  });
});
