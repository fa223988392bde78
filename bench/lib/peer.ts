/**
 * BullMQ's figures from its last full-size run (bench/results/bullmq-stalled.md), for the
 * benchmarks whose nearest peer it is: the same 2 s limit (lockDuration) on the same machine.
 * Read, not measured here: each line that uses them says from which run they come.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './common.js';

export interface BullmqFigures {
  /** When that run was written. */
  date: string;
  /** (a) `stalled` received − SIGKILL of the worker, ms. */
  killP50: number;
  killP99: number;
  /** (b) jobs that blocked the event loop for 3 s, and how many of them failed as stalled. */
  busyJobs: number;
  busyFailed: number;
}

const number = (cell: string | undefined) => Number((cell ?? '').replaceAll(',', '').trim());

/** The figures, or null when there is no such file or its tables are not as expected. */
export function bullmqFigures(): BullmqFigures | null {
  let text: string;
  try {
    text = readFileSync(join(benchDir, 'results', 'bullmq-stalled.md'), 'utf8');
  } catch {
    return null;
  }
  const date = /^- Date: (\S+)/m.exec(text)?.[1];
  const kill = text
    .split('\n')
    .find((line) => line.startsWith('| received − kill time |'))
    ?.split('|');
  const busy = /^\| (\d+) \| (\d+) \| (\d+) \| \d+ \/ \d+ \| \d+ \|$/m.exec(text);
  if (!date || !kill || !busy) return null;
  const figures = {
    date,
    killP50: number(kill[4]),
    killP99: number(kill[6]),
    busyJobs: number(busy[1]),
    busyFailed: number(busy[3]),
  };
  return Object.values(figures).some((v) => typeof v === 'number' && !Number.isFinite(v))
    ? null
    : figures;
}
