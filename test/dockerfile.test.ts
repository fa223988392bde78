/**
 * The container image, checked without a container runtime: the Dockerfile passes a linter, and
 * its final stage's entry command and healthcheck are run here, from this repository (which holds
 * the same bin/ and dist/ the image copies), with the image's environment.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { ROOT, freePort, until } from './process-helpers.js';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface FinalStage {
  env: Record<string, string>;
  user: string | undefined;
  volumes: string[];
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

/** The instructions of the last stage, with continuation lines joined. */
function finalStage(text: string): FinalStage {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const from = lines.map((line) => line.startsWith('FROM ')).lastIndexOf(true);
  const stage: FinalStage = {
    env: {},
    user: undefined,
    volumes: [],
    entrypoint: [],
    cmd: [],
    healthcheck: [],
  };
  for (const line of lines.slice(from)) {
    const [instruction = '', rest = ''] = line.split(/\s+(.*)/s);
    if (instruction === 'ENV')
      for (const [, key, value] of rest.matchAll(/(\w+)=(\S+)/g)) stage.env[key!] = value!;
    if (instruction === 'USER') stage.user = rest;
    if (instruction === 'VOLUME') stage.volumes = JSON.parse(rest) as string[];
    if (instruction === 'ENTRYPOINT') stage.entrypoint = JSON.parse(rest) as string[];
    if (instruction === 'CMD') stage.cmd = JSON.parse(rest) as string[];
    if (instruction === 'HEALTHCHECK')
      stage.healthcheck = JSON.parse(rest.replace(/^.*?CMD\s+/, '')) as string[];
  }
  return stage;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('the Dockerfile', () => {
  it('passes the linter (and the linter does catch a broken file)', () => {
    expect(validate(dockerfile)).toEqual([]);
    expect(validate('FROM node:24\nEXPOSE port\nCMD')).not.toEqual([]);
  });

  it('runs as a non-root user, keeps SQLite in a volume, and checks /healthz', () => {
    const stage = finalStage(dockerfile);
    expect(stage.user).toBe('node');
    expect(stage.volumes).toEqual(['/data']);
    expect(stage.env.VIGIL_DATABASE_URL).toBe('sqlite:/data/vigil.db');
    expect(stage.entrypoint).toEqual(['node', 'bin/vigil.js']);
    expect(stage.cmd).toEqual(['serve']);
    expect(stage.healthcheck.join(' ')).toContain('/healthz');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThan(1); // multi-stage
  });

  it("the image's entry command serves, its healthcheck passes, then fails once it stops", async () => {
    const stage = finalStage(dockerfile);
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const env = {
      ...process.env,
      ...stage.env,
      // Outside the container: the volume is a temp dir, the port one that is free here.
      VIGIL_DATABASE_URL: stage.env.VIGIL_DATABASE_URL!.replace('/data', dir),
      VIGIL_PORT: String(await freePort()),
      VIGIL_HOST: '127.0.0.1',
      VIGIL_LOG_LEVEL: 'warn',
    };
    // `node` in the image is the Node that runs these tests here.
    const node = (argv: string[]) => [process.execPath, ...argv.slice(1)] as const;
    const [command, ...args] = node([...stage.entrypoint, ...stage.cmd]);
    const server = spawn(command, args, { cwd: ROOT, env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    const healthcheck = () => {
      const [check, ...checkArgs] = node(stage.healthcheck);
      return spawnSync(check, checkArgs, { cwd: ROOT, env, timeout: 10_000 }).status;
    };
    try {
      await until(() => healthcheck() === 0, { timeoutMs: 30_000, what: 'a passing healthcheck' });
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(healthcheck()).toBe(1);
  });
});
