// Issue 3, IMAP sync behaviour against a real Dovecot: a UIDVALIDITY change (folder deleted and
// recreated while the daemon runs) rescans without creating a ticket twice; IMAP IDLE turns a new
// message into a ticket within about a second even with a 60 s poll interval; a folder of 2,000
// messages is ingested in bounded batches (RSS printed).
import { ticketStoreOf } from '../support/store-of.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { allTickets, bigMessage, duplicates, makeUsers, pollAgain, rssMb, startTestDaemon, statusOf, successfulPolls, ticketSummaries, withImap } from '../support/inbound.js';

// a full GC on demand, to measure what stays reachable (not garbage awaiting collection)
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['uv', 'idler', 'bulk', 'mover']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

it('UIDVALIDITY change: the folder is rescanned, re-appended copies are not ticketed twice, new mail is', async () => {
  const folder = 'Support';
  // four normal messages and one over maxMessageSize (ticketed from its headers only)
  const raws = [...Array.from({ length: 4 }, (_, i) => message(i, { subject: `uv ${i}` })), bigMessage('uv-big', 200_000)];
  await dovecot.appendMany('uv', raws, { folder });
  // A long poll interval: polls happen when the test says (pollAgain), so the first poll after the
  // folder was recreated surely finds it complete (the session still has the old folder selected).
  const cfg = await writeTestConfig(dovecot, [{ id: 'uv', user: 'uv', protocol: 'imap', security: 'tls', inbound: { folder, maxMessageSize: '100KB', pollInterval: '60s' } }]);
  const logLines: Record<string, unknown>[] = [];
  const daemon = await startTestDaemon(cfg.dir, { logLines, logLevel: 'debug' });
  onTestFailed(() => {
    console.log(`status: ${JSON.stringify(daemon.supervisor?.statuses() ?? null)}`);
    console.log(logLines.map((l) => `${String(l.time)} ${String(l.msg)} ${JSON.stringify({ ...l, time: undefined, msg: undefined, level: undefined, service: undefined })}`).join('\n'));
  });
  try {
    await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 5, 15_000, '5 tickets');
    await pollAgain(daemon, 'uv');
    const before = statusOf(daemon, 'uv').checkpoint as { uidValidity: number; uid: number };
    expect(before.uid).toBe(5);

    // Recreate the folder (new UIDVALIDITY, UIDs from 1 again): the same 5 messages, then 2 new.
    await withImap(dovecot, 'uv', async (c) => {
      await c.mailboxDelete(folder);
      await c.mailboxCreate(folder);
    });
    await dovecot.appendMany('uv', [...raws, message(5, { subject: 'uv new 5' }), message(6, { subject: 'uv new 6' })], { folder });

    // IDLE may wake the poller while the folder is being recreated, so a poll can see it half
    // filled; the next one completes it. What matters: 7 tickets in the end, never more.
    await waitFor(async () => {
      if (ticketSummaries(ticketStoreOf(daemon)).length >= 7) return true;
      await pollAgain(daemon, 'uv');
      return false;
    }, 20_000, '7 tickets');
    expect(ticketSummaries(ticketStoreOf(daemon))).toHaveLength(7);
    expect((statusOf(daemon, 'uv').checkpoint as { uid: number } | null)?.uid).toBe(7);
    await pollAgain(daemon, 'uv', 2);
    const after = statusOf(daemon, 'uv').checkpoint as { uidValidity: number; uid: number };
    expect(after.uidValidity).not.toBe(before.uidValidity);
    expect(logLines.some((l) => l.msg === 'UIDVALIDITY changed: rescanning folder')).toBe(true);
    // all 7 of the new folder were fetched again, the 5 old ones recognised by Message-ID
    const synced = logLines.filter((l) => l.msg === 'mailbox synced');
    expect(synced.reduce((n, l) => n + Number(l.duplicates), 0)).toBe(5);
    const tickets = await allTickets(ticketStoreOf(daemon));
    expect(tickets.map((t) => t.subject).sort()).toEqual(['Big one uv-big', 'uv 0', 'uv 1', 'uv 2', 'uv 3', 'uv new 5', 'uv new 6']);
    for (const t of tickets) expect(t.articles).toHaveLength(1);
    // the duplicates' new keys (new UIDVALIDITY) are remembered as aliases: a later rescan is cheap
    const old = tickets.find((t) => t.subject === 'uv 0')!;
    expect(old.articles[0]!.dedupeKeys.filter((k) => k.startsWith('imap:uv:'))).toHaveLength(2);
  } finally {
    await daemon.stop();
  }
});

