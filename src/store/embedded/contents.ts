// Why this file exists: `mailroom store import` reads an embedded store (store.driver: lowdb) part by
// part without knowing its files: this is that reading side, one iterator or list per kind of state,
// over the parts openEmbeddedStores opened (so the store's LOCK is held while it is read: a running
// daemon makes the open fail). Nothing here writes; tickets come one segment at a time and blobs one
// at a time, so a large store is read in bounded memory.
import type { MailboxOAuthState, SuspensionRecord } from '../control-types.js';
import type { DeliveryRecord } from '../delivery-types.js';
import type { OutboxEntry } from '../outbox-types.js';
import type { StoredTicket } from '../segments.js';
import type { CheckpointInput, PendingAction } from '../types.js';
import type { EmbeddedStores } from './stores.js';

export interface EmbeddedContents {
  /** The store directory. */
  readonly path: string;
  /** Every ticket with its articles, creation order, a segment at a time. */
  tickets(): AsyncGenerator<StoredTicket[]>;
  /** Every dedupe key → its article (aliases of deduplicated copies included). */
  dedupeKeys(): Generator<{ key: string; ticketId: string; articleNo: number }>;
  /** Every (company, normalized Message-ID) → the first ticket that named it (reply threading). */
  messageIds(): Generator<{ company: string; messageId: string; ticketId: string }>;
  checkpoints(): CheckpointInput[];
  uidls(): { mailbox: string; uidls: string[] }[];
  pendingActions(): PendingAction[];
  /** Per ticket-id prefix the last number handed out; the last server-action number. */
  counters(): { prefixes: Record<string, number>; lastActionId: number };
  /** Every blob's sha256 (referenced or not). */
  blobHashes(): AsyncGenerator<string>;
  readBlob(hash: string): Promise<Buffer>;
  /** Pending, held and dead deliveries (delivered and cancelled ones are kept only as ids). */
  deliveries(): DeliveryRecord[];
  /** Every outbox entry the journal keeps (unfinished, and finished ones within retention). */
  outbox(): OutboxEntry[];
  suspensions(): SuspensionRecord[];
  /** The HMAC key the suspension records' fingerprints were made with (<store>/fingerprint.key). */
  fingerprintKey(): Buffer;
  oauthStates(): Promise<MailboxOAuthState[]>;
  /** Rate counters: key → hit times (epoch ms). */
  counterHits(): { key: string; at: number[] }[];
}

export function embeddedContents(stores: EmbeddedStores): EmbeddedContents {
  const { tickets, webhooks, outbox, suspensions, oauth, counters } = stores.parts;
  const c = tickets.contents;
  return {
    path: stores.path,
    tickets: () => c.tickets(),
    *dedupeKeys() {
      for (const [key, ref] of c.keys()) yield { key, ticketId: ref.t, articleNo: ref.a };
    },
    *messageIds() {
      for (const [k, ticketId] of c.messageIds()) {
        const cut = k.indexOf('\0');
        yield { company: k.slice(0, cut), messageId: k.slice(cut + 1), ticketId };
      }
    },
    checkpoints: () => c.checkpoints(),
    uidls: () => c.uidls(),
    pendingActions: () => c.pendingActions(),
    counters: () => c.counters(),
    blobHashes: () => tickets.blobs.hashes(),
    readBlob: (hash) => tickets.blobs.get(hash),
    deliveries: () => webhooks.all().map((d) => ({ ...d })),
    outbox: () => [...outbox.entries()].map((e) => ({ ...e })),
    suspensions: () => suspensions.all().map((r) => ({ ...r })),
    fingerprintKey: () => Buffer.from(suspensions.key),
    oauthStates: async () => (await oauth.all()).map((s) => structuredClone(s)),
    counterHits: () => counters.entries().map(([key, at]) => ({ key, at })),
  };
}
