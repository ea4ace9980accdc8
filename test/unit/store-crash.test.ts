// Why this file exists: the exactly-once promise only matters across SIGKILL. A child process commits
// in a loop (4 concurrent "pollers", IMAP + POP3, threading onto old tickets in old segments, some
// redeliveries) and prints each result after its promise resolved; we SIGKILL it mid-stream, reopen,
// and check that everything acknowledged is there: ticket, article, dedupe key, checkpoint, pending
// action, UIDL — and that no ticket id was handed out twice. Three kill rounds on one directory.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleItem } from '../support/store-sample.js';
import { openTicketStore } from '../../src/store/ticket-store.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const storeUrl = pathToFileURL(path.join(repo, 'src/store/ticket-store.ts')).href;
const sampleUrl = pathToFileURL(path.join(repo, 'test/support/store-sample.ts')).href;

const CHILD = `
import { openTicketStore } from ${JSON.stringify(storeUrl)};
import { sampleItem } from ${JSON.stringify(sampleUrl)};
const [dir, roundArg] = process.argv.slice(2);
const round = Number(roundArg);
const s = await openTicketStore(dir, { segmentTickets: 20, segmentCache: 2 });
const created = [];
let n = 0;
async function worker(w) {
  for (;;) {
    const i = n++;
    const uid = round * 1_000_000 + i + 1;
    const pop = i % 7 === 3;
    const mailbox = pop ? 'pop' + w : 'box' + w;
    const opts = pop ? { uidl: 'r' + round + '-' + i, mailbox, action: 'delete' } : { uid, mailbox, action: 'seen' };
    if (i % 5 === 4 && created.length > 0) opts.threadTo = created[(i * 7919) % created.length];
    const item = sampleItem(opts);
    const batch = [item];
    if (i % 11 === 10) batch.push(sampleItem(opts)); // redelivery in the same call
    const [r] = await s.commit(batch);
    if (r.created) created.push(r.ticketId);
    process.stdout.write(JSON.stringify({ key: item.article.dedupeKeys[0], id: r.ticketId, no: r.articleNo, created: r.created,
      mailbox, uid: pop ? null : uid, uidl: pop ? opts.uidl : null }) + '\\n');
  }
}
await Promise.all([0, 1, 2, 3].map(worker));
`;

interface Ack {
  key: string;
  id: string;
  no: number;
  created: boolean;
  mailbox: string;
  uid: number | null;
  uidl: string | null;
}

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-crash-'));
  script = path.join(dir, 'child.mts');
  await writeFile(script, CHILD);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runAndKill(storeDir: string, round: number, killAfter: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, storeDir, String(round)], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child too slow (${acks.length} acks). stderr: ${stderr}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        acks.push(JSON.parse(buf.slice(0, nl)) as Ack);
        buf = buf.slice(nl + 1);
      }
      if (!killed && acks.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(acks);
      else reject(new Error(`child exited early: code=${code} signal=${signal} acks=${acks.length}\n${stderr}`));
    });
  });
}

describe('crash safety', () => {
  it('every commit acknowledged before SIGKILL is present after reopen', async () => {
    const storeDir = path.join(dir, 'store');
    const all: Ack[] = [];
    const firstKeyOf = new Map<string, string>(); // ticket id → key of its first article (ids never reused)
    for (const [round, killAfter] of [
      [1, 60],
      [2, 173],
      [3, 251],
    ] as const) {
      const acks = await runAndKill(storeDir, round, killAfter);
      expect(acks.length).toBeGreaterThanOrEqual(killAfter);
      all.push(...acks);

      const s = await openTicketStore(storeDir);
      try {
        for (const a of acks) if (a.created) {
          expect(firstKeyOf.has(a.id), `ticket id ${a.id} handed out twice`).toBe(false);
          firstKeyOf.set(a.id, a.key);
        }
        for (const a of all) {
          expect(s.hasKey(a.key), a.key).toBe(true);
          const t = await s.getTicket(a.id);
          expect(t, a.id).not.toBeNull();
          expect(t!.articles[a.no - 1]?.dedupeKeys).toContain(a.key);
          expect(t!.articles[0]?.dedupeKeys).toContain(firstKeyOf.get(a.id));
          if (a.uidl !== null) {
            expect(s.hasUidl(a.mailbox, a.uidl)).toBe(true);
            expect(s.pendingActions(a.mailbox).some((p) => p.uidl === a.uidl && p.action === 'delete')).toBe(true);
          } else {
            expect(s.getCheckpoint(a.mailbox, 'INBOX')!.uid).toBeGreaterThanOrEqual(a.uid!);
            expect(s.pendingActions(a.mailbox).some((p) => p.uid === a.uid && p.action === 'seen')).toBe(true);
          }
        }
        // the store still works after recovery
        const before = s.stats().tickets;
        const [c] = await s.commit([sampleItem({ uid: round, mailbox: 'parent', messageId: null })]);
        expect(c?.created).toBe(true);
        expect(firstKeyOf.has(c!.ticketId)).toBe(false);
        firstKeyOf.set(c!.ticketId, `imap:parent:1:${round}`);
        expect(s.stats().tickets).toBe(before + 1);
      } finally {
        await s.close();
      }
    }
  }, 120_000);
});
