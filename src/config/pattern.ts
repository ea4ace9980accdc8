// Route patterns: a plain case-insensitive substring, or `/regex/flags`.
//
// Route regexes run on the event loop that serves every mailbox, the API and health, on text a
// stranger wrote: one `(\w+\s?)+` on a 54-character subject never returns under a backtracking
// engine. V8 has a linear-time engine too; with this flag a regex that backtracks too much
// (beyond --regexp-backtracks-before-fallback, 50,000) is re-run there instead of running away.
// The linear engine has no backreferences, no lookaround and no `i` or `u` flag (V8 12), so
// `mailroom check` rejects the risky shapes that need one of those (backtrackingRisk). Polynomial
// blow-ups of such regexes stay bounded only by the caps on the text a route sees (route.ts).
import v8 from 'node:v8';
import safeRegex from 'safe-regex2';

v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
v8.setFlagsFromString('--enable-experimental-regexp-engine'); // the `l` flag, to ask whether a regex can run linearly

export type CompiledPattern = { test(value: string): boolean; source: string; regex?: RegExp };

export function compilePattern(pattern: string): CompiledPattern | { error: string } {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (m) {
    try {
      const re = new RegExp(m[1]!, m[2]);
      return { source: pattern, regex: re, test: (v) => { re.lastIndex = 0; return re.test(v); } };
    } catch (e) {
      // V8 says "Invalid regular expression: /src/flags: reason"; the caller already shows the pattern.
      return { error: (e as Error).message.replace(/^Invalid regular expression: /, '').replace(/^\/.*\/[a-z]*: /s, '') };
    }
  }
  const needle = pattern.toLowerCase();
  return { source: pattern, test: (v) => v.toLowerCase().includes(needle) };
}

/** Can V8's linear-time engine run this regex (no backreferences, no lookaround)? */
export function runsLinear(re: RegExp): boolean {
  try {
    new RegExp(re.source, re.flags.replace(/[gy]/g, '') + 'l');
    return true;
  } catch {
    return false;
  }
}

/** Why a regex may backtrack catastrophically with no linear fallback to save it, or null. Nested
 * quantifiers (safe-regex2's star height > 1) are the shape behind exponential time; a regex the
 * linear engine can run is safe anyway (see the top of this file). */
export function backtrackingRisk(re: RegExp): string | null {
  if (safeRegex(re) || runsLinear(re)) return null;
  return 'a repeated group contains another repetition (like (\\w+\\s?)+), which can take exponential time on a non-matching text and stall the whole daemon, and this regex cannot fall back to linear-time matching (it uses the i or u flag, a backreference or lookaround): repeat a character class instead, e.g. /^[\\w\\s]+$/, or drop the i/u flag (a plain pattern without slashes already matches case-insensitively)';
}
