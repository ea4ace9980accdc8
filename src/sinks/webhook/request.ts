// One webhook request on the wire: the POST with its (same-host, same-protocol) redirects, and a
// bounded look at an error response's body. Decisions live in policy.ts; this is only the I/O.
import type { ResolvedWebhook } from '../../config/snapshot.js';
import { redirectTarget } from './policy.js';

const MAX_REDIRECTS = 3;
/** What is read of an error body: enough for the excerpt, never a whole (possibly huge) page. */
export const ERROR_BODY_READ_BYTES = 4096;
const EXCERPT_CHARS = 200;

/** POST, following up to 3 redirects that policy.redirectTarget allows; the last response wins. */
export async function post(hook: ResolvedWebhook, body: string, headers: Record<string, string>): Promise<Response> {
  let url = new URL(hook.url);
  for (let i = 0; ; i++) {
    const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(hook.timeoutMs) });
    if (res.status < 300 || res.status >= 400 || i >= MAX_REDIRECTS) return res;
    const next = redirectTarget(url, res.headers.get('location'));
    if (!next) return res; // not followed: counts as permanent
    await res.body?.cancel().catch(() => undefined);
    url = next;
  }
}

/** The first 200 characters of an error body (whitespace collapsed), reading at most 4 KB of it. */
export async function bodyExcerpt(res: Response, maxBytes = ERROR_BODY_READ_BYTES): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let read = 0;
  try {
    while (read < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = value.subarray(0, maxBytes - read);
      read += chunk.length;
      text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    // A body cut off mid-way: the excerpt is what arrived.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.replace(/\s+/g, ' ').slice(0, EXCERPT_CHARS);
}
