/** Helpers for the tests of the runner side: the SDK and `vigil exec`, against a real service. */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Execution } from '../src/sdk/types.js';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { ROOT, startVigil, until } from './process-helpers.js';

export { ROOT, until };

export interface Vigil {
  url: string;
  dir: string;
  process: VigilProcess;
  get(id: string): Promise<Execution>;
  /** Waits for the execution to reach a status other than running, and returns it. */
  ended(id: string, timeoutMs?: number): Promise<Execution>;
  close(): Promise<void>;
}

/**
 * The service runners talk to: the real `vigil serve` (startVigil) in a temp dir with a SQLite
 * file, sweeping every 200 ms, and the reads the runner tests make of it.
 */
export async function serveForRunners(): Promise<Vigil> {
  await ensureBuilt();
  const { dir, cleanup } = tempDir();
  writeFileSync(join(dir, 'vigil.yaml'), 'sweep:\n  interval: 200ms\n');
  const vigil = await startVigil(dir);
  const get = async (id: string) => {
    const response = await fetch(`${vigil.url}/v1/executions/${encodeURIComponent(id)}`);
    if (!response.ok) throw new Error(`GET ${id}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Execution;
  };
  return {
    url: vigil.url,
    dir,
    process: vigil,
    get,
    ended: (id, timeoutMs) =>
      until(
        async () => {
          const execution = await get(id).catch(() => undefined);
          return execution && execution.status !== 'running' && execution.status !== 'queued'
            ? execution
            : undefined;
        },
        { timeoutMs, what: `execution ${id} to end` },
      ),
    close: async () => {
      await vigil.stop();
      cleanup();
    },
  };
}

export interface Child {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node ARGS` from the project root, collecting its output. */
export function spawnNode(args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** One line of /proc/PID/stat: state, parent and process group. */
function procStat(pid: string): { pid: number; state: string; ppid: number; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '?', ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

/** Processes alive now (zombies, waiting for init to reap them, are not alive). */
export function liveProcesses(): { pid: number; ppid: number; pgrp: number }[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(procStat)
    .filter((p): p is NonNullable<typeof p> => p !== null && p.state !== 'Z' && p.state !== 'X');
}

/**
 * Builds dist/ (`tsc -p tsconfig.build.json`, then scripts/bundle-cli.mjs) when it is missing or older than src/, so tests that
 * run the real binary test the current sources. Test files run in parallel: a lock directory
 * keeps two builds from writing dist/ at once.
 */
export async function ensureBuilt(): Promise<void> {
  const outputs = [
    'dist/cli/main.js',
    'dist/cli/commands/exec.js',
    'dist/sdk/index.js',
    'dist/cli-bundle/main.js',
  ];
  const isFresh = () => {
    const newestSource = newestMtime(join(ROOT, 'src'));
    return outputs.every((file) => {
      try {
        return statSync(join(ROOT, file)).mtimeMs >= newestSource;
      } catch {
        return false;
      }
    });
  };
  if (isFresh()) return;
  const lock = join(tmpdir(), `vigil-build-${ROOT.replace(/[^A-Za-z0-9]/g, '_')}.lock`);
  const tryLock = () => {
    try {
      mkdirSync(lock);
      return true;
    } catch {
      // A lock left by a test run that was killed mid-build is taken over after 3 minutes.
      const takenAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - takenAt > 180_000) {
        rmSync(lock, { recursive: true, force: true });
      }
      return false;
    }
  };
  await until(tryLock, { timeoutMs: 240_000, what: 'the build lock' });
  try {
    if (isFresh()) return;
    const build = spawnNode(
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {},
    );
    await build.exited;
    // Then the bundled command line bin/vigil.js runs (it runs tsc's output while that is newer).
    const bundle = spawnNode([join(ROOT, 'scripts/bundle-cli.mjs')], {});
    await bundle.exited;
    // tsc writes its output even when it reports type errors (elsewhere in the tree, say).
    if (!isFresh()) {
      const output = [build, bundle].map((step) => `${step.stdout()}${step.stderr()}`).join('');
      throw new Error(`npm run build failed:\n${output}`);
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}
