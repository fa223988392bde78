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
 * every module it loads (test/fixtures/record-modules.mjs); and what each package Vigil depends on
 * costs Node to load on its own.
 *
 * Run: npm run build && node --import tsx bench/cold-start.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, fmt, machineLines, revision, root, startVigil, writeResult } from './lib/common.js';

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

let clockTicks: number | undefined;

/**
 * CPU time (user + system, ms) of the children this process has waited for, from /proc (Linux;
 * NaN elsewhere). Unlike wall time it hardly changes with the machine's load.
 */
function childrenCpuMs(): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // After the command name (which may hold spaces): cutime is the 14th field, cstime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Runs one case to its end and times it; throws unless it exited 0. */
function run(entry: Case, cwd: string, nodeArgs: string[] = [], extraEnv = {}): Timing {
  const args = entry.node ?? [...nodeArgs, VIGIL_BIN, ...(entry.vigil ?? [])];
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const child = spawnSync(process.execPath, args, {
    cwd,
    env: { ...process.env, VIGIL_LOG_LEVEL: 'warn', ...entry.env, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const wallMs = performance.now() - started;
  if (child.error) throw child.error;
  if (child.status !== 0) {
    throw new Error(`${entry.label}: exit ${child.status ?? child.signal}\n${child.stderr}`);
  }
  return { wallMs, cpuMs: childrenCpuMs() - cpuBefore };
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

/**
 * The packages bundled into each file of the bundled command line (dist/cli-bundle/, written by
 * scripts/bundle-cli.mjs); a file it does not list holds Vigil's own modules only.
 */
const BUNDLED: Record<string, string[]> = (() => {
  try {
    return JSON.parse(
      readFileSync(join(root, 'dist', 'cli-bundle', 'modules.json'), 'utf8'),
    ) as Record<string, string[]>;
  } catch {
    return {};
  }
})();

/** The file name of a module of the bundled command line, or undefined for any other module. */
const bundleFile = (url: string) => /\/dist\/cli-bundle\/([^/]+)$/.exec(url)?.[1];

/** Whether bin/vigil.js runs the bundle: the choice it makes, by the files' times. */
function runsBundle(): boolean {
  const built = (file: string) =>
    statSync(join(root, 'dist', file), { throwIfNoEntry: false })?.mtimeMs;
  const bundled = built('cli-bundle/main.js');
  return bundled !== undefined && bundled >= (built('cli/main.js') ?? 0);
}

/** What a profile frame counts towards: a package, a part of Vigil, or Node's own work. */
function groupOf(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.endsWith('/bin/vigil.js')) return 'bin/vigil.js';
  const bundled = bundleFile(url);
  if (bundled) return `bundle: ${BUNDLED[bundled]?.join(' + ') ?? 'vigil'}`;
  const own = /\/dist\/(.+)$/.exec(url);
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
  /** Files of the bundled command line. */
  bundled: number;
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
    let bundled = 0;
    let builtin = 0;
    for (const url of new Set(urls)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      const file = bundleFile(url);
      if (pkg) packages.set(pkg[1]!, (packages.get(pkg[1]!) ?? 0) + 1);
      else if (url.startsWith('node:')) builtin++;
      else if (file) {
        bundled++;
        // A bundled package counts as one module per file of the bundle that holds some of it.
        for (const name of BUNDLED[file] ?? []) {
          const key = `${name} [bundle]`;
          packages.set(key, (packages.get(key) ?? 0) + 1);
        }
      } else own++;
    }
    return { own, bundled, builtin, packages: [...packages].sort((a, b) => b[1] - a[1]) };
  } finally {
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

/** Runs `cases` round after round, taking turns, and answers each one's timings. */
function measure(cases: Case[], rounds: number, cwd: string): Map<Case, Timing[]> {
  for (const entry of cases) run(entry, cwd); // warm-up: disk cache, compile cache, databases
  const timings = new Map<Case, Timing[]>(cases.map((entry) => [entry, []]));
  for (let round = 0; round < rounds; round++) {
    for (const entry of cases) timings.get(entry)!.push(run(entry, cwd));
    if ((round + 1) % 10 === 0) console.log(`round ${round + 1} of ${rounds}`);
  }
  return timings;
}

/** The packages Vigil depends on, as Node alone loads each (`await import(name)`). */
const PACKAGES = Object.keys(
  (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: object })
    .dependencies,
).sort();

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
  const nodeAlone: Case = { label: "`node -e ''` (Node alone)", node: ['-e', ''] };
  const cases: Case[] = [
    nodeAlone,
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
  const timings = measure(cases, RUNS, work);
  const ownCases = cases.filter((entry) => entry.vigil);
  const profiles = new Map(ownCases.map((entry) => [entry, profile(entry, work)]));
  const loaded = new Map(ownCases.map((entry) => [entry, loadedModules(entry, work)]));
  // Each package's own cost: Node loading it and nothing else, against Node alone.
  const packageCases: Case[] = [
    nodeAlone,
    ...PACKAGES.map((name) => ({
      label: name,
      node: ['--input-type=module', '-e', `await import(${JSON.stringify(name)})`],
    })),
  ];
  const packageTimings = measure(packageCases, TINY ? 1 : 10, root);

  const p50 = (list: Timing[], key: keyof Timing) =>
    percentile(
      list.map((t) => t[key]),
      0.5,
    );
  const nodeWall = p50(timings.get(nodeAlone)!, 'wallMs');
  const nodeCpu = p50(timings.get(nodeAlone)!, 'cpuMs');
  const groupsText = (p: Profile) =>
    p.groups
      .filter(([, ms]) => ms >= 1)
      .slice(0, 6)
      .map(([group, ms]) => `${group} ${fmt(ms)}`)
      .join(', ');
  const packagesText = (l: Loaded) => {
    const shown = l.packages.slice(0, 8).map(([name, n]) => `${name} (${n})`);
    const rest = l.packages.slice(8);
    const others = rest.reduce((sum, [, n]) => sum + n, 0);
    if (rest.length > 0) shown.push(`${rest.length} more (${others})`);
    return shown.join(', ') || 'none';
  };
  const lines = [
    '## CLI cold start (`bench/cold-start.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${revision()}; ${runsBundle() ? 'bin/vigil.js runs the bundled command line (dist/cli-bundle/)' : "bin/vigil.js runs tsc's output (dist/cli/; no bundle, or an older one: run `npm run build`)"}`,
    `- Each command is \`node bin/vigil.js …\` run to its exit, ${RUNS} times after one warm-up run, the commands taking turns; \`beat\` and \`register\` write to the SQLite file a running \`vigil serve\` uses, \`sweep\` runs in cron mode on a SQLite file of its own (no vigil.yaml). Wall time from spawn to exit; CPU time (user + system) of the child from /proc, which the machine's load hardly changes. Percentiles are nearest-rank. Target: ≤ 150 ms wall.`,
    '',
    '| Command | Runs | Wall p50 (ms) | Wall p95 (ms) | Wall max (ms) | CPU p50 (ms) | Wall p50 over Node alone (ms) | CPU p50 over Node alone (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...cases.map((entry) => {
      const list = timings.get(entry)!;
      const wall = list.map((t) => t.wallMs);
      const over = (value: number, base: number) => (entry.vigil ? fmt(value - base) : '');
      return `| ${entry.label} | ${list.length} | ${fmt(percentile(wall, 0.5))} | ${fmt(percentile(wall, 0.95))} | ${fmt(Math.max(...wall))} | ${fmt(p50(list, 'cpuMs'))} | ${over(p50(list, 'wallMs'), nodeWall)} | ${over(p50(list, 'cpuMs'), nodeCpu)} |`;
    }),
    '',
    '### Where the time goes',
    '',
    'Modules each command loads (one run with test/fixtures/record-modules.mjs): files of the bundled command line (dist/cli-bundle/, `npm run build`), Vigil modules outside it, and packages with the number of their modules (a bundled package, marked [bundle], with the number of bundle files holding some of it), most first:',
    '',
    '| Command | Bundle files | Other Vigil modules | Node built-ins | Packages (modules) |',
    '| --- | ---: | ---: | ---: | --- |',
    ...ownCases.map((entry) => {
      const l = loaded.get(entry)!;
      return `| ${entry.label} | ${l.bundled} | ${l.own} | ${l.builtin} | ${packagesText(l)} |`;
    }),
    '',
    `What each package Vigil depends on costs to load on its own (\`node --input-type=module -e "await import('NAME')"\`, p50 of ${TINY ? 1 : 10} runs, less Node alone's p50 in the same rounds):`,
    '',
    '| Package | Wall p50 over Node alone (ms) | CPU p50 over Node alone (ms) |',
    '| --- | ---: | ---: |',
    ...packageCases.slice(1).map((entry) => {
      const list = packageTimings.get(entry)!;
      const base = packageTimings.get(nodeAlone)!;
      return `| ${entry.label} | ${fmt(p50(list, 'wallMs') - p50(base, 'wallMs'))} | ${fmt(p50(list, 'cpuMs') - p50(base, 'cpuMs'))} |`;
    }),
    '',
    'One run of each command under `--cpu-prof`: CPU time sampled, and the largest groups by self time (ms). Node internals are mostly resolving, reading, compiling and linking modules; a package counts only its own code running (its top level, its functions); "bundle: P" is a file of the bundle holding package P (with Vigil modules maybe), "bundle: vigil" one holding Vigil modules only.',
    '',
    '| Command | Sampled (ms) | Largest by self time (ms) |',
    '| --- | ---: | --- |',
    ...ownCases.map((entry) => {
      const p = profiles.get(entry)!;
      return `| ${entry.label} | ${fmt(p.sampledMs)} | ${groupsText(p)} |`;
    }),
  ];
  // At the tiny size the run only proves the benchmark still works: its figures are not kept.
  if (TINY) console.log(lines.join('\n'));
  else writeResult('cold-start', lines.join('\n'));
} finally {
  await vigil.stop();
  rmSync(work, { recursive: true, force: true });
}
