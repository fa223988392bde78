import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { runVigil } from './process-helpers.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** The real binary in the test's directory, on a SQLite file there unless `env` says otherwise. */
const vigil = (args: string[], env: Record<string, string | undefined> = {}) =>
  runVigil(args, { cwd: dir, env: { VIGIL_DATABASE_URL: `sqlite:${dir}/vigil.db`, ...env } });

/** The help line of one option, with its wrapped continuation lines. */
function optionHelp(help: string, flag: string): string {
  const lines = help.split('\n');
  const at = lines.findIndex((line) => line.trimStart().startsWith(flag));
  expect(at, `${flag} in:\n${help}`).toBeGreaterThanOrEqual(0);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((line) => !/^\s{10,}\S/.test(line));
  return [lines[at]!, ...rest.slice(0, end < 0 ? rest.length : end)].join(' ');
}

describe('--help', () => {
  it('history --help states the default of --since once', async () => {
    const { code, stdout } = await vigil(['history', '--help']);
    expect(code).toBe(0);
    expect(optionHelp(stdout, '--since').match(/default/g)).toHaveLength(1);
  });

  it('exec --help keeps every line within 80 columns, sentences unbroken', async () => {
    const { code, stdout } = await vigil(['exec', '--help']);
    expect(code).toBe(0);
    for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(stdout).toContain('When Vigil ends the execution (run limit, cancel), the group gets');
  });

  it('register --help marks --kind as required', async () => {
    const { stdout } = await vigil(['register', '--help']);
    expect(optionHelp(stdout, '--kind')).toContain('(required)');
  });

  it('ls --help describes --kind and --owner', async () => {
    const { stdout } = await vigil(['ls', '--help']);
    expect(optionHelp(stdout, '--kind')).toMatch(/--kind <kind>\s+\S+/);
    expect(optionHelp(stdout, '--owner')).toMatch(/--owner <owner>\s+\S+/);
  });
});
