// A POP3 mailbox under `defaults.inbound.afterFetch: seen|move` keeps its mail (POP3 offers keep and
// delete): check warns naming the mailbox, and explain does not credit keep to the defaults.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { explainMailbox } from '../../src/config/explain.js';
import { loadConfig } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';

const DIR = 'test/fixtures/config/warnings/pop3-inherited-after-fetch';
let snap: Snapshot;
beforeAll(async () => {
  process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
  snap = (await loadConfig(DIR, { env: {} })).snapshot!;
});

const afterFetch = (id: string) => explainMailbox(snap, id)!.fields.find((f) => f.field === 'inbound.afterFetch');

describe('POP3 and an inherited afterFetch it cannot do', () => {
  it('resolves to keep, with a warning naming the mailbox (config-broken.test.ts checks the exact line)', () => {
    expect(snap.mailboxes['acme-pop']!.inbound!.afterFetch).toBe('keep');
    expect(snap.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^POP3 mailbox "acme-pop": afterFetch: seen \(inherited from defaults\.inbound\.afterFetch at .*:4\) is not possible over POP3, keep is used/)]);
  });

  it('explain says keep is the POP3 fallback for the default, not the default itself', () => {
    expect(afterFetch('acme-pop')).toEqual({ field: 'inbound.afterFetch', value: 'keep', layer: 'POP3 fallback: defaults.inbound.afterFetch seen is not possible over POP3', at: `${DIR}/mailroom.yaml:4` });
    expect(afterFetch('acme-imap')).toEqual({ field: 'inbound.afterFetch', value: 'seen', layer: 'defaults.inbound', at: `${DIR}/mailroom.yaml:4` });
  });
});

describe('explain --mailbox for POP3', () => {
  it('leaves out what only IMAP has (folder, idle, moveTo)', async () => {
    const cfg = (await loadConfig('config/', { skipEnv: true })).snapshot!;
    const e = explainMailbox(cfg, 'legacy-pop')!;
    expect(e.fields.map((f) => f.field)).not.toEqual(expect.arrayContaining(['inbound.folder']));
    for (const imapOnly of ['inbound.folder', 'inbound.idle', 'inbound.moveTo']) expect(e.fields.map((f) => f.field)).not.toContain(imapOnly);
    expect(e.result).toBe('pop3 tls mail.cliente.com.br:995');
    expect(explainMailbox(cfg, 'acme-desk')!.fields.map((f) => f.field)).toEqual(expect.arrayContaining(['inbound.folder', 'inbound.idle', 'inbound.moveTo']));
  });
});
