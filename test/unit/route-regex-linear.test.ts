// Route regexes run on the event loop every mailbox shares. A catastrophic one must still return:
// V8's linear-time fallback (set by src/config/pattern.ts) takes over after too many backtracks.
// No timing here: without the fallback these calls do not return at all and the test times out.
import { describe, expect, it } from 'vitest';
import { backtrackingRisk, compilePattern, runsLinear } from '../../src/config/pattern.js';

const compiled = (p: string) => {
  const c = compilePattern(p);
  if ('error' in c) throw new Error(c.error);
  return c;
};

describe('route regexes cannot stall the daemon', () => {
  it('exponential shapes the linear engine can run return (and match correctly)', () => {
    const words = compiled('/^(\\w+\\s?)+$/');
    expect(words.test('an operator typed this subject line of words ok here!')).toBe(false);
    expect(words.test('plain words only')).toBe(true);
    expect(compiled('/(a|aa)+b/').test('a'.repeat(41) + 'c')).toBe(false);
    expect(compiled('/(\\w|\\d)+$/').test('1'.repeat(41) + '!')).toBe(false);
  }, 20_000);

  it('check: risky shapes are rejected only where the linear fallback cannot run (i/u flags, backreferences, lookaround)', () => {
    expect(runsLinear(/^(\w+\s?)+$/)).toBe(true);
    expect(backtrackingRisk(/^(\w+\s?)+$/)).toBeNull();
    for (const re of [/^(\w+\s?)+$/i, /^(\w+\s?)+$/u, /^((\w)+\s?)+\2$/, /^(?!x)(\w+\s?)+$/]) {
      expect(runsLinear(re), String(re)).toBe(false);
      expect(backtrackingRisk(re), String(re)).toMatch(/cannot fall back to linear-time matching/);
    }
    expect(backtrackingRisk(/nota fiscal|boleto/i)).toBeNull(); // not risky: no nested repetition
  });
});
