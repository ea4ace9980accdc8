// The Gmail API as an inbound transport: the first sync lists the label's messages (`since` as
// `after:`), later ones read users.history from the committed history id; each new message's MIME
// from messages.get format=raw into the same spool → parse → decide → commit path as IMAP. The cursor
// (gmail/sync-plan.ts) is committed with the tickets it covers, server actions only after the
// commit (seen: remove UNREAD; move: add the label, remove the folder's; delete: trash), a history id
// Gmail no longer has (404) → a full resync in which the dedupe keys (`gmail:<mailbox>:<id>`, and the
// Message-ID rule) create nothing twice.
import { commitBatch, prepareBatch, type FetchedMessage } from '../ingest/pipeline.js';
import { type ApiClient, isGraphError as isApiError } from '../graph/client.js';
import { gmailClient, resolveLabel } from '../gmail/client.js';
import { addedToLabel, formatGmailCursor, parseGmailCursor, planGmailPage, sinceQuery, type GmailCursor } from '../gmail/sync-plan.js';
import type { AfterFetch, PendingAction } from '../store/index.js';
import { recordOutcomes, abortableSleep, type ProtocolSession, type SessionContext, type SyncResult } from './session.js';
import { tooBigStandIn } from './too-big.js';

const PARALLEL = 4;
export const gmailKey = (mailbox: string, id: string) => `gmail:${mailbox}:${id}`;

