// Business hours: the local wall clock of the schedule's IANA timezone decides, never UTC and never
// the machine's zone; holidays are local dates; day ranges wrap; a range's end is exclusive.
import { describe, expect, it } from 'vitest';
import type { Schedule } from '../../src/config/types.generated.js';
import { isOpen, localParts } from '../../src/ingest/schedule.js';

const at = (iso: string) => new Date(iso);
type Case = [string, boolean];
const check = (schedule: Schedule, cases: Case[]) => {
  const got = cases.map(([iso]) => [iso, isOpen(schedule, at(iso))]);
  expect(got).toEqual(cases);
};

describe('America/Sao_Paulo (UTC-3), hours that cross the UTC day boundary', () => {
  // 13:00-22:00 local = 16:00-01:00 UTC: the evening belongs to the local day, not the UTC one
  const s: Schedule = { timezone: 'America/Sao_Paulo', weekly: { 'mon-fri': ['08:00-12:00', '13:00-22:00'] }, holidays: ['2026-12-25'] };

  it('opens and closes on local time, end exclusive', () => {
    check(s, [
      ['2026-05-04T10:59:59Z', false], // Mon 07:59:59 local
      ['2026-05-04T11:00:00Z', true], // Mon 08:00
      ['2026-05-04T14:59:00Z', true], // Mon 11:59
      ['2026-05-04T15:00:00Z', false], // Mon 12:00: end of the morning range is exclusive
      ['2026-05-04T15:30:00Z', false], // lunch
      ['2026-05-04T16:00:00Z', true], // Mon 13:00
      ['2026-05-05T00:59:00Z', true], // Mon 21:59 local, already Tuesday in UTC
      ['2026-05-05T01:00:00Z', false], // Mon 22:00 local
    ]);
  });

  it('the UTC weekday is not the local weekday', () => {
    check(s, [
      ['2026-05-09T00:30:00Z', true], // Fri 21:30 local (Saturday in UTC): open
      ['2026-05-09T01:30:00Z', false], // Fri 22:30 local
      ['2026-05-09T16:00:00Z', false], // Sat 13:00 local
      ['2026-05-11T02:00:00Z', false], // Sun 23:00 local (Monday in UTC): closed
      ['2026-05-04T02:00:00Z', false], // Sun 23:00 local
    ]);
  });

  it('a holiday is the local date: the evening before is open although UTC already says the 25th', () => {
    check(s, [
      ['2026-12-25T00:30:00Z', true], // Thu 2026-12-24 21:30 local
      ['2026-12-25T13:00:00Z', false], // Fri 2026-12-25 10:00 local: holiday
      ['2026-12-26T00:30:00Z', false], // Fri 2026-12-25 21:30 local (UTC: the 26th): still the holiday
      ['2026-12-28T12:00:00Z', true], // Mon 2026-12-28 09:00 local
    ]);
  });

  it('localParts gives the local date, weekday and minutes', () => {
    expect(localParts(at('2026-05-09T00:30:00Z'), 'America/Sao_Paulo')).toEqual({ date: '2026-05-08', day: 'fri', minutes: 21 * 60 + 30 });
    expect(localParts(at('2026-05-04T03:00:00Z'), 'America/Sao_Paulo')).toEqual({ date: '2026-05-04', day: 'mon', minutes: 0 }); // midnight is 0, not 24:00
  });
});

describe('Asia/Tokyo (UTC+9)', () => {
  const s: Schedule = { timezone: 'Asia/Tokyo', weekly: { 'mon-fri': ['09:00-18:00'] }, holidays: ['2027-01-01'] };

  it('a local Monday morning is a UTC Sunday night', () => {
    check(s, [
      ['2026-05-03T23:59:00Z', false], // Mon 08:59 JST
      ['2026-05-04T00:00:00Z', true], // Mon 09:00 JST (UTC: Monday 00:00)
      ['2026-05-08T08:59:00Z', true], // Fri 17:59 JST
      ['2026-05-08T09:00:00Z', false], // Fri 18:00 JST
      ['2026-05-08T15:30:00Z', false], // Sat 00:30 JST (UTC: still Friday, 15:30)
    ]);
  });

  it('New Year is a holiday from local midnight, while UTC is still on 31 December', () => {
    const allDay: Schedule = { timezone: 'Asia/Tokyo', weekly: { 'sun-sat': ['00:00-24:00'] }, holidays: ['2027-01-01'] };
    check(allDay, [
      ['2026-12-31T14:59:00Z', true], // 2026-12-31 23:59 JST
      ['2026-12-31T15:00:00Z', false], // 2027-01-01 00:00 JST
      ['2027-01-01T14:59:00Z', false], // 2027-01-01 23:59 JST
      ['2027-01-01T15:00:00Z', true], // 2027-01-02 00:00 JST
    ]);
  });
});

describe('Australia/Sydney (UTC+10, UTC+11 in summer)', () => {
  const s: Schedule = { timezone: 'Australia/Sydney', weekly: { 'mon-fri': ['09:00-17:00'] } };

  it('follows daylight saving of the southern hemisphere', () => {
    check(s, [
      // January (AEDT, UTC+11): 09:00 local = 22:00 UTC the day before
      ['2026-01-11T22:00:00Z', true], // Mon 2026-01-12 09:00 AEDT
      ['2026-01-11T21:59:00Z', false],
      // July (AEST, UTC+10): 09:00 local = 23:00 UTC the day before
      ['2026-07-05T22:30:00Z', false], // Mon 2026-07-06 08:30 AEST
      ['2026-07-05T23:00:00Z', true], // Mon 09:00 AEST
    ]);
  });
});

