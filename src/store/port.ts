// Why this file exists: the one contract for every piece of durable state mailroom keeps. The daemon,
// pollers, pipeline, API, webhook dispatcher and outbox talk to these interfaces only; the embedded
// store (files + lowdb, one process) and the PostgreSQL store (several replicas) implement them, and
// test/contract/ runs one behavioural suite against each. Every method is async: what is a Map lookup
// in the embedded store is a query in PostgreSQL.
//
// Grouped by who uses them:
//   intake      pollers' pipeline: the facts decide() needs for a whole batch in one call, then one
//               atomic commit (tickets, articles, checkpoint or UIDLs, server actions, deliveries)
//   sync        pollers: checkpoints, UIDLs, pending server actions
//   tickets     API and dispatcher: list, get, status (releases/cancels held deliveries), blobs as streams
//   deliveries  webhook dispatcher: a claimed queue (claimDue → complete | retryAt | deadLetter | release)
//   outbox      outbound sender: a claimed queue of whole messages, idempotency keys
//   control     suspensions (with a change signal), OAuth state (compare-and-set), rate counters, leases
//
// Fencing: every write that belongs to a mailbox carries the Fence its poller got with the right to
// poll it (Kleppmann's fencing tokens). A store with one owner (embedded) may ignore it; a shared store
// refuses a stale one with StoreError('fenced'), in the same transaction as the write.
import type { Readable } from 'node:stream';
import type { MailboxOAuthState, SuspensionRecord } from './control-types.js';
import type { HitRequest } from './counter-batch.js';
import type { DeliveryRecord, DeliverySummary } from './delivery-types.js';
import type { OutboxEntry } from './outbox-types.js';
import type {
  AfterFetch,
  Article,
  Checkpoint,
  CommitItem,
  CommitResult,
  ListTicketsQuery,
  PendingAction,
  StoreStats,
  Ticket,
  TicketPage,
  TicketStatus,
  TicketSummary,
} from './types.js';

/** The right to write for one mailbox: its epoch grows each time the mailbox changes hands. */
export interface Fence {
  readonly mailbox: string;
  readonly epoch: number;
}

/** The fence of a store with one owner (embedded): epoch 0, never stale. */
export const soleOwner = (mailbox: string): Fence => ({ mailbox, epoch: 0 });

// ───────────────────────────── intake ─────────────────────────────

/** What decide() and the pipeline may ask about a batch, asked once per batch (or per part of it). */
export interface IntakeFactsQuery {
  /** dedupe keys (server identity, `midc:`/`mid:` Message-ID keys) */
  keys: string[];
  /** of `keys`: those whose stored article is wanted whole (to compare an old article's content) */
  articlesOf?: string[];
  /** Message-IDs a reply names (In-Reply-To, References) or a message carries, per company to search */
  threadIds: { company: string; ids: string[] }[];
  /** ticket ids from subject tags ([ACME-000123]) */
  ticketIds: string[];
  /** also return the tickets the threadIds found (in `tickets`) */
  threadTickets?: boolean;
}

export interface ArticleRef {
  ticketId: string;
  articleNo: number;
  /** the stored article, when the key was in `articlesOf` (null: it could not be read) */
  article?: Article | null;
}

export interface TicketFact {
  summary: TicketSummary;
  /** lower-cased From/To/Cc addresses of its articles (for the unverified-sender check) */
  participants: string[];
  /** the Message-IDs of its articles */
  messageIds: string[];
}

export interface IntakeFacts {
  /** the known ones of the asked keys */
  keys: Map<string, ArticleRef>;
  /** `<company>\0<message-id>` → ticket id, for the asked ids that are known */
  threadIds: Map<string, string>;
  /** ticket id → status, for the tickets threadIds found (a reply to a rejected ticket reopens it) */
  threadStatuses: Map<string, TicketStatus>;
  /** the known ones of the asked ticket ids (and, with threadTickets, of the tickets threadIds found) */
  tickets: Map<string, TicketFact>;
}

/** A webhook delivery the commit creates with its article (the gate is the item's pending action). */
export interface DeliveryIntent {
  webhooks: string[];
  /** the item's server action waits for these deliveries (mail routed only to webhooks) */
  gated: boolean;
}

