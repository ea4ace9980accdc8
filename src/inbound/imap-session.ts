// IMAP over imapflow: checkpoint = UIDVALIDITY + last committed UID per folder (never \Seen),
// SINCE on the first run, bounded batches, server actions only after the commit, IDLE when offered.
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { commitBatch, prepareBatch, type FetchedMessage } from '../ingest/pipeline.js';
import { secretsOf } from '../observability/known-secrets.js';
import type { AfterFetch, PendingAction } from '../store/index.js';
import { credentialsFor, tlsOptionsFor } from './credentials.js';
import { classifyError } from './errors.js';
import { batches, canSkipSync, planSync, uidSet } from './imap-plan.js';
import { abortableSleep, recordOutcomes, settleLater, type ProtocolSession, type SessionContext, type SyncResult } from './session.js';
import { tooBigStandIn } from './too-big.js';

export class ImapSession implements ProtocolSession {
  private client: ImapFlow | null = null;
  private createdFolders = new Set<string>();
  /** The server announced new mail (EXISTS) since the last sync began. */
  private news = false;

  constructor(private ctx: SessionContext) {}

  get connected(): boolean {
    return Boolean(this.client?.usable);
  }

  private get inbound() {
    return this.ctx.mailbox.inbound!;
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const i = this.inbound;
    const creds = await credentialsFor(this.ctx.mailbox.id, this.ctx.mailbox.auth);
    const client = new ImapFlow({
      host: i.host,
      port: i.port,
      secure: i.security === 'tls',
      doSTARTTLS: i.security === 'starttls' ? true : i.security === 'none' ? false : undefined,
      auth: creds,
      tls: await tlsOptionsFor(i),
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 30_000,
      greetingTimeout: 15_000,
      socketTimeout: 5 * 60_000,
    });
    this.createdFolders.clear(); // a new connection checks the move target again
    client.on('exists', () => (this.news = true));
    client.on('error', (err: Error) => this.ctx.log.debug({ err: { message: classifyError(err, secretsOf(this.ctx.mailbox.id)).message } }, 'imap connection error'));
    await this.ctx.loginTurn?.();
    // A server slow to greet or to log in (a busy one takes seconds) must not hold up a stop (a
    // reload restarting this mailbox, shutdown): an abort closes the half-open connection.
    const onAbort = () => client.close();
    if (signal?.aborted) throw Object.assign(new Error('stopped before connecting'), { code: 'EABORTED' });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect();
      this.client = client;
      await client.mailboxOpen(i.folder);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async sync(signal: AbortSignal): Promise<SyncResult> {
    const client = this.client!;
    const { mailbox, sync, fence } = this.ctx;
    const i = this.inbound;
    const result: SyncResult = { fetched: 0, created: 0, duplicates: 0 };
    this.news = false;
    const status = await this.folderStatus();

    let cp = await sync.checkpoint(mailbox.id, i.folder);
    const plan = planSync(cp, status, i.since);
    if (plan.reset && cp) {
      this.ctx.log.warn({ folder: i.folder, before: cp.uidValidity, after: status.uidValidity }, 'UIDVALIDITY changed: rescanning folder');
      await sync.resetCheckpoint(mailbox.id, i.folder, status.uidValidity, fence);
      cp = null;
    }
    await this.finishPending(status.uidValidity);
    this.ctx.status.checkpoint = cp ? { folder: i.folder, ...cp } : null;
    if (canSkipSync(cp, status)) {
      this.ctx.status.backlog = 0;
      return result;
    }

    const query: Record<string, unknown> = { uid: `${plan.afterUid + 1}:*` };
    if (plan.since) query.since = plan.since;
    const found = (await client.search(query, { uid: true })) || [];
    const keyOf = (uid: number) => `imap:${mailbox.id}:${status.uidValidity}:${uid}`;
    const above = found.filter((u) => u > plan.afterUid);
    const known = await sync.knownKeys(above.map(keyOf));
    const todo = above.filter((u) => !known.has(keyOf(u))).sort((a, b) => a - b);
    this.ctx.status.backlog = todo.length;

    // Three batches in flight: while batch k is decided and committed (main thread), batch k+1 is
    // parsed and spooled (parse workers, disk), and once k's server actions are done batch k+2 is
    // fetched. Commits stay in fetch order; the connection runs one command at a time (a fetch never
    // overlaps the server actions); preparing writes only content-addressed blobs, so an abort or a
    // crash with a batch prepared but not committed leaves nothing to undo (it is fetched again).
    const list = batches(todo, i.batchSize);
    const fetchAt = (k: number) => settleLater(this.fetchBatch(list[k]!, status.uidValidity, keyOf));
    const prepare = (fetched: Promise<FetchedMessage[]>) => ({ fetched, prepared: settleLater(fetched.then((f) => prepareBatch(this.ctx, f))) });
    let current = list.length ? prepare(fetchAt(0)) : null;
    let fetching = list.length > 1 ? fetchAt(1) : null;
    try {
      for (let k = 0; k < list.length; k++) {
        if (!current) break; // aborted
        const batch = list[k]!;
        const prepared = await current.prepared;
        current = fetching && !signal.aborted ? prepare(fetching) : null;
        if (current) fetching = null; // else (aborted) it is still awaited below
        const outcomes = await commitBatch(this.ctx, mailbox.id, prepared);
        const actions: PendingAction[] = [];
        recordOutcomes(this.ctx, result, outcomes, { lag: true });
        const ids = new Set(outcomes.map((o) => o.result.actionId).filter((x): x is string => Boolean(x)));
        if (ids.size) for (const a of await sync.pendingActions(mailbox.id)) if (ids.has(a.id)) actions.push(a);
        await current?.fetched.catch(() => {}); // the connection is free (a fetch error surfaces above, next round)
        await this.applyActions(actions);
        if (current && k + 2 < list.length && !signal.aborted) fetching = fetchAt(k + 2);
        this.ctx.status.backlog = Math.max(0, (this.ctx.status.backlog ?? 0) - batch.length);
        const last = batch[batch.length - 1]!;
        this.ctx.status.checkpoint = { folder: i.folder, uidValidity: status.uidValidity, uid: last };
        if (signal.aborted) break;
      }
    } finally {
      // nothing runs on after sync returns (an error is the first one above; these are dropped)
      await Promise.allSettled([current?.prepared, fetching]);
    }
    return result;
  }

  /**
   * UIDVALIDITY, message count and highest UID of the selected folder, fresh from the server:
   * SELECT (a folder deleted or recreated under the session shows its new UIDVALIDITY), then
   * `FETCH <last> (UID)`. Not imapflow's mailbox.uidNext: an untagged EXISTS does not carry UIDNEXT,
   * so it stays as at SELECT and new mail would look like "nothing above the checkpoint" forever.
   * Not STATUS: on the selected folder Dovecot answers from the session's view, which after the
   * folder was recreated is the old one.
   */
  private async folderStatus(): Promise<{ uidValidity: number; uidNext: number; exists: number }> {
    const client = this.client!;
    // SELECT again (not NOOP): a folder deleted and recreated under the session (new UIDVALIDITY)
    // is not always reported on NOOP (Dovecot may keep serving the session's old view: seen as a
    // poller that found nothing new forever); a fresh SELECT reads the folder as it is now.
    await client.mailboxOpen(this.inbound.folder);
    const box = client.mailbox;
    if (!box || !client.usable) throw Object.assign(new Error(`folder ${this.inbound.folder} is no longer selected (connection closed)`), { code: 'ECONNRESET' });
    let highest = 0;
    if (box.exists > 0) {
      const last = await client.fetchOne('*', { uid: true });
      if (last) highest = last.uid;
    }
    return { uidValidity: Number(box.uidValidity), uidNext: highest + 1, exists: box.exists };
  }

  /** Server actions recorded by an earlier commit but not done (crash, disconnect): do them now. */
  private async finishPending(uidValidity: number): Promise<void> {
    const pending = (await this.ctx.sync.pendingActions(this.ctx.mailbox.id)).filter((a) => a.kind === 'imap' && a.folder === this.inbound.folder);
    const stale = pending.filter((a) => a.uidValidity !== uidValidity);
    // UIDs of another UIDVALIDITY name nothing any more: acting on them could hit other messages.
    if (stale.length) await this.ctx.sync.completeActions(stale.map((a) => a.id), this.ctx.fence);
    const live = pending.filter((a) => a.uidValidity === uidValidity);
    if (live.length) {
      this.ctx.log.info({ count: live.length }, 'finishing server actions left pending');
      await this.applyActions(live);
    }
  }

  private async fetchBatch(batch: number[], uidValidity: number, keyOf: (uid: number) => string): Promise<FetchedMessage[]> {
    const client = this.client!;
    const i = this.inbound;
    const sizes = new Map<number, { size: number; date: Date | null }>();
    for await (const m of client.fetch(uidSet(batch), { uid: true, size: true, internalDate: true }, { uid: true }))
      sizes.set(m.uid, { size: m.size ?? 0, date: toDate(m.internalDate) });
    const small = batch.filter((u) => (sizes.get(u)?.size ?? 0) <= i.maxMessageSize);
    const big = batch.filter((u) => sizes.has(u) && (sizes.get(u)?.size ?? 0) > i.maxMessageSize);
    const raws = new Map<number, { raw: Buffer; tooBig: boolean }>();
    if (small.length)
      for await (const m of client.fetch(uidSet(small), { uid: true, source: true }, { uid: true }) as AsyncIterable<FetchMessageObject>)
        if (m.source) raws.set(m.uid, { raw: m.source, tooBig: false });
    if (big.length)
      for await (const m of client.fetch(uidSet(big), { uid: true, headers: true }, { uid: true }) as AsyncIterable<FetchMessageObject>)
        raws.set(m.uid, { raw: tooBigStandIn(m.headers ?? Buffer.alloc(0), sizes.get(m.uid)?.size ?? 0, i.maxMessageSize), tooBig: true });
    const out: FetchedMessage[] = [];
    for (const uid of batch) {
      const r = raws.get(uid);
      if (!r) continue; // expunged meanwhile
      const action = i.afterFetch;
      const afterFetch: AfterFetch | undefined =
        action === 'keep' ? undefined : { mailbox: this.ctx.mailbox.id, kind: 'imap', folder: i.folder, uidValidity, uid, action, ...(i.moveTo && { moveTo: i.moveTo }) };
      out.push({
        dedupeKey: keyOf(uid),
        raw: r.raw,
        tooBig: r.tooBig,
        size: sizes.get(uid)?.size ?? r.raw.length,
        serverDate: sizes.get(uid)?.date ?? null,
        ...(afterFetch && { afterFetch }),
        checkpoint: { mailbox: this.ctx.mailbox.id, folder: i.folder, uidValidity, uid },
      });
    }
    return out;
  }

  /** keep | seen | move | delete, grouped into one command per kind; idempotent on replay. */
  private async applyActions(all: PendingAction[]): Promise<void> {
    const held = all.length && this.ctx.heldActions ? await this.ctx.heldActions(all.map((a) => a.id)) : null;
    const actions = held ? all.filter((a) => !held.has(a.id)) : all;
    if (actions.length === 0) return;
    const client = this.client!;
    const byKind = new Map<string, PendingAction[]>();
    for (const a of actions) {
      const k = a.action === 'move' ? `move:${a.moveTo}` : a.action;
      (byKind.get(k) ?? byKind.set(k, []).get(k)!).push(a);
    }
    for (const [kind, list] of byKind) {
      const set = uidSet(list.map((a) => a.uid!));
      if (kind === 'seen') await client.messageFlagsAdd(set, ['\\Seen'], { uid: true });
      else if (kind === 'delete') await client.messageDelete(set, { uid: true });
      else if (kind.startsWith('move:')) await this.move(set, list[0]!.moveTo!);
      await this.ctx.sync.completeActions(list.map((a) => a.id), this.ctx.fence);
    }
  }

  private async move(set: string, target: string): Promise<void> {
    const client = this.client!;
    if (!this.createdFolders.has(target)) {
      const exists = (await client.list()).some((f) => f.path === target);
      if (!exists) {
        await client.mailboxCreate(target).catch((e: { serverResponseCode?: string }) => {
          if (e.serverResponseCode !== 'ALREADYEXISTS') throw e;
        });
        this.ctx.log.info({ folder: target }, 'created folder for afterFetch: move');
      }
      this.createdFolders.add(target);
    }
    // imapflow uses UID MOVE when offered, else COPY + \Deleted + EXPUNGE.
    const moved = await client.messageMove(set, target, { uid: true });
    // The target may have been deleted since it was created or seen: look again on the retry.
    if (moved === false) this.createdFolders.delete(target);
    if (moved === false) throw Object.assign(new Error(`moving messages to ${target} failed`), { code: 'EPROTOCOL' });
  }

  async waitForNews(ms: number, signal: AbortSignal): Promise<void> {
    const client = this.client;
    if (this.news) return;
    if (!client || !this.inbound.idle || !client.capabilities.has('IDLE')) return abortableSleep(ms, signal);
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.off('exists', finish);
        client.off('close', finish);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      // IDLE is refreshed at least every pollInterval (and well under the 29-minute server limit).
      const timer = setTimeout(finish, Math.min(ms, 25 * 60_000));
      client.on('exists', finish);
      client.on('close', finish);
      signal.addEventListener('abort', finish, { once: true });
      this.ctx.status.state = 'idle-waiting';
      client.idle().catch(finish);
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    try {
      if (client.usable) await Promise.race([client.logout(), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      /* connection already gone */
    } finally {
      client.close();
    }
  }
}


function toDate(v: unknown): Date | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v;
  if (typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}
