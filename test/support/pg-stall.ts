// What a replica stopped mid-statement leaves in PostgreSQL, made on purpose: a session (raw wire
// protocol over the test server's unix socket, trust auth) that begins a transaction, runs `lockSql`
// (e.g. a fence check's SELECT ... FOR SHARE), then sends Parse/Describe/Flush as postgres.js does
// before a parameterized statement, and never sends the rest. PostgreSQL shows it `active`, waiting
// on ClientRead, holding its locks: neither idle_in_transaction_session_timeout nor statement_timeout
// ends it. `closed` resolves when the server ends the session.
import net from 'node:net';
import path from 'node:path';
import type { PostgresPeer } from '../peers/postgres.js';

export interface StalledSession {
  closed: Promise<void>;
  /** what the server said last (e.g. the FATAL that ended it) */
  said(): string;
  destroy(): void;
}

const cstr = (x: string) => Buffer.from(x + '\0');
function message(type: string, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b.write(type, 0);
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
}

export async function stallSession(pg: PostgresPeer, o: { db: string; applicationName: string; lockSql: string }): Promise<StalledSession> {
  const socket = net.connect(path.join(pg.dir, 'sock', `.s.PGSQL.${pg.port}`));
  let said = '';
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => (said = d.toString('latin1').replace(/[^\x20-\x7e]+/g, ' ')));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const params = Buffer.concat([cstr('user'), cstr('postgres'), cstr('database'), cstr(o.db), cstr('application_name'), cstr(o.applicationName), Buffer.from([0])]);
  const startup = Buffer.alloc(8 + params.length);
  startup.writeInt32BE(8 + params.length, 0);
  startup.writeInt32BE(196608, 4); // protocol 3.0
  params.copy(startup, 8);
  socket.write(startup);
  socket.write(message('Q', cstr(`BEGIN; ${o.lockSql}`)));
  await new Promise((r) => setTimeout(r, 200));
  socket.write(Buffer.concat([message('P', Buffer.concat([cstr(''), cstr('SELECT $1::int[]'), Buffer.from([0, 0])])), message('D', Buffer.concat([Buffer.from('S'), cstr('')])), message('H', Buffer.alloc(0))]));
  return { closed, said: () => said, destroy: () => socket.destroy() };
}
