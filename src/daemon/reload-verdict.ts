// What a reload does with a freshly loaded config (pure): nothing (unchanged; a recovery when the
// last reload had failed), refuse it (invalid, or a file emptied half-way), or apply it — keeping
// what needs a restart (server.listen, its limits, metricsListen, store) as it runs, so a reload is never half-applied.
import { diffSnapshots, type EntityChange as Change } from '../config/diff.js';
import { idMap } from '../config/id-map.js';
import type { Problem } from '../config/problems.js';
import type { Snapshot } from '../config/snapshot.js';
import { emptiedFileProblems } from './reload-guard.js';

export interface LoadedConfig {
  hash: string | null;
  snapshot: Snapshot | null;
  problems: Problem[];
}

export interface RunningConfig {
  snapshot: Snapshot;
  /** files that were empty in the running config (not "emptied" if still empty) */
  emptyAtApply: ReadonlySet<string>;
  /** what was started with and only a restart changes */
  fixed: { listen: Snapshot['server']['listen']; limits: Snapshot['server']['limits']; metricsListen: Snapshot['server']['metricsListen']; store: Snapshot['store'] };
  lastStatus: string | null;
}

export type ReloadVerdict =
  | { kind: 'unchanged'; hash: string; clearsFailure: boolean }
  | { kind: 'invalid'; hash: string | null; problems: Problem[] }
  | { kind: 'apply'; hash: string | null; snapshot: Snapshot; changes: Change[]; restartRequired: Change[]; problems: Problem[] };

export function reloadVerdict(loaded: LoadedConfig, running: RunningConfig): ReloadVerdict {
  const current = running.snapshot;
  const emptied = emptiedFileProblems(loaded.problems, current.files, running.emptyAtApply);
  const snapshot = emptied.length ? null : loaded.snapshot;
  const problems = [...emptied, ...loaded.problems];
  if (loaded.hash === current.hash && snapshot) {
    // Reverting to the running config after a failed reload is a recovery: the running config is
    // the one on disk again, so the failure must stop being reported (gauge, /v1/status).
    return { kind: 'unchanged', hash: loaded.hash, clearsFailure: running.lastStatus === 'invalid' || running.lastStatus === 'failed' };
  }
  if (!snapshot) return { kind: 'invalid', hash: loaded.hash, problems };
  const changes = diffSnapshots(current, snapshot);
  const f = running.fixed;
  const applied: Snapshot = Object.freeze({
    ...snapshot,
    mailboxes: shareUnchanged(current.mailboxes, snapshot.mailboxes, changes),
    server: { ...snapshot.server, listen: f.listen, limits: f.limits, metricsListen: f.metricsListen },
    store: f.store,
  });
  return { kind: 'apply', hash: loaded.hash, snapshot: applied, changes, restartRequired: changes.filter((c) => c.restartRequired), problems };
}

/**
 * The new mailboxes, where every mailbox the diff found unchanged is the running one's very object
 * (equal content): what runs for it (poller, metrics) sees the same object and is not touched, and
 * the next reload compares it by identity, so a reload costs what changed, not the config's size.
 */
export function shareUnchanged<T>(running: Readonly<Record<string, T>>, next: Readonly<Record<string, T>>, changes: readonly Change[]): Readonly<Record<string, T>> {
  const changed = new Set(changes.filter((c) => c.kind === 'mailbox').map((c) => c.id));
  return Object.freeze(idMap(Object.entries(next).map(([id, mb]) => [id, !changed.has(id) && Object.hasOwn(running, id) ? running[id]! : mb] as const)));
}