export interface IntakeItem extends CommitItem {
  deliveries?: DeliveryIntent;
}

export interface IntakeResult extends CommitResult {
  /** deliveries created by this commit (none for a duplicate) */
  deliveries: DeliveryRecord[];
}

export interface IntakePort {
  facts(q: IntakeFactsQuery): Promise<IntakeFacts>;
  /** Content-addressed, durable before it resolves; returns the SHA-256 hex of each. */
  putBlobs(items: (Uint8Array | string)[]): Promise<string[]>;
  /**
   * Atomic and durable: the items' tickets/articles, dedupe keys, checkpoint or UIDLs, pending server
   * actions and webhook deliveries, or none of them. A key already known makes the item a duplicate
   * (no new article; its server action is still recorded so the copy leaves the server).
   */
  commit(items: IntakeItem[], fence: Fence): Promise<IntakeResult[]>;
}

// ───────────────────────────── sync ─────────────────────────────

export interface SyncPort {
  checkpoint(mailbox: string, folder: string): Promise<Checkpoint | null>;
  /** UIDVALIDITY changed: the folder restarts at uid 0, its pending actions under the old value go. */
  resetCheckpoint(mailbox: string, folder: string, uidValidity: number, fence: Fence): Promise<void>;
  /** An API mailbox's opaque sync cursor for a folder (Graph delta link, Gmail history id), or null. */
  cursor(mailbox: string, folder: string): Promise<string | null>;
  /**
   * Replace the cursor without a ticket: a page that brought nothing to commit (every message known,
   * or only removals). A page with messages carries its cursor in the commit (CommitItem.cursor).
   */
  saveCursor(mailbox: string, folder: string, value: string, fence: Fence): Promise<void>;
  /** The API refused the cursor (Graph 410, Gmail 404): the folder syncs from the start; pending actions stay. */
  resetCursor(mailbox: string, folder: string, fence: Fence): Promise<void>;
  /** Which of these dedupe keys are known (a cheap membership test for the fetch plan). */
  knownKeys(keys: string[]): Promise<Set<string>>;
  uidls(mailbox: string): Promise<Set<string>>;
  /** Forget UIDLs not in `keep`; resolves with how many were forgotten. */
  pruneUidls(mailbox: string, keep: Set<string>, fence: Fence): Promise<number>;
  pendingActions(mailbox: string): Promise<PendingAction[]>;
  completeActions(ids: string[], fence: Fence): Promise<void>;
}

// ───────────────────────────── tickets ─────────────────────────────

export interface BlobStream {
  length: number;
  stream: Readable;
}

export interface SetStatusResult {
  found: boolean;
  /** held deliveries released (approved → pending) or cancelled (rejected) with it */
  deliveries: DeliveryRecord[];
}

export interface TicketPort {
  list(q: ListTicketsQuery): Promise<TicketPage>;
  get(id: string): Promise<Ticket | null>;
  /** The ticket's summary (cheap: no articles), or null. */
  summary(id: string): Promise<TicketSummary | null>;
  /** Durable, together with the ticket's held deliveries (released on open, cancelled on rejected). */
  setStatus(id: string, status: TicketStatus): Promise<SetStatusResult>;
  /** A blob's bytes as a stream (never a file path), or null if unknown. */
  openBlob(hash: string): Promise<BlobStream | null>;
  readBlob(hash: string): Promise<Buffer | null>;
  stats(): Promise<StoreStats>;
}

// ───────────────────────────── claimed queues ─────────────────────────────

/** A worker's claim on due rows: no other owner gets them until `ttlMs` passes unrenewed. */
export interface ClaimRequest {
  owner: string;
  limit: number;
  ttlMs: number;
  /** epoch ms; due rows are those with nextAt ≤ now */
  now: number;
  /**
   * Called, before claimDue resolves, with the claimed rows whose previous claim had expired
   * without being settled or released (its claimer died or stalled past the claim TTL): claim
   * takeovers, for mailroom_claim_takeovers_total. Not called when there are none.
   */
  onTakenOver?: (ids: string[]) => void;
}

export interface DeliveryClaimRequest extends Omit<ClaimRequest, 'limit'> {
  /** free slots per webhook (its `concurrency` minus what this owner has in flight); others get none */
  capacity: Record<string, number>;
}

