// The Gmail test peer answers in the shapes of Google's published examples (test/fixtures/gmail/).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGmailPeer, type GmailPeer } from './gmail.js';
import { startOAuthServer, type OAuthPeer } from './oauth.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/gmail/${name}`, import.meta.url), 'utf8')) as Record<string, any>;
const keys = (o: object) => Object.keys(o).sort();
let oauth: OAuthPeer;
let gmail: GmailPeer;
let token = '';
const U = 'alice@example.com';

beforeAll(async () => {
  oauth = await startOAuthServer();
  gmail = await startGmailPeer(oauth);
  oauth.addClient('app', 's', { rotate: false });
  gmail.addMailbox(U);
  for (let i = 0; i < 3; i++) gmail.deliver(U, `From: a@b.example\r\nTo: ${U}\r\nSubject: m${i}\r\n\r\nhi\r\n`);
  const rt = oauth.grant('app', U);
  const r = await fetch(oauth.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'app', client_secret: 's', refresh_token: rt, scope: 'https://www.googleapis.com/auth/gmail.modify' }) });
  token = ((await r.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await gmail?.close();
  await oauth?.close();
});

const get = async (path: string, t = token) => {
  const r = await fetch(`${gmail.url}/gmail/v1/users/${U}${path}`, { headers: { authorization: `Bearer ${t}` } });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
};

describe('Gmail peer against the published examples', () => {
  it('profile, messages.list, messages.get format=raw and history.list have the documented keys', async () => {
    const profile = await get('/profile');
    expect(keys(profile.body)).toEqual(keys(fixture('profile.json')));
    const list = await get('/messages?labelIds=INBOX&maxResults=2');
    expect(keys(list.body)).toEqual(keys(fixture('messages-list.json')));
    const msg = await get(`/messages/${list.body.messages[0].id}?format=raw`);
    expect(keys(msg.body)).toEqual(keys(fixture('message-raw.json')));
    expect(Buffer.from(msg.body.raw, 'base64url').toString()).toMatch(/^From: a@b.example/);
    gmail.deliver(U, `To: ${U}\r\nSubject: later\r\n\r\nx\r\n`);
    const history = await get(`/history?startHistoryId=${profile.body.historyId}&labelId=INBOX&historyTypes=messageAdded`);
    expect(keys(history.body)).toEqual(keys(fixture('history-list.json')));
    expect(keys(history.body.history[0])).toEqual(keys(fixture('history-list.json').history[0]));
  });

  it('errors: 401 for an unknown token, 404 for an expired history id, in Google\'s error shape', async () => {
    const e401 = await get('/profile', 'nope');
    expect(e401.status).toBe(401);
    gmail.expireHistory();
    const e404 = await get('/history?startHistoryId=1');
    expect(e404.status).toBe(404);
    expect(keys(e404.body.error)).toEqual(keys(fixture('error-not-found.json').error));
    expect(e404.body.error.errors[0].reason).toBe('notFound');
  });
});
