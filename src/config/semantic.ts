// Checks the schema cannot express: references that name nothing, `extends` cycles, impossible
// combinations, timezones, time ranges, regexes, secrets given twice. Every problem is collected.
import { checkApiMailbox } from './api-mailbox-check.js';
import { inboundField } from './inbound-layers.js';
import { mailboxOwners } from './mailbox-ownership.js';
import { locate } from './merge.js';
import { parseDuration } from './duration.js';
import type { Problem, Severity } from './problems.js';
import { isApiProtocol, PRESETS, presetFor } from './presets.js';
import { backtrackingRisk, compilePattern } from './pattern.js';
import { defaultPrefix } from './resolve.js';
import type { Auth, MailroomConfig, OutboundServer } from './types.generated.js';
import { pointer, type NodeLocation } from './yaml-file.js';

type Path = (string | number)[];
const MIN_SMTP_TIMEOUT_MS = 10_000;
/** A lease renewed every third of its TTL needs room for a round trip and a slow round. */
const MIN_LEASE_TTL_MS = 3_000;
/** Words that a workflow's `outbound:` reads as keywords (the global default, the contract's
 * mailbox): a mailbox with such an id could never be picked there, and would read as the default. */
export const RESERVED_MAILBOX_IDS = ['default', 'contract'] as const;

export interface SemanticOptions {
  /** Some file could not be parsed: what it defines is unknown, so a reference to an id that is not
   * found (or to defaults.outbound) may name something in that file and is not reported. */
  partial?: boolean;
}

