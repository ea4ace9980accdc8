// Ingest throughput through Microsoft Graph (issue 23): mailroom end to end against the Graph test
// peer (test/peers/graph.ts) behind the OAuth2 test peer, and, in the same run, the raw limit of the
// same work: a loop following the delta pages (Prefer: odata.maxpagesize=BENCH_BATCH), fetching each
// `$value` with at most 4 in flight (Graph's per-mailbox limit, as mailroom) and parsing it with
// mailparser's simpleParser (skipTextToHtml, as in bench/ingest.ts).
//
//   npx tsx bench/ingest-graph.ts      (last output line: one JSON object {"bench":"ingest-graph",...})
//
//   BENCH_MESSAGES=2000  BENCH_BATCH=100
//
// Both phases run in this one process with the peers (loopback HTTP, same event loop for the peers
// and the client): the figures compare mailroom with the raw loop under equal conditions; they are
// not Microsoft's throughput (Graph's own latency and throttling dominate there).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { stringify } from 'yaml';
import { Daemon } from '../src/daemon/daemon.js';
import { createLogger } from '../src/observability/logger.js';
import { startGraphPeer } from '../test/peers/graph.js';
import { startOAuthServer } from '../test/peers/oauth.js';
import { generateMail } from './generate-mail.js';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);

const oauth = await startOAuthServer();
const graph = await startGraphPeer(oauth);
oauth.addClient('bench-app', 'bench-secret', { user: 'alice@bench.example' });
oauth.addClient('raw-app', 'bench-secret', { user: 'bob@bench.example' });
graph.addMailbox('alice@bench.example');
graph.addMailbox('bob@bench.example');
const mail = generateMail({ count: N });
const bytes = mail.reduce((n, m) => n + m.length, 0);
for (const m of mail) {
  graph.deliver('alice@bench.example', m);
  graph.deliver('bob@bench.example', m);
}

async function mailroomPhase(): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-bench-graph-'));
  await mkdir(join(root, 'config'));
  await writeFile(
    join(root, 'config', 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0' },
      store: { path: join(root, 'data') },
      companies: { acme: { contracts: { main: { inbound: ['alice'] } } } },
      mailboxes: {
        alice: {
          provider: 'office365',
          apiUrl: graph.url,
          inbound: { protocol: 'graph', afterFetch: 'keep', batchSize: BATCH, pollInterval: '60s' },
          auth: { user: 'alice@bench.example', oauth2: { flow: 'client_credentials', clientId: 'bench-app', clientSecret: 'bench-secret', tokenUrl: oauth.tokenUrl } },
        },
      },
    }),
  );
  const t0 = performance.now();
  const daemon = new Daemon({ configPath: join(root, 'config'), logger: createLogger('silent'), watch: false });
  await daemon.start();
  for (;;) {
    const ingested = (await daemon.metrics.messagesIngested.get()).values.reduce((n, v) => n + v.value, 0);
    if (ingested >= N) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  await daemon.stop();
  await rm(root, { recursive: true, force: true });
  return ms;
}

async function rawPhase(): Promise<number> {
  const t0 = performance.now();
  const tr = await fetch(oauth.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'raw-app', client_secret: 'bench-secret', scope: 'https://graph.microsoft.com/.default' }) });
  const token = ((await tr.json()) as { access_token: string }).access_token;
  const headers = { authorization: `Bearer ${token}`, prefer: `IdType="ImmutableId", odata.maxpagesize=${BATCH}` };
  let url: string | undefined = `${graph.url}/users/bob@bench.example/mailFolders/inbox/messages/delta`;
  let parsed = 0;
  while (url) {
    const page = (await (await fetch(url, { headers })).json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
    const ids = page.value.map((v) => v.id);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          const raw = Buffer.from(await (await fetch(`${graph.url}/users/bob@bench.example/messages/${encodeURIComponent(id)}/$value`, { headers })).arrayBuffer());
          await simpleParser(raw, { skipTextToHtml: true });
          parsed++;
        }
      }),
    );
    url = page['@odata.nextLink'];
  }
  if (parsed !== N) throw new Error(`raw loop parsed ${parsed} of ${N}`);
  return performance.now() - t0;
}

const raw = await rawPhase();
const mr = await mailroomPhase();
const rate = (ms: number) => Math.round((N / ms) * 1000);
console.log(`graph ingest: ${N} messages (${(bytes / 1048576).toFixed(1)} MB), batch ${BATCH}`);
console.log(`  raw loop (delta + $value + simpleParser): ${rate(raw)} msg/s`);
console.log(`  mailroom (delta + $value + spool + parse + decide + durable commit): ${rate(mr)} msg/s (${((rate(mr) / rate(raw)) * 100).toFixed(0)}% of raw)`);
console.log(JSON.stringify({ bench: 'ingest-graph', messages: N, batch: BATCH, rawMsgPerS: rate(raw), mailroomMsgPerS: rate(mr), ratio: Number((rate(mr) / rate(raw)).toFixed(2)) }));
await graph.close();
await oauth.close();
process.exit(0);
