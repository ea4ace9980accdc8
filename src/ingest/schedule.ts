// Business hours: is a schedule open at an instant? (pure; IANA timezone, weekly ranges, holidays)
import type { Schedule } from '../config/types.generated.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Local wall-clock parts of an instant in a timezone. */
export function localParts(at: Date, timeZone: string): { date: string; day: (typeof DAYS)[number]; minutes: number } {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    day: String(p.weekday).toLowerCase().slice(0, 3) as (typeof DAYS)[number],
    minutes: Number(p.hour) * 60 + Number(p.minute),
  };
}

function dayInSpec(spec: string, day: (typeof DAYS)[number]): boolean {
  const [from, to] = spec.split('-') as [(typeof DAYS)[number], (typeof DAYS)[number] | undefined];
  if (!to) return from === day;
  const a = DAYS.indexOf(from);
  const b = DAYS.indexOf(to);
  const d = DAYS.indexOf(day);
  return a <= b ? d >= a && d <= b : d >= a || d <= b; // wraps, e.g. fri-mon
}

const toMinutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

export function isOpen(schedule: Schedule, at: Date): boolean {
  const local = localParts(at, schedule.timezone);
  if ((schedule.holidays ?? []).includes(local.date)) return false;
  for (const [spec, ranges] of Object.entries(schedule.weekly ?? {})) {
    if (!dayInSpec(spec, local.day)) continue;
    for (const r of ranges) {
      const [start, end] = r.split('-') as [string, string];
      if (local.minutes >= toMinutes(start) && local.minutes < toMinutes(end)) return true;
    }
  }
  return false;
}
