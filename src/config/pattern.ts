// Route patterns: a plain case-insensitive substring, or `/regex/flags`.
export type CompiledPattern = { test(value: string): boolean; source: string };

export function compilePattern(pattern: string): CompiledPattern | { error: string } {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (m) {
    try {
      const re = new RegExp(m[1]!, m[2]);
      return { source: pattern, test: (v) => { re.lastIndex = 0; return re.test(v); } };
    } catch (e) {
      // V8 says "Invalid regular expression: /src/flags: reason"; the caller already shows the pattern.
      return { error: (e as Error).message.replace(/^Invalid regular expression: /, '').replace(/^\/.*\/[a-z]*: /s, '') };
    }
  }
  const needle = pattern.toLowerCase();
  return { source: pattern, test: (v) => v.toLowerCase().includes(needle) };
}