it('afterFetch move: a target folder deleted while the daemon runs is created again', async () => {
  const target = 'Archive/Inbound';
  await dovecot.appendMany('mover', [message(1, { subject: 'mover 1' }), message(2, { subject: 'mover 2' })]);
  const cfg = await writeTestConfig(dovecot, [{ id: 'mover', user: 'mover', protocol: 'imap', security: 'tls', inbound: { afterFetch: 'move', moveTo: target } }]);
  const daemon = await startTestDaemon(cfg.dir);
  try {
    await waitFor(async () => (await dovecot.list('mover', target)).length === 2, 15_000, 'first two moved');
    await withImap(dovecot, 'mover', (c) => c.mailboxDelete(target));
    await dovecot.appendMany('mover', [message(3, { subject: 'mover 3' }), message(4, { subject: 'mover 4' })]);
    await waitFor(async () => (await dovecot.list('mover', target)).length === 2 && (await dovecot.list('mover')).length === 0, 15_000, 'the later two moved into the recreated folder');
    expect((await dovecot.list('mover', target)).map((m) => m.subject).sort()).toEqual(['mover 3', 'mover 4']);
    expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(['mover 1', 'mover 2', 'mover 3', 'mover 4']);
  } finally {
    await daemon.stop();
  }
});

it('IMAP IDLE: with a 60 s poll interval, a new message is a ticket within about a second', async () => {
  const cfg = await writeTestConfig(dovecot, [{ id: 'idler', user: 'idler', protocol: 'imap', security: 'tls', inbound: { idle: true, pollInterval: '60s' } }]);
  const daemon = await startTestDaemon(cfg.dir);
  try {
    await waitFor(() => statusOf(daemon, 'idler').state === 'idle-waiting', 15_000, 'IDLE');
    const latencies: number[] = [];
    for (let i = 1; i <= 3; i++) {
      // IDLE is re-entered after each sync
      await waitFor(() => statusOf(daemon, 'idler').state === 'idle-waiting', 15_000, 'IDLE again');
      const t0 = Date.now();
      await dovecot.append('idler', message(i, { subject: `idle ${i}` }));
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= i, 15_000, `ticket ${i}`);
      latencies.push(Date.now() - t0);
    }
    console.log(`IDLE: append → ticket in ${latencies.join(', ')} ms (poll interval 60 s)`);
    // a generous bound, still far below the poll interval: only IDLE can explain it
    for (const ms of latencies) expect(ms).toBeLessThan(10_000);
    expect(await successfulPolls(daemon, 'idler')).toBeLessThanOrEqual(1 + 2 * 3);
    expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(['idle 1', 'idle 2', 'idle 3']);
  } finally {
    await daemon.stop();
  }
});

it('2,000 messages with batchSize 50: all ingested exactly once, memory bounded (RSS printed)', async () => {
  const N = 2000;
  const filler = `${'lorem ipsum dolor sit amet '.repeat(3)}\r\n`.repeat(200); // ~16 KB body
  await dovecot.appendMany('bulk', Array.from({ length: N }, (_, i) => message(i, { subject: `bulk ${i}`, body: filler })));
  const cfg = await writeTestConfig(dovecot, [{ id: 'bulk', user: 'bulk', protocol: 'imap', security: 'none', inbound: { batchSize: 50 } }]);
  const heapMb = () => {
    gc();
    return Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
  };
  const heapBefore = heapMb();
  const baseline = rssMb();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 25);
  const t0 = Date.now();
  const daemon = await startTestDaemon(cfg.dir);
  try {
    await waitFor(() => ticketStoreOf(daemon).stats().tickets >= N, 120_000, `${N} tickets`);
    const secs = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    const heapAfter = heapMb(); // the daemon is still running, its store open
    console.log(
      `bulk: ${N} messages (~${Math.round((N * filler.length) / 1e6)} MB) in ${secs.toFixed(1)} s (${Math.round(N / secs)} msg/s); ` +
        `RSS baseline ${baseline} MB, peak ${peak} MB (+${peak - baseline}); heap after GC ${heapBefore} → ${heapAfter} MB`,
    );
    await pollAgain(daemon, 'bulk');
    const summaries = ticketSummaries(ticketStoreOf(daemon));
    expect(summaries).toHaveLength(N);
    expect(duplicates(summaries.map((t) => t.subject))).toEqual([]);
    // Bounded: what stays reachable after ingesting the ~33 MB folder is far less than the folder
    // (2,000 ticket summaries, indexes and the store's few cached segments), and RSS on the way
    // stays well under holding the folder and its parsed form at once.
    expect(heapAfter - heapBefore).toBeLessThan(48);
    expect(peak - baseline).toBeLessThan(250);
  } finally {
    clearInterval(sampler);
    await daemon.stop();
  }
});
