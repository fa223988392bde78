/**
 * Drives heartbeat load at a running `vigil serve` from a separate load-generator process
 * (autocannon, bench/lib/load.ts) and measures both processes' CPU.
 */
import type { LoadJob, LoadResult } from './load.js';
import { cpuSeconds, exited, fmt, message, spawnTs } from './common.js';

export interface Measured {
  result: LoadResult;
  beatsPerRequest: number;
  connections: number;
  serverCpu: number | null;
  loadCpu: number | null;
}

export const isType =
  <T extends { type: string }>(type: T['type']) =>
  (m: unknown): m is T =>
    typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
export const isResult = isType<{ type: 'result'; result: LoadResult }>('result');

export async function drive(
  url: string,
  vigilPid: number,
  job: Omit<LoadJob, 'url'>,
): Promise<Measured> {
  const child = spawnTs('lib/load.ts');
  try {
    // CPU is counted from here: the load generator has started and loaded autocannon.
    await message(child, isType('ready'), 30_000, 'load generator start');
    const serverBefore = cpuSeconds(vigilPid);
    const answer = message(
      child,
      isResult,
      (job.durationSeconds + 60) * 1_000,
      `autocannon ${job.mode}`,
    );
    child.send({ ...job, url } satisfies LoadJob);
    const { result } = await answer;
    const serverAfter = cpuSeconds(vigilPid);
    const share = (before: number | null, after: number | null) =>
      before === null || after === null ? null : (after - before) / result.durationSeconds;
    return {
      result,
      beatsPerRequest: job.mode === 'single' ? 1 : job.batchSize,
      connections: job.connections,
      serverCpu: share(serverBefore, serverAfter),
      loadCpu: result.cpuSeconds / result.durationSeconds,
    };
  } finally {
    await exited(child, 10_000);
  }
}

/** Problems that make a run's figure invalid. */
export function invalid(m: Measured): string[] {
  const r = m.result;
  const why: string[] = [];
  if (r.non2xx > 0) why.push(`${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) why.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
  if (r.lostBeats > 0) why.push(`${r.lostBeats} beats answered as lost`);
  if (r.ok2xx === 0) why.push('no successful request at all');
  return why;
}

export const beatsPerSecond = (m: Measured) =>
  (m.result.ok2xx * m.beatsPerRequest) / m.result.durationSeconds;
export const pct = (share: number | null) => (share === null ? 'n/a' : `${fmt(share * 100)} %`);
