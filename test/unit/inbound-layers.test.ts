// Why this file exists: the inbound inheritance rule (one function, with provenance).
import { describe, expect, it } from 'vitest';
import { inboundField, senderRateLimit } from '../../src/config/inbound-layers.js';

describe('inboundField', () => {
  it('mailbox, then defaults.inbound, then the schema default', () => {
    expect(inboundField('pollInterval', { protocol: 'imap', pollInterval: '5s' }, { pollInterval: '30s' })).toEqual({ value: '5s', layer: 'mailbox' });
    expect(inboundField('pollInterval', { protocol: 'imap' }, { pollInterval: '30s' })).toEqual({ value: '30s', layer: 'defaults' });
    expect(inboundField('pollInterval', { protocol: 'imap' }, undefined)).toEqual({ value: '60s', layer: 'built-in' });
    expect(inboundField('idle', { protocol: 'imap' }, {})).toEqual({ value: true, layer: 'built-in' });
    expect(inboundField('maxMessageSize', { protocol: 'pop3' }, {})).toEqual({ value: '25MB', layer: 'built-in' });
  });
  it('over POP3 an inherited seen or move becomes keep, saying which default could not apply', () => {
    expect(inboundField('afterFetch', { protocol: 'pop3' }, { afterFetch: 'move' })).toEqual({ value: 'keep', layer: 'pop3-fallback', overridden: 'move' });
    expect(inboundField('afterFetch', { protocol: 'pop3' }, { afterFetch: 'delete' })).toEqual({ value: 'delete', layer: 'defaults' });
    expect(inboundField('afterFetch', { protocol: 'imap' }, { afterFetch: 'move' })).toEqual({ value: 'move', layer: 'defaults' });
    expect(inboundField('afterFetch', { protocol: 'pop3' }, undefined)).toEqual({ value: 'keep', layer: 'built-in' });
  });
  it('senderRateLimit comes from defaults.inbound or the schema', () => {
    expect(senderRateLimit({ senderRateLimit: 5 })).toEqual({ value: 5, layer: 'defaults' });
    expect(senderRateLimit(undefined)).toEqual({ value: 20, layer: 'built-in' });
  });
});
