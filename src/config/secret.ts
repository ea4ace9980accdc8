// Secret values are wrapped so that no output path (logs, JSON, explain, errors) can print them.
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';

export const REDACTED = '<redacted>';

const values = new WeakMap<Secret, string>();

/** An opaque secret: every stringification prints `<redacted>`; `reveal()` is the only way in. */
export class Secret {
  constructor(value: string) {
    values.set(this, value);
  }
  reveal(): string {
    return values.get(this) ?? '';
  }
  /** Constant-time comparison (API tokens). */
  equals(candidate: string): boolean {
    const a = Buffer.from(this.reveal());
    const b = Buffer.from(candidate);
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
    return diff === 0;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Where a secret comes from: a value given in config (via ${VAR}) or a file read when used. */
export type SecretSource = { kind: 'value'; secret: Secret } | { kind: 'file'; path: string };

/** Read a secret when it is used, so that a rotated `*File` secret needs no reload. */
export async function readSecret(source: SecretSource): Promise<Secret> {
  if (source.kind === 'value') return source.secret;
  let text: string;
  try {
    text = await readFile(source.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot read secret file ${source.path} (${code})`);
  }
  return new Secret(text.replace(/\r?\n$/, ''));
}

/** Compare two sources without revealing them anywhere: used by the config diff. */
export function sameSecretSource(a: SecretSource | undefined, b: SecretSource | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.kind === 'file' || b.kind === 'file') return a.kind === b.kind && (a as { path: string }).path === (b as { path: string }).path;
  return a.secret.reveal() === b.secret.reveal();
}
