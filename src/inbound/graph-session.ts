// Microsoft Graph as an inbound transport: a delta round on the folder's messages (immutable ids,
// one page per batch), the MIME of each new message from `$value` into the same spool → parse →
// decide → commit path as IMAP. The cursor (the delta link) is committed with the tickets it covers
// (graph/delta.ts says which link each message carries), server actions only after the commit
// (seen: isRead, move, delete: to Deleted Items), an expired delta link (410) → a full resync in
// which the dedupe keys (`graph:<mailbox>:<immutable id>`, and the Message-ID rule) create nothing
// twice.
import { commitBatch, prepareBatch, type FetchedMessage, type PreparedBatch } from '../ingest/pipeline.js';
import { GraphClient, isGraphError } from '../graph/client.js';
import { initialDeltaPath, parseDeltaPage, planDeltaPage, type DeltaPage } from '../graph/delta.js';
import { resolveFolder } from '../graph/folders.js';
import type { AfterFetch, PendingAction } from '../store/index.js';
import { settleLater, recordOutcomes, abortableSleep, type ProtocolSession, type SessionContext, type SyncResult } from './session.js';
import { tooBigStandIn } from './too-big.js';

/** Immutable ids: an id survives a move (server actions and dedupe keys rely on it). */
const IMMUTABLE = 'IdType="ImmutableId"';
const FETCH_PARALLEL = 4;

export const graphKey = (mailbox: string, id: string) => `graph:${mailbox}:${id}`;

interface LoadedPage {
  /** the link that got this page */
  url: string;
  page: DeltaPage;
  /** its new messages, spooled and parsed; null when there is nothing to store */
  prepared: PreparedBatch | null;
}


export class GraphSession implements ProtocolSession {
  private client: GraphClient | null = null;
  private folderId: string | null = null;
  private targets = new Map<string, string>();

  constructor(private ctx: SessionContext) {}

  get connected(): boolean {
    return this.client !== null;
  }

  private get inbound() {
    return this.ctx.mailbox.inbound!;
  }

  async connect(): Promise<void> {
    const { mailbox } = this.ctx;
    const i = this.inbound;
    if (!mailbox.auth?.oauth2 || !i.apiUrl) throw Object.assign(new Error(`mailbox ${mailbox.id}: protocol graph needs auth.oauth2 and an API URL`), { code: 'ECONFIG' });
    const client = new GraphClient({
      mailbox: mailbox.id,
      apiUrl: i.apiUrl,
      auth: mailbox.auth,
      onThrottled: (ms, status) => this.ctx.log.info({ waitMs: ms, status }, 'graph throttled: waiting as asked (Retry-After)'),
    });
    const id = await resolveFolder(client, i.folder);
    if (!id) throw Object.assign(new Error(`Graph folder ${i.folder} does not exist (NONEXISTENT)`), { httpStatus: 404 });
    this.folderId = id;
    this.targets.clear();
    this.client = client;
  }

