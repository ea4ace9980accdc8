// Graph and Gmail mailboxes in the config (issue 23): presets give the API URL and the scopes,
// apiUrl overrides per mailbox (national clouds, test peers) and explain says where it came from;
// the impossible combinations are in test/fixtures/config/broken/api-mailbox-combinations.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { explainMailbox } from '../../src/config/explain.js';
import { loadConfig } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';

const DIR = 'test/fixtures/config/api-mailboxes';
let snap: Snapshot;
beforeAll(async () => {
  process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
  const r = await loadConfig(DIR, { env: { SECRET: 'x-secret-value' } });
  expect(r.problems).toEqual([]);
  snap = r.snapshot!;
});

describe('API mailboxes', () => {
  it('office365 + graph: the Graph URL and the app-only Graph scope from the preset; the outbound side sends through Graph', () => {
    const mb = snap.mailboxes.m365!;
    expect(mb.inbound).toMatchObject({ protocol: 'graph', apiUrl: 'https://graph.microsoft.com/v1.0', host: '', port: 0, folder: 'inbox', afterFetch: 'move', moveTo: 'Done' });
    expect(mb.auth!.oauth2!.scope).toBe('https://graph.microsoft.com/.default');
    expect(mb.auth!.oauth2!.tokenUrl).toBe('https://login.microsoftonline.com/contoso/oauth2/v2.0/token');
    expect(mb.outbound).toMatchObject({ transport: 'graph', apiUrl: 'https://graph.microsoft.com/v1.0', host: '' });
    expect(mb.outbound!.auth!.oauth2!.scope).toBe('https://graph.microsoft.com/.default');
  });

  it('apiUrl overrides the preset (US Government cloud), delegated scopes name the permissions', () => {
    const mb = snap.mailboxes.gov!;
    expect(mb.inbound!.apiUrl).toBe('https://graph.microsoft.us/v1.0');
    expect(mb.auth!.oauth2!.scope).toBe('https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.Send offline_access');
  });

  it('gmail: the Gmail API URL and gmail.modify', () => {
    const mb = snap.mailboxes.google!;
    expect(mb.inbound).toMatchObject({ protocol: 'gmail', apiUrl: 'https://gmail.googleapis.com', folder: 'INBOX' });
    expect(mb.auth!.oauth2!.scope).toBe('https://www.googleapis.com/auth/gmail.modify');
    // no outbound side of its own: it sends through the Gmail API, not the preset's smtp.gmail.com
    expect(mb.outbound).toMatchObject({ transport: 'gmail', apiUrl: 'https://gmail.googleapis.com', host: '' });
  });

  it('explain shows the API URL with its origin and no IMAP socket fields', () => {
    const gov = explainMailbox(snap, 'gov')!;
    expect(gov.result).toBe('graph https://graph.microsoft.us/v1.0 folder INBOX');
    expect(gov.fields.find((f) => f.field === 'inbound.apiUrl')).toEqual({ field: 'inbound.apiUrl', value: 'https://graph.microsoft.us/v1.0', layer: 'mailbox gov', at: `${DIR}/mailroom.yaml:15` });
    const m365 = explainMailbox(snap, 'm365')!;
    expect(m365.fields.find((f) => f.field === 'inbound.apiUrl')).toMatchObject({ value: 'https://graph.microsoft.com/v1.0', layer: 'preset office365' });
    expect(m365.fields.map((f) => f.field)).not.toContain('inbound.host');
    expect(m365.fields.map((f) => f.field)).not.toContain('inbound.idle');
  });
});
