// Why this file exists: console sign-in turns an API token into a session. The token stays in this
// process's memory (never in a cookie, URL or log); the browser holds only a random session id in an
// HttpOnly, SameSite=Strict cookie (Secure behind https). Every POST carries the session's CSRF token.
// Sessions end after 30 minutes idle or 12 hours, at sign-out, or when the token stops authenticating.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'mailroom_console';
export const IDLE_MS = 30 * 60_000;
export const MAX_AGE_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

export interface Session {
  id: string;
  /** the API token the operator signed in with (kept here only) */
  token: string;
  csrf: string;
  name: string;
  createdAt: number;
  seenAt: number;
  /** a one-shot notice shown on the next page (after a POST's redirect) */
  flash: { kind: 'ok' | 'error'; text: string } | null;
}

export class Sessions {
  readonly #byId = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(token: string, name: string): Session {
    this.sweep();
    while (this.#byId.size >= MAX_SESSIONS) this.#byId.delete(this.#byId.keys().next().value!);
    const t = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), token, csrf: randomBytes(32).toString('base64url'), name, createdAt: t, seenAt: t, flash: null };
    this.#byId.set(s.id, s);
    return s;
  }

  /** The live session of this id (touching it), or null. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.#byId.get(id);
    if (!s) return null;
    const t = this.now();
    if (t - s.seenAt > IDLE_MS || t - s.createdAt > MAX_AGE_MS) {
      this.#byId.delete(id);
      return null;
    }
    s.seenAt = t;
    return s;
  }

  destroy(id: string): void {
    this.#byId.delete(id);
  }

  get size(): number {
    return this.#byId.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.#byId) if (t - s.seenAt > IDLE_MS || t - s.createdAt > MAX_AGE_MS) this.#byId.delete(id);
  }
}

/** Constant-time comparison of the submitted CSRF token with the session's. */
export function csrfMatches(s: Session, submitted: string | null | undefined): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(s.csrf);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function sessionCookie(id: string, secure: boolean, maxAgeS = MAX_AGE_MS / 1000): string {
  return `${COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
