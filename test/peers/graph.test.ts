// The Graph test peer answers in the shapes of Microsoft's published examples (test/fixtures/graph/):
// same keys on delta pages, messages and errors, so the peer and the client share no invention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startGraphPeer, type GraphPeer } from './graph.js';
import { startOAuthServer, type OAuthPeer } from './oauth.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/graph/${name}`, import.meta.url), 'utf8')) as Record<string, any>;
const keys = (o: object) => Object.keys(o).sort();

let oauth: OAuthPeer;
let graph: GraphPeer;
let token = '';
beforeAll(async () => {
  oauth = await startOAuthServer();
  graph = await startGraphPeer(oauth);
  oauth.addClient('app', 's', { user: 'a@x.example' });
  graph.addMailbox('a@x.example');
  for (let i = 0; i < 3; i++) graph.deliver('a@x.example', `From: Dana <dana@contoso.com>\r\nSubject: m${i}\r\n\r\nhi\r\n`);
  const r = await fetch(oauth.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app', client_secret: 's', scope: 'https://graph.microsoft.com/.default' }) });
  token = ((await r.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await graph?.close();
  await oauth?.close();
});

const get = (url: string, t = token, prefer = 'odata.maxpagesize=2') => fetch(url, { headers: { authorization: `Bearer ${t}`, prefer } });

describe('Graph peer against the published examples', () => {
  it('delta pages, messages and @removed rows have the documented keys', async () => {
    const first = (await (await get(`${graph.url}/users/a@x.example/mailFolders/inbox/messages/delta`)).json()) as Record<string, any>;
    const want = fixture('delta-first-page.json');
    expect(keys(first)).toEqual(keys(want));
    for (const k of keys(want.value[0])) expect(first.value[0]).toHaveProperty(k);
    const last = (await (await get(first['@odata.nextLink'])).json()) as Record<string, any>;
    expect(keys(last)).toEqual(keys(fixture('delta-last-page.json')));
    // a removal after the round
    const inbox = graph.messages('a@x.example', 'inbox')[0]!;
    await fetch(`${graph.url}/users/a@x.example/messages/${encodeURIComponent(inbox.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    const next = (await (await get(last['@odata.deltaLink'])).json()) as Record<string, any>;
    const removed = next.value.find((v: Record<string, unknown>) => v['@removed']);
    expect(keys(removed)).toEqual(keys(fixture('delta-last-page.json').value[1]));
  });

  it('errors have Graph\'s error body: 401 unknown token, 403 another mailbox, 410 forgotten state, 429 with Retry-After', async () => {
    const shape = keys(fixture('error-unauthorized.json').error);
    const e401 = await get(`${graph.url}/users/a@x.example/mailFolders/inbox`, 'not-a-token');
    expect(e401.status).toBe(401);
    expect(keys(((await e401.json()) as { error: object }).error)).toEqual(shape);
    oauth.addClient('other', 's', { user: 'b@x.example' });
    const r = await fetch(oauth.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'other', client_secret: 's', scope: 'https://graph.microsoft.com/.default' }) });
    const other = ((await r.json()) as { access_token: string }).access_token;
    const e403 = await get(`${graph.url}/users/a@x.example/mailFolders/inbox`, other);
    expect([e403.status, ((await e403.json()) as { error: { code: string } }).error.code]).toEqual([403, 'ErrorAccessDenied']);
    const first = (await (await get(`${graph.url}/users/a@x.example/mailFolders/inbox/messages/delta`, token, 'odata.maxpagesize=1')).json()) as Record<string, any>;
    graph.expireSyncState();
    const e410 = await get(first['@odata.nextLink']);
    expect([e410.status, ((await e410.json()) as { error: { code: string } }).error.code]).toEqual([410, 'SyncStateNotFound']);
    graph.throttle({ every: 1, retryAfter: 2 });
    const e429 = await get(`${graph.url}/users/a@x.example/mailFolders/inbox`);
    graph.throttle(null);
    expect([e429.status, e429.headers.get('retry-after')]).toEqual([429, '2']);
    expect(keys(((await e429.json()) as { error: object }).error)).toEqual(keys(fixture('error-throttled.json').error));
  });
});
