// The content hash (`mailroom check` prints it, mailroom_config_info{hash} exports it) depends on
// the files' paths inside the config root and their bytes only: not on the working directory or
// where the tree is mounted, so CI and the container agree.
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const EXAMPLE = new URL('../fixtures/config/explain', import.meta.url).pathname;
const temps: string[] = [];
const cwd = process.cwd();
afterEach(() => process.chdir(cwd));
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function copyTo(...path: string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-hash-'));
  temps.push(root);
  const dir = join(root, ...path);
  await cp(EXAMPLE, dir, { recursive: true });
  return dir;
}

describe('config hash', () => {
  it('the same tree in two places, loaded from different working directories, has one hash', async () => {
    const ci = await copyTo('checkout', 'config');
    const container = await copyTo('etc', 'mailroom');
    process.chdir(join(ci, '..'));
    const fromCi = await loadConfig('config', { env: {} });
    process.chdir('/');
    const fromContainer = await loadConfig(container, { env: {} });
    expect(fromCi.snapshot).not.toBeNull();
    expect(fromCi.snapshot!.files[0]).toMatch(/^config\//); // the display names do differ
    expect(fromContainer.hash).toBe(fromCi.hash);
    expect(fromContainer.snapshot!.hash).toBe(fromCi.hash);
  });

  it('a single file: its content and base name count, not its directory', async () => {
    const a = await copyTo('a');
    const b = await copyTo('b', 'deeper');
    const one = await loadConfig(join(a, 'mailroom.yaml'), { env: {} });
    expect((await loadConfig(join(b, 'mailroom.yaml'), { env: {} })).hash).toBe(one.hash);
    await rename(join(b, 'mailroom.yaml'), join(b, 'other.yaml'));
    expect((await loadConfig(join(b, 'other.yaml'), { env: {} })).hash).not.toBe(one.hash);
  });

  it('a file moved inside the tree changes the hash (merge order and places depend on it)', async () => {
    const a = await copyTo('a');
    const before = (await loadConfig(a, { env: {} })).hash;
    await rename(join(a, 'companies.yaml'), join(a, 'zz-companies.yaml'));
    expect((await loadConfig(a, { env: {} })).hash).not.toBe(before);
  });
});
