// POP3: state is the set of committed UIDLs; `since` judged from the Date header (via TOP); DELE only
// for committed messages, and their pending actions are completed only after QUIT succeeded (DELE
// takes effect at QUIT). One connection per poll: POP3 servers lock the maildrop while connected.
import { ingestBatch, type FetchedMessage } from '../ingest/pipeline.js';
import { batches } from './imap-plan.js';
import { credentialsFor, tlsOptionsFor } from './credentials.js';
import { Pop3Client } from './pop3-client.js';
import { olderThanSince, planPop3Sync, pop3Key } from './pop3-plan.js';
import { abortableSleep, recordOutcomes, type ProtocolSession, type SessionContext, type SyncResult } from './session.js';
import { tooBigStandIn } from './too-big.js';

export class Pop3Session implements ProtocolSession {
  /** UIDLs seen older than `since` (judged once per process; they are never fetched). */
  private tooOld = new Set<string>();

  constructor(private ctx: SessionContext) {}

  get connected(): boolean {
    return true; // connects per sync
  }

  async connect(): Promise<void> {
    /* per sync */
  }

  private async open(): Promise<Pop3Client> {
    const i = this.ctx.mailbox.inbound!;
    const tls = await tlsOptionsFor(i);
    const credentials = await credentialsFor(this.ctx.mailbox.id, this.ctx.mailbox.auth);
    await this.ctx.loginTurn?.(); // one login per poll: each takes its turn at the host
    return Pop3Client.connect({
      host: i.host,
      port: i.port,
      security: i.security,
      tls,
      credentials,
    });
  }

  async sync(signal: AbortSignal): Promise<SyncResult> {
    const { mailbox, sync, fence } = this.ctx;
    const i = mailbox.inbound!;
    const result: SyncResult = { fetched: 0, created: 0, duplicates: 0 };
    const pop = await this.open();
    let quitDone = false;
    try {
      const uidls = await pop.uidl();
      const numberOf = new Map([...uidls].map(([n, u]) => [u, n]));
      const sizes = await pop.list();
      const all = await sync.pendingActions(mailbox.id);
      const heldNow = (await this.ctx.heldActions?.(all.map((a) => a.id))) ?? new Set<string>();
      const pending = all.filter((x) => !heldNow.has(x.id));
      const committed = await sync.uidls(mailbox.id);
      const known = await sync.knownKeys([...uidls.values()].filter((u) => !committed.has(u)).map((u) => pop3Key(mailbox.id, u)));
      const plan = planPop3Sync(mailbox.id, { uidls }, pending, { committed, knownKeys: known, tooOld: this.tooOld });
      // Deletes recorded by an earlier commit but not yet effective (crash, lost connection).
      for (const n of plan.redo) await pop.dele(n);
      const doneIds: string[] = [...plan.finish];
      const todo = plan.fetch;
      this.ctx.status.backlog = todo.length;
      for (const batch of batches(todo, i.batchSize)) {
        if (signal.aborted) break;
        const fetched: FetchedMessage[] = [];
        for (const n of batch) {
          const uidl = uidls.get(n)!;
          const size = sizes.get(n) ?? 0;
          if (i.since && olderThanSince((await pop.top(n, 0)).toString('latin1'), i.since)) {
            this.tooOld.add(uidl);
            continue;
          }
          const tooBig = size > i.maxMessageSize;
          const raw = tooBig
            ? tooBigStandIn(await pop.top(n, 0), size, i.maxMessageSize)
            : await pop.retr(n);
          fetched.push({
            dedupeKey: pop3Key(mailbox.id, uidl),
            raw,
            tooBig,
            size,
            serverDate: null,
            pop3Uidl: { mailbox: mailbox.id, uidl },
            ...(i.afterFetch === 'delete' && { afterFetch: { mailbox: mailbox.id, kind: 'pop3' as const, uidl, action: 'delete' as const } }),
          });
        }
        const outcomes = await ingestBatch(this.ctx, mailbox.id, fetched);
        const held = (await this.ctx.heldActions?.(outcomes.flatMap((o) => (o.result.actionId ? [o.result.actionId] : [])))) ?? new Set<string>();
        recordOutcomes(this.ctx, result, outcomes, { lag: false });
        for (const o of outcomes) {
          if (o.result.actionId && o.message.pop3Uidl && !held.has(o.result.actionId)) {
            await pop.dele(numberOf.get(o.message.pop3Uidl.uidl)!);
            doneIds.push(o.result.actionId);
          }
        }
        this.ctx.status.backlog = Math.max(0, (this.ctx.status.backlog ?? 0) - batch.length);
      }
      await pop.quit();
      quitDone = true;
      if (doneIds.length) await sync.completeActions(doneIds, fence);
      // Forget UIDLs the server no longer has (keeps the set bounded); deleted ones included.
      const remaining = new Set(uidls.values());
      await sync.pruneUidls(mailbox.id, remaining, fence);
      this.ctx.status.checkpoint = { uidls: (await sync.uidls(mailbox.id)).size };
      return result;
    } finally {
      if (!quitDone) pop.destroy(); // no QUIT: no DELE takes effect, pending actions stay pending
    }
  }

  waitForNews(ms: number, signal: AbortSignal): Promise<void> {
    return abortableSleep(ms, signal);
  }

  async close(): Promise<void> {
    /* nothing held between polls */
  }
}
