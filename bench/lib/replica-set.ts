/**
 * For bench/replicas.ts: N `vigil serve` replicas on one fresh PostgreSQL schema (and Redis for
 * their slots), their load processes started side by side, and the CPU of everything involved
 * (each replica, the PostgreSQL backends serving them, all PostgreSQL processes, the machine).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { Vigil } from './common.js';
import { cpuSeconds, exited, message, spawnTs, startVigil } from './common.js';
import { isType } from './drive.js';

export const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.VIGIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ReplicaSet {
  replicas: Vigil[];
  /** The `application_name` of every connection the replicas open (to find their backends). */
  appName: string;
  admin: pg.Client;
  stop(): Promise<void>;
}

/**
 * Starts `n` replicas on a fresh schema `name`: the first alone (it migrates the schema), the
 * others together. `nodeArgs` (e.g. `--cpu-prof`) are given to every replica.
 */
export async function startReplicas(
  n: number,
  name: string,
  yaml: string,
  nodeArgs?: (i: number) => string,
): Promise<ReplicaSet> {
  const schema = name.replace(/[^a-z0-9_]/g, '_');
  const appName = `vigil-bench-${schema}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const env = {
    VIGIL_DATABASE_URL: `${POSTGRES_URL}?application_name=${appName}&options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    VIGIL_REDIS_URL: REDIS_URL,
  };
  const start = async (i: number) => {
    const previous = process.env.VIGIL_BENCH_NODE_ARGS;
    if (nodeArgs) process.env.VIGIL_BENCH_NODE_ARGS = nodeArgs(i);
    try {
      return await startVigil(`${yaml}redis:\n  keyPrefix: "vigil-bench:${schema}:"\n`, env);
    } finally {
      if (previous === undefined) delete process.env.VIGIL_BENCH_NODE_ARGS;
      else process.env.VIGIL_BENCH_NODE_ARGS = previous;
    }
  };
  const replicas: Vigil[] = [];
  try {
    replicas.push(await start(0));
    const rest = await Promise.allSettled(Array.from({ length: n - 1 }, (_, i) => start(i + 1)));
    for (const r of rest) if (r.status === 'fulfilled') replicas.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await Promise.all(replicas.map((r) => r.stop()));
    await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
    throw error;
  }
  return {
    replicas,
    appName,
    admin,
    stop: async () => {
      await Promise.all(replicas.map((r) => r.stop()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU

/** CPU-seconds of every process named `postgres` (all users of this PostgreSQL), by pid. */
function postgresProcesses(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const cpu = cpuSeconds(Number(entry));
      if (cpu !== null) out.set(Number(entry), cpu);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const n = fields.map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

interface Snapshot {
  at: number;
  replicas: (number | null)[];
  postgres: Map<number, number>;
  machine: { busy: number; total: number };
}

export interface CpuShares {
  /** CPU-seconds per wall-second of each replica (1 = one core). */
  replicas: (number | null)[];
  /** Of the PostgreSQL backends serving the replicas (found by their application_name). */
  backends: number;
  /** Of every PostgreSQL process on the machine (other users of the server included). */
  postgres: number;
  /** The machine's busy share of all its cores (1 = every core busy). */
  machine: number;
}

export function snapshot(set: ReplicaSet): Snapshot {
  return {
    at: performance.now(),
    replicas: set.replicas.map((r) => cpuSeconds(r.pid)),
    postgres: postgresProcesses(),
    machine: machineJiffies(),
  };
}

/** CPU shares between two snapshots; the replicas' backends are those connected at the end. */
export async function shares(
  set: ReplicaSet,
  before: Snapshot,
  after: Snapshot,
): Promise<CpuShares> {
  const seconds = (after.at - before.at) / 1000;
  const backends = new Set(
    (
      await set.admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
        [set.appName],
      )
    ).rows.map((r) => r.pid),
  );
  let mine = 0;
  let all = 0;
  for (const [pid, cpu] of after.postgres) {
    // A backend that started within the window started from (almost) nothing.
    const used = cpu - (before.postgres.get(pid) ?? 0);
    all += used;
    if (backends.has(pid)) mine += used;
  }
  return {
    replicas: after.replicas.map((a, i) => {
      const b = before.replicas[i];
      return a === null || b === null || b === undefined ? null : (a - b) / seconds;
    }),
    backends: mine / seconds,
    postgres: all / seconds,
    machine:
      (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total),
  };
}

// ---------------------------------------------------------------------------------------------
// Load processes

/**
 * Runs one job per load process (`script`, a bench/lib/child-job.ts child), all started before
 * any job is sent and sent at once; CPU is measured from just before the jobs go out to the last
 * result.
 */
export async function loadSideBySide<Job, Result>(
  set: ReplicaSet | null,
  script: string,
  jobs: Job[],
  timeoutMs: number,
): Promise<{ results: Result[]; cpu: CpuShares | null }> {
  const children: ChildProcess[] = jobs.map(() => spawnTs(script));
  try {
    await Promise.all(children.map((c) => message(c, isType('ready'), 30_000, `${script} start`)));
    const before = set ? snapshot(set) : null;
    const answers = children.map((c) =>
      message(
        c,
        isType<{ type: 'result'; result: Result }>('result'),
        timeoutMs,
        `${script} result`,
      ),
    );
    children.forEach((c, i) => c.send(jobs[i] as object));
    const results = (await Promise.all(answers)).map((a) => a.result);
    const after = set ? snapshot(set) : null;
    return {
      results,
      cpu: set && before && after ? await shares(set, before, after) : null,
    };
  } finally {
    await Promise.all(children.map((c) => exited(c, 10_000)));
  }
}
