// Why this file exists: a store written by an older mailroom (or copied with cp/rsync under a loose
// umask) may have directories and files that other local users can read: raw mail, attachments, whole
// outbound messages, credential fingerprints. Opening the store tightens every directory to 0700 and
// every file to 0600 (the modes new files get, see durable-file.ts) and says what it changed.
import { chmod, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { STORE_DIR_MODE, STORE_FILE_MODE } from './durable-file.js';

/** Pure: the mode an entry that group or others may access gets, else null (symlinks and others are left alone). */
export function tightenedMode(kind: 'dir' | 'file' | 'other', mode: number): number | null {
  const want = kind === 'dir' ? STORE_DIR_MODE : kind === 'file' ? STORE_FILE_MODE : null;
  return want !== null && (mode & 0o077) !== 0 ? want : null;
}

export interface TightenedModes {
  /** paths chmod-ed to 0700/0600 */
  changed: string[];
  /** paths left as they were because the process may not chmod them (EPERM: owned by another user) */
  refused: string[];
}

/**
 * Walk the store under `root` and chmod what group or others may access to 0700 (directories) / 0600 (files).
 * Nothing to report for a store that was fine or does not exist yet. The root is done first, so even a
 * failure further down leaves nothing readable by others through it.
 */
export async function tightenStoreModes(root: string): Promise<TightenedModes> {
  const changed: string[] = [];
  const refused: string[] = [];
  const visit = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // gone meanwhile, or no store yet
      throw e;
    }
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    const want = tightenedMode(kind, st.mode);
    if (want !== null) {
      try {
        await chmod(p, want);
        changed.push(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
        refused.push(p);
      }
    }
    if (kind === 'dir') for (const name of await readdir(p)) await visit(path.join(p, name));
  };
  await visit(path.resolve(root));
  return { changed, refused };
}
