import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './process-helpers.js';
import type { Child, Vigil } from './runner-helpers.js';
import {
  ROOT,
  ensureBuilt,
  liveProcesses,
  spawnNode,
  serveForRunners,
  until,
} from './runner-helpers.js';

let vigil: Vigil;

beforeAll(async () => {
  await ensureBuilt();
  vigil = await serveForRunners();
}, 240_000);
afterAll(async () => {
  await vigil?.close();
});

/** The real binary: `node bin/vigil.js exec ARGS`, pointed at the in-process service. */
const exec = (args: string[], url = vigil.url): Child =>
  spawnNode([join(ROOT, 'bin/vigil.js'), 'exec', ...args], { VIGIL_URL: url });

/** The process group `vigil exec` started its command in (the command's pid). */
async function commandGroupOf(execPid: number): Promise<number> {
  let pgid = 0;
  await until(
    () => {
      pgid = liveProcesses().find((p) => p.ppid === execPid)?.pid ?? 0;
      return pgid !== 0;
    },
    { what: 'vigil exec to start its command' },
  );
  return pgid;
}

const liveInGroup = (pgid: number) => liveProcesses().filter((p) => p.pgrp === pgid);

describe('vigil exec', () => {
  it('exits with the exit code of a failing command, and the execution is failed', async () => {
    const run = exec(['--id', 'exec-fail', '--', 'sh', '-c', 'exit 3']);
    expect((await run.exited).code).toBe(3);
    expect(await vigil.get('exec-fail')).toMatchObject({
      status: 'failed',
      kind: 'sh',
      endedBy: 'runner',
      error: 'exit code 3',
      reason: 'exit code 3',
      limits: { heartbeat: 30_000 },
    });
  });

  it('exits 0 for a command that succeeds, and the execution is succeeded', async () => {
    const run = exec(['--id', 'exec-true', '--kind', 'noop', '--', 'true']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    expect(await vigil.get('exec-true')).toMatchObject({
      status: 'succeeded',
      kind: 'noop',
      endedBy: 'runner',
      result: { exitCode: 0 },
    });
  });

  it('stops the whole process group when Vigil ends the execution (run_timeout)', async () => {
    const run = exec([
      '--id',
      'exec-timeout',
      '--timeout',
      '1s',
      '--',
      'sh',
      '-c',
      'sleep 30 & sleep 30; wait',
    ]);
    const pgid = await commandGroupOf(run.process.pid!);
    // The shell and both sleeps, in the command's own group.
    await until(() => liveInGroup(pgid).length === 3, { what: 'both sleeps to start' });

    const { code } = await run.exited;
    expect(code).toBe(143); // the command's: killed by SIGTERM
    expect(run.stderr()).toMatch(
      /Vigil ended execution exec-timeout \(failed\): ran [\d.]+s, limit 1s/,
    );
    await until(() => liveInGroup(pgid).length === 0, { what: 'the process group to be gone' });
    expect(await vigil.get('exec-timeout')).toMatchObject({
      status: 'failed',
      verdict: 'run_timeout',
      endedBy: 'watchdog',
      lateResult: { status: 'failed', error: 'killed by SIGTERM' },
    });
  }, 60_000);

  it('passes SIGTERM on to the command and exits as it did', async () => {
    const run = exec(['--id', 'exec-sigterm', '--', 'sleep', '30']);
    const pgid = await commandGroupOf(run.process.pid!);
    run.process.kill('SIGTERM');
    expect((await run.exited).code).toBe(143);
    expect(liveInGroup(pgid)).toEqual([]);
    expect(await vigil.get('exec-sigterm')).toMatchObject({
      status: 'failed',
      endedBy: 'runner',
      error: 'killed by SIGTERM',
    });
  }, 60_000);

  it('exits 127 when the command does not exist, and the execution is failed', async () => {
    const run = exec(['--id', 'exec-missing', '--', '/nonexistent/command']);
    expect((await run.exited).code).toBe(127);
    expect(run.stderr()).toMatch(/cannot run \/nonexistent\/command/);
    expect(await vigil.get('exec-missing')).toMatchObject({ status: 'failed' });
  });

  it('exits 3 when Vigil cannot be reached', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const run = exec(['--', 'true'], url);
    expect((await run.exited).code).toBe(3);
    expect(run.stderr()).toContain(`cannot reach Vigil at ${url}: `);
  });

  it('exits 2 on a bad duration, before registering anything', async () => {
    const run = exec(['--timeout', 'soon', '--', 'true']);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/--timeout: expected a duration/);
  });
});
