import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

it(
  'the trading-bot example: every check of its driver holds (exit 0)',
  { timeout: 120_000 },
  async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'examples', 'trading-bot', 'run.ts')],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(output).toContain('Every check held.');
    expect(code, output).toBe(0);
  },
);
