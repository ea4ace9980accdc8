// Pure decisions of an IMAP sync (in the style of EmailEngine's sync operations): whether the
// checkpoint still holds, whether anything can be new, and which UIDs to fetch next.
export interface FolderStatus {
  uidValidity: number;
  /** UIDNEXT, or (as the IMAP session measures it) the highest UID in the folder + 1. */
  uidNext: number;
  exists: number;
}

export interface Checkpoint {
  uidValidity: number;
  uid: number;
}

export function hasUidValidityChanged(cp: Checkpoint | null, status: FolderStatus): boolean {
  return cp !== null && cp.uidValidity !== status.uidValidity;
}

/** Nothing can be new: same UIDVALIDITY and no UID above the checkpoint was ever assigned. */
export function canSkipSync(cp: Checkpoint | null, status: FolderStatus): boolean {
  if (status.exists === 0) return true;
  if (!cp || hasUidValidityChanged(cp, status)) return false;
  return status.uidNext > 0 && status.uidNext - 1 <= cp.uid;
}

export interface SyncPlan {
  /** UIDVALIDITY changed (or first run): forget the checkpoint; dedupe keys stop doubles. */
  reset: boolean;
  /** Fetch UIDs strictly above this. */
  afterUid: number;
  /** First run (or rescan) with `since`: search SINCE this date. */
  since: Date | null;
}

export function planSync(cp: Checkpoint | null, status: FolderStatus, since: string | null): SyncPlan {
  const reset = cp === null || hasUidValidityChanged(cp, status);
  return {
    reset,
    afterUid: reset ? 0 : cp.uid,
    since: since ? new Date(`${since}T00:00:00Z`) : null,
  };
}

/** Split sorted UIDs into batches of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Compact UID set for IMAP commands: [1,2,3,7] → "1:3,7". */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
