// CPU of a PostgreSQL server over a benchmark run, read from Linux /proc: the postmaster and every
// process it forked (backends, walwriter, checkpointer, autovacuum ...). Plain JavaScript so that the
// benchmarks' plain-node phase processes and the tsx orchestrators can both import it.
//
// A backend that exits during the run is reaped by the postmaster, so its CPU moves to the
// postmaster's cutime/cstime: counting the postmaster's own + children's time and the live children's
// own time covers every process, before and after (a child alive at the start that exits before the
// end is counted whole, its part before the start included: each phase opens a fresh pool, so its
// backends start inside the run).
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ 100 on Linux

/** utime, stime, cutime, cstime (ms) and ppid of one process, or null when it is gone. */
function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), self: (Number(f[11]) + Number(f[12])) * TICK_MS, children: (Number(f[13]) + Number(f[14])) * TICK_MS };
  } catch {
    return null;
  }
}

/** The postmaster's pid from <data>/postmaster.pid (first line). */
export function postmasterPid(dataDir) {
  return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
}

/** Total CPU ms so far of the postmaster `pid` and all its live children; null where /proc is missing. */
export function serverCpuMs(pid) {
  const root = stat(pid);
  if (!root) return null;
  let total = root.self + root.children;
  let pids;
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return total;
  }
  for (const p of pids) {
    if (Number(p) === pid) continue;
    const s = stat(p);
    if (s && s.ppid === pid) total += s.self;
  }
  return total;
}

/** The CPU ms this process used (all threads), user + system. */
export function selfCpuMs() {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}
