// Why this file exists: the pure decisions of a Gmail sync apart from the HTTP: the committed cursor
// (an opaque string: `list:<historyId>:<pageToken>` while the first listing of the label is under
// way, `history:<historyId>` after it), which messages of a messages.list or history.list page are
// new for the label, and which cursor each committed message carries so that a crash replays the
// right page and nothing is lost or doubled.

export type GmailCursor = { phase: 'list'; historyId: string; pageToken: string | null } | { phase: 'history'; historyId: string };

/** Parse a stored cursor (pure); null for none or a shape this build does not know (start over). */
export function parseGmailCursor(v: string | null): GmailCursor | null {
  if (!v) return null;
  const h = /^history:(\d+)$/.exec(v);
  if (h) return { phase: 'history', historyId: h[1]! };
  const l = /^list:(\d+):(.*)$/.exec(v);
  if (l) return { phase: 'list', historyId: l[1]!, pageToken: l[2] ? l[2] : null };
  return null;
}

export function formatGmailCursor(c: GmailCursor): string {
  return c.phase === 'history' ? `history:${c.historyId}` : `list:${c.historyId}:${c.pageToken ?? ''}`;
}

/** messages.list's `q` for `since` (Gmail's after: takes a date, in the account's time zone). */
export function sinceQuery(since: string | null): string | null {
  return since ? `after:${since.replace(/-/g, '/')}` : null;
}

interface HistoryMessage {
  id?: unknown;
  labelIds?: unknown;
}

/**
 * The ids a history.list page adds to `label` (pure): messagesAdded carrying the label, and
 * labelsAdded that put it on a message; in order, each once. Removals are not mail to read.
 */
export function addedToLabel(history: unknown, label: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const h of Array.isArray(history) ? (history as Record<string, unknown>[]) : []) {
    const added = Array.isArray(h.messagesAdded) ? (h.messagesAdded as { message?: HistoryMessage }[]) : [];
    const labelled = Array.isArray(h.labelsAdded) ? (h.labelsAdded as { message?: HistoryMessage; labelIds?: unknown }[]) : [];
    const ids = [
      ...added.filter((a) => Array.isArray(a.message?.labelIds) && (a.message!.labelIds as string[]).includes(label)).map((a) => a.message!.id),
      ...labelled.filter((a) => Array.isArray(a.labelIds) && (a.labelIds as string[]).includes(label)).map((a) => a.message?.id),
    ];
    for (const id of ids) if (typeof id === 'string' && !seen.has(id)) seen.add(id) && out.push(id);
  }
  return out;
}

/** New ones of a page (not known, each once), and the cursor each carries: the last one `next`, the others `current`. */
export function planGmailPage(ids: string[], known: Set<string>, keyOf: (id: string) => string, current: string, next: string): { fetch: string[]; cursorOf: (i: number) => string } {
  const seen = new Set<string>();
  const fetch = ids.filter((id) => !known.has(keyOf(id)) && !seen.has(id) && Boolean(seen.add(id)));
  return { fetch, cursorOf: (i) => (i === fetch.length - 1 ? next : current) };
}
