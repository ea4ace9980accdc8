// The inbound inheritance rule, with provenance: a mailbox's own inbound field wins, then
// defaults.inbound, then the schema's built-in default. Over POP3 an afterFetch of seen or move that
// came from defaults cannot apply: keep is used (written explicitly on the mailbox it is an error,
// which check reports). resolve.ts, semantic.ts (check) and explain.ts all ask this one function.
import type { MailroomConfig } from './types.generated.js';
import { schemaDefault } from './schema-defaults.js';

type Inbound = NonNullable<NonNullable<MailroomConfig['mailboxes']>[string]['inbound']>;
type InboundDefaults = NonNullable<NonNullable<MailroomConfig['defaults']>['inbound']>;

/** Fields defaults.inbound may set for every mailbox. */
export type InheritedInboundKey = 'pollInterval' | 'idle' | 'afterFetch' | 'maxMessageSize';

export type InboundLayer = 'mailbox' | 'defaults' | 'pop3-fallback' | 'built-in';

export interface InboundField<T> {
  value: T;
  layer: InboundLayer;
  /** pop3-fallback: the default that could not apply */
  overridden?: unknown;
}

export function inboundField<K extends InheritedInboundKey>(key: K, inbound: Pick<Inbound, K | 'protocol'>, defaults: InboundDefaults | undefined): InboundField<NonNullable<Inbound[K]>> {
  type V = NonNullable<Inbound[K]>;
  const own = inbound[key];
  if (own !== undefined) return { value: own as V, layer: 'mailbox' };
  const inherited = defaults?.[key];
  if (inherited !== undefined) {
    if (key === 'afterFetch' && inbound.protocol === 'pop3' && (inherited === 'seen' || inherited === 'move')) return { value: 'keep' as V, layer: 'pop3-fallback', overridden: inherited };
    return { value: inherited as V, layer: 'defaults' };
  }
  return { value: schemaDefault<V>('InboundDefaults', key), layer: 'built-in' };
}

/** senderRateLimit is set for all mailboxes only (defaults.inbound), never per mailbox. */
export function senderRateLimit(defaults: InboundDefaults | undefined): InboundField<number> {
  return defaults?.senderRateLimit !== undefined ? { value: defaults.senderRateLimit, layer: 'defaults' } : { value: schemaDefault<number>('InboundDefaults', 'senderRateLimit'), layer: 'built-in' };
}