export interface DeliveryPort {
  /**
   * Due pending deliveries, at most one per webhook+ticket (the oldest: per-ticket order holds, and a
   * ticket with a claimed delivery gets no second one), none of a ticket whose earlier delivery is
   * dead-lettered, none claimed by another live owner, at most `capacity[webhook]` per webhook.
   */
  claimDue(req: DeliveryClaimRequest): Promise<DeliveryRecord[]>;
  /** The soonest nextAt of a pending delivery not yet due (for the dispatcher's timer), or null. */
  nextDueAt(): Promise<number | null>;
  complete(id: string, owner: string, outcome: { status: number; at: number }): Promise<void>;
  retryAt(id: string, owner: string, outcome: { status: number | null; error: string; nextAt: number }): Promise<void>;
  deadLetter(id: string, owner: string, outcome: { status: number | null; error: string; at: number }): Promise<void>;
  release(ids: string[], owner: string): Promise<void>;
  /** Dead letters back to pending (all of a webhook, or one); returns how many. */
  replay(webhook: string, deliveryId?: string): Promise<number>;
  dead(webhook?: string): Promise<DeliveryRecord[]>;
  get(id: string): Promise<DeliveryRecord | null>;
  /** Whether a pending server action still waits for a delivery. */
  gating(actionIds: string[]): Promise<Set<string>>;
  summary(): Promise<Map<string, DeliverySummary>>;
}

export interface UnfinishedQuery {
  live?: boolean;
  skip?: ReadonlySet<string>;
}

export interface OutboxPort {
  /** Durable before it resolves; refuses (returns the existing entry) a known idempotency key. */
  add(entry: OutboxEntry): Promise<{ entry: OutboxEntry; existing: boolean }>;
  get(id: string): Promise<OutboxEntry | null>;
  findByIdempotencyKey(company: string | null, key: string): Promise<OutboxEntry | null>;
  claimDue(req: ClaimRequest): Promise<OutboxEntry[]>;
  /**
   * The commit point of an attempt: its end of data went to the server (after a crash the message
   * counts as sent, unconfirmed, and is never sent again). Recorded before the call returns (the
   * promise is for errors), because the process may die before the server's reply arrives.
   */
  markPastEndOfData(id: string, attempt: number): Promise<void>;
  /** Record an outcome (status, attempts, nextAttemptAt ...) and drop the claim. */
  settle(id: string, owner: string, patch: Partial<OutboxEntry>): Promise<void>;
  release(ids: string[], owner: string): Promise<void>;
  /**
   * Unfinished entries (queued, sending, retrying) and failed ones still kept, for status and the
   * sender's lanes. `live`: the unfinished ones only (no failed). `skip`: leave these ids out
   * without reading them whole (a sender polling for new messages already holds them).
   */
  unfinished(opts?: UnfinishedQuery): Promise<OutboxEntry[]>;
}

// ───────────────────────────── control ─────────────────────────────

export type SuspensionListener = (mailbox: string, record: SuspensionRecord | null) => void;

export interface ControlPort {
  suspension(mailbox: string): Promise<SuspensionRecord | null>;
  suspensions(): Promise<SuspensionRecord[]>;
  setSuspension(r: SuspensionRecord): Promise<void>;
  clearSuspension(mailbox: string): Promise<void>;
  /** Called after every set/clear made through this store (and, in a shared store, by another replica). */
  watchSuspensions(fn: SuspensionListener): () => void;
  /** The install's key for credential fingerprints: made on first use, the same for every replica, never shown. */
  fingerprintKey(): Promise<Buffer>;
  /** The salt of suspension records written before fingerprints were keyed, while any remain (embedded stores of that age); else null. */
  legacyFingerprintSalt(): Promise<string | null>;
  oauthState(mailbox: string): Promise<{ state: MailboxOAuthState; version: number }>;
  /** Writes only if the stored version is still `version`; false when another writer came first. */
  casOAuthState(mailbox: string, version: number, next: MailboxOAuthState): Promise<boolean>;
  /**
   * Runs `fn` (read the refresh token, refresh it, store the rotated one) while no other replica runs
   * one for this mailbox: a rotating provider must never see a refresh token another replica already
   * rotated away. PostgreSQL: a session advisory lock (released with the session if the replica
   * dies); embedded (one process): in order per mailbox. Refused after `waitMs` (default 30 s) of waiting.
   */
  oauthRefreshExclusive<T>(mailbox: string, fn: () => Promise<T>, waitMs?: number): Promise<T>;
  /**
   * A sliding-window counter that survives a restart (a loop guard, e.g. new tickets per sender per
   * hour): records one hit for `key` at `now`; true when the hits within `windowMs` exceed `limit`.
   */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<boolean>;
  /**
   * Several hits at once (a batch's per-sender cap: one statement on PostgreSQL, not one per hit):
   * the answers, in order, of hit() called for each request in turn, each seeing the hits recorded
   * before it (earlier ones of the same key in this call included).
   */
  hits(requests: readonly HitRequest[]): Promise<boolean[]>;
}

