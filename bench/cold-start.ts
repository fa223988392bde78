/**
 * CLI cold start: how long `vigil` takes from exec to exit for the commands cron jobs and scripts
 * run (`beat`, `register`, `sweep`), and for `--version` and `--help`, against `node -e ''`
 * (Node's own start) on the same machine at the same time.
 *
 * Each command is the real `node bin/vigil.js …` in a child process; the commands take turns, so
 * a change in the machine's load falls on all of them alike. `beat` and `register` write to the
 * SQLite file a running `vigil serve` uses (as a cron job beside the service would); `sweep` runs
 * in cron mode on a SQLite file of its own. One warm-up run of each is not counted.
 *
 * Where the time goes: one more run of each command under `--cpu-prof` (self time grouped by
 * package; Node's own module loading shows as "Node internals"), and one with a hook that lists
 * every module it loads (test/fixtures/record-modules.mjs).
 *
 * Run: npm run build && node --import tsx bench/cold-start.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  call,
  fmt,
  machineLines,
  revision,
  root,
  startVigil,
  summarize,
  writeResult,
} from './lib/common.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const RUNS = TINY ? 2 : 30;
const VIGIL_BIN = join(root, 'bin', 'vigil.js');
const RECORD_MODULES = join(root, 'test', 'fixtures', 'record-modules.mjs');

interface Case {
  label: string;
  /** Arguments to node; undefined for Vigil's own cases, which run bin/vigil.js. */
  node?: string[];
  vigil?: string[];
  env?: Record<string, string>;
}

