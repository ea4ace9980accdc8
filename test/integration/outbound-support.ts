// Helpers for the outbound integration tests: a config directory whose mailboxes send to in-process
// smtp-server peers, a small API client, and a parser for what the peer received.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { stringify } from 'yaml';
import { checkedFetch } from '../support/openapi-check.js';

export async function writeOutboundConfig(config: Record<string, unknown>): Promise<{ root: string; dir: string; dataDir: string; secretsDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-out-'));
  const dir = join(root, 'config');
  const dataDir = join(root, 'data');
  const secretsDir = join(root, 'secrets');
  await mkdir(dir, { recursive: true });
  await mkdir(secretsDir, { recursive: true });
  await writeFile(join(dir, 'mailroom.yaml'), stringify({ version: 1, store: { path: dataDir }, ...config }));
  return { root, dir, dataDir, secretsDir };
}

export interface ApiResponse {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

export function api(base: string, token: string | null) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> => {
    const res = await checkedFetch(base + path, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {}, headers: res.headers };
  };
  return {
    post: (path: string, body: unknown, headers?: Record<string, string>) => call('POST', path, body, headers),
    get: (path: string) => call('GET', path),
  };
}

export function parse(raw: Buffer): Promise<ParsedMail> {
  return simpleParser(raw);
}

/** A header's raw value as it is in the message (first occurrence), unfolded. */
export function rawHeader(raw: Buffer, name: string): string | null {
  const head = raw.toString('latin1').split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head);
  return m ? m[1]!.trim() : null;
}
