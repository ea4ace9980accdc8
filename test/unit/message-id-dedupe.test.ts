// Dedupe by company + Message-ID + content (issue 20): the same message twice stays one article,
// a different message that reuses the Message-ID gets its own, flagged duplicate-message-id; old
// `mid:` keys (no content hash) only join when the recomputed hash matches.
import { describe, expect, it } from 'vitest';
import { contentHash, type ContentFields } from '../../src/ingest/content-hash.js';
import { contentKey, decideMessageIdKeys, legacyMessageIdKey, type MessageIdFacts } from '../../src/ingest/message-id-dedupe.js';

const msg = (over: Partial<ContentFields> = {}): ContentFields => ({
  subject: 'Printer offline',
  from: { name: 'Jane', address: 'jane@customer.example' },
  to: [{ name: '', address: 'desk@acme.example' }],
  cc: [],
  headers: { date: ['Tue, 07 May 2024 10:11:12 +0200'], received: ['from a by b'] },
  text: 'It is offline again.',
  html: null,
  attachments: [],
  ...over,
});

describe('contentHash', () => {
  it('equal for copies that differ only in trace headers; different for another subject, body, sender, date or attachment', () => {
    const h = contentHash(msg());
    expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(contentHash(msg({ headers: { date: ['Tue, 07 May 2024 10:11:12 +0200'], received: ['from c by d'], 'delivered-to': ['x@y'] } }))).toBe(h);
    for (const other of [
      msg({ subject: 'Invoice' }), msg({ text: 'Another body' }), msg({ from: { name: 'Jane', address: 'eve@evil.example' } }),
      msg({ headers: { date: ['Wed, 08 May 2024 10:11:12 +0200'] } }), msg({ attachments: [{ id: 'a'.repeat(64) }] }),
      msg({ html: '' }), msg({ html: '<p>It is offline again.</p>' }), msg({ cc: [{ name: '', address: 'boss@customer.example' }] }),
    ]) expect(contentHash(other)).not.toBe(h);
  });
});

describe('decideMessageIdKeys', () => {
  const facts = (over: Partial<MessageIdFacts> = {}): MessageIdFacts => ({
    company: 'acme', messageId: 'm1@customer.example', contentHash: 'h'.repeat(32), contentKnown: false, legacy: null, otherWithId: false, ...over,
  });
  const own = contentKey('acme', 'h'.repeat(32), 'm1@customer.example');
  const old = legacyMessageIdKey('acme', 'm1@customer.example');

  it('a new Message-ID: only the content key (never the bare mid: key, which would swallow the next message with that id)', () => {
    expect(decideMessageIdKeys(facts())).toEqual({ keys: [own], copy: false, flag: null, reason: null });
  });

  it('the same content is known: a copy, deduplicated by the content key', () => {
    expect(decideMessageIdKeys(facts({ contentKnown: true }))).toEqual({ keys: [own], copy: true, flag: null, reason: null });
  });

  it('another message with this Message-ID is stored: kept as its own article, flagged', () => {
    const d = decideMessageIdKeys(facts({ otherWithId: true }));
    expect(d.keys).toEqual([own]);
    expect(d.copy).toBe(false);
    expect(d.flag).toBe('duplicate-message-id');
    expect(d.reason).toMatch(/other content/);
  });

  it('an old article (mid: key, no hash) with the same recomputed content: joins it and teaches it the content key', () => {
    expect(decideMessageIdKeys(facts({ legacy: { contentHash: 'h'.repeat(32) } }))).toEqual({ keys: [old, own], copy: true, flag: null, reason: null });
  });

  it('an old article with other content, or one that cannot be compared: conservatively its own article, flagged', () => {
    for (const legacy of [{ contentHash: 'x'.repeat(32) }, { contentHash: null }]) {
      const d = decideMessageIdKeys(facts({ legacy }));
      expect(d.keys).toEqual([own]);
      expect(d.keys).not.toContain(old);
      expect(d.copy).toBe(false);
      expect(d.flag).toBe('duplicate-message-id');
    }
    expect(decideMessageIdKeys(facts({ legacy: { contentHash: null } })).reason).toMatch(/could not be compared/);
  });
});
