// Why this file exists: the impossible combinations of a mailbox read or sent through an HTTP mail
// API (inbound.protocol / outbound.transport graph or gmail), as `check` reports them. Pure: takes
// one mailbox's config, returns its problems with their paths; semantic.ts reports them.
import { apiPresetFor, isApiProtocol, type ApiKind } from './presets.js';
import type { MailroomConfig } from './types.generated.js';

type Mailbox = NonNullable<MailroomConfig['mailboxes']>[string];
type Path = (string | number)[];

export interface ApiProblem {
  severity: 'error' | 'warning';
  path: Path;
  message: string;
}

const NAMES: Record<ApiKind, { api: string; providers: string }> = {
  graph: { api: 'Microsoft Graph', providers: 'provider: office365 (or outlook)' },
  gmail: { api: 'the Gmail API', providers: 'provider: gmail' },
};

/** IMAP/POP3 connection fields that an API mailbox does not have. */
const INBOUND_ONLY_SOCKET = ['host', 'port', 'security', 'verifyCertificate', 'caFile', 'idle'] as const;
const OUTBOUND_ONLY_SMTP = ['host', 'port', 'security', 'verifyCertificate', 'caFile', 'maxConnections'] as const;

export function checkApiMailbox(id: string, mb: Mailbox): ApiProblem[] {
  const out: ApiProblem[] = [];
  const base: Path = ['mailboxes', id];
  const protocol = mb.inbound?.protocol;
  const transport = mb.outbound?.transport;
  const inApi = isApiProtocol(protocol) ? protocol : null;
  const outApi = isApiProtocol(transport) ? transport : null;
  if (!inApi && !outApi) {
    if (mb.apiUrl !== undefined) out.push({ severity: 'warning', path: [...base, 'apiUrl'], message: `mailbox "${id}": apiUrl is used only with inbound.protocol or outbound.transport graph or gmail` });
    return out;
  }
  if (inApi && outApi && inApi !== outApi)
    out.push({ severity: 'error', path: [...base, 'outbound', 'transport'], message: `mailbox "${id}" reads through ${NAMES[inApi].api} and cannot send through ${NAMES[outApi].api} (one API per mailbox)` });
  for (const kind of new Set([inApi, outApi].filter((k): k is ApiKind => k !== null))) {
    const where: Path = inApi === kind ? [...base, 'inbound', 'protocol'] : [...base, 'outbound', 'transport'];
    if (!mb.auth?.oauth2) out.push({ severity: 'error', path: where, message: `${kind}: mailbox "${id}" needs auth.oauth2 (${NAMES[kind].api} takes OAuth2 bearer tokens only, no password)` });
    const preset = apiPresetFor(mb.provider, kind);
    if (!preset && (mb.apiUrl === undefined || mb.auth?.oauth2?.tokenUrl === undefined))
      out.push({ severity: 'error', path: where, message: `${kind}: mailbox "${id}" needs ${NAMES[kind].providers}, or both apiUrl and auth.oauth2.tokenUrl` });
    if (!preset && mb.auth?.oauth2 && mb.auth.oauth2.scope === undefined)
      out.push({ severity: 'warning', path: [...base, 'auth', 'oauth2'], message: `${kind}: mailbox "${id}" has no provider preset: set auth.oauth2.scope to the scopes the API needs` });
  }
  if (inApi && mb.inbound) {
    const i = mb.inbound as unknown as Record<string, unknown>;
    for (const f of INBOUND_ONLY_SOCKET)
      if (i[f] !== undefined) out.push({ severity: 'error', path: [...base, 'inbound', f], message: `inbound.${f} has no meaning for protocol ${inApi} (the API URL comes from the provider preset or apiUrl)` });
    if ((mb.inbound.afterFetch === 'move') && !mb.inbound.moveTo)
      out.push({ severity: 'error', path: [...base, 'inbound', 'afterFetch'], message: `afterFetch: move needs moveTo (the ${inApi === 'gmail' ? 'label' : 'folder'} to move to)` });
  }
  if (outApi && mb.outbound) {
    const o = mb.outbound as unknown as Record<string, unknown>;
    for (const f of OUTBOUND_ONLY_SMTP)
      if (o[f] !== undefined) out.push({ severity: 'error', path: [...base, 'outbound', f], message: `outbound.${f} has no meaning for transport ${outApi} (mail goes through the API)` });
  }
  return out;
}
