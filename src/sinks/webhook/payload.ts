// The JSON a webhook receives (schemas/webhook-payload.schema.json, `version` lets it evolve):
// the ticket, the article (the message), attachments as metadata with API download URLs, or
// inline base64 below the webhook's `inlineAttachmentsUpTo`.
import type { Article, Ticket } from '../../store/index.js';
import type { DeliveryRecord as Delivery } from '../../store/delivery-types.js';
import { safeFilename } from '../../ingest/safe-filename.js';

export const PAYLOAD_VERSION = 1;

export interface PayloadContext {
  baseUrl: string;
  inlineUpTo: number;
  readBlob: (sha: string) => Promise<Buffer>;
}

export async function buildPayload(d: Delivery, ticket: Ticket, ctx: PayloadContext): Promise<Record<string, unknown>> {
  const article = ticket.articles.find((a) => a.no === d.articleNo);
  if (!article) throw new Error(`article ${d.articleNo} of ${ticket.id} not found`);
  const base = `${ctx.baseUrl.replace(/\/$/, '')}/v1/tickets/${encodeURIComponent(ticket.id)}`;
  return {
    version: PAYLOAD_VERSION,
    event: d.event,
    deliveryId: d.id,
    webhook: d.webhook,
    ticket: {
      id: ticket.id,
      company: ticket.company,
      contract: ticket.contract,
      status: ticket.status,
      type: ticket.type,
      group: ticket.group,
      priority: ticket.priority,
      tags: ticket.tags,
      fields: ticket.fields,
      subject: ticket.subject,
      createdAt: ticket.createdAt,
      url: base,
    },
    article: await articleView(article, base, ctx),
  };
}

async function articleView(a: Article, base: string, ctx: PayloadContext): Promise<Record<string, unknown>> {
  return {
    no: a.no,
    mailbox: a.mailbox,
    messageId: a.messageId,
    inReplyTo: a.inReplyTo,
    references: a.references,
    subject: a.subject,
    from: a.from,
    to: a.to,
    cc: a.cc,
    date: a.serverDate,
    receivedAt: a.receivedAt,
    size: a.size,
    flags: a.flags,
    text: a.text,
    html: a.html,
    rawUrl: `${base}/articles/${a.no}/raw`,
    attachments: await Promise.all(
      a.attachments.map(async (att) => ({
        id: att.id,
        // As the API does: the safe name, and the name as written when it differs.
        filename: safeFilename(att.filename),
        ...(safeFilename(att.filename) !== att.filename && { originalFilename: att.filename }),
        contentType: att.contentType,
        size: att.size,
        inline: att.inline,
        url: `${base}/attachments/${att.id}`,
        ...(att.size <= ctx.inlineUpTo && ctx.inlineUpTo > 0 && { contentBase64: (await ctx.readBlob(att.id).catch(() => Buffer.alloc(0))).toString('base64') }),
      })),
    ),
  };
}
