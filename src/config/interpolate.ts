// `${VAR}`, `${VAR:-default}` and `${VAR:?message}` in string values (pure: env passed in).
export interface InterpolationResult {
  value: string;
  /** Problems, without location (the caller knows where the string sits). */
  errors: string[];
  usedVars: string[];
  /** Variables left as `${VAR}` because of skipEnv: the value is unknown, so it is not checked further. */
  unresolved: string[];
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g;

export function interpolate(
  input: string,
  env: Record<string, string | undefined>,
  opts: { skipEnv?: boolean } = {},
): InterpolationResult {
  const errors: string[] = [];
  const usedVars: string[] = [];
  const unresolved: string[] = [];
  const value = input.replace(PLACEHOLDER, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    usedVars.push(name);
    const v = env[name];
    // POSIX: `${VAR}` takes a set-but-empty value as it is; the colon forms (`:-`, `:?`) treat
    // empty like unset.
    if (v !== undefined && (v !== '' || op === undefined)) {
      if (/[\r\n]/.test(v)) {
        errors.push(`environment variable ${name} contains a newline; values with newlines are rejected`);
        return '';
      }
      return v;
    }
    if (op === ':-') return arg ?? '';
    if (opts.skipEnv) {
      unresolved.push(name);
      return `\${${name}}`;
    }
    if (op === ':?') errors.push(`environment variable ${name} is ${v === '' ? 'set but empty' : 'not set'}: ${arg || 'required'}`);
    else errors.push(`environment variable ${name} is not set (use \${${name}:-default} for a default)`);
    return '';
  });
  if (/\$\{/.test(value.replace(PLACEHOLDER, '')) && errors.length === 0) {
    // A `${` that did not parse as a placeholder: most likely a typo such as `${VAR`.
    if (/\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::[-?][^}]*)?\})/.test(input)) errors.push('malformed ${...} placeholder: write ${NAME}, ${NAME:-default} or ${NAME:?message}');
  }
  return { value, errors, usedVars, unresolved };
}