// ───────────────────────────── cluster ─────────────────────────────

/** A replica of the installation, alive while its heartbeat is. */
export interface Member {
  id: string;
  configHash: string | null;
  startedAt: string;
  /** epoch ms */
  expiresAt: number;
}

export interface LeaseRow {
  mailbox: string;
  /** null: released */
  owner: string | null;
  epoch: number;
  /** epoch ms */
  expiresAt: number;
}

/**
 * Several replicas on one shared store: membership by heartbeat, and the right to poll a mailbox as
 * a lease whose epoch is the Fence of every write for that mailbox (a store with one owner has none).
 * Times are the store's clock, the same for every replica.
 */
export interface ClusterPort {
  /** Keep this replica alive until now + ttl; returns the store's now, the live members (this one
   *  included) and every lease: all a round of the lease plan needs, in one call;
   *  stalledEnded: sessions of a stopped replica, stalled mid-statement with their locks, that this
   *  heartbeat ended (PostgreSQL: postgres/stalls.ts). */
  heartbeat(member: { id: string; configHash: string | null }, ttlMs: number): Promise<{ now: number; members: Member[]; leases: LeaseRow[]; stalledEnded?: number }>;
  /** Free, expired or already ours → a new epoch (a new holding) and its fence; held by another → null. */
  acquire(mailbox: string, owner: string, ttlMs: number): Promise<Fence | null>;
  /** Renew these holdings; returns those still ours (a lost one was taken over). */
  renew(fences: Fence[], owner: string, ttlMs: number): Promise<Fence[]>;
  /** Give these up now (their epochs stay: late writes with them are still refused). */
  release(fences: Fence[], owner: string): Promise<void>;
  /** This replica leaves: its row goes at once (the others rebalance without waiting for its expiry). */
  leave(id: string): Promise<void>;
  /**
   * Tell the other replicas that leases changed hands here (released, or a replica joined or left),
   * so they run a lease round now rather than at their next (up to a third of the TTL later).
   * PostgreSQL: NOTIFY. A lost announcement only costs that wait.
   */
  announce?(from: string): Promise<void>;
  /** Called with the announcing replica's id (its own included); returns the unsubscribe. */
  onAnnounce?(fn: (from: string) => void): () => void;
}

// ───────────────────────────── the whole store ─────────────────────────────

export interface Stores {
  /** 'lowdb' (embedded) or 'postgres' */
  readonly driver: string;
  /** What the outbox found at open, if the store recovers it then (messages past their end of data
   *  when the process died: counted as sent, unconfirmed); a shared store does it at claim time. */
  readonly outboxRecovery?: { unconfirmed: string[]; tornTail: boolean };
  readonly intake: IntakePort;
  readonly sync: SyncPort;
  readonly tickets: TicketPort;
  readonly deliveries: DeliveryPort;
  readonly outbox: OutboxPort;
  readonly control: ControlPort;
  /** Present when several replicas may share the store (PostgreSQL); absent for a single owner. */
  readonly cluster?: ClusterPort;
  /** Is the store usable now? A cheap round trip (PostgreSQL: `SELECT 1`, bounded by timeoutMs);
   *  rejects with a StoreError naming the cause (never a secret) when it is not. Readiness uses it. */
  ping(timeoutMs: number): Promise<void>;
  /** Flush and release (the directory lock, the pool). */
  close(): Promise<void>;
}

export type { AfterFetch, HitRequest };