describe('Europe/Berlin across the 2026 DST changes (2026-03-29 and 2026-10-25)', () => {
  const s: Schedule = { timezone: 'Europe/Berlin', weekly: { 'mon-fri': ['09:00-17:00'] } };

  it('the same UTC time is outside the week before the spring change and inside the week after', () => {
    check(s, [
      ['2026-03-23T07:30:00Z', false], // Mon 08:30 CET (UTC+1)
      ['2026-03-23T08:00:00Z', true], // Mon 09:00 CET
      ['2026-03-30T07:00:00Z', true], // Mon 09:00 CEST (UTC+2)
      ['2026-03-30T07:30:00Z', true], // Mon 09:30 CEST
      ['2026-03-30T06:59:00Z', false], // Mon 08:59 CEST
      ['2026-03-30T15:00:00Z', false], // Mon 17:00 CEST
      ['2026-03-23T15:30:00Z', true], // Mon 16:30 CET
    ]);
  });

  it('and the other way round in autumn', () => {
    check(s, [
      ['2026-10-19T15:30:00Z', false], // Mon 17:30 CEST
      ['2026-10-26T15:30:00Z', true], // Mon 16:30 CET
      ['2026-10-26T16:00:00Z', false], // Mon 17:00 CET
      ['2026-10-19T07:00:00Z', true], // Mon 09:00 CEST
      ['2026-10-26T07:00:00Z', false], // Mon 08:00 CET
    ]);
  });

  it('on the change days: the skipped hour never opens, the repeated hour opens twice', () => {
    const night: Schedule = { timezone: 'Europe/Berlin', weekly: { sun: ['02:00-03:00'] } };
    check(night, [
      ['2026-03-29T00:59:00Z', false], // 01:59 CET
      ['2026-03-29T01:00:00Z', false], // 03:00 CEST: 02:00-03:00 did not exist
      ['2026-10-25T00:30:00Z', true], // 02:30 CEST
      ['2026-10-25T01:30:00Z', true], // 02:30 CET, the second time
      ['2026-10-25T02:00:00Z', false], // 03:00 CET
    ]);
  });
});

describe('day specs', () => {
  const s = (weekly: Schedule['weekly']): Schedule => ({ timezone: 'UTC', weekly });
  // 2026-05-04 is a Monday
  const days = ['2026-05-04', '2026-05-05', '2026-05-06', '2026-05-07', '2026-05-08', '2026-05-09', '2026-05-10'];
  const openDays = (sched: Schedule) => days.filter((d) => isOpen(sched, at(`${d}T10:00:00Z`))).map((d) => localParts(at(`${d}T10:00:00Z`), 'UTC').day);

  it.each([
    ['mon-fri', ['mon', 'tue', 'wed', 'thu', 'fri']],
    ['fri-mon', ['mon', 'fri', 'sat', 'sun']], // wraps over the weekend
    ['sat-sun', ['sat', 'sun']],
    ['sun-sat', ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']],
    ['sun-mon', ['mon', 'sun']],
    ['wed', ['wed']],
    ['thu-tue', ['mon', 'tue', 'thu', 'fri', 'sat', 'sun']],
  ])('%s', (spec, want) => {
    expect(openDays(s({ [spec]: ['09:00-17:00'] }))).toEqual(want);
  });

  it('several specs: any range of any matching spec opens', () => {
    const sched = s({ 'mon-fri': ['08:00-12:00', '13:00-18:00'], sat: ['08:00-12:00'] });
    check(sched, [
      ['2026-05-09T09:00:00Z', true], // Sat morning
      ['2026-05-09T13:00:00Z', false], // Sat afternoon
      ['2026-05-08T13:00:00Z', true], // Fri afternoon
      ['2026-05-10T09:00:00Z', false], // Sun
    ]);
  });

  it('24:00 as an end covers the last minute of the day; 00:00 opens at midnight', () => {
    check(s({ mon: ['00:00-24:00'] }), [
      ['2026-05-04T00:00:00Z', true],
      ['2026-05-04T23:59:59Z', true],
      ['2026-05-05T00:00:00Z', false],
      ['2026-05-03T23:59:59Z', false],
    ]);
  });

  it('no weekly ranges or only a holiday: closed', () => {
    expect(isOpen(s({}), at('2026-05-04T10:00:00Z'))).toBe(false);
    expect(isOpen({ timezone: 'UTC', weekly: { 'mon-sun': ['00:00-24:00'] }, holidays: ['2026-05-04'] } as Schedule, at('2026-05-04T10:00:00Z'))).toBe(false);
  });

  it('does not depend on the machine timezone', () => {
    const before = process.env.TZ;
    process.env.TZ = 'Pacific/Kiritimati'; // UTC+14
    try {
      expect(isOpen({ timezone: 'America/Sao_Paulo', weekly: { fri: ['21:00-22:00'] } }, at('2026-05-09T00:30:00Z'))).toBe(true);
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
});