  async sync(signal: AbortSignal): Promise<SyncResult> {
    const { mailbox } = this.ctx;
    const i = this.inbound;
    const { sync, fence } = this.ctx;
    const result: SyncResult = { fetched: 0, created: 0, duplicates: 0 };
    await this.finishPending(signal);
    const first = (await sync.cursor(mailbox.id, i.folder)) ?? initialDeltaPath(this.folderId!, i.since);
    this.ctx.status.checkpoint = { folder: i.folder, cursor: first.includes('deltatoken') };
    let resynced = false;
    // Two pages in flight: while page k is decided, committed and acted on, page k+1 is fetched
    // ($value) and prepared (spool, parse). Commits stay in page order; preparing writes only
    // content-addressed blobs, so an abort or a crash with a page prepared but not committed leaves
    // nothing to undo (the page is read again from the committed link). The commit decides what is
    // a duplicate, so a page planned before the previous one was committed cannot double anything.
    const load = (url: string) => settleLater(this.loadPage(url, signal));
    let next: Promise<LoadedPage> | null = load(first);
    try {
      while (next && !signal.aborted) {
        let cur: LoadedPage;
        try {
          cur = await next;
        } catch (e) {
          // The delta link expired (410 SyncStateNotFound): the folder is read again from the start;
          // what is stored already is known by its key and not fetched twice.
          if (!isGraphError(e, 410) || resynced) throw e;
          this.ctx.log.warn({ folder: i.folder, code: e.graphCode }, 'graph delta state expired: full resync of the folder');
          resynced = true;
          await sync.resetCursor(mailbox.id, i.folder, fence);
          next = load(initialDeltaPath(this.folderId!, i.since));
          continue;
        }
        if (signal.aborted) break; // nothing of this page committed: it is read again
        next = cur.page.roundDone ? null : load(cur.page.next);
        this.ctx.status.backlog = cur.prepared?.batch.length ?? 0;
        if (!cur.prepared) {
          // nothing to store (all known, removals only, or vanished meanwhile): the link moves alone
          if (cur.page.next !== cur.url) await sync.saveCursor(mailbox.id, i.folder, cur.page.next, fence);
        } else {
          const outcomes = await commitBatch(this.ctx, mailbox.id, cur.prepared);
          recordOutcomes(this.ctx, result, outcomes, { lag: true });
          const ids = new Set(outcomes.map((o) => o.result.actionId).filter((x): x is string => Boolean(x)));
          if (ids.size) await this.applyActions((await sync.pendingActions(mailbox.id)).filter((a) => ids.has(a.id)), signal);
        }
        this.ctx.status.checkpoint = { folder: i.folder, cursor: true };
        this.ctx.status.backlog = 0;
      }
    } finally {
      await Promise.allSettled([next]); // nothing runs on after sync returns
    }
    return result;
  }

  /** One delta page: what is new on it, fetched and prepared (nothing committed). */
  private async loadPage(url: string, signal: AbortSignal): Promise<LoadedPage> {
    const { mailbox } = this.ctx;
    const prefer = [IMMUTABLE, `odata.maxpagesize=${this.inbound.batchSize}`];
    const page = parseDeltaPage(await this.client!.json({ path: url, prefer, signal }));
    const keys = page.messages.filter((m) => !m.removed).map((m) => graphKey(mailbox.id, m.id));
    const plan = planDeltaPage(page, url, await this.syncKnown(keys), (id) => graphKey(mailbox.id, id));
    if (plan.fetch.length === 0) return { url, page, prepared: null };
    const dates = new Map(page.messages.map((m) => [m.id, m.receivedDateTime]));
    const fetched = await this.fetchMessages(plan.fetch, plan.cursorOf, dates, signal);
    return { url, page, prepared: fetched.length ? await prepareBatch(this.ctx, fetched) : null };
  }

  private syncKnown(keys: string[]): Promise<Set<string>> {
    return this.ctx.sync.knownKeys(keys);
  }

