// Why this exists: Microsoft's and Google's token endpoints cannot be reached from tests, so the
// OAuth2 tests run against a REAL OAuth2 server on loopback: oauth2-mock-server (signed JWTs, both
// grant types) with hooks that make it behave like a real identity provider: registered clients
// and secrets (invalid_client), grants that can be revoked (invalid_grant with Microsoft's AADSTS
// codes), refresh-token rotation (the old token stops working), a configurable access-token
// lifetime, scripted failures. A second loopback HTTP endpoint answers RFC 7662 introspection from
// the token server's own records; Dovecot's oauth2 passdb and the SMTP peer validate tokens there.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { decodeJwt, importSPKI, jwtVerify } from 'jose';
import { OAuth2Server, type MutableResponse, type MutableToken, type TokenRequestIncomingMessage } from 'oauth2-mock-server';

export interface TokenRequestRecord {
  grant_type: string;
  client_id: string;
  scope: string | null;
  /** The refresh token presented (refresh_token grant). */
  refresh_token: string | null;
  /** The status code the server answered with. */
  status: number;
}

export interface IssuedToken {
  user: string;
  clientId: string;
  scope: string | null;
  /** Unix ms (exact: the JWT's `exp` has whole seconds). */
  expMs: number;
  revoked: boolean;
}

export interface ScriptedTokenError {
  status: number;
  body: Record<string, unknown>;
}

export interface OAuthPeer {
  issuer: string;
  /** Token endpoint (both grants). */
  tokenUrl: string;
  /** RFC 7662 introspection: POST token=...; or GET with `Authorization: Bearer`. */
  introspectionUrl: string;
  /** Access-token lifetime in seconds for new tokens (default 3600). */
  ttl: number;
  /** Each refresh_token grant returns a new refresh token and invalidates the presented one (per client: addClient's `rotate`). */
  rotate: boolean;
  /** Sent as `refresh_token_expires_in` with new refresh tokens, when set. */
  refreshTokenExpiresIn: number | null;
  /** Every token request, in order. */
  requests: TokenRequestRecord[];
  /** Access tokens issued, by value. */
  issued: Map<string, IssuedToken>;
  /** Introspection requests answered (active or not). */
  introspections: number;
  /** Register a client; `user` is the mailbox an app-only (client_credentials) client may open. */
  addClient(clientId: string, secret: string, opts?: { user?: string; rotate?: boolean }): void;
  /** A delegated grant (what a consent flow leaves behind): returns its refresh token. */
  grant(clientId: string, user: string): string;
  /** Revoke a user's grants (refresh tokens) and access tokens: further refreshes get invalid_grant. */
  revokeUser(user: string, error?: ScriptedTokenError): void;
  /**
   * Google's token endpoint for service accounts (RFC 7523 JWT bearer grant, `serviceAccountTokenUrl`):
   * the assertion is verified with the account's public key (SPKI PEM), its aud must be that URL, and
   * its sub one of `users` (domain-wide delegation); revokeUser refuses the user with invalid_grant.
   */
  addServiceAccount(clientEmail: string, publicKeyPem: string, users: string[]): void;
  serviceAccountTokenUrl: string;
  /** A new secret for a client: the old one gets invalid_client (AADSTS7000215). */
  rotateClientSecret(clientId: string, secret: string): void;
  /** The app registration is deleted: every request of it gets unauthorized_client AADSTS700016, as Entra answers. */
  deleteClient(clientId: string): void;
  /** The app is disabled in the tenant: unauthorized_client AADSTS7000112. */
  disableClient(clientId: string): void;
  /** Valid (not revoked) refresh tokens of a user. */
  refreshTokens(user: string): string[];
  /** Answer the next `n` token requests with `error`. */
  failNext(n: number, error: ScriptedTokenError): void;
  /** Is `token` an active access token (of `user`, when given)? */
  isActive(token: string, user?: string): boolean;
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  user: string;
  revoked: boolean;
}

export const INVALID_GRANT_REVOKED: ScriptedTokenError = {
  status: 400,
  body: {
    error: 'invalid_grant',
    error_description: "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. Trace ID: 0b1c2d3e Correlation ID: 4f5a6b7c Timestamp: 2025-01-01 00:00:00Z",
    error_codes: [50173],
  },
};

const INVALID_GRANT: ScriptedTokenError = {
  status: 400,
  body: { error: 'invalid_grant', error_description: 'AADSTS70000: The provided grant is invalid or malformed. Trace ID: 1a2b', error_codes: [70000] },
};

const INVALID_CLIENT: ScriptedTokenError = {
  status: 401,
  body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided. Trace ID: 3c4d', error_codes: [7000215] },
};

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

