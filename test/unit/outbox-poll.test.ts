// Why this file exists: on a shared store the replica holding the outbox lease polls for messages other
// replicas enqueue, every 2 s. That poll must ask only for unfinished messages it does not hold yet:
// it used to read every failed message kept for a week and every held one again, raw MIME included
// (on PostgreSQL a scan of the whole outbox table every 2 s).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Outbox } from '../../src/outbound/outbox.js';
import { createLogger } from '../../src/observability/logger.js';
import { EmbeddedOutbox } from '../../src/store/embedded/outbox.js';
import { OutboxStore } from '../../src/store/outbox-store.js';
import type { OutboxEntry } from '../../src/store/outbox-types.js';
import type { UnfinishedQuery } from '../../src/store/port.js';

let dir = '';
let outbox: Outbox | null = null;
afterEach(async () => {
  await outbox?.stop();
  await rm(dir, { recursive: true, force: true });
});

function entry(id: string): OutboxEntry {
  const now = new Date().toISOString();
  return {
    id, createdAt: now, updatedAt: now, purpose: 'message', company: 'acme', request: { kind: 'user', company: 'acme' }, mailbox: 'desk', ticket: null,
    idempotencyKey: null, messageId: `${id}@mailroom.test`, subject: 'Hello', envelope: { from: 'desk@acme.example', to: ['a@b.example'] }, raw: 'Subject: Hello\r\n\r\nHi\r\n',
    size: 24, status: 'queued', attempts: 0, committed: 0, nextAttemptAt: null, accepted: [], rejected: [], response: null, confirmed: null, possibleDuplicate: false,
    lastError: null, sentAt: null, failedAt: null,
  };
}

it('the active sender polls only for unfinished messages it does not hold yet', async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-outbox-poll-'));
  const store = await OutboxStore.open(dir);
  const port = new EmbeddedOutbox(store);
  await port.add(entry('msg_failed'));
  await port.settle('msg_failed', 'old-sender', { status: 'failed', attempts: 3, failedAt: new Date().toISOString() });
  await port.add(entry('msg_1'));
  const polls: { query: UnfinishedQuery | undefined; got: string[] }[] = [];
  const unfinished = port.unfinished.bind(port);
  port.unfinished = async (query) => {
    const got = await unfinished(query);
    polls.push({ query, got: got.map((e) => e.id) });
    return got;
  };
  // a passive replica's sender (not started: it holds, it does not send), then the outbox lease
  outbox = await Outbox.open(port, { snapshot: () => null, log: createLogger('silent') }, { active: false }, undefined, () => store.close());
  await outbox.setActive(true, 20);
  expect(outbox.get('msg_1')?.status).toBe('queued');
  await port.add(entry('msg_2')); // another replica enqueues
  await new Promise((r) => setTimeout(r, 150));
  expect(outbox.get('msg_2')?.status).toBe('queued');
  expect(polls.length).toBeGreaterThan(3);
  // every poll asked for live entries, skipping those held; none returned the failed one, and a held one never came back
  for (const p of polls) expect(p.query?.live, JSON.stringify(p)).toBe(true);
  expect(polls.flatMap((p) => p.got)).toEqual(['msg_1', 'msg_2']);
});

it('becoming the sender while the store does not answer: no throw, and the next poll reads what the first could not', async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-outbox-poll-'));
  const store = await OutboxStore.open(dir);
  const port = new EmbeddedOutbox(store);
  await port.add(entry('msg_1'));
  const unfinished = port.unfinished.bind(port);
  let calls = 0;
  // the first read meets the store as it comes back from an outage (what PostgreSQL answered in the outage test)
  port.unfinished = async (query) => {
    if (++calls === 1) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    return unfinished(query);
  };
  outbox = await Outbox.open(port, { snapshot: () => null, log: createLogger('silent') }, { active: false }, undefined, () => store.close());
  await expect(outbox.setActive(true, 20)).resolves.toBeUndefined(); // it threw out of the lease round, which ended the process
  expect(outbox.get('msg_1')).toBeUndefined();
  await new Promise((r) => setTimeout(r, 100));
  expect(outbox.get('msg_1')?.status).toBe('queued'); // it stayed active with nothing read and no poll
});
