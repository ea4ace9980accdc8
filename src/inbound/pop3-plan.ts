// Pure decisions of a POP3 sync: which deletes recorded by an earlier commit to redo, which messages
// to fetch, whether a message is older than `since` (from its Date header), and which committed UIDLs
// to forget. The session (pop3-session.ts) only talks POP3 around them.
import type { PendingAction } from '../store/types.js';

export interface Pop3Listing {
  /** message number → UIDL, as UIDL listed them */
  uidls: Map<number, string>;
}

export interface Pop3SyncPlan {
  /** message numbers to DELE now: deletes an earlier commit recorded whose QUIT never happened */
  redo: number[];
  /** pending actions this pass finishes (after QUIT succeeded): the redone deletes and every other
   *  pending POP3 action (a `delete` of a message the server no longer lists is done already) */
  finish: string[];
  /** message numbers to fetch, in listing order */
  fetch: number[];
}

export function planPop3Sync(
  mailbox: string,
  listing: Pop3Listing,
  pending: readonly PendingAction[],
  seen: { committed: ReadonlySet<string>; knownKeys: ReadonlySet<string>; tooOld: ReadonlySet<string> },
): Pop3SyncPlan {
  const numberOf = new Map([...listing.uidls].map(([n, u]) => [u, n]));
  const redo: number[] = [];
  const finish: string[] = [];
  for (const a of pending) {
    if (a.kind !== 'pop3') continue;
    const n = a.uidl ? numberOf.get(a.uidl) : undefined;
    if (a.action === 'delete' && n !== undefined) redo.push(n);
    finish.push(a.id);
  }
  const fetch = [...listing.uidls]
    .filter(([, u]) => !seen.committed.has(u) && !seen.knownKeys.has(pop3Key(mailbox, u)) && !seen.tooOld.has(u))
    .map(([n]) => n);
  return { redo, finish, fetch };
}

export const pop3Key = (mailbox: string, uidl: string) => `pop3:${mailbox}:${uidl}`;

/** The message's Date header is before `since` (YYYY-MM-DD, UTC midnight). No usable date: not older
 *  (better fetched than lost). `head` is the header block (TOP n 0) as latin1 text. */
export function olderThanSince(head: string, since: string): boolean {
  const m = /^Date:[ \t]*(.+(?:\r?\n[ \t].+)*)/im.exec(head);
  if (!m) return false;
  const date = new Date(m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim());
  return !Number.isNaN(date.getTime()) && date.getTime() < new Date(`${since}T00:00:00Z`).getTime();
}
