// Validation problems collected in one pass and printed as `file:line:col: severity: message`.
export type Severity = 'error' | 'warning';

export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export interface Problem extends Partial<SourceLocation> {
  severity: Severity;
  message: string;
  /** Dotted config path the problem is about, when there is one (e.g. `mailboxes.acme-desk.inbound`). */
  path?: string;
  /** Machine-readable kind where code acts on it (e.g. `empty-file`: the reload guard). */
  code?: string;
}

export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}:${p.line ?? 1}:${p.col ?? 1}: ` : '';
  return `${where}${p.severity}: ${p.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Sort by file, then position, so output is stable and reads top to bottom. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.col ?? 0) - (b.col ?? 0) ||
      a.message.localeCompare(b.message),
  );
}
