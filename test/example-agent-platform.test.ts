import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { postgresAvailable, redisAvailable } from './helpers.js';

const ready = (await postgresAvailable()) && (await redisAvailable());

/** The agent platform example's driver (examples/agent-platform/run.ts) as a child process. */
it.skipIf(!ready)(
  'the agent platform example: a killed agent, a hung execution and a fresh dispatch handled as the platform did',
  async () => {
    const driver = join(import.meta.dirname, '..', 'examples', 'agent-platform', 'run.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', driver], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(output).toMatch(/(\d+) of \1 checks held/);
    expect(output).not.toContain('✗');
    expect(code, output).toBe(0);
  },
  120_000,
);
