// Why this file exists: the embedded store's ticket port: queries over the ticket store, a status
// change that settles the ticket's held webhook deliveries, and blobs as streams out of the packs.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { WebhookQueue } from './webhook-queue.js';
import type { BlobStream, SetStatusResult, TicketPort } from '../port.js';
import type { TicketStore } from '../ticket-store.js';
import type { ListTicketsQuery, StoreStats, Ticket, TicketPage, TicketStatus, TicketSummary } from '../types.js';

export class EmbeddedTickets implements TicketPort {
  constructor(
    private readonly store: TicketStore,
    private readonly queue: WebhookQueue,
  ) {}

  async list(q: ListTicketsQuery): Promise<TicketPage> {
    return this.store.listTickets(q);
  }

  get(id: string): Promise<Ticket | null> {
    return this.store.getTicket(id);
  }

  async summary(id: string): Promise<TicketSummary | null> {
    return this.store.findByTicketId(id);
  }

  async setStatus(id: string, status: TicketStatus): Promise<SetStatusResult> {
    const found = await this.store.setStatus(id, status);
    // Two journals: the status is durable first; a crash before settleHeld is caught at open
    // (webhook-queue.ts settles every held ticket by its status then).
    const deliveries = found ? await this.queue.settleHeld(id) : [];
    return { found, deliveries };
  }

  async openBlob(hash: string): Promise<BlobStream | null> {
    if (!/^[0-9a-f]{64}$/i.test(hash)) return null;
    const loc = await this.store.blobs.locate(hash);
    if (!loc) return null;
    // An empty blob (a zero-byte attachment) has no byte range to read: end would come before start.
    const stream = loc.length === 0 ? Readable.from([]) : createReadStream(loc.file, { start: loc.offset, end: loc.offset + loc.length - 1 });
    return { length: loc.length, stream };
  }

  async readBlob(hash: string): Promise<Buffer | null> {
    if (!/^[0-9a-f]{64}$/i.test(hash)) return null;
    return (await this.store.blobs.has(hash)) ? this.store.blobs.get(hash) : null;
  }

  async stats(): Promise<StoreStats> {
    return this.store.stats();
  }
}
