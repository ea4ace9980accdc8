// Why this file exists: the store keeps its indexes in memory and rewrites whole files, so two
// processes (or two opens in one process) on the same directory would silently overwrite each other
// and break exactly-once. A LOCK file holding the owner's pid prevents that; a lock left by a killed
// process (pid gone) is taken over, so a SIGKILLed daemon restarts without manual cleanup.
import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, STORE_FILE_MODE } from './durable-file.js';
import { StoreError } from './types.js';

const heldHere = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Acquire <dir>/LOCK; resolves with a release function. */
export async function acquireStoreLock(dir: string): Promise<() => Promise<void>> {
  const file = path.resolve(dir, 'LOCK');
  if (heldHere.has(file)) throw new StoreError('locked', `store ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx', STORE_FILE_MODE);
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(path.dirname(file));
      heldHere.add(file);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        heldHere.delete(file);
        await unlink(file).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).trim(), 10);
    // Same pid but not held by this process ⇒ a previous incarnation (e.g. pid 1 in a container).
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new StoreError('locked', `store ${dir} is locked by running process ${owner} (if no mailroom uses it, remove ${file})`);
    }
    await unlink(file).catch(() => undefined); // stale
  }
  throw new StoreError('locked', `could not acquire ${file}`);
}
