/**
 * A benchmark is not a test, but it must not rot: every bench/*.ts (but run.ts, which runs the
 * others), found in the directory so that a new benchmark is covered without a change here, runs
 * once at VIGIL_BENCH_SIZE=tiny as a real child process. Each must exit 0 and print its markdown,
 * and together they must leave bench/results/ (and bench/RESULTS.md) as they were: a tiny run's
 * figures are never kept. Nothing here is timed; the bound on each run only ends a broken one.
 *
 * Services follow the suite's rule (test/helpers.ts), applied by each benchmark itself through
 * bench/lib/services.ts: in CI a missing PostgreSQL, Redis or Python fails its benchmark; elsewhere
 * the benchmark says it is skipped (SKIPPED_NOTICE) and its test is reported as skipped.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SKIPPED_NOTICE } from '../bench/lib/services.js';
import { ROOT } from './process-helpers.js';

const benchDir = join(ROOT, 'bench');
const resultsDir = join(benchDir, 'results');
const benchmarks = readdirSync(benchDir)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && name !== 'run.ts')
  .sort();

/** Benchmarks run side by side: most of a tiny run is waiting (on limits, sweeps, processes). */
const CONCURRENCY = 2;
/** Ends a benchmark that has not exited by then (a broken one); not an expectation. */
const BOUND_MS = 300_000;
const KEEP_OUTPUT = 200_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  boundReached: boolean;
  output: string;
  seconds: number;
}

/** Whether a benchmark reads VIGIL_BENCH_SIZE at all: one that does not would run at full size. */
function acceptsTiny(name: string): boolean {
  return /VIGIL_BENCH_SIZE|benchSize\(/.test(readFileSync(join(benchDir, name), 'utf8'));
}

/** Every file of bench/results/ and bench/RESULTS.md, by name, with a hash of its content. */
function results(): Record<string, string> {
  const files = existsSync(resultsDir)
    ? readdirSync(resultsDir).map((name) => join('results', name))
    : [];
  if (existsSync(join(benchDir, 'RESULTS.md'))) files.push('RESULTS.md');
  return Object.fromEntries(
    files.sort().map((file) => [
      file,
      createHash('sha256')
        .update(readFileSync(join(benchDir, file)))
        .digest('hex'),
    ]),
  );
}

const running = new Set<ChildProcess>();

/** Ends a benchmark's whole process group (its servers, workers and runners too). */
function endGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** `node --import tsx bench/NAME` at the tiny size, in a process group of its own. */
function runTiny(name: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, name)], {
      cwd: ROOT,
      env: { ...process.env, VIGIL_BENCH_SIZE: 'tiny' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    const started = performance.now();
    let output = '';
    const take = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let boundReached = false;
    const bound = setTimeout(() => {
      boundReached = true;
      endGroup(child);
    }, BOUND_MS);
    child.once('error', (error) => {
      clearTimeout(bound);
      running.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(bound);
      // Whatever it started and left behind goes with it.
      endGroup(child);
      running.delete(child);
      const seconds = (performance.now() - started) / 1000;
      // Reported, never asserted: what each benchmark adds to the suite's time.
      console.log(
        `bench/${name} at the tiny size: ${signal ?? `exit ${code}`} in ${seconds.toFixed(1)} s`,
      );
      resolve({ code, signal, boundReached, output, seconds });
    });
  });
}

const outcomes = new Map<string, Outcome | Error>();
let before: Record<string, string> = {};

beforeAll(
  async () => {
    before = results();
    const queue = benchmarks.filter(acceptsTiny);
    const lanes = Array.from({ length: CONCURRENCY }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        outcomes.set(
          name,
          await runTiny(name).catch((error: unknown) =>
            error instanceof Error ? error : new Error(String(error)),
          ),
        );
      }
    });
    await Promise.all(lanes);
  },
  // Only bounds the hook after every run's own bound: never the one to fire first.
  Math.ceil(benchmarks.length / CONCURRENCY) * (BOUND_MS + 10_000) + 60_000,
);

afterAll(() => {
  for (const child of running) endGroup(child);
});

describe('every benchmark at VIGIL_BENCH_SIZE=tiny', () => {
  test('there are benchmarks to run', () => {
    expect(benchmarks.length).toBeGreaterThan(0);
  });

  for (const name of benchmarks) {
    test(`bench/${name} runs, exits 0 and prints its markdown`, (context) => {
      expect(
        acceptsTiny(name),
        `bench/${name} does not read VIGIL_BENCH_SIZE (benchSize() in bench/lib/common.ts): every benchmark must accept VIGIL_BENCH_SIZE=tiny`,
      ).toBe(true);
      const outcome = outcomes.get(name);
      if (outcome instanceof Error) throw outcome;
      expect(outcome, `bench/${name} was not run`).toBeDefined();
      const { code, signal, boundReached, output } = outcome!;
      const skipped = output.split('\n').find((line) => line.includes(SKIPPED_NOTICE));
      if (skipped && code === 0) {
        console.warn(`\n${skipped.trim()}\n`);
        context.skip(skipped.trim());
      }
      const tail = output.slice(-6_000);
      expect(boundReached, `bench/${name} had not exited after ${BOUND_MS} ms:\n${tail}`).toBe(
        false,
      );
      expect({ code, signal }, `bench/${name} failed:\n${tail}`).toEqual({ code: 0, signal: null });
      expect(output, `bench/${name} printed no markdown section:\n${tail}`).toMatch(/^## /m);
    });
  }

  test('the tiny runs leave bench/results/ and bench/RESULTS.md as they were', () => {
    expect(results()).toEqual(before);
  });
});
