// Why this file exists: the pure decisions of a Graph delta round, apart from the HTTP around them:
// the first request of a round (folder, `since` as a receivedDateTime filter), what a page says
// (messages, removals, the link that follows, whether the round is over) and which cursor each
// committed message carries, so that a crash replays from the last committed link and loses or
// doubles nothing.

export interface DeltaMessage {
  id: string;
  receivedDateTime?: string;
  removed: boolean;
}

export interface DeltaPage {
  messages: DeltaMessage[];
  /** the link to request next: @odata.nextLink, or the round's @odata.deltaLink */
  next: string;
  /** @odata.deltaLink came: the round is over, `next` is where the next round starts */
  roundDone: boolean;
}

/** Graph's wire shape of one delta page (pure; throws on a page with neither link). */
export function parseDeltaPage(body: unknown): DeltaPage {
  const b = (body ?? {}) as Record<string, unknown>;
  const next = b['@odata.nextLink'];
  const delta = b['@odata.deltaLink'];
  const link = typeof next === 'string' ? next : typeof delta === 'string' ? delta : null;
  if (!link) throw Object.assign(new Error('Graph delta page without @odata.nextLink or @odata.deltaLink'), { code: 'EPROTOCOL' });
  const value = Array.isArray(b.value) ? (b.value as Record<string, unknown>[]) : [];
  return {
    messages: value
      .filter((v) => typeof v?.id === 'string')
      .map((v) => ({ id: v.id as string, removed: v['@removed'] !== undefined, ...(typeof v.receivedDateTime === 'string' && { receivedDateTime: v.receivedDateTime }) })),
    next: link,
    roundDone: typeof next !== 'string',
  };
}

/** The first request of a round: the folder's delta, `since` as Graph's one supported filter. */
export function initialDeltaPath(folderId: string, since: string | null): string {
  const q = since ? `?$filter=${encodeURIComponent(`receivedDateTime ge ${since}T00:00:00Z`)}` : '';
  return `/mailFolders/${encodeURIComponent(folderId)}/messages/delta${q}`;
}

/**
 * What to fetch from a page: new messages not yet stored (known keys are skipped: a replayed page
 * after a crash, our own isRead change coming back as an update), in page order. The last one to be
 * committed carries the page's next link as its cursor; the others the link that got this page, so
 * a crash between two commits of one page replays the page (its committed messages are known then).
 */
export function planDeltaPage(page: DeltaPage, current: string, known: Set<string>, keyOf: (id: string) => string): { fetch: string[]; cursorOf: (i: number) => string } {
  const seen = new Set<string>();
  const fetch = page.messages.filter((m) => !m.removed && !known.has(keyOf(m.id)) && !seen.has(m.id) && seen.add(m.id)).map((m) => m.id);
  return { fetch, cursorOf: (i) => (i === fetch.length - 1 ? page.next : current) };
}

/** Graph's well-known folder names (mailFolders/{name}), case-insensitive. */
export const WELL_KNOWN_FOLDERS = ['inbox', 'archive', 'deleteditems', 'drafts', 'junkemail', 'sentitems', 'outbox', 'clutter', 'conversationhistory', 'recoverableitemsdeletions', 'scheduled', 'searchfolders', 'syncissues', 'msgfolderroot'];

export function isWellKnownFolder(name: string): boolean {
  return WELL_KNOWN_FOLDERS.includes(name.toLowerCase());
}
