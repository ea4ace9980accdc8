// Why this file exists: no container engine runs where the tests run, so the Dockerfile is held to
// its contract by reading it (stages, non-root user, health check, exec-form entry point, the files
// the runtime stage copies: the same layout production-layout.test.ts rebuilds and runs), and the
// example config is checked to take its listen address and data path from the variables the image
// sets, so the container default listens beyond loopback and writes to its volume.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** Instructions of the Dockerfile (line continuations joined, comments dropped), split by stage. */
function stages(text: string): { from: string; lines: string[] }[] {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: { from: string; lines: string[] }[] = [];
  for (const line of instructions) {
    if (/^FROM\s/i.test(line)) out.push({ from: line, lines: [] });
    else out.at(-1)?.lines.push(line.replace(/\s+/g, ' '));
  }
  return out;
}

describe('Dockerfile', () => {
  const [build, runtime, ...rest] = stages(dockerfile);
  const has = (lines: string[] | undefined, re: RegExp) => (lines ?? []).some((l) => re.test(l));

  it('is multi-stage on node:24-bookworm-slim', () => {
    expect(rest).toHaveLength(0);
    expect(build?.from).toMatch(/^FROM node:24-bookworm-slim AS build$/);
    expect(runtime?.from).toMatch(/^FROM node:24-bookworm-slim\b/);
  });

  it('builds with npm ci and npm run build', () => {
    expect(has(build?.lines, /^RUN npm ci\b/)).toBe(true);
    expect(has(build?.lines, /^RUN npm run build\b/)).toBe(true);
  });

  it('ships production dependencies, dist, bin, schemas and config, with config in /etc/mailroom', () => {
    const r = runtime?.lines;
    expect(has(r, /^RUN npm ci --omit=dev --ignore-scripts\b/)).toBe(true);
    expect(has(r, /^COPY --from=build \/app\/dist \.\/dist$/)).toBe(true);
    for (const dir of ['bin', 'schemas', 'config']) expect(has(r, new RegExp(`^COPY ${dir} \\./${dir}$`)), dir).toBe(true);
    expect(r).toContain('COPY config /etc/mailroom');
    expect(has(r, /^ENV .*\bNODE_ENV=production\b/)).toBe(true);
  });

  it('runs as the non-root node user with /var/lib/mailroom owned by it', () => {
    expect(has(runtime?.lines, /chown node:node \/var\/lib\/mailroom/)).toBe(true);
    const users = (runtime?.lines ?? []).filter((l) => /^USER /.test(l));
    expect(users.at(-1)).toBe('USER node');
  });

  it('exposes 9465, health-checks /-/healthy with node, and starts node as PID 1 in exec form', () => {
    const r = runtime?.lines ?? [];
    expect(r).toContain('EXPOSE 9465');
    const healthcheck = r.find((l) => l.startsWith('HEALTHCHECK')) ?? '';
    expect(healthcheck).toContain('CMD ["node", "-e"');
    expect(healthcheck).toContain("fetch('http://127.0.0.1:9465/-/healthy')");
    const entrypoint = r.find((l) => l.startsWith('ENTRYPOINT ')) ?? '';
    const cmd = r.find((l) => l.startsWith('CMD ')) ?? '';
    expect(JSON.parse(entrypoint.slice('ENTRYPOINT '.length))).toEqual(['node', '/app/bin/mailroom.js']);
    expect(JSON.parse(cmd.slice('CMD '.length))).toEqual(['run', '--config', '/etc/mailroom']);
  });

  it('lets the files it copies through .dockerignore', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'schemas', 'config']) {
      expect(ignore, path).toMatch(new RegExp(`^!${path.replace(/\./g, '\\.')}$`, 'm'));
    }
  });
});

describe('the container default config (/etc/mailroom = config/)', () => {
  const yamlFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.name.startsWith('.') ? [] : e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const configs = yamlFiles(join(root, 'config')).map(
    (f) => (parse(readFileSync(f, 'utf8')) ?? {}) as { server?: { listen?: unknown }; store?: { path?: unknown } },
  );
  const env = Object.fromEntries(
    [...dockerfile.matchAll(/\b(MAILROOM_[A-Z_]+)=(\S+)/g)].map(([, name, value]) => [name, value]),
  );

  it('takes server.listen from MAILROOM_LISTEN, which the image sets to 0.0.0.0:9465', () => {
    const listens = configs.map((c) => c.server?.listen).filter((v) => v !== undefined);
    expect(listens).toHaveLength(1);
    expect(String(listens[0])).toMatch(/^\$\{MAILROOM_LISTEN(:-[^}]*)?\}$/);
    expect(env.MAILROOM_LISTEN).toBe('0.0.0.0:9465');
  });

  it('takes store.path from MAILROOM_DATA, which the image sets to /var/lib/mailroom', () => {
    const paths = configs.map((c) => c.store?.path).filter((v) => v !== undefined);
    expect(paths).toHaveLength(1);
    expect(String(paths[0])).toMatch(/^\$\{MAILROOM_DATA(:-[^}]*)?\}$/);
    expect(env.MAILROOM_DATA).toBe('/var/lib/mailroom');
  });
});