/** Runs one case to its end; returns its wall time in ms, and throws unless it exited 0. */
function run(entry: Case, cwd: string, nodeArgs: string[] = [], extraEnv = {}): number {
  const args = entry.node ?? [...nodeArgs, VIGIL_BIN, ...(entry.vigil ?? [])];
  const started = performance.now();
  const child = spawnSync(process.execPath, args, {
    cwd,
    env: { ...process.env, VIGIL_LOG_LEVEL: 'warn', ...entry.env, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const ms = performance.now() - started;
  if (child.error) throw child.error;
  if (child.status !== 0) {
    throw new Error(`${entry.label}: exit ${child.status ?? child.signal}\n${child.stderr}`);
  }
  return ms;
}

interface Profile {
  sampledMs: number;
  /** Self time by group, largest first. */
  groups: [string, number][];
}

interface CpuProfile {
  nodes: { id: number; callFrame: { url: string; functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** What a profile frame counts towards: a package, a part of Vigil, or Node's own work. */
function groupOf(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(?:dist|bin)\/(.+)$/.exec(url);
  if (own) return `vigil ${own[1]!.split('/')[0]!.replace(/\.js$/, '')}`;
  if (url.startsWith('node:') || url === '') {
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(idle)') return 'idle';
    return 'Node internals (module loading, start)';
  }
  return url;
}

function profile(entry: Case, cwd: string): Profile {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cold-prof-'));
  try {
    run(entry, cwd, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const name = readdirSync(dir).find((file) => file.endsWith('.cpuprofile'));
    if (!name) throw new Error(`${entry.label}: no CPU profile written`);
    const data = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
    const byId = new Map(data.nodes.map((node) => [node.id, node.callFrame]));
    const groups = new Map<string, number>();
    let total = 0;
    data.samples.forEach((id, i) => {
      const frame = byId.get(id);
      const us = data.timeDeltas[i] ?? 0;
      const group = frame ? groupOf(frame.url, frame.functionName) : 'unknown';
      groups.set(group, (groups.get(group) ?? 0) + us / 1000);
      total += us / 1000;
    });
    return { sampledMs: total, groups: [...groups].sort((a, b) => b[1] - a[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Loaded {
  own: number;
  builtin: number;
  /** Modules loaded per package. */
  packages: [string, number][];
}

function loadedModules(entry: Case, cwd: string): Loaded {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-cold-mods-')), 'modules.txt');
  try {
    run(entry, cwd, ['--import', RECORD_MODULES], { RECORD_MODULES_TO: file });
    const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const packages = new Map<string, number>();
    let own = 0;
    let builtin = 0;
    for (const url of new Set(urls)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      if (pkg) packages.set(pkg[1]!, (packages.get(pkg[1]!) ?? 0) + 1);
      else if (url.startsWith('node:')) builtin++;
      else own++;
    }
    return { own, builtin, packages: [...packages].sort((a, b) => b[1] - a[1]) };
  } finally {
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
}

const work = mkdtempSync(join(tmpdir(), 'vigil-cold-start-'));
const served = `sqlite:${join(work, 'vigil.db')}`;
const vigil = await startVigil('', { VIGIL_DATABASE_URL: served });
try {
  const id = 'cold-start-beating';
  const registered = await call(vigil.url, 'POST', '/v1/executions', {
    id,
    kind: 'bench',
    status: 'running',
    limits: { heartbeat: '1h' },
  });
  if (registered.status !== 201) throw new Error(`registering ${id}: HTTP ${registered.status}`);

  const onServed = { VIGIL_DATABASE_URL: served };
  const cases: Case[] = [
    { label: "`node -e ''` (Node alone)", node: ['-e', ''] },
    { label: '`vigil --version`', vigil: ['--version'] },
    { label: '`vigil --help`', vigil: ['--help'] },
    { label: '`vigil beat ID`', vigil: ['beat', id], env: onServed },
    { label: '`vigil register --kind K`', vigil: ['register', '--kind', 'cold'], env: onServed },
    {
      label: '`vigil sweep` (cron mode)',
      vigil: ['sweep'],
      env: { VIGIL_DATABASE_URL: `sqlite:${join(work, 'cron.db')}` },
    },
  ];
  for (const entry of cases) run(entry, work); // warm-up: disk cache, the cron database created
  const samples = new Map<Case, number[]>(cases.map((entry) => [entry, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const entry of cases) samples.get(entry)!.push(run(entry, work));
    if ((round + 1) % 10 === 0) console.log(`round ${round + 1} of ${RUNS}`);
  }
  const stats = new Map(cases.map((entry) => [entry, summarize(samples.get(entry)!)]));
  const baseline = stats.get(cases[0]!)!.p50;
  const ownCases = cases.filter((entry) => entry.vigil);
  const profiles = new Map(ownCases.map((entry) => [entry, profile(entry, work)]));
  const loaded = new Map(ownCases.map((entry) => [entry, loadedModules(entry, work)]));

  const groupsText = (p: Profile) =>
    p.groups
      .filter(([, ms]) => ms >= 1)
      .slice(0, 6)
      .map(([group, ms]) => `${group} ${fmt(ms)}`)
      .join(', ');
  const packagesText = (l: Loaded) =>
    l.packages.length === 0
      ? 'none'
      : l.packages.map(([name, n]) => (n > 1 ? `${name} (${n})` : name)).join(', ');
  const lines = [
    '## CLI cold start (`bench/cold-start.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${revision()}`,
    `- Each command is \`node bin/vigil.js …\` run to its exit, ${RUNS} times (after one warm-up run), the commands taking turns; \`beat\` and \`register\` write to the SQLite file a running \`vigil serve\` uses, \`sweep\` runs in cron mode on a SQLite file of its own. Percentiles are nearest-rank. Target: ≤ 150 ms.`,
    '',
    '| Command | Runs | p50 (ms) | p95 (ms) | Min (ms) | Max (ms) | p50 over Node alone (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...cases.map((entry) => {
      const s = stats.get(entry)!;
      const p95 = [...samples.get(entry)!].sort((a, b) => a - b)[
        Math.max(0, Math.ceil(0.95 * s.n) - 1)
      ]!;
      const over = entry.vigil ? fmt(s.p50 - baseline) : '';
      return `| ${entry.label} | ${s.n} | ${fmt(s.p50)} | ${fmt(p95)} | ${fmt(s.min)} | ${fmt(s.max)} | ${over} |`;
    }),
    '',
    '### Where the time goes',
    '',
    'One run of each under `--cpu-prof`: CPU time sampled, and the largest groups by self time (ms). Node internals are mostly finding, reading and compiling modules.',
    '',
    '| Command | Sampled (ms) | Largest by self time (ms) |',
    '| --- | ---: | --- |',
    ...ownCases.map((entry) => {
      const p = profiles.get(entry)!;
      return `| ${entry.label} | ${fmt(p.sampledMs)} | ${groupsText(p)} |`;
    }),
    '',
    'Modules each loads (one run with test/fixtures/record-modules.mjs):',
    '',
    '| Command | Vigil modules | Node built-ins | Packages (modules loaded) |',
    '| --- | ---: | ---: | --- |',
    ...ownCases.map((entry) => {
      const l = loaded.get(entry)!;
      return `| ${entry.label} | ${l.own} | ${l.builtin} | ${packagesText(l)} |`;
    }),
  ];
  // At the tiny size the run only proves the benchmark still works: its figures are not kept.
  if (TINY) console.log(lines.join('\n'));
  else writeResult('cold-start', lines.join('\n'));
} finally {
  await vigil.stop();
  rmSync(work, { recursive: true, force: true });
}
