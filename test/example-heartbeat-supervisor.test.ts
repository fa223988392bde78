/**
 * examples/heartbeat-supervisor end to end: its driver imports the original configuration, runs
 * the Python services, kills one with kill -9 and hangs the other, and exits 0 only when Vigil
 * recovered both as the original did (kill → clear_db → start) and audited it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from './runner-helpers.js';

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);

it('the heartbeat-supervisor example runs and every check holds', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'examples/heartbeat-supervisor/run.ts')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(output).toContain('Every check held.');
  expect(code, output).toBe(0);
}, 120_000);
