// Why this file exists: `mailroom test-mailbox` for a Microsoft Graph mailbox: with the token the
// probe got, reads the mailbox's folder (and the move target), and with --send-to sends a test
// message through sendMail. Each Graph refusal becomes a line a person can act on: the token, the
// app's permission (Mail.ReadWrite / Mail.Send with admin consent, an application access policy),
// the mailbox (no Exchange Online mailbox or REST access), the folder.
import type { ResolvedAuth, ResolvedInbound } from '../config/snapshot.js';
import { GraphClient, isGraphError } from '../graph/client.js';
import { resolveFolder } from '../graph/folders.js';
import type { StepResult } from '../outbound/probe.js';

export interface GraphProbe {
  mailbox: string;
  apiUrl: string;
  auth: ResolvedAuth;
  accessToken: string;
  print(r: StepResult): void;
}

/** What a Graph refusal means for the person running test-mailbox (pure). */
export function graphHint(e: unknown, side: 'read' | 'send', what: string): string {
  if (!isGraphError(e)) return 'Graph could not be reached: check apiUrl and the network';
  if (e.httpStatus === 401) return 'Graph refused the token: check tenantId and that the token is for Graph (scope https://graph.microsoft.com/.default or Mail.* scopes)';
  if (e.httpStatus === 403)
    return side === 'read'
      ? 'Graph denied access: the app needs the Mail.ReadWrite permission (application: with admin consent), and no application access policy may exclude this mailbox'
      : 'Graph denied sending: the app needs Mail.Send (application: with admin consent), and the From address must be this mailbox or one it may send as';
  if (e.httpStatus === 404 && /MailboxNotEnabledForRESTAPI|ErrorInvalidUser|ResourceNotFound/.test(e.graphCode)) return `the mailbox ${what} does not exist in Exchange Online or has no REST access (license, on-premises mailbox): check auth.user`;
  if (e.httpStatus === 404) return `${what} does not exist in the mailbox: check inbound.folder (a well-known name such as inbox, or a display path like Support/Orders)`;
  if (e.httpStatus === 429 || e.httpStatus === 503) return 'Graph is throttling this mailbox: try again later';
  return 'Graph answered with an error';
}

export async function probeGraphInbound(p: GraphProbe, i: ResolvedInbound): Promise<void> {
  const client = new GraphClient({ mailbox: p.mailbox, apiUrl: p.apiUrl, auth: p.auth, accessToken: async () => p.accessToken, timeoutMs: 20_000 });
  let id: string | null;
  try {
    id = await resolveFolder(client, i.folder);
  } catch (e) {
    return p.print({ step: 'folder', status: 'fail', detail: `${i.folder}: ${(e as Error).message}`, hint: graphHint(e, 'read', isGraphError(e) && /Mailbox|User/.test(e.graphCode) ? p.auth.user : i.folder) });
  }
  if (!id) return p.print({ step: 'folder', status: 'fail', detail: `${i.folder}: not found`, hint: `${i.folder} does not exist in the mailbox: check inbound.folder (a well-known name such as inbox, or a display path like Support/Orders)` });
  try {
    const f = await client.json<{ totalItemCount?: number; unreadItemCount?: number }>({ path: `/mailFolders/${encodeURIComponent(id)}` });
    p.print({ step: 'auth', status: 'ok', detail: `Graph accepted the token for ${p.auth.user}` });
    p.print({ step: 'folder', status: 'ok', detail: `${i.folder}: ${f.totalItemCount ?? '?'} message(s), ${f.unreadItemCount ?? '?'} unread` });
  } catch (e) {
    return p.print({ step: 'folder', status: 'fail', detail: `${i.folder}: ${(e as Error).message}`, hint: graphHint(e, 'read', i.folder) });
  }
  if (i.afterFetch === 'move' && i.moveTo) {
    const there = await resolveFolder(client, i.moveTo).catch(() => null);
    p.print({ step: 'moveTo', status: there ? 'ok' : 'warn', detail: `${i.moveTo} ${there ? 'exists' : 'does not exist yet'}`, hint: 'mailroom creates it on the first move' });
  }
}

export async function probeGraphSend(p: GraphProbe, raw: Buffer, to: string): Promise<void> {
  const client = new GraphClient({ mailbox: p.mailbox, apiUrl: p.apiUrl, auth: p.auth, accessToken: async () => p.accessToken, timeoutMs: 20_000 });
  try {
    await client.request({ method: 'POST', path: '/sendMail', text: raw.toString('base64') }, async (res) => void (await res.arrayBuffer()));
    p.print({ step: 'send', status: 'ok', detail: `to ${to}: Graph accepted it (202)` });
  } catch (e) {
    p.print({ step: 'send', status: 'fail', detail: (e as Error).message, hint: graphHint(e, 'send', p.auth.user) });
  }
}
