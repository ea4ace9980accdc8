// store: in the config: the lowdb default, driver postgres with its URL (sealed, password masked),
// and the combinations the schema refuses (path with postgres, url with lowdb, url and urlFile).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadFromSources, type LoadOptions } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import { readSecret } from '../../src/config/secret.js';

const VERSION_FILE = { name: 'version.yaml', absolute: '/version.yaml', text: 'version: 1\n' };
const load = (text: string, opts: LoadOptions = { env: {} }) => loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }, VERSION_FILE], opts);
const errors = (text: string, opts?: LoadOptions) => load(text, opts).problems.filter((p) => p.severity === 'error').map(formatProblem);

describe('store config', () => {
  it('defaults to the embedded store under ./data', () => {
    const r = load('server: { listen: "127.0.0.1:9465" }\n');
    expect(r.snapshot?.store).toMatchObject({ driver: 'lowdb' });
    expect(r.snapshot?.store.path).toMatch(/\/data$/);
  });

  it('driver postgres: the URL from ${ENV} is sealed everywhere, with defaults for schema and pool', async () => {
    const env = { PG_URL: 'postgres://mailroom:pl4nted-pw-9c1@db.example:5432/mailroom?sslmode=verify-full' };
    const r = load('store:\n  driver: postgres\n  url: ${PG_URL}\n  ssl: { caFile: /etc/ca.pem }\n', { env });
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const s = r.snapshot!.store;
    expect(s).toMatchObject({ driver: 'postgres', schema: 'mailroom', pool: { max: 10 }, ssl: { caFile: '/etc/ca.pem', rejectUnauthorized: true } });
    if (s.driver !== 'postgres') throw new Error('not postgres');
    expect((await readSecret(s.url)).reveal()).toBe(env.PG_URL);
    const shown = JSON.stringify(r.snapshot!.config) + inspect(r.snapshot, { depth: 20 }) + JSON.stringify(s);
    expect(shown).not.toContain('pl4nted-pw-9c1');
  });

  it('driver postgres: urlFile, schema and pool size', () => {
    const r = load('store: { driver: postgres, urlFile: /run/secrets/pg-url, schema: tenant_a, pool: { max: 25 } }\n');
    expect(r.snapshot?.store).toMatchObject({ driver: 'postgres', url: { kind: 'file', path: '/run/secrets/pg-url' }, schema: 'tenant_a', pool: { max: 25 }, ssl: null });
  });

  it('driver postgres: leaseTtl (default 15s, at least 3s), refused with lowdb', () => {
    expect(load('store: { driver: postgres, urlFile: /run/secrets/pg-url }\n').snapshot?.store).toMatchObject({ leaseTtlMs: 15_000 });
    expect(load('store: { driver: postgres, urlFile: /run/secrets/pg-url, leaseTtl: 3s }\n').snapshot?.store).toMatchObject({ leaseTtlMs: 3_000 });
    expect(load('store: { driver: postgres, urlFile: /run/secrets/pg-url, leaseTtl: 1m }\n').snapshot?.store).toMatchObject({ leaseTtlMs: 60_000 });
    expect(errors('store: { driver: postgres, urlFile: /x, leaseTtl: 2500ms }\n').join('\n')).toMatch(/store\.leaseTtl 2500ms is under the 3s minimum/);
    expect(errors('store: { driver: postgres, urlFile: /x, leaseTtl: soon }\n').join('\n')).toMatch(/leaseTtl/);
    expect(errors('store: { driver: lowdb, leaseTtl: 15s }\n').join('\n')).toMatch(/leaseTtl/);
  });

  it('refuses impossible combinations', () => {
    expect(errors('store: { driver: postgres, path: ./data, url: "postgres://u@h/db" }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { driver: postgres }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { driver: postgres, url: "postgres://u@h/db", urlFile: /x }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { url: "postgres://u@h/db" }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { driver: lowdb, pool: { max: 3 } }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { driver: postgres, url: "mysql://u@h/db" }\n').join('\n')).toMatch(/store/);
    expect(errors('store: { driver: postgres, url: "postgres://u@h/db", schema: "Bad-Name" }\n').join('\n')).toMatch(/schema/);
  });
});
