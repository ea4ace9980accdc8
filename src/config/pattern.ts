// Route patterns: a plain case-insensitive substring, or `/regex/flags`.
import safeRegex from 'safe-regex2';

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

/** Why a regex may backtrack catastrophically, or null. Route regexes run on the event loop that
 * serves every mailbox, the API and health: one `(\w+\s?)+` on a 54-character subject never
 * returns. safe-regex2 flags nested quantifiers (star height > 1), the shape behind exponential
 * time; polynomial cases are bounded by the caps on the text a route sees (route.ts). */
export function backtrackingRisk(re: RegExp): string | null {
  if (safeRegex(re)) return null;
  return 'a repeated group contains another repetition (like (\\w+\\s?)+), which can take exponential time on a non-matching text and stall the whole daemon: repeat a character class instead, e.g. /^[\\w\\s]+$/';
}
