// Why this file exists: a config file that had content and is now empty (or only comments) is
// almost always a writer caught half-way (truncate, then write) or a mistake, not a wish to drop
// everything it set: a reload refuses it, and says how to remove a file's settings on purpose.
// Pure; the daemon keeps the set of files that were empty in the running config.
import type { Problem } from '../config/problems.js';

/** Files the problems say are empty. */
export function emptyFiles(problems: readonly Problem[]): Set<string> {
  return new Set(problems.filter((p) => p.code === 'empty-file' && p.file).map((p) => p.file!));
}

/** Errors for files empty now that the running config read with content. */
export function emptiedFileProblems(problems: readonly Problem[], runningFiles: readonly string[], runningEmpty: ReadonlySet<string>): Problem[] {
  return [...emptyFiles(problems)]
    .filter((f) => runningFiles.includes(f) && !runningEmpty.has(f))
    .map((file) => ({
      severity: 'error' as const,
      code: 'emptied-file',
      message: `${file} had settings and is now empty: not applied (a half-written file?). To remove its settings, delete the file`,
      file,
      line: 1,
      col: 1,
    }));
}
