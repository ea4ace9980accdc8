// Why this file exists: "no mailbox polled by two replicas at once", read from the mail server's own
// record. Dovecot logs every login (imap-login/pop3-login: user, local port, session id) and the end
// of every session (imap(user)<pid><session>: Disconnected / Logged out / Connection closed), in the
// order its log process receives them. Sessions on the test helpers' private listener are left out;
// two sessions of one user open at the same time are two pollers of one mailbox.
import { readFile } from 'node:fs/promises';
import type { Dovecot } from '../peers/dovecot.js';

export interface MailSession {
  user: string;
  session: string;
  /** line numbers in the log of its login and its end (null: still open) */
  from: number;
  to: number | null;
}

/** Sessions on mailroom's listeners (IMAP, IMAPS, POP3, POP3S), in log order. */
export async function mailSessions(d: Dovecot): Promise<MailSession[]> {
  const ports = new Set([d.ports.imap, d.ports.imaps, d.ports.pop3, d.ports.pop3s].map(String));
  const lines = (await readFile(d.logFile, 'latin1')).split('\n');
  const open = new Map<string, MailSession>();
  const all: MailSession[] = [];
  lines.forEach((line, n) => {
    const login = /\b(?:imap|pop3)-login: (?:Info: )?Login: user=<([^>]*)>.*?\blport=(\d+).*?\bsession=<([^>]+)>/.exec(line);
    if (login) {
      if (!ports.has(login[2]!)) return;
      const s: MailSession = { user: login[1]!, session: login[3]!, from: n, to: null };
      open.set(s.session, s);
      all.push(s);
      return;
    }
    const end = /\b(?:imap|pop3)\([^)]*\)<\d+><([^>]+)>: (?:Info: )?(?:Disconnected|Logged out|Connection closed)/.exec(line);
    const s = end && open.get(end[1]!);
    if (s) {
      s.to = n;
      open.delete(s.session);
    }
  });
  return all;
}

/** Pairs of sessions of one user that were open at the same time. */
export function overlapping(sessions: MailSession[]): [MailSession, MailSession][] {
  const out: [MailSession, MailSession][] = [];
  const byUser = new Map<string, MailSession[]>();
  for (const s of sessions) byUser.set(s.user, [...(byUser.get(s.user) ?? []), s]);
  for (const list of byUser.values())
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) {
        const [a, b] = [list[i]!, list[j]!];
        if (b.from < (a.to ?? Infinity) && a.from < (b.to ?? Infinity)) out.push([a, b]);
      }
  return out;
}
