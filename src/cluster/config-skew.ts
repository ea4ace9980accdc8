// Why this file exists: config skew across replicas (pure). Every replica's heartbeat carries the hash
// of the config it runs; more than one distinct hash among the live members means a rollout is in
// progress (seconds to minutes) or stuck (a replica that cannot load the new config, an old pod that
// never restarted). /v1/status shows it (cluster.configSkew) and mailroom_cluster_config_hashes counts it.
import type { Member } from '../store/port.js';

/** How many distinct config hashes the live members run (a member without one counts as its own kind). */
export function distinctConfigHashes(members: readonly Pick<Member, 'configHash'>[]): number {
  return new Set(members.map((m) => m.configHash)).size;
}

/** Replicas run different configs. */
export function configSkew(members: readonly Pick<Member, 'configHash'>[]): boolean {
  return distinctConfigHashes(members) > 1;
}