export async function startOAuthServer(opts: { ttl?: number; rotate?: boolean } = {}): Promise<OAuthPeer> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const issuer = server.issuer.url!;
  const clients = new Map<string, { secret: string; user?: string; rotate?: boolean }>();
  const grants = new Map<string, Grant>();
  const issued = new Map<string, IssuedToken>();
  const revokedUsers = new Map<string, ScriptedTokenError>();
  /** Deleted or disabled apps: what Entra answers for them (before the secret is even looked at). */
  const gone = new Map<string, ScriptedTokenError>();
  let scripted: { left: number; error: ScriptedTokenError } | null = null;
  const serviceAccounts = new Map<string, { publicKeyPem: string; users: Set<string> }>();

  const peer: OAuthPeer = {
    issuer,
    tokenUrl: `${issuer}/token`,
    introspectionUrl: '',
    ttl: opts.ttl ?? 3600,
    rotate: opts.rotate ?? false,
    refreshTokenExpiresIn: null,
    requests: [],
    issued,
    introspections: 0,
    addClient(clientId, secret, o = {}) {
      clients.set(clientId, { secret, ...(o.user && { user: o.user }), ...(o.rotate !== undefined && { rotate: o.rotate }) });
    },
    grant(clientId, user) {
      const rt = `rt-${randomUUID()}`;
      grants.set(rt, { clientId, user, revoked: false });
      revokedUsers.delete(user);
      return rt;
    },
    revokeUser(user, error = INVALID_GRANT_REVOKED) {
      revokedUsers.set(user, error);
      for (const g of grants.values()) if (g.user === user) g.revoked = true;
      for (const t of issued.values()) if (t.user === user) t.revoked = true;
    },
    serviceAccountTokenUrl: '',
    addServiceAccount(clientEmail, publicKeyPem, users) {
      serviceAccounts.set(clientEmail, { publicKeyPem, users: new Set(users.map((u) => u.toLowerCase())) });
    },
    rotateClientSecret(clientId, secret) {
      const c = clients.get(clientId);
      if (c) c.secret = secret;
    },
    deleteClient(clientId) {
      gone.set(clientId, {
        status: 400,
        body: {
          error: 'unauthorized_client',
          error_description: `AADSTS700016: Application with identifier '${clientId}' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant. Trace ID: 5e6f7a8b Correlation ID: 9c0d1e2f Timestamp: 2025-01-01 00:00:00Z`,
          error_codes: [700016],
        },
      });
    },
    disableClient(clientId) {
      gone.set(clientId, {
        status: 400,
        body: { error: 'unauthorized_client', error_description: `AADSTS7000112: Application '${clientId}'(mailroom) is disabled. Trace ID: 6f7a8b9c Correlation ID: 0d1e2f3a Timestamp: 2025-01-01 00:00:00Z`, error_codes: [7000112] },
      });
    },
    refreshTokens(user) {
      return [...grants].filter(([, g]) => g.user === user && !g.revoked).map(([rt]) => rt);
    },
    failNext(n, error) {
      scripted = n > 0 ? { left: n, error } : null;
    },
    isActive(token, user) {
      const t = issued.get(token);
      return Boolean(t && !t.revoked && t.expMs > Date.now() && (user === undefined || t.user === user));
    },
    async close() {
      await new Promise<void>((r) => introspection.close(() => r()));
      introspection.closeAllConnections();
      await server.stop();
    },
  };

  /** Who a token request is for, or the error it gets (evaluated twice: signing, then response). */
  const decide = (body: Record<string, unknown>): { user: string; clientId: string } | ScriptedTokenError => {
    const clientId = String(body.client_id ?? '');
    const removed = gone.get(clientId);
    if (removed) return removed;
    const client = clients.get(clientId);
    if (!client || body.client_secret !== client.secret) return INVALID_CLIENT;
    if (body.grant_type === 'client_credentials') {
      if (!client.user) return { status: 400, body: { error: 'unauthorized_client', error_description: 'no app-only access for this client' } };
      const revoked = revokedUsers.get(client.user);
      return revoked ?? { user: client.user, clientId };
    }
    if (body.grant_type === 'refresh_token') {
      const g = grants.get(String(body.refresh_token ?? ''));
      if (!g || g.clientId !== clientId) return INVALID_GRANT;
      if (g.revoked) return revokedUsers.get(g.user) ?? INVALID_GRANT;
      return { user: g.user, clientId };
    }
    return { status: 400, body: { error: 'unsupported_grant_type' } };
  };

  server.service.on('beforeTokenSigning', (token: MutableToken, req: TokenRequestIncomingMessage) => {
    const d = decide(req.body as unknown as Record<string, unknown>);
    const now = Math.floor(Date.now() / 1000);
    token.payload.exp = now + peer.ttl;
    token.payload.jti = randomUUID();
    if ('user' in d) Object.assign(token.payload, { sub: d.user, email: d.user, azp: d.clientId });
  });

  server.service.on('beforeResponse', (res: MutableResponse, req: TokenRequestIncomingMessage) => {
    const body = req.body as unknown as Record<string, unknown>;
    const record: TokenRequestRecord = {
      grant_type: String(body.grant_type ?? ''),
      client_id: String(body.client_id ?? ''),
      scope: typeof body.scope === 'string' ? body.scope : null,
      refresh_token: typeof body.refresh_token === 'string' ? body.refresh_token : null,
      status: 200,
    };
    peer.requests.push(record);
    const s = scripted;
    let d = decide(body);
    if (s && s.left > 0) {
      s.left--;
      if (s.left === 0) scripted = null;
      d = s.error;
    }
    if (!('user' in d)) {
      res.statusCode = d.status;
      res.body = d.body;
      record.status = d.status;
      return;
    }
    const out = res.body as Record<string, unknown>;
    delete out.id_token;
    out.expires_in = peer.ttl;
    const access = String(out.access_token);
    issued.set(access, { user: d.user, clientId: d.clientId, scope: record.scope, expMs: Date.now() + peer.ttl * 1000, revoked: false });
    if (body.grant_type === 'refresh_token') {
      if (clients.get(d.clientId)?.rotate ?? peer.rotate) {
        const next = peer.grant(d.clientId, d.user);
        grants.get(record.refresh_token!)!.revoked = true;
        out.refresh_token = next;
      } else {
        delete out.refresh_token; // like Google: the refresh token stays the same
      }
      if (peer.refreshTokenExpiresIn !== null) out.refresh_token_expires_in = peer.refreshTokenExpiresIn;
    }
  });

  /** The JWT bearer grant of a service account, as Google's token endpoint answers it. */
  const serviceAccountToken = async (req: IncomingMessage, res: ServerResponse) => {
    const form = await readForm(req);
    const reply = (status: number, body: Record<string, unknown>) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const record: TokenRequestRecord = { grant_type: form.get('grant_type') ?? '', client_id: '', scope: null, refresh_token: null, status: 200 };
    peer.requests.push(record);
    const fail = (status: number, error: string, description: string) => ((record.status = status), reply(status, { error, error_description: description }));
    if (record.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return fail(400, 'unsupported_grant_type', 'Invalid grant_type');
    const assertion = form.get('assertion') ?? '';
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(assertion) as Record<string, unknown>;
    } catch {
      return fail(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe');
    }
    const sa = serviceAccounts.get(String(claims.iss ?? ''));
    if (!sa) return fail(401, 'invalid_client', 'The OAuth client was not found.');
    try {
      await jwtVerify(assertion, await importSPKI(sa.publicKeyPem, 'RS256'), { audience: peer.serviceAccountTokenUrl, issuer: String(claims.iss), maxTokenAge: 3600 });
    } catch {
      return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    const user = String(claims.sub ?? '').toLowerCase();
    record.client_id = String(claims.iss);
    record.scope = typeof claims.scope === 'string' ? claims.scope : null;
    if (!sa.users.has(user) || revokedUsers.has(user)) return fail(400, 'invalid_grant', 'Not a valid email or User ID.');
    const access = `ya29.${randomUUID().replace(/-/g, '')}`;
    issued.set(access, { user, clientId: String(claims.iss), scope: record.scope, expMs: Date.now() + peer.ttl * 1000, revoked: false });
    reply(200, { access_token: access, expires_in: peer.ttl, token_type: 'Bearer' });
  };

  const introspection = createServer((req, res) => {
    if (req.url === '/sa-token' && req.method === 'POST') {
      serviceAccountToken(req, res).catch(() => {
        res.writeHead(500);
        res.end();
      });
      return;
    }
    void (async () => {
      const auth = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '');
      const token = req.method === 'POST' ? ((await readForm(req)).get('token') ?? '') : (auth?.[1] ?? new URL(req.url ?? '/', 'http://x').searchParams.get('access_token') ?? '');
      peer.introspections++;
      const t = issued.get(token);
      const active = peer.isActive(token);
      const body = active && t ? { active: true, username: t.user, email: t.user, client_id: t.clientId, scope: t.scope ?? '', exp: Math.ceil(t.expMs / 1000), token_type: 'Bearer' } : { active: false };
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  const port = await listen(introspection);
  peer.introspectionUrl = `http://127.0.0.1:${port}/introspect`;
  peer.serviceAccountTokenUrl = `http://127.0.0.1:${port}/sa-token`;
  return peer;
}
