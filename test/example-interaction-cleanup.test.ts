import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { storeAvailable } from './helpers.js';

const postgresUp = await storeAvailable('postgres');

it.runIf(postgresUp)(
  'the interaction-cleanup example: every check of its driver holds (exit 0)',
  async () => {
    const root = join(import.meta.dirname, '..');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples', 'interaction-cleanup', 'run.ts')],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain('Every check held.');
  },
  120_000,
);
