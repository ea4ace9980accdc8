// Why this file exists: `mailroom test-mailbox` for a Gmail API mailbox: with the token the probe
// got, reads the profile and the label (and the move target), and with --send-to sends a test
// message through messages.send. Google's refusals become lines a person can act on: the token, the
// scopes (gmail.modify) or the domain-wide delegation, the Gmail service of the account, the label.
import type { ResolvedAuth, ResolvedInbound } from '../config/snapshot.js';
import { gmailClient, resolveLabel } from '../gmail/client.js';
import { isGraphError as isApiError } from '../graph/client.js';
import type { StepResult } from '../outbound/probe.js';

export interface GmailProbe {
  mailbox: string;
  apiUrl: string;
  auth: ResolvedAuth;
  accessToken: string;
  print(r: StepResult): void;
}

/** What a Gmail refusal means for the person running test-mailbox (pure). */
export function gmailHint(e: unknown, side: 'read' | 'send'): string {
  if (!isApiError(e)) return 'the Gmail API could not be reached: check apiUrl and the network';
  if (e.httpStatus === 401) return 'Google refused the token: check the OAuth2 client and that the token is for the Gmail API';
  if (e.httpStatus === 403 && /insufficientPermissions|ACCESS_TOKEN_SCOPE_INSUFFICIENT/.test(e.graphCode))
    return `the token lacks the Gmail scope: grant https://www.googleapis.com/auth/gmail.modify${side === 'send' ? ' (or gmail.send)' : ''} (service account: in the domain-wide delegation of its client id)`;
  if (e.httpStatus === 403) return 'Google denied access to this mailbox: check the domain-wide delegation (service account) or that the consenting user is auth.user';
  if (e.httpStatus === 400 && /failedPrecondition/.test(e.graphCode)) return 'the account has no Gmail service (not a Gmail / Google Workspace mailbox, or Gmail is off for it)';
  if (e.httpStatus === 429) return 'Google is rate-limiting this mailbox: try again later';
  return 'the Gmail API answered with an error';
}

export async function probeGmailInbound(p: GmailProbe, i: ResolvedInbound): Promise<void> {
  const client = gmailClient(p.mailbox, p.apiUrl, p.auth, { accessToken: async () => p.accessToken, timeoutMs: 20_000 });
  try {
    const profile = await client.json<{ emailAddress?: string; messagesTotal?: number }>({ path: '/profile' });
    p.print({ step: 'auth', status: 'ok', detail: `Gmail accepted the token for ${profile.emailAddress ?? p.auth.user} (${profile.messagesTotal ?? '?'} message(s) in the mailbox)` });
  } catch (e) {
    return p.print({ step: 'auth', status: 'fail', detail: (e as Error).message, hint: gmailHint(e, 'read') });
  }
  try {
    const id = await resolveLabel(client, i.folder);
    if (!id) return p.print({ step: 'folder', status: 'fail', detail: `label ${i.folder}: not found`, hint: 'check inbound.folder: a label name or id (INBOX, or a label of the mailbox)' });
    p.print({ step: 'folder', status: 'ok', detail: `label ${i.folder} (${id})` });
    if (i.afterFetch === 'move' && i.moveTo) {
      const there = await resolveLabel(client, i.moveTo);
      p.print({ step: 'moveTo', status: there ? 'ok' : 'warn', detail: `label ${i.moveTo} ${there ? 'exists' : 'does not exist yet'}`, hint: 'mailroom creates it on the first move' });
    }
  } catch (e) {
    p.print({ step: 'folder', status: 'fail', detail: `${i.folder}: ${(e as Error).message}`, hint: gmailHint(e, 'read') });
  }
}

export async function probeGmailSend(p: GmailProbe, raw: Buffer, to: string): Promise<void> {
  const client = gmailClient(p.mailbox, p.apiUrl, p.auth, { accessToken: async () => p.accessToken, timeoutMs: 20_000 });
  try {
    const r = await client.json<{ id?: string }>({ method: 'POST', path: '/messages/send', json: { raw: raw.toString('base64url') } });
    p.print({ step: 'send', status: 'ok', detail: `to ${to}: Gmail accepted it (id ${r.id ?? '?'})` });
  } catch (e) {
    p.print({ step: 'send', status: 'fail', detail: (e as Error).message, hint: gmailHint(e, 'send') });
  }
}
