// Why this file exists: the Gmail API's client for a mailbox (the shared HTTP client of graph/client.ts
// with Gmail's paths and Google's error bodies) and its labels: a configured name or id to the label
// id the API wants, created when asked (afterFetch: move).
import type { ResolvedAuth } from '../config/snapshot.js';
import { ApiClient, isGraphError as isApiError } from '../graph/client.js';

interface Label {
  id: string;
  name: string;
}

export function gmailClient(mailbox: string, apiUrl: string, auth: ResolvedAuth, extra: { accessToken?: () => Promise<string>; onThrottled?: (ms: number, status: number) => void; timeoutMs?: number } = {}): ApiClient {
  return new ApiClient({ service: 'Gmail', mailbox, apiUrl, userPath: `/gmail/v1/users/${encodeURIComponent(auth.user)}`, auth, ...extra });
}

/** A label id from a configured name or id (INBOX, a user label's name), created when asked. */
export async function resolveLabel(client: ApiClient, name: string, create = false): Promise<string | null> {
  const labels = (await client.json<{ labels?: Label[] }>({ path: '/labels' })).labels ?? [];
  const hit = labels.find((l) => l.id === name) ?? labels.find((l) => l.name.toLowerCase() === name.toLowerCase());
  if (hit) return hit.id;
  if (!create) return null;
  try {
    return (await client.json<Label>({ method: 'POST', path: '/labels', json: { name, labelListVisibility: 'labelShow', messageListVisibility: 'show' } })).id;
  } catch (e) {
    if (!isApiError(e, 409)) throw e;
    return resolveLabel(client, name, false);
  }
}