export function checkSemantics(cfg: MailroomConfig, locations: Map<string, NodeLocation>, opts: SemanticOptions = {}): Problem[] {
  const problems: Problem[] = [];
  const report = (severity: Severity, path: Path, message: string, preferKey = false) =>
    problems.push({ severity, message, path: path.join('.'), ...locate(locations, pointer(path), preferKey) });
  const err = (path: Path, message: string, preferKey = false) => report('error', path, message, preferKey);
  const warn = (path: Path, message: string, preferKey = false) => report('warning', path, message, preferKey);

  const mailboxes = cfg.mailboxes ?? {};
  const companies = cfg.companies ?? {};
  const schedules = cfg.schedules ?? {};
  const webhooks = cfg.webhooks ?? {};
  // One malformed entry (already reported by the schema) must not stop the checks of all the others.
  const guard = (check: () => void) => {
    try {
      check();
    } catch {
      /* a shape the schema rejected */
    }
  };
  const known = (kind: string, map: object, id: string, path: Path) => {
    if (!(id in map) && !opts.partial) err(path, `${kind} "${id}" is not defined${suggest(id, Object.keys(map))}`);
  };

  // --- companies, contracts, extends ---
  for (const [cid, company] of Object.entries(companies)) guard(() => {
    if (company.extends !== undefined) {
      known('company', companies, company.extends, ['companies', cid, 'extends']);
      const chain = [cid];
      let cur: string | undefined = company.extends;
      while (cur !== undefined && companies[cur]) {
        if (chain.includes(cur)) {
          err(['companies', cid, 'extends'], `extends cycle: ${[...chain, cur].join(' → ')}`);
          break;
        }
        chain.push(cur);
        cur = companies[cur]?.extends;
      }
    }
    if (company.outbound?.mailbox !== undefined) knownOutbound(company.outbound.mailbox, ['companies', cid, 'outbound', 'mailbox']);
    checkOutboundServer(company.outbound, ['companies', cid, 'outbound']);
    for (const [kid, contract] of Object.entries(company.contracts ?? {})) {
      (contract.inbound ?? []).forEach((mb, i) => {
        known('mailbox', mailboxes, mb, ['companies', cid, 'contracts', kid, 'inbound', i]);
        if (mailboxes[mb] && !mailboxes[mb].inbound) err(['companies', cid, 'contracts', kid, 'inbound', i], `mailbox "${mb}" has no inbound side to read from`);
      });
      if (contract.outbound !== undefined) knownOutbound(contract.outbound, ['companies', cid, 'contracts', kid, 'outbound']);
    }
  });

  // Ticket ids are numbered per prefix: two companies with one prefix would share a number series
  // and could read each other's tickets by subject tag. The derived default counts too.
  const prefixOwner = new Map<string, string>();
  for (const [cid, company] of Object.entries(companies)) guard(() => {
    const prefix = company.ticketPrefix ?? defaultPrefix(cid);
    const first = prefixOwner.get(prefix);
    if (first === undefined) return void prefixOwner.set(prefix, cid);
    const how = (id: string) => (companies[id]!.ticketPrefix === undefined ? ' (derived from its id)' : '');
    err(company.ticketPrefix === undefined ? ['companies', cid] : ['companies', cid, 'ticketPrefix'],
      `companies "${first}"${how(first)} and "${cid}"${how(cid)} both use ticket prefix ${prefix}: set a distinct ticketPrefix`, company.ticketPrefix === undefined);
  });

  function knownOutbound(id: string, path: Path) {
    known('mailbox', mailboxes, id, path);
    const mb = mailboxes[id];
    if (mb && !mb.outbound && !presetFor(mb.provider)?.smtp) err(path, `mailbox "${id}" has no outbound side (add outbound: or a provider preset)`);
  }

  // --- mailboxes ---
  const inheritedAfterFetch = () => {
    const d = locate(locations, pointer(['defaults', 'inbound', 'afterFetch']));
    return `inherited from defaults.inbound.afterFetch${d ? ` at ${d.file}:${d.line}` : ''}`;
  };
  const claimedBy = new Map<string, Set<string>>();
  for (const [cid, company] of Object.entries(companies))
    guard(() => {
      for (const contract of Object.values(company.contracts ?? {}))
        for (const mb of contract.inbound ?? []) (claimedBy.get(mb) ?? claimedBy.set(mb, new Set()).get(mb)!).add(cid);
    });

  for (const [id, mb] of Object.entries(mailboxes)) guard(() => {
    const base: Path = ['mailboxes', id];
    if ((RESERVED_MAILBOX_IDS as readonly string[]).includes(id))
      err(base, `mailbox id "${id}" is reserved (a workflow's outbound: ${RESERVED_MAILBOX_IDS.join(' and outbound: ')} are keywords): choose another id`, true);
    checkAuth(mb.auth, [...base, 'auth']);
    for (const p of checkApiMailbox(id, mb)) report(p.severity, p.path, p.message, true);
    const inbound = mb.inbound;
    if (inbound) {
      const ip: Path = [...base, 'inbound'];
      const preset = presetFor(mb.provider);
      if (!isApiProtocol(inbound.protocol) && !inbound.host && !preset?.[inbound.protocol]) err(ip, `inbound mailbox "${id}" needs a host or a provider preset (set inbound.host, or provider: ${Object.keys(PRESETS).join(', ')})`, true);
      const explicit = inbound.afterFetch;
      const af = inboundField('afterFetch', inbound, cfg.defaults?.inbound);
      const effective = af.value;
      if (inbound.protocol === 'pop3' && explicit && (explicit === 'move' || explicit === 'seen'))
        err([...ip, 'afterFetch'], `afterFetch: ${explicit} is not possible over POP3 (POP3 offers keep and delete)`);
      else if (af.layer === 'pop3-fallback') {
        // The resolver reads keep instead: say so, rather than ignore the default silently.
        warn(ip, `POP3 mailbox "${id}": afterFetch: ${String(af.overridden)} (${inheritedAfterFetch()}) is not possible over POP3, keep is used (set afterFetch: keep or delete here)`, true);
      }
      if (inbound.protocol === 'pop3' && inbound.moveTo) err([...ip, 'moveTo'], 'moveTo has no meaning over POP3', true);
      if (inbound.protocol === 'imap' && effective === 'move' && !inbound.moveTo) {
        if (explicit) err([...ip, 'afterFetch'], 'afterFetch: move needs moveTo (the folder to move to)');
        else err(ip, `afterFetch: move (${inheritedAfterFetch()}) needs moveTo here, or set afterFetch for this mailbox`, true);
      }
      if (inbound.verifyCertificate === false) warn([...ip, 'verifyCertificate'], `mailbox "${id}": verifyCertificate: false accepts any certificate (use caFile for a private CA)`);
      plaintextLogin(inbound.security, inbound.host, mb.auth, [...ip, 'security'], `mailbox "${id}" inbound`);
      if (!mb.auth) err(base, `inbound mailbox "${id}" has no auth`, true);
      if (inbound.fallbackCompany !== undefined) known('company', companies, inbound.fallbackCompany, [...ip, 'fallbackCompany']);
      const owners = claimedBy.get(id);
      if (owners && owners.size > 1 && !inbound.fallbackCompany)
        err(ip, `mailbox "${id}" is shared by companies ${[...owners].join(', ')}: set inbound.fallbackCompany for mail from a domain none of them claims`, true);
      if (!owners && !inbound.fallbackCompany && mb.enabled !== false && !opts.partial)
        warn(ip, `mailbox "${id}" is read but no contract lists it: its mail belongs to no company unless a route sets one (add it to a contract or set fallbackCompany)`, true);
    }
    if (mb.outbound) {
      if (!isApiProtocol(mb.outbound.transport) && !mb.outbound.host && !presetFor(mb.provider)?.smtp) err([...base, 'outbound'], `outbound of mailbox "${id}" needs a host or a provider preset`, true);
      checkOutboundServer(mb.outbound, [...base, 'outbound']);
    }
  });

  // --- defaults ---
  guard(() => {
    if (!cfg.defaults?.outbound) return;
    if (!cfg.defaults.outbound.host) err(['defaults', 'outbound'], 'defaults.outbound needs a host', true);
    checkOutboundServer(cfg.defaults.outbound, ['defaults', 'outbound']);
  });

  // --- schedules ---
  for (const [sid, s] of Object.entries(schedules)) guard(() => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: s.timezone });
    } catch {
      err(['schedules', sid, 'timezone'], `unknown IANA timezone "${s.timezone}" (e.g. America/Sao_Paulo)`);
    }
    for (const [days, ranges] of Object.entries(s.weekly ?? {}))
      ranges.forEach((r, i) => {
        const problem = timeRangeProblem(r);
        if (problem) err(['schedules', sid, 'weekly', days, i], `malformed time range "${r}": ${problem}`);
      });
  });

  // --- workflows ---
  for (const [wid, w] of Object.entries(cfg.workflows ?? {})) guard(() => {
    if (w.outbound === undefined || w.outbound === 'contract') return;
    if (w.outbound === 'default') {
      if (!cfg.defaults?.outbound && !opts.partial) err(['workflows', wid, 'outbound'], 'outbound: default needs defaults.outbound');
      return;
    }
    const keyword = !(w.outbound in mailboxes) && suggest(w.outbound, ['contract', 'default']);
    if (keyword && !opts.partial) return err(['workflows', wid, 'outbound'], `outbound "${w.outbound}" is not a mailbox, contract or default${keyword}`);
    knownOutbound(w.outbound, ['workflows', wid, 'outbound']);
    // A workflow is global; a company's mailbox is not: the API refuses other companies' requests (403).
    const owners = mailboxOwners(cfg).get(w.outbound);
    const others = owners ? Object.keys(companies).filter((c) => !owners.includes(c)) : [];
    if (owners && others.length > 0)
      warn(
        ['workflows', wid, 'outbound'],
        `workflow "${wid}" sends through mailbox "${w.outbound}", which belongs to company ${owners.join(', ')}: requests of ${others.join(', ')} with this workflow are refused (403). Use outbound: contract or default, a mailbox no company owns, or name the mailbox in each company that may use it (outbound.mailbox or a contract)`,
      );
  });

  // --- webhooks ---
  for (const [wid, w] of Object.entries(webhooks)) guard(() => {
    secretPair(w.secret, w.secretFile, ['webhooks', wid], 'secret');
    if (w.secret === undefined && w.secretFile === undefined) err(['webhooks', wid], `webhook "${wid}" needs secret or secretFile (deliveries are signed)`, true);
  });

  // --- routes ---
  const routeNames = new Map<string, number>();
  (cfg.routes ?? []).forEach((route, i) => guard(() => {
    const rp: Path = ['routes', i];
    const prev = routeNames.get(route.name);
    if (prev !== undefined) err([...rp, 'name'], `route name "${route.name}" is used twice (first at routes[${prev}])`);
    else routeNames.set(route.name, i);
    const m = route.match ?? {};
    const mbs = m.mailbox === undefined ? [] : Array.isArray(m.mailbox) ? m.mailbox : [m.mailbox];
    mbs.forEach((mb, j) => known('mailbox', mailboxes, mb, Array.isArray(m.mailbox) ? [...rp, 'match', 'mailbox', j] : [...rp, 'match', 'mailbox']));
    if (m.during !== undefined) known('schedule', schedules, m.during, [...rp, 'match', 'during']);
    if (m.outside !== undefined) known('schedule', schedules, m.outside, [...rp, 'match', 'outside']);
    for (const field of ['from', 'to', 'cc', 'subject', 'body'] as const) {
      const pat = m[field];
      if (pat !== undefined) patternCheck(pat, [...rp, 'match', field]);
    }
    for (const [h, pat] of Object.entries(m.header ?? {})) patternCheck(pat, [...rp, 'match', 'header', h]);
    (route.deliver ?? []).forEach((d, j) => {
      if (typeof d === 'string' && d.startsWith('webhook:')) known('webhook', webhooks, d.slice(8), [...rp, 'deliver', j]);
    });
    if (route.set?.company !== undefined) known('company', companies, route.set.company, [...rp, 'set', 'company']);
    if (route.set?.contract !== undefined) {
      const owner = route.set.company;
      const pool = owner ? (companies[owner]?.contracts ?? {}) : Object.assign({}, ...Object.values(companies).map((c) => c.contracts ?? {}));
      if (!owner || companies[owner]) known('contract', pool, route.set.contract, [...rp, 'set', 'contract']);
    }
    if (route.drop !== undefined && route.deliver !== undefined) err([...rp, 'drop'], 'a route cannot both drop and deliver', true);
  }));

  // --- store ---
  guard(() => {
    const st = cfg.store;
    if (st?.leaseTtl !== undefined && parseDuration(st.leaseTtl) < MIN_LEASE_TTL_MS)
      err(['store', 'leaseTtl'], `store.leaseTtl ${st.leaseTtl} is under the 3s minimum (default 15s): it is renewed every third of it`);
  });

  // --- server ---
  guard(() => {
    const sv = cfg.server ?? {};
    // node:http refuses a request timeout below the headers timeout (the headers are part of the request)
    if (parseDuration(sv.requestTimeout ?? '60s') < parseDuration(sv.headersTimeout ?? '10s'))
      err(['server', sv.requestTimeout !== undefined ? 'requestTimeout' : 'headersTimeout'], `server.requestTimeout (${sv.requestTimeout ?? '60s'}) must be at least server.headersTimeout (${sv.headersTimeout ?? '10s'})`);
    if (sv.metricsListen !== undefined && !sv.metricsListen.endsWith(':0') && sv.metricsListen === (sv.listen ?? '127.0.0.1:9465'))
      err(['server', 'metricsListen'], 'server.metricsListen is the same address as server.listen: give the metrics listener its own port (or leave it out to serve /metrics on listen)');
    if (sv.metricsAuth === 'token' && !(sv.apiTokens ?? []).some((t) => t.companies?.includes('*')))
      err(['server', 'metricsAuth'], 'metricsAuth: token needs an apiTokens entry with companies ["*"] (Prometheus presents it)');
  });
  (cfg.server?.apiTokens ?? []).forEach((t, i) => guard(() => {
    const tp: Path = ['server', 'apiTokens', i];
    secretPair(t.token, t.tokenFile, tp, 'token');
    if (t.token === undefined && t.tokenFile === undefined) err(tp, `API token "${t.name}" needs token or tokenFile`, true);
    t.companies.forEach((c, j) => {
      if (c !== '*') known('company', companies, c, [...tp, 'companies', j]);
    });
  }));

  return problems;

  function checkAuth(auth: Auth | undefined, path: Path) {
    if (!auth) return;
    secretPair(auth.password, auth.passwordFile, path, 'password');
    if (auth.oauth2 && (auth.password !== undefined || auth.passwordFile !== undefined)) err(path, 'give either a password or oauth2, not both', true);
    const o = auth.oauth2;
    if (o) {
      secretPair(o.clientSecret, o.clientSecretFile, [...path, 'oauth2'], 'clientSecret');
      secretPair(o.refreshToken, o.refreshTokenFile, [...path, 'oauth2'], 'refreshToken');
      if (o.flow === 'refresh_token' && o.refreshToken === undefined && o.refreshTokenFile === undefined)
        err([...path, 'oauth2'], 'flow: refresh_token needs refreshToken or refreshTokenFile', true);
      if (o.flow === 'client_credentials' && o.clientSecret === undefined && o.clientSecretFile === undefined)
        err([...path, 'oauth2'], 'flow: client_credentials needs clientSecret or clientSecretFile', true);
      if (o.flow === 'service_account' && o.serviceAccountKeyFile === undefined) err([...path, 'oauth2'], 'flow: service_account needs serviceAccountKeyFile (the JSON key of the service account)', true);
      if (o.flow !== 'service_account' && o.serviceAccountKeyFile !== undefined) err([...path, 'oauth2', 'serviceAccountKeyFile'], 'serviceAccountKeyFile is used only with flow: service_account', true);
      if (o.flow === 'service_account' && (o.clientSecret ?? o.clientSecretFile ?? o.refreshToken ?? o.refreshTokenFile) !== undefined)
        err([...path, 'oauth2'], 'flow: service_account signs with its key: no clientSecret or refreshToken', true);
    }
  }

  function checkOutboundServer(o: OutboundServer | undefined, path: Path) {
    if (!o) return;
    guard(() => {
      if (o.timeout !== undefined && parseDuration(o.timeout) < MIN_SMTP_TIMEOUT_MS)
        err([...path, 'timeout'], `SMTP timeout ${o.timeout} is under the 10s minimum (default 180s)`);
    });
    if (o.verifyCertificate === false) warn([...path, 'verifyCertificate'], 'verifyCertificate: false accepts any certificate (use caFile for a private CA)');
    checkAuth(o.auth, [...path, 'auth']);
    // A mailbox's outbound side logs in with the mailbox's auth.
    const auth = o.auth ?? (path[0] === 'mailboxes' ? mailboxes[String(path[1])]?.auth : undefined);
    plaintextLogin(o.security, o.host, auth, [...path, 'security'], 'SMTP');
  }

  /** `security: none` sends the password (or token) in clear text over the network: a warning, except
   * to a loopback host (a local relay or test server), which is what `none` is for. */
  function plaintextLogin(security: string | undefined, host: string | undefined, auth: Auth | undefined, path: Path, what: string) {
    if (security !== 'none' || !auth || (auth.password === undefined && auth.passwordFile === undefined && !auth.oauth2)) return;
    if (host && /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i.test(host)) return;
    warn(path, `${what}: security: none sends the ${auth.oauth2 ? 'OAuth2 token' : 'password'} in clear text to ${host ?? 'the server'} (use tls or starttls)`);
  }

  function secretPair(inline: string | undefined, file: string | undefined, path: Path, field: string) {
    if (inline !== undefined && file !== undefined) err([...path, `${field}File`], `give ${field} or ${field}File, not both`, true);
    if (inline !== undefined && !locations.get(pointer([...path, field]))?.fromEnv)
      warn([...path, field], `${field} is written inline: use \${ENV_VAR} or ${field}File so it stays out of Git`);
  }

  function patternCheck(pat: string, path: Path) {
    const r = compilePattern(pat);
    if ('error' in r) err(path, `invalid regular expression ${pat}: ${r.error}`);
    else if (r.regex) {
      const risk = backtrackingRisk(r.regex);
      if (risk) err(path, `regular expression ${pat} is at risk of catastrophic backtracking: ${risk}`);
    }
  }
}

export function timeRangeProblem(range: string): string | null {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(range);
  if (!m) return 'expected HH:MM-HH:MM';
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number];
  if (h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 === 24 && m2 > 0)) return 'hours 00-23 (24:00 as an end), minutes 00-59';
  if (h2 * 60 + m2 <= h1 * 60 + m1) return 'the end must be after the start';
  return null;
}

export function suggest(id: string, candidates: string[]): string {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(c.toLowerCase(), id.toLowerCase());
    if (d <= Math.min(2, Math.max(1, Math.floor(id.length / 3))) && (!best || d < best.d)) best = { name: c, d };
  }
  return best ? ` (did you mean "${best.name}"?)` : '';
}

/** Levenshtein distance where swapping two neighbours counts as one edit (a common typo). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}
