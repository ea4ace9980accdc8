// What makes two fetched copies "the same message" beyond their Message-ID (issue 20: buggy mailers
// reuse Message-IDs, so company + Message-ID alone dropped a different message as a duplicate).
//
// The hash covers what the message says, as parsed: subject, From/To/Cc, the Date header, text,
// html and the attachments' content hashes. Not the raw bytes: two copies of one message differ in
// trace headers (Received, Delivered-To, Return-Path, X-Original-To, spam scores, ARC, ...), a list
// no one can finish, and a relay may re-encode the body (8bit → quoted-printable) without changing
// a word. It is computed from fields every stored article has (also those stored before this hash
// existed), so an old article can be compared by recomputing it.
import { createHash } from 'node:crypto';
import type { Address } from './parsed-message.js';

export interface ContentFields {
  subject: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  headers: Record<string, string[]>;
  text: string;
  html: string | null;
  attachments: { id: string }[];
}

const addr = (a: Address | null | undefined): [string, string] | null => (a ? [a.address ?? '', a.name ?? ''] : null);

/** 32 hex digits (128 bits of sha256) over the message's content; equal for copies of one message. */
export function contentHash(m: ContentFields): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([m.subject, addr(m.from), m.to.map(addr), m.cc.map(addr), m.headers['date']?.[0] ?? null, m.attachments.map((a) => a.id)]));
  h.update('\0');
  h.update(m.text);
  h.update('\0');
  h.update(m.html ?? '\u0001'); // null and '' differ
  return h.digest('hex').slice(0, 32);
}
