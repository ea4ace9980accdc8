// Which Message-ID dedupe keys a message gets (pure; pipeline.ts looks the inputs up in the store).
//
// Company + Message-ID alone made any later message with a reused Message-ID a "duplicate": it got
// no article and, with afterFetch delete, was gone from the server (issue 20). Now the key carries
// a content hash too (content-hash.ts): `midc:<company>:<hash>:<message-id>`. A copy of a stored
// message (second mailbox, re-delivery, UIDVALIDITY rescan) has the same key and is deduplicated;
// a different message with the same Message-ID gets its own article, flagged duplicate-message-id.
//
// Articles stored before this carry `mid:<company>:<message-id>` (no hash). New articles never
// write that key (the store deduplicates on any shared key, so it would swallow the next message
// with the id), except next to the content key when joining such an old article as its copy.
// An old article counts as the same message only if the hash recomputed from its stored fields
// matches; if it differs or cannot be computed, the new message is kept as its own article
// (flagged): an extra article can be merged by a person, a dropped message is lost.

export const DUPLICATE_MESSAGE_ID = 'duplicate-message-id';

export interface MessageIdFacts {
  company: string;
  messageId: string;
  contentHash: string;
  /** the content key is known: a copy of this very message is stored */
  contentKnown: boolean;
  /** an old article (no content hash) holds `mid:<company>:<id>`; its recomputed hash, null if unavailable */
  legacy: { contentHash: string | null } | null;
  /** some other stored article of the company has this Message-ID */
  otherWithId: boolean;
}

export interface MessageIdDecision {
  keys: string[];
  /** the message is a copy of a stored one (the store will deduplicate it) */
  copy: boolean;
  flag: typeof DUPLICATE_MESSAGE_ID | null;
  reason: string | null;
}

export const legacyMessageIdKey = (company: string, messageId: string): string => `mid:${company}:${messageId}`;
export const contentKey = (company: string, contentHash: string, messageId: string): string => `midc:${company}:${contentHash}:${messageId}`;

export function decideMessageIdKeys(f: MessageIdFacts): MessageIdDecision {
  const own = contentKey(f.company, f.contentHash, f.messageId);
  if (f.contentKnown) return { keys: [own], copy: true, flag: null, reason: null };
  if (f.legacy && f.legacy.contentHash === f.contentHash) {
    // a copy of an old article: join it (its key), and teach it the content key for next time
    return { keys: [legacyMessageIdKey(f.company, f.messageId), own], copy: true, flag: null, reason: null };
  }
  if (f.legacy || f.otherWithId) {
    const why = f.legacy && f.legacy.contentHash === null ? 'whose content could not be compared' : 'with other content';
    return { keys: [own], copy: false, flag: DUPLICATE_MESSAGE_ID, reason: `Message-ID <${f.messageId}> is already on a stored message ${why}: kept as its own article, flagged ${DUPLICATE_MESSAGE_ID}` };
  }
  return { keys: [own], copy: false, flag: null, reason: null };
}
