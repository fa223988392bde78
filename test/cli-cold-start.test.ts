import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMAND_GROUPS, defaultIo } from '../src/cli/main.js';
import {
  POSTGRES_URL,
  dropSchemas,
  postgresAvailable,
  postgresQuery,
  schemaName,
  schemaUrl,
  tempDir,
} from './helpers.js';
import { ROOT, runVigil } from './process-helpers.js';

// `vigil` loads what a command needs when the command runs: a cron job's `vigil beat` must not
// pay for the HTTP server, the other database's driver, Redis or the mail client. These tests
// run the real binary with a hook that lists every module the process loaded, and check the list
// (what was loaded, never how long it took).

const postgresUp = await postgresAvailable();
const RECORDER = pathToFileURL(join(ROOT, 'test', 'fixtures', 'record-modules.mjs')).href;

/** Packages no command in this file needs unless its configuration names them. */
const SERVER_ONLY = ['fastify', 'prom-client', 'pino', 'nodemailer', 'redis', '@redis/client'];

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/**
 * The packages a loaded module holds: its package under node_modules/, or those bundled into it
 * when it is a file of the bundled command line (listed in dist/cli-bundle/modules.json).
 */
function packagesIn(url: string): string[] {
  const fromNodeModules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (fromNodeModules) return [fromNodeModules];
  const bundled = /\/dist\/cli-bundle\/([^/]+)$/.exec(url)?.[1];
  if (!bundled) return [];
  const modules = JSON.parse(
    readFileSync(join(ROOT, 'dist', 'cli-bundle', 'modules.json'), 'utf8'),
  ) as Record<string, string[]>;
  return modules[bundled] ?? [];
}

/** Runs `vigil ARGS` and answers the packages it loaded (under node_modules/ or bundled). */
async function packagesLoadedBy(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ packages: string[]; stdout: string }> {
  const list = join(dir, 'modules.txt');
  const run = await runVigil(args, {
    cwd: dir,
    env: {
      VIGIL_DATABASE_URL: `sqlite:${dir}/vigil.db`,
      NODE_OPTIONS: `--import=${RECORDER}`,
      RECORD_MODULES_TO: list,
      ...env,
    },
  });
  expect(run.stderr, `vigil ${args.join(' ')}`).toBe('');
  expect(run.code, `vigil ${args.join(' ')}: ${run.stderr}`).toBe(0);
  const urls = readFileSync(list, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(urls.flatMap(packagesIn));
  // The bundled command line ran (npm run build writes it; a stale one never runs).
  expect(urls.some((url) => url.endsWith('/dist/cli-bundle/main.js'))).toBe(true);
  return { packages: [...packages].sort(), stdout: run.stdout };
}

describe('which build vigil runs', () => {
  it('runs the bundle, and tsc’s output once a file the bundle was made from is newer', () => {
    // A copy of the built package (node_modules linked), so the shared dist/ is left as it is.
    mkdirSync(join(dir, 'pkg'));
    const pkg = join(dir, 'pkg');
    for (const part of ['bin', 'dist', 'package.json'])
      cpSync(join(ROOT, part), join(pkg, part), { recursive: true, preserveTimestamps: true });
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const loaded = () => {
      const list = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
      const run = spawnSync(process.execPath, [join(pkg, 'bin', 'vigil.js'), '--version'], {
        cwd: dir,
        env: { ...process.env, NODE_OPTIONS: `--import=${RECORDER}`, RECORD_MODULES_TO: list },
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      const urls = readFileSync(list, 'utf8').split('\n');
      return {
        bundle: urls.some((url) => url.endsWith('/pkg/dist/cli-bundle/main.js')),
        tsc: urls.some((url) => url.endsWith('/pkg/dist/cli/main.js')),
      };
    };
    expect(loaded()).toEqual({ bundle: true, tsc: false });
    // As `tsc --watch` leaves it: one module rewritten, dist/cli/main.js untouched.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(pkg, 'dist', 'runtime', 'sweep.js'), later, later);
    expect(loaded()).toEqual({ bundle: false, tsc: true });
  });
});

describe('what vigil loads', () => {
  it('each group of commands, loaded when one of them runs, defines the commands it is listed for', async () => {
    for (const group of COMMAND_GROUPS) {
      const program = new Command('vigil');
      (await group.load())(program, defaultIo(), () => undefined);
      expect(program.commands.map((command) => command.name())).toEqual(group.names);
    }
  });

  it('--help and --version load the command line parser only', async () => {
    const help = await packagesLoadedBy(['--help']);
    expect(help.packages).toEqual(['commander']);
    for (const command of ['serve', 'sweep', 'register', 'beat', 'exec', 'probe', 'prune']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect((await packagesLoadedBy(['--version'])).packages).toEqual(['commander']);
  });

  it('a command help loads the command line parser only', async () => {
    for (const command of ['beat', 'register', 'sweep', 'serve', 'probe', 'stats']) {
      const { packages, stdout } = await packagesLoadedBy([command, '--help']);
      expect(stdout).toContain(`Usage: vigil ${command}`);
      expect(packages, `vigil ${command} --help`).toEqual(['commander']);
    }
  });

  it('register and beat on SQLite load its driver and nothing of the server', async () => {
    const registered = await packagesLoadedBy(['register', '--kind', 'backup', '--id', 'b-1']);
    expect(registered.packages).toContain('better-sqlite3');
    expect(registered.packages).toContain('kysely');
    expect(registered.packages).not.toContain('pg');
    for (const name of SERVER_ONLY) expect(registered.packages).not.toContain(name);

    const beat = await packagesLoadedBy(['beat', 'b-1']);
    expect(beat.stdout.trim()).toBe('b-1 beat');
    expect(beat.packages).toContain('better-sqlite3');
    expect(beat.packages).not.toContain('pg');
    for (const name of SERVER_ONLY) expect(beat.packages).not.toContain(name);
  });

  it('sweep from cron on SQLite loads no server, Redis or mail client, even with notify: set', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        'notify:',
        '  channels:',
        '    oncall-mail:',
        '      type: email',
        '      smtp: { host: 127.0.0.1, port: 2525, tls: none }',
        '      from: vigil@example.com',
        '      to: [oncall@example.com]',
      ].join('\n'),
    );
    const { packages, stdout } = await packagesLoadedBy(['sweep']);
    expect(stdout).toContain('Examined 0 overdue executions');
    expect(packages).toContain('better-sqlite3');
    expect(packages).not.toContain('pg');
    // The mail client is loaded at the first email to send; this sweep had none.
    for (const name of SERVER_ONLY) expect(packages).not.toContain(name);
  });

  describe.runIf(postgresUp)('on PostgreSQL', () => {
    const schema = schemaName();
    afterAll(() => dropSchemas(schema));

    it('register loads the PostgreSQL client, not the SQLite driver', async () => {
      await postgresQuery(`CREATE SCHEMA ${schema}`);
      const { packages } = await packagesLoadedBy(['register', '--kind', 'backup'], {
        VIGIL_DATABASE_URL: schemaUrl(schema, POSTGRES_URL),
      });
      expect(packages).toContain('pg');
      expect(packages).not.toContain('better-sqlite3');
      for (const name of SERVER_ONLY) expect(packages).not.toContain(name);
    });
  });
});