  /** `$value` of each message, at most 4 at a time (Graph's per-mailbox limit); too big: headers only. */
  private async fetchMessages(ids: string[], cursorOf: (i: number) => string, dates: Map<string, string | undefined>, signal: AbortSignal): Promise<FetchedMessage[]> {
    const { mailbox } = this.ctx;
    const i = this.inbound;
    const out: (FetchedMessage | null)[] = new Array(ids.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !signal.aborted) {
        const k = next++;
        const id = ids[k]!;
        let got: { raw: Buffer; size: number; tooBig: boolean } | null;
        try {
          got = await this.client!.request({ path: `/messages/${encodeURIComponent(id)}/$value`, prefer: [IMMUTABLE], signal }, (res) => readCapped(res, i.maxMessageSize));
        } catch (e) {
          if (isGraphError(e, 404)) got = null; // gone meanwhile (moved or deleted by someone)
          else throw e;
        }
        const action = i.afterFetch;
        const afterFetch: AfterFetch | undefined = action === 'keep' ? undefined : { mailbox: mailbox.id, kind: 'graph', folder: i.folder, remoteId: id, action, ...(i.moveTo && { moveTo: i.moveTo }) };
        if (!got) {
          // Nothing to store; the cursor must still move past it if it was the page's last.
          out[k] = null;
          continue;
        }
        out[k] = {
          dedupeKey: graphKey(mailbox.id, id),
          raw: got.tooBig ? tooBigStandIn(got.raw, got.size, i.maxMessageSize) : got.raw,
          tooBig: got.tooBig,
          size: got.size,
          serverDate: toDate(dates.get(id)),
          ...(afterFetch && { afterFetch }),
          cursor: { mailbox: mailbox.id, folder: i.folder, value: cursorOf(k) },
        };
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_PARALLEL, ids.length) }, worker));
    const list = out.filter((m): m is FetchedMessage => m !== null);
    // A vanished last message: the one before it carries the page's link now.
    const lastCursor = cursorOf(ids.length - 1);
    if (list.length && !signal.aborted && list[list.length - 1]!.cursor!.value !== lastCursor) list[list.length - 1]!.cursor = { mailbox: mailbox.id, folder: i.folder, value: lastCursor };
    return list;
  }

  /** Server actions recorded by an earlier commit but not done (crash, lost connection): do them now. */
  private async finishPending(signal: AbortSignal): Promise<void> {
    const { sync } = this.ctx;
    const pending = (await sync.pendingActions(this.ctx.mailbox.id)).filter((a) => a.kind === 'graph' && a.folder === this.inbound.folder);
    if (pending.length) {
      this.ctx.log.info({ count: pending.length }, 'finishing server actions left pending');
      await this.applyActions(pending, signal);
    }
  }

  /** seen: isRead; move: to moveTo (created when missing); delete: to Deleted Items. Idempotent. */
  private async applyActions(all: PendingAction[], signal: AbortSignal): Promise<void> {
    const held = all.length && this.ctx.heldActions ? await this.ctx.heldActions(all.map((a) => a.id)) : null;
    const actions = held ? all.filter((a) => !held.has(a.id)) : all;
    if (!actions.length) return;
    const { sync, fence } = this.ctx;
    const client = this.client!;
    const done: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < actions.length && !signal.aborted) {
        const a = actions[next++]!;
        const path = `/messages/${encodeURIComponent(a.remoteId!)}`;
        try {
          if (a.action === 'seen') await client.json({ method: 'PATCH', path, json: { isRead: true }, prefer: [IMMUTABLE], signal });
          else if (a.action === 'move' || a.action === 'delete') {
            const dest = a.action === 'delete' ? 'deleteditems' : await this.target(a.moveTo!, signal);
            await client.json({ method: 'POST', path: `${path}/move`, json: { destinationId: dest }, prefer: [IMMUTABLE], signal });
          }
        } catch (e) {
          // The message is gone (deleted or moved by a person): nothing left to do for it.
          if (!isGraphError(e, 404)) throw e;
        }
        done.push(a.id);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(FETCH_PARALLEL, actions.length) }, worker));
    } finally {
      if (done.length) await sync.completeActions(done, fence);
    }
  }

  private async target(path: string, signal: AbortSignal): Promise<string> {
    let id = this.targets.get(path);
    if (!id) {
      id = (await resolveFolder(this.client!, path, { create: true, signal }))!;
      this.targets.set(path, id);
    }
    return id;
  }

  waitForNews(ms: number, signal: AbortSignal): Promise<void> {
    return abortableSleep(ms, signal);
  }

  async close(): Promise<void> {
    this.client = null;
  }
}

function toDate(s: string | undefined): Date | null {
  const d = s ? new Date(s) : null;
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

/** The body, or (past `max` bytes) the bytes read so far as a too-big message's head. */
async function readCapped(res: Response, max: number): Promise<{ raw: Buffer; size: number; tooBig: boolean }> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const chunks: Buffer[] = [];
  let n = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    chunks.push(Buffer.from(value));
    if (n > max) {
      await reader.cancel().catch(() => {});
      const head = Buffer.concat(chunks);
      const end = head.indexOf('\r\n\r\n');
      const end2 = head.indexOf('\n\n');
      const cut = end >= 0 ? end + 4 : end2 >= 0 ? end2 + 2 : head.length;
      return { raw: head.subarray(0, cut), size: Number.isFinite(declared) ? declared : n, tooBig: true };
    }
  }
  return { raw: Buffer.concat(chunks), size: n, tooBig: false };
}
