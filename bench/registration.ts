/**
 * Registration at scale: executions registered through `vigil serve` on SQLite and PostgreSQL,
 * one `POST /v1/executions` at a time (64 in flight) and in batches (`POST /v1/executions/batch`,
 * 500 items, 4 in flight), side by side with BullMQ adding the same number of jobs (`add`, 64 in
 * flight; `addBulk` of 500, 4 in flight) to Redis in the same run.
 *
 * Every registration is a queued execution of kind `bench` with `metadata: {n}`; every BullMQ job
 * carries `{n}` under the same id. A fresh database (and a fresh queue) per measurement. The load
 * runs in a separate process (bench/lib/register-load.ts; autocannon for singles). Then each Vigil measurement is repeated
 * on half the count under `node --cpu-prof`, and the profile is summarised here.
 *
 * Run: npm run build && node --import tsx bench/registration.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 * VIGIL_BENCH_ONLY=sqlite,batch (any of sqlite, postgres, single, batch) measures only those rows,
 * without BullMQ or profiles (VIGIL_BENCH_PROFILE=1: with), and prints instead of writing the file.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegisterJob, RegisterResult } from './lib/register-load.js';
import { isType } from './lib/drive.js';
import { summarizeProfile } from './lib/profile.js';
import {
  benchDir,
  cpuSeconds,
  exited,
  fmt,
  machineLines,
  message,
  problems,
  revision,
  spawnTs,
  startVigil,
  writeResult,
} from './lib/common.js';
import { benchSchema } from './lib/bench-schema.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const ONLY = (process.env.VIGIL_BENCH_ONLY ?? '').split(',').filter(Boolean);
const PROFILE =
  !TINY &&
  (process.env.VIGIL_BENCH_PROFILE === '1' ||
    (process.env.VIGIL_BENCH_PROFILE !== '0' && ONLY.length === 0));
/** Whether the row of `store` and `mode` (single or batch) is measured in this run. */
const wanted = (store: string, mode: string) => {
  const named = (choices: string[], choice: string) =>
    !choices.some((c) => ONLY.includes(c)) || ONLY.includes(choice);
  return named(['sqlite', 'postgres'], store) && named(['single', 'batch'], mode);
};
const SINGLE_COUNT = TINY ? 200 : 20_000;
const BATCH_COUNT = TINY ? 1_000 : 200_000;
const SINGLE_IN_FLIGHT = 64;
const BATCH_SIZE = 500;
const BATCH_IN_FLIGHT = 4;
const TARGETS = {
  'vigil-single': { sqlite: 10_000, postgres: null },
  'vigil-batch': { sqlite: 50_000, postgres: 20_000 },
} as const;
const run = `${Date.now().toString(36)}${process.pid}`;

type Store = 'sqlite' | 'postgres';
type Mode = RegisterJob['mode'];

interface Measured extends RegisterResult {
  perSecond: number;
  serverCpu: number | null;
}

const isResult = isType<{ type: 'result'; result: RegisterResult }>('result');

/** Runs one job in the load process; `pid` is the server whose CPU is measured, if any. */
async function load(job: RegisterJob, pid?: number): Promise<Measured> {
  const child = spawnTs('lib/register-load.ts');
  try {
    await message(child, isType('ready'), 30_000, 'load generator start');
    const before = cpuSeconds(pid);
    const answer = message(child, isResult, 600_000, `registration ${job.mode}`);
    child.send(job);
    const { result } = await answer;
    const after = cpuSeconds(pid);
    return {
      ...result,
      perSecond: result.registered / result.seconds,
      serverCpu: before === null || after === null ? null : (after - before) / result.seconds,
    };
  } finally {
    await exited(child, 10_000);
  }
}

function jobOf(mode: Mode, target: string, count: number): RegisterJob {
  const single = mode.endsWith('single');
  return {
    mode,
    target,
    prefix: `${mode}-${run}`,
    count,
    inFlight: single ? SINGLE_IN_FLIGHT : BATCH_IN_FLIGHT,
    batchSize: BATCH_SIZE,
  };
}

