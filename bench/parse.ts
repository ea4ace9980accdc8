// Throughput benchmark for parsing: ingest must sustain >1,000 msg/s on a 2-core machine. Generates
// 2,000 messages deterministically (a mix like real support mail, 5% with 20–200 KB attachments)
// and reports msg/s for in-process parseMessage and for the worker pool.
// Run: npx tsx bench/parse.ts   (last line is a JSON object {"bench":"parse",...})
import os from 'node:os';
import { createParsePool } from '../src/ingest/parse-pool.js';
import { parseMessage } from '../src/ingest/parse.js';
import { median } from './median.js';

const COUNT = 2000;
const ROUNDS = 3;
const IN_FLIGHT = 64;
const cpuMs = (since: NodeJS.CpuUsage): number => { const d = process.cpuUsage(since); return (d.user + d.system) / 1000; };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20240514);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

const WORDS = ['acesso', 'sistema', 'printer', 'offline', 'invoice', 'boleto', 'senha', 'não', 'possível', 'atualização',
  'erro', 'please', 'check', 'the', 'server', 'relatório', 'pedido', 'cliente', 'urgent', 'thanks', 'obrigado', 'ação'];
const sentence = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ') + '.';
const paragraph = (bytes: number): string => {
  const out: string[] = [];
  let len = 0;
  while (len < bytes) { const s = sentence(int(6, 16)); out.push(s); len += s.length + 1; }
  return out.join('\n');
};

function head(i: number, extra: string[] = []): string {
  const base = [
    `Received: from mx${i % 7}.example.net by mail.acme.example with ESMTPS id ${i}; Tue, 14 May 2024 09:12:03 -0300`,
    `From: ${pick(['Maria Souza', 'João Araújo', 'Carlos Lima', 'Ana'])} <user${i % 97}@cliente${i % 13}.example.com.br>`,
    'To: Suporte <suporte@acme.example>',
    `Subject: ${rand() < 0.3 ? `Re: [ACME-${String(i).padStart(6, '0')}] ` : ''}${sentence(int(3, 8))}`,
    `Date: Tue, 14 May 2024 ${String(i % 24).padStart(2, '0')}:00:00 -0300`,
    `Message-ID: <bench-${i}@cliente.example>`,
    'MIME-Version: 1.0',
  ];
  return [...base, ...extra].join('\r\n') + '\r\n';
}

function b64(bytes: Buffer): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function message(i: number): Buffer {
  const r = rand();
  if (r < 0.05) {
    const size = int(20_000, 200_000);
    const bin = Buffer.alloc(size);
    for (let k = 0; k < size; k++) bin[k] = (k * 31 + i) & 0xff;
    return Buffer.from(head(i, ['Content-Type: multipart/mixed; boundary="mix"']) + '\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      paragraph(600) + '\r\n--mix\r\nContent-Type: application/pdf; name="doc.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(bin) + '\r\n--mix--\r\n');
  }
  if (r < 0.40) return Buffer.from(head(i, ['Content-Type: text/plain; charset=utf-8']) + '\r\n' + paragraph(int(200, 5000)) + '\r\n');
  if (r < 0.55) return Buffer.from(head(i, ['Content-Type: text/plain']) + '\r\n' + paragraph(int(200, 3000)) + '\r\n', 'latin1');
  if (r < 0.80) {
    const t = paragraph(int(300, 4000));
    return Buffer.from(head(i, ['Content-Type: multipart/alternative; boundary="alt"']) + '\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' + t +
      '\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>' + t.replace(/\n/g, '</p><p>') + '</p></body></html>\r\n--alt--\r\n');
  }
  if (r < 0.90) return Buffer.from(head(i, ['Content-Type: text/html; charset=utf-8']) + '\r\n<div><p>' + paragraph(int(300, 4000)).replace(/\n/g, '</p><p>') + '</p></div>\r\n');
  if (r < 0.95) {
    return Buffer.from(head(i, [`In-Reply-To: <ticket-${i - 1}@acme.example>`, `References: <a-${i}@x.example> <ticket-${i - 1}@acme.example>`,
      'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable']) + '\r\n' + paragraph(800).replace(/ã/g, '=C3=A3') + '\r\n> ' + paragraph(400).replace(/\n/g, '\r\n> ') + '\r\n');
  }
  return Buffer.from(head(i, ['Auto-Submitted: auto-replied', 'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"']) +
    '\r\n--dsn\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--dsn--\r\n');
}

async function main(): Promise<void> {
  const msgs = Array.from({ length: COUNT }, (_, i) => message(i));
  const bytes = msgs.reduce((n, m) => n + m.length, 0);
  console.log(`generated ${COUNT} messages, ${(bytes / 1e6).toFixed(1)} MB, ${os.availableParallelism()} cores, node ${process.version}`);

  for (const m of msgs.slice(0, 200)) await parseMessage(m); // warm-up
  // shared CI/dev machines are noisy: run each mode ROUNDS times, report the median and the best
  // CPU time per message (all threads of this process) is reported too: unlike msg/s it does not
  // depend on what else the machine is running, and it shows the pool's own overhead
  const inProc: number[] = [];
  const inProcCpu: number[] = [];
  let unparsed = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const m of msgs) if ((await parseMessage(m)).problems.includes('unparsed')) unparsed++;
    inProc.push(COUNT / ((performance.now() - t0) / 1000));
    inProcCpu.push(cpuMs(c0) / COUNT);
  }
  console.log(`in-process: median ${median(inProc).toFixed(0)} msg/s, best ${Math.max(...inProc).toFixed(0)}; CPU ${median(inProcCpu).toFixed(3)} ms/msg`);

  const poolSize = os.availableParallelism(); // every core (the daemon's default leaves one to the main thread)
  const pool = createParsePool({ size: poolSize });
  await Promise.all(msgs.slice(0, 200).map((m) => pool.parse(m))); // workers started and warm
  const pooled: number[] = [];
  const pooledCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    // like ingest: a bounded number in flight, each result dropped once seen (keeping all 2,000
    // alive would mostly measure the main thread's garbage collector)
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < msgs.length) if ((await pool.parse(msgs[next++]!)).problems.includes('unparsed')) unparsed++;
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    pooled.push(COUNT / ((performance.now() - t0) / 1000));
    pooledCpu.push(cpuMs(c0) / COUNT);
  }
  await pool.close();
  const load = os.loadavg()[0] ?? 0;
  console.log(`pool (${poolSize} workers): median ${median(pooled).toFixed(0)} msg/s, best ${Math.max(...pooled).toFixed(0)}; CPU ${median(pooledCpu).toFixed(3)} ms/msg (all threads)`);
  console.log(`CPU-bound ceiling on ${os.availableParallelism()} idle cores: ${Math.round((1000 * os.availableParallelism()) / median(pooledCpu))} msg/s; load average now ${load.toFixed(1)}`);
  console.log(JSON.stringify({
    bench: 'parse', messages: COUNT, rounds: ROUNDS, megabytes: +(bytes / 1e6).toFixed(2), cores: os.availableParallelism(), node: process.version,
    loadAverage: +load.toFixed(2),
    inProcessMsgPerSec: Math.round(median(inProc)), inProcessBestMsgPerSec: Math.round(Math.max(...inProc)), inProcessCpuMsPerMsg: +median(inProcCpu).toFixed(3),
    poolSize, poolMsgPerSec: Math.round(median(pooled)), poolBestMsgPerSec: Math.round(Math.max(...pooled)), poolCpuMsPerMsg: +median(pooledCpu).toFixed(3),
    unparsed,
  }));
}

await main();
