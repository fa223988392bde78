/**
 * The Python client (clients/python): its unittest suite, run against the real `vigil serve` it
 * starts itself, and a plain `pip install` of the package into a fresh venv. Python 3.9+ is
 * required in CI; elsewhere its absence skips these tests with a loud notice.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from './runner-helpers.js';

const PACKAGE = join(ROOT, 'clients', 'python');

/** python3's version, or null when there is none (or it is older than 3.9). */
function python(): string | null {
  const answer = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  const version = answer.status === 0 ? answer.stdout.trim() : null;
  if (version === null) return null;
  const [major, minor] = version.split('.').map(Number);
  return major === 3 && (minor ?? 0) >= 9 ? version : null;
}

const version = python();
if (version === null) {
  if (process.env.CI === 'true') throw new Error('python3 >= 3.9 is required in CI');
  console.warn('\n*** python3 >= 3.9 is missing: the Python client tests are SKIPPED ***\n');
}

/** Runs a command to its end; resolves its exit code and everything it printed. */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe.skipIf(version === null)(`the Python client (python3 ${version})`, () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 240_000);

  it('passes its unittest suite against a real vigil serve', async () => {
    const { code, output } = await run(
      'python3',
      ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-t', 'clients/python', '-v'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          PYTHONPATH: PACKAGE,
          VIGIL_BIN: join(ROOT, 'bin', 'vigil.js'),
          VIGIL_NODE: process.execPath,
          PYTHONDONTWRITEBYTECODE: '1',
        },
      },
    );
    expect(code, output).toBe(0);
    expect(output).toMatch(/^OK/m);
  }, 600_000);

  it('installs with a plain pip install into a fresh venv', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-py-venv-'));
    try {
      const venv = await run('python3', ['-m', 'venv', join(dir, 'venv')]);
      if (venv.code !== 0) {
        if (process.env.CI === 'true') throw new Error(`python3 -m venv failed:\n${venv.output}`);
        console.warn(
          `\n*** python3 -m venv failed: the packaging test is SKIPPED ***\n${venv.output}`,
        );
        return;
      }
      // From a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
      const source = join(dir, 'source');
      cpSync(PACKAGE, source, {
        recursive: true,
        filter: (path) => !/(^|\/)(build|tests|__pycache__|[^/]*\.egg-info)$/.test(path),
      });
      const install = await run(join(dir, 'venv', 'bin', 'pip'), ['install', '--quiet', source]);
      expect(install.code, install.output).toBe(0);
      const imported = await run(
        join(dir, 'venv', 'bin', 'python'),
        [
          '-c',
          'import vigil, vigil._liveness_helper; print(vigil.VigilClient.__module__, vigil.__file__)',
        ],
        { cwd: dir, env: { ...process.env, PYTHONPATH: '' } },
      );
      expect(imported.code, imported.output).toBe(0);
      expect(imported.output).toContain(join(dir, 'venv'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
