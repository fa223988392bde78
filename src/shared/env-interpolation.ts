/**
 * `${VAR}` and `${VAR:-default}` in the configuration file, for every value: the parsed file is
 * walked and each string has its references replaced from the environment. `$$` is a literal `$`;
 * any other `$` (a JSON path like `$.data`, a regex end) is left as written.
 *
 * A value that is exactly one reference and expands to a number or to true/false becomes that
 * number or boolean, as if it had been written in the file (`failures: ${MAX_FAILURES:-3}` is the
 * number 3), so numbers, booleans and durations are validated by the schema as usual — unless it
 * was quoted in the YAML file (`secret: "${HOOK_SECRET}"` stays text, whatever its digits). A
 * reference inside a longer text always stays text.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Returns the value with every reference expanded. Problems (a variable that is not set and has no
 * default, a malformed reference) are added to `problems`, each naming its key and the variable.
 */
export function interpolateEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  problems: string[],
  /** The keys (`a.b.0`) whose values were quoted in the file: they stay text. */
  quoted: ReadonlySet<string> = new Set(),
  path: readonly (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const key = keyOf(path);
    return expandValue(value, env, problems, key, quoted.has(key));
  }
  if (Array.isArray(value)) {
    return value.map((item, index) =>
      interpolateEnv(item, env, problems, quoted, [...path, index]),
    );
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        interpolateEnv(inner, env, problems, quoted, [...path, key]),
      ]),
    );
  }
  return value;
}

function keyOf(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(top level)' : path.join('.');
}

function expandValue(
  text: string,
  env: Record<string, string | undefined>,
  problems: string[],
  key: string,
  keepText: boolean,
): unknown {
  if (!text.includes('$')) return text;
  const whole = /^\$\{[^}]*\}$/.test(text);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char !== '$') {
      out += char;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next !== '{') {
      out += '$';
      i += 1;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    const inner = end === -1 ? null : text.slice(i + 2, end);
    const expanded = inner === null ? null : expandReference(inner, env);
    if (expanded === null || expanded.kind === 'malformed') {
      problems.push(
        `${key}: expected \${NAME} or \${NAME:-default} (write $$ for a literal $), got ${JSON.stringify(text)}`,
      );
      return text;
    }
    if (expanded.kind === 'unset') {
      problems.push(
        `${key}: environment variable ${expanded.name} is not set (referenced as \${${inner}}; give it a value or write \${${expanded.name}:-default})`,
      );
      return text;
    }
    out += expanded.value;
    i = end + 1;
  }
  return whole && !keepText ? typed(out) : out;
}

type Expansion =
  { kind: 'value'; value: string } | { kind: 'unset'; name: string } | { kind: 'malformed' };

/** `NAME` or `NAME:-default`: the default applies when the variable is unset or empty. */
function expandReference(inner: string, env: Record<string, string | undefined>): Expansion {
  const separator = inner.indexOf(':-');
  const name = separator === -1 ? inner : inner.slice(0, separator);
  if (!NAME.test(name)) return { kind: 'malformed' };
  const value = env[name];
  if (separator !== -1) {
    return {
      kind: 'value',
      value: value === undefined || value === '' ? inner.slice(separator + 2) : value,
    };
  }
  return value === undefined ? { kind: 'unset', name } : { kind: 'value', value };
}

/** A whole-value expansion that reads as a number or a boolean becomes one. */
function typed(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}