/** A fresh database of `store` for one server: its URL and how to drop it. */
async function database(
  store: Store,
  name: string,
): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (store === 'sqlite') return { env: {}, drop: async () => undefined };
  return benchSchema(`reg_${run}`, name);
}

/** One Vigil measurement on a fresh server and database; with `profileDir`, under --cpu-prof. */
async function measureVigil(store: Store, mode: Mode, count: number, profileDir?: string) {
  const db = await database(store, mode.replace('vigil-', '') + (profileDir ? '_prof' : ''));
  const previous = process.env.VIGIL_BENCH_NODE_ARGS;
  if (profileDir) process.env.VIGIL_BENCH_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profileDir}`;
  const vigil = await startVigil('sweep:\n  interval: 5s\n', db.env);
  if (previous === undefined) delete process.env.VIGIL_BENCH_NODE_ARGS;
  else process.env.VIGIL_BENCH_NODE_ARGS = previous;
  try {
    const measured = await load(jobOf(mode, vigil.url, count), vigil.pid);
    return { measured, warnings: problems(vigil.logLines()) };
  } finally {
    await vigil.stop();
    await db.drop();
  }
}

const rate = (m: Measured | null) => (m === null ? 'n/a' : fmt(m.perSecond));
const pct = (share: number | null) => (share === null ? 'n/a' : `${fmt(share * 100)} %`);
/** The server's CPU time per registration: steadier than the rate on a shared machine. */
const perItem = (m: Measured) =>
  m.serverCpu === null || m.registered === 0
    ? 'n/a'
    : `${fmt((m.serverCpu * m.seconds * 1e6) / m.registered)} µs`;

function target(mode: Mode, store: Store, m: Measured): string {
  const goal = mode === 'vigil-single' || mode === 'vigil-batch' ? TARGETS[mode][store] : null;
  if (goal === null) return '—';
  return `≥ ${fmt(goal)} — ${m.perSecond >= goal ? 'met' : '**not met**'}`;
}

async function main(): Promise<string> {
  const measuredRevision = revision();
  const rows: string[] = [];
  const notes: string[] = [];
  const profiles: string[] = [];
  const skipped: Measured = {
    seconds: 1,
    registered: 0,
    failed: 0,
    reasons: [],
    cpuSeconds: 0,
    perSecond: NaN,
    serverCpu: null,
  };
  const bull = {
    single:
      ONLY.length > 0
        ? skipped
        : await load(jobOf('bullmq-single', `vigil-bench-reg-${run}-single`, SINGLE_COUNT)),
    batch:
      ONLY.length > 0
        ? skipped
        : await load(jobOf('bullmq-batch', `vigil-bench-reg-${run}-batch`, BATCH_COUNT)),
  };
  for (const store of ['sqlite', 'postgres'] as const) {
    for (const mode of ['vigil-single', 'vigil-batch'] as const) {
      if (!wanted(store, mode.replace('vigil-', ''))) continue;
      const count = mode === 'vigil-single' ? SINGLE_COUNT : BATCH_COUNT;
      const { measured: m, warnings } = await measureVigil(store, mode, count);
      const peer = mode === 'vigil-single' ? bull.single : bull.batch;
      const how =
        mode === 'vigil-single'
          ? `single \`POST /v1/executions\`, ${SINGLE_IN_FLIGHT} in flight`
          : `\`POST /v1/executions/batch\` × ${BATCH_SIZE}, ${BATCH_IN_FLIGHT} in flight`;
      rows.push(
        `| ${store} | ${how} | ${fmt(m.registered)} | ${fmt(m.seconds, 2)} | **${rate(m)}** | ${target(mode, store, m)} | ${rate(peer)} | ${fmt(m.perSecond / peer.perSecond, 2)} × | ${pct(m.serverCpu)} | ${perItem(m)} | ${pct(m.cpuSeconds / m.seconds)} | ${fmt(m.failed)} |`,
      );
      if (m.failed > 0)
        notes.push(
          `- ${store} ${mode}: ${m.failed} not registered; first reasons: ${m.reasons.join(' / ')}`,
        );
      if (warnings.count > 0)
        notes.push(
          `- ${store} ${mode}: ${warnings.count} server lines at warn or above: ${warnings.sample.join(' / ')}`,
        );
      if (PROFILE && m.registered > 0) {
        const dir = mkdtempSync(join(tmpdir(), 'vigil-prof-'));
        try {
          await measureVigil(store, mode, Math.round(count / 2), dir);
          const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
          if (file) profiles.push(...summarizeProfile(join(dir, file), `${store}, ${how}`));
          else profiles.push(`#### ${store}, ${how}`, '', 'No profile was written.', '');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  }
  const { version } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as {
    version: string;
  };
  return [
    '## Registration at scale (`bench/registration.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${measuredRevision}`,
    '- Server: `node bin/vigil.js serve --port 0`, a fresh database per row (SQLite in WAL in a temporary directory; PostgreSQL 127.0.0.1:5432, a fresh schema), no tokens, `sweep: { interval: 5s }`',
    `- Load: a separate Node process (bench/lib/register-load.ts): autocannon for single registrations (${SINGLE_IN_FLIGHT} connections), keep-alive node:http for batches; every item is \`{id, kind: "bench", status: "queued", metadata: {n}}\`. Single: ${fmt(SINGLE_COUNT)} registrations, ${SINGLE_IN_FLIGHT} requests in flight. Batched: ${fmt(BATCH_COUNT)} registrations in batches of ${BATCH_SIZE}, ${BATCH_IN_FLIGHT} batches in flight.`,
    `- Peer: BullMQ ${version} on Redis 127.0.0.1:6379 in the same run, from the same kind of load process: \`Queue.add\` of the same count (${SINGLE_IN_FLIGHT} in flight) for singles, \`Queue.addBulk\` of ${BATCH_SIZE} (${BATCH_IN_FLIGHT} in flight) for batches; jobs carry \`{n}\` under the same ids; unique queue names, obliterated after.`,
    '',
    '| Store | Mode | Registered | Seconds | Registrations/s | Target | BullMQ jobs/s | Vigil ÷ BullMQ | Server CPU | Server CPU per registration | Load CPU | Failed |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Registrations/s = items registered ÷ seconds from the first request to the last answer. BullMQ single: ${fmt(bull.single.perSecond)} jobs/s (${fmt(bull.single.seconds, 2)} s); BullMQ addBulk: ${fmt(bull.batch.perSecond)} jobs/s (${fmt(bull.batch.seconds, 2)} s). Server CPU and Load CPU are CPU-seconds per wall-second of the vigil process and of the load process (100 % = one core); both share the machine's cores with whatever else runs on it (see the load average above). Server CPU per registration is the vigil process's CPU time over the run ÷ registrations: what one registration costs the server, which the machine's other work changes less than the rate.`,
    ...(notes.length > 0 ? ['', ...notes] : []),
    ...(profiles.length > 0
      ? [
          '',
          '### Where the server spends its time',
          '',
          `Each row above repeated on ${fmt(SINGLE_COUNT / 2)} / ${fmt(BATCH_COUNT / 2)} registrations under \`node --cpu-prof\` (a fresh server and database); self time per frame and per area, as shares of the time the server was not idle.`,
          '',
          ...profiles,
        ]
      : []),
  ].join('\n');
}

/**
 * The figures from before a change, recorded once under a "### Before:" heading at the end of the
 * result file: kept when the file is rewritten, so the comparison stays beside the new figures.
 */
function keptBefore(): string {
  try {
    const text = readFileSync(join(benchDir, 'results', 'registration.md'), 'utf8');
    const at = text.indexOf('\n### Before:');
    return at < 0 ? '' : `\n${text.slice(at).trimEnd()}`;
  } catch {
    return '';
  }
}

const markdown = await main();
// A tiny run only checks that the benchmark still works, and a partial one measures some rows
// only: neither's figures are kept.
if (TINY || ONLY.length > 0) console.log(markdown);
else writeResult('registration', markdown + keptBefore());
// BullMQ's connections may keep timers alive for a while; everything is closed and written.
process.exit(0);
