// Why this file exists: a store written by the release this work started from (main at 8ca1802,
// before the store port; test/fixtures/stores/release-2026-12-07 was written with that release's
// own store classes) opens with today's embedded store, with nothing lost: tickets and articles,
// blobs, checkpoints, UIDLs, pending server actions, webhook dead letters, the outbox, suspensions,
// OAuth state; and ingest goes on from there (no copy ticketed twice, ticket ids continue).
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import { soleOwner } from '../../src/store/port.js';
import { sampleItem } from '../support/store-sample.js';

const FIXTURE = path.resolve('test/fixtures/stores/release-2026-12-07');
let dir: string;
let s: EmbeddedStores;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-release-'));
  await cp(FIXTURE, dir, { recursive: true });
  s = await openEmbeddedStores(dir);
});
afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

it('keeps the tickets, articles and raw bytes', async () => {
  const page = await s.tickets.list({ companies: '*', limit: 10 });
  expect(page.items.map((t) => [t.id, t.status, t.articleCount])).toEqual([['ACME-000001', 'open', 2], ['ACME-000002', 'held', 1], ['ACME-000003', 'open', 1]]);
  const t = (await s.tickets.get('ACME-000001'))!;
  expect(t.articles.map((a) => a.messageId)).toEqual(['<m1.support@example.com>', '<m3.support@example.com>']);
  expect((await s.tickets.readBlob(t.articles[0]!.rawRef!))?.toString()).toMatch(/^From: Jane <jane@customer\.example>/);
});

it('keeps checkpoints, UIDLs and the pending server actions', async () => {
  expect(await s.sync.checkpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 3 });
  expect(await s.sync.uidls('pop')).toEqual(new Set(['U1']));
  expect((await s.sync.pendingActions('support')).map((a) => [a.uid, a.action]).sort()).toEqual([[1, 'move'], [2, 'seen']]);
  expect((await s.sync.pendingActions('pop')).map((a) => [a.uidl, a.action])).toEqual([['U1', 'delete']]);
});

it('keeps webhook dead letters, the outbox, suspensions and OAuth state', async () => {
  expect((await s.deliveries.dead('erp')).map((d) => [d.ticketId, d.lastStatus])).toEqual([['ACME-000001', 422]]);
  expect(await s.outbox.get('msg_release1')).toMatchObject({ status: 'queued', subject: 'Queued before the upgrade' });
  expect((await s.outbox.findByIdempotencyKey('acme', 'key-1'))?.id).toBe('msg_release1');
  expect(await s.control.suspension('legacy-pop')).toMatchObject({ code: 'AUTHENTICATIONFAILED', credentials: 'salted-fingerprint' });
  // the record is of the salted kind: its salt stays until it is compared (and re-recorded keyed)
  expect(await s.control.legacyFingerprintSalt()).toMatch(/^[0-9a-f]{32}$/);
  expect((await s.control.oauthState('desk')).state.grants.g1?.refreshToken).toBe('rt-rotated-1');
});

it('goes on ingesting: a copy of a stored message is a duplicate, a new one gets the next id', async () => {
  const [copy, fresh] = await s.intake.commit([sampleItem({ uid: 1, messageId: '<m1.support@example.com>' }), sampleItem({ uid: 4, messageId: '<m4.support@example.com>' })], soleOwner('support'));
  expect(copy).toMatchObject({ ticketId: 'ACME-000001', duplicate: true });
  expect(fresh).toMatchObject({ ticketId: 'ACME-000004', created: true });
});
