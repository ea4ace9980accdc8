// Why this file exists: opens the embedded store (store.driver: lowdb) under one directory and puts
// its parts behind the port: ticket segments, packs, meta and UIDLs (ticket-store.ts), the webhook
// journal, the outbox journal, suspensions, OAuth state and counters. Only this folder and the parts
// it opens join paths under store.path.
import { WebhookQueue } from './webhook-queue.js';
import { OutboxStore, type OutboxRecovery, type OutboxStoreOptions } from '../outbox-store.js';
import { access, constants } from 'node:fs/promises';
import type { Stores } from '../port.js';
import { StoreError } from '../types.js';
import { openTicketStore, type TicketStore } from '../ticket-store.js';
import type { TicketStoreOptions } from '../types.js';
import { EmbeddedControl } from './control.js';
import { Counters } from './counters.js';
import { EmbeddedDeliveries } from './deliveries.js';
import { EmbeddedIntake } from './intake.js';
import { EmbeddedOutbox } from './outbox.js';
import { OAuthFileStore, VersionedOAuthFiles } from './oauth-files.js';
import { SuspensionFileStore } from './suspension-file.js';
import { EmbeddedTickets } from './tickets.js';

export interface EmbeddedOptions {
  tickets?: TicketStoreOptions;
  outbox?: OutboxStoreOptions;
}

export interface EmbeddedStores extends Stores {
  readonly driver: 'lowdb';
  readonly path: string;
  /** What the outbox found at open (messages past their commit point when the process died). */
  readonly outboxRecovery: OutboxRecovery;
  /** The parts, for the embedded store's own tests and benchmarks (file layout, I/O counts). */
  readonly parts: { tickets: TicketStore; webhooks: WebhookQueue; outbox: OutboxStore; suspensions: SuspensionFileStore; oauth: OAuthFileStore; counters: Counters };
}

export async function openEmbeddedStores(root: string, opts: EmbeddedOptions = {}): Promise<EmbeddedStores> {
  const tickets = await openTicketStore(root, opts.tickets);
  const opened: { close(): Promise<void> }[] = [tickets];
  try {
    const webhooks = await WebhookQueue.open(root, tickets);
    opened.push(webhooks);
    const outbox = await OutboxStore.open(root, opts.outbox);
    opened.push(outbox);
    const suspensions = await SuspensionFileStore.open(root);
    const oauth = new OAuthFileStore(root);
    const counters = await Counters.open(root);
    const intake = new EmbeddedIntake(tickets, webhooks);
    let closed = false;
    return {
      driver: 'lowdb',
      path: tickets.path,
      outboxRecovery: outbox.recovery,
      parts: { tickets, webhooks, outbox, suspensions, oauth, counters },
      intake,
      sync: intake,
      tickets: new EmbeddedTickets(tickets, webhooks),
      deliveries: new EmbeddedDeliveries(webhooks),
      outbox: new EmbeddedOutbox(outbox),
      control: new EmbeddedControl(suspensions, new VersionedOAuthFiles(oauth), counters),
      // in this process: usable while open and its directory is still there to write to
      async ping() {
        if (closed) throw new StoreError('closed', 'the store is closed');
        await access(root, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
          throw new StoreError('failed', `store directory ${root} is not writable (${e.code ?? 'error'})`);
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        await Promise.allSettled([counters.flush(), oauth.flush()]);
        const results = await Promise.allSettled([outbox.close(), webhooks.close(), tickets.close()]);
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
      },
    };
  } catch (e) {
    await Promise.allSettled(opened.reverse().map((o) => o.close()));
    throw e;
  }
}