export class GmailSession implements ProtocolSession {
  private client: ApiClient | null = null;
  private labelId: string | null = null;
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
    if (!mailbox.auth?.oauth2 || !i.apiUrl) throw Object.assign(new Error(`mailbox ${mailbox.id}: protocol gmail needs auth.oauth2 and an API URL`), { code: 'ECONFIG' });
    const client = gmailClient(mailbox.id, i.apiUrl, mailbox.auth, { onThrottled: (ms, status) => this.ctx.log.info({ waitMs: ms, status }, 'gmail throttled: waiting as asked (Retry-After)') });
    const id = await resolveLabel(client, i.folder);
    if (!id) throw Object.assign(new Error(`Gmail label ${i.folder} does not exist (NONEXISTENT)`), { httpStatus: 404 });
    this.labelId = id;
    this.targets.clear();
    this.client = client;
  }

  async sync(signal: AbortSignal): Promise<SyncResult> {
    const { mailbox } = this.ctx;
    const i = this.inbound;
    const { sync, fence } = this.ctx;
    const result: SyncResult = { fetched: 0, created: 0, duplicates: 0 };
    let cursor = parseGmailCursor(await sync.cursor(mailbox.id, i.folder));
    // Left pending by an earlier run; not while a listing is under way (it resumes first: moving
    // now would shift the pages it has still to read).
    if (cursor?.phase !== 'list') await this.finishPending(signal);
    let resynced = false;
    while (!signal.aborted) {
      if (!cursor) {
        // The history id is taken before listing: what arrives during the listing is in the history after it.
        const profile = await this.client!.json<{ historyId?: string }>({ path: '/profile', signal });
        cursor = { phase: 'list', historyId: String(profile.historyId ?? '0'), pageToken: null };
      }
      let ids: string[];
      let next: GmailCursor;
      let done: boolean;
      try {
        if (cursor.phase === 'list') {
          const q = new URLSearchParams({ labelIds: this.labelId!, maxResults: String(i.batchSize) });
          const s = sinceQuery(i.since);
          if (s) q.set('q', s);
          if (cursor.pageToken) q.set('pageToken', cursor.pageToken);
          const page = await this.client!.json<{ messages?: { id: string }[]; nextPageToken?: string }>({ path: `/messages?${q}`, signal });
          ids = (page.messages ?? []).map((m) => m.id);
          next = page.nextPageToken ? { phase: 'list', historyId: cursor.historyId, pageToken: page.nextPageToken } : { phase: 'history', historyId: cursor.historyId };
          done = false; // after the listing, the history since its start
        } else {
          // Every page of the history since the cursor (a cursor moves only once all of it is stored).
          const q = new URLSearchParams({ startHistoryId: cursor.historyId, labelId: this.labelId!, maxResults: '500' });
          q.append('historyTypes', 'messageAdded');
          q.append('historyTypes', 'labelAdded');
          ids = [];
          let latest = cursor.historyId;
          for (let token: string | undefined = undefined, first = true; (first || token) && !signal.aborted; first = false) {
            if (token) q.set('pageToken', token);
            const page: { history?: unknown; nextPageToken?: string; historyId?: string } = await this.client!.json({ path: `/history?${q}`, signal });
            ids.push(...addedToLabel(page.history, this.labelId!));
            if (page.historyId) latest = String(page.historyId);
            token = page.nextPageToken;
          }
          next = { phase: 'history', historyId: latest };
          done = true;
        }
      } catch (e) {
        // A history id Gmail no longer keeps (404): read the label from the start again.
        if (!isApiError(e, 404) || cursor.phase !== 'history' || resynced) throw e;
        this.ctx.log.warn({ folder: i.folder }, 'gmail history id expired: full resync of the label');
        resynced = true;
        await sync.resetCursor(mailbox.id, i.folder, fence);
        cursor = null;
        continue;
      }
      const current = formatGmailCursor(cursor);
      const nextValue = formatGmailCursor(next);
      const plan = planGmailPage(ids, await sync.knownKeys(ids.map((id) => gmailKey(mailbox.id, id))), (id) => gmailKey(mailbox.id, id), current, nextValue);
      this.ctx.status.backlog = plan.fetch.length;
      if (plan.fetch.length === 0 && nextValue !== current) await sync.saveCursor(mailbox.id, i.folder, nextValue, fence);
      for (let from = 0; from < plan.fetch.length && !signal.aborted; from += i.batchSize) {
        const chunk = plan.fetch.slice(from, from + i.batchSize);
        const fetched = await this.fetchMessages(chunk, (k) => plan.cursorOf(from + k), signal);
        if (signal.aborted) break;
        if (fetched.length === 0) {
          if (from + chunk.length === plan.fetch.length) await sync.saveCursor(mailbox.id, i.folder, nextValue, fence); // all vanished meanwhile
          continue;
        }
        const outcomes = await commitBatch(this.ctx, mailbox.id, await prepareBatch(this.ctx, fetched));
        recordOutcomes(this.ctx, result, outcomes, { lag: false });
        const actionIds = new Set(outcomes.map((o) => o.result.actionId).filter((x): x is string => Boolean(x)));
        // While the label is being listed, moving or trashing would shift the pages still to come:
        // the actions wait (pending, durable) until the listing is over.
        if (actionIds.size && cursor.phase === 'history') await this.applyActions((await sync.pendingActions(mailbox.id)).filter((a) => actionIds.has(a.id)), signal);
        this.ctx.status.backlog = Math.max(0, plan.fetch.length - from - chunk.length);
      }
      if (signal.aborted) break;
      if (cursor.phase === 'list' && next.phase === 'history') await this.finishPending(signal); // the listing is over
      cursor = next;
      this.ctx.status.checkpoint = { folder: i.folder, cursor: true };
      this.ctx.status.backlog = 0;
      if (done) break;
    }
    return result;
  }

  /** messages.get format=raw, at most 4 at a time; a message gone meanwhile is skipped. */
  private async fetchMessages(ids: string[], cursorOf: (i: number) => string, signal: AbortSignal): Promise<FetchedMessage[]> {
    const { mailbox } = this.ctx;
    const i = this.inbound;
    const out: (FetchedMessage | null)[] = new Array(ids.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !signal.aborted) {
        const k = next++;
        const id = ids[k]!;
        let m: { raw?: string; sizeEstimate?: number; internalDate?: string; labelIds?: string[] };
        try {
          m = await this.client!.json({ path: `/messages/${encodeURIComponent(id)}?format=raw`, signal });
        } catch (e) {
          if (isApiError(e, 404)) continue;
          throw e;
        }
        if (typeof m.raw !== 'string') continue;
        const raw = Buffer.from(m.raw, 'base64url');
        const tooBig = raw.length > i.maxMessageSize;
        const head = tooBig ? raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n')) + 4 || raw.length) : raw;
        const afterFetch: AfterFetch | undefined = i.afterFetch === 'keep' ? undefined : { mailbox: mailbox.id, kind: 'gmail', folder: i.folder, remoteId: id, action: i.afterFetch, ...(i.moveTo && { moveTo: i.moveTo }) };
        const date = m.internalDate ? new Date(Number(m.internalDate)) : null;
        out[k] = {
          dedupeKey: gmailKey(mailbox.id, id),
          raw: tooBig ? tooBigStandIn(head, raw.length, i.maxMessageSize) : raw,
          tooBig,
          size: raw.length,
          serverDate: date && !Number.isNaN(date.getTime()) ? date : null,
          ...(afterFetch && { afterFetch }),
          cursor: { mailbox: mailbox.id, folder: i.folder, value: cursorOf(k) },
        };
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
    const list = out.filter((m): m is FetchedMessage => m !== null);
    const last = cursorOf(ids.length - 1);
    if (list.length && list[list.length - 1]!.cursor!.value !== last) list[list.length - 1]!.cursor = { mailbox: mailbox.id, folder: i.folder, value: last };
    return list;
  }

  private async finishPending(signal: AbortSignal): Promise<void> {
    const { sync } = this.ctx;
    const pending = (await sync.pendingActions(this.ctx.mailbox.id)).filter((a) => a.kind === 'gmail' && a.folder === this.inbound.folder);
    if (pending.length) {
      this.ctx.log.info({ count: pending.length }, 'finishing server actions left pending');
      await this.applyActions(pending, signal);
    }
  }

  /** seen: remove UNREAD; move: add the label, remove the folder's label; delete: trash. Idempotent. */
  private async applyActions(all: PendingAction[], signal: AbortSignal): Promise<void> {
    const held = all.length && this.ctx.heldActions ? await this.ctx.heldActions(all.map((a) => a.id)) : null;
    const actions = held ? all.filter((a) => !held.has(a.id)) : all;
    if (!actions.length) return;
    const { sync, fence } = this.ctx;
    const done: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < actions.length && !signal.aborted) {
        const a = actions[next++]!;
        const path = `/messages/${encodeURIComponent(a.remoteId!)}`;
        try {
          if (a.action === 'seen') await this.client!.json({ method: 'POST', path: `${path}/modify`, json: { removeLabelIds: ['UNREAD'] }, signal });
          else if (a.action === 'move') await this.client!.json({ method: 'POST', path: `${path}/modify`, json: { addLabelIds: [await this.target(a.moveTo!)], removeLabelIds: [this.labelId!] }, signal });
          else if (a.action === 'delete') await this.client!.json({ method: 'POST', path: `${path}/trash`, signal });
        } catch (e) {
          if (!isApiError(e, 404)) throw e; // gone already: nothing left to do
        }
        done.push(a.id);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL, actions.length) }, worker));
    } finally {
      if (done.length) await sync.completeActions(done, fence);
    }
  }

  private async target(name: string): Promise<string> {
    let id = this.targets.get(name);
    if (!id) {
      id = (await resolveLabel(this.client!, name, true))!;
      this.targets.set(name, id);
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
