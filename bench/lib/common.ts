/**
 * Shared by the end-to-end benchmarks: the machine description, a real `vigil serve` in a child
 * process, a small HTTP client, TypeScript child processes, percentiles, and result files.
 *
 * Everything talks to 127.0.0.1 only, and every wait here is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const root = dirname(benchDir);
const vigilBin = join(root, 'bin', 'vigil.js');

export function machine() {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: keep os.cpus()'s model
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    os: `${type()} ${release()}`,
  };
}

/** The commit measured, whether src/ differs from it, and whether dist/ is older than src/. */
export function revision(): string {
  let commit = 'unknown commit';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'src'], {
        cwd: root,
        encoding: 'utf8',
      }).trim() !== '';
  } catch {
    // not a git checkout
  }
  let stale = false;
  try {
    const built = statSync(join(root, 'dist', 'index.js')).mtimeMs;
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    );
    stale = sources.some((f) => statSync(join(root, 'src', f)).mtimeMs > built);
  } catch {
    stale = true;
  }
  return `commit ${commit}${dirty ? ' with uncommitted changes in src/' : ''}${stale ? ' — **dist/ is older than src/: run `npm run build`**' : ', built into dist/'}`;
}

/** The header lines every section starts with. */
export function machineLines(): string[] {
  const m = machine();
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB RAM, ${m.os}; Node ${m.node}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')} (1 / 5 / 15 min) when the section was written`,
  ];
}

export type BenchSize = 'tiny' | 'full';

/**
 * The size a benchmark runs at, from VIGIL_BENCH_SIZE: `full` (the default: the figures that are
 * kept in bench/results/) or `tiny` (a run of seconds that only checks the benchmark still works;
 * CI runs every benchmark so, test/bench-tiny.test.ts). Anything else is refused.
 */
export function benchSize(): BenchSize {
  const value = process.env.VIGIL_BENCH_SIZE ?? '';
  if (value === '' || value === 'full') return 'full';
  if (value === 'tiny') return 'tiny';
  throw new Error(`VIGIL_BENCH_SIZE=${value}: expected tiny or full`);
}

/**
 * Prints the markdown and writes it to bench/results/NAME.md; at the tiny size it only prints it
 * (a tiny run's figures are not kept).
 */
export function writeResult(name: string, markdown: string): void {
  const file = join(benchDir, 'results', `${name}.md`);
  process.stdout.write(`${markdown}\n`);
  if (benchSize() === 'tiny') {
    process.stdout.write(`\n(VIGIL_BENCH_SIZE=tiny: bench/results/${name}.md left as it was)\n`);
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${markdown}\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles. */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n, min: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  return {
    n,
    min: sorted[0]!,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted[n - 1]!,
    mean: sorted.reduce((a, b) => a + b, 0) / n,
  };
}

export const fmt = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : 'n/a';

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set<ChildProcess>();
process.on('exit', () => {
  // Never leave a server, load generator or worker behind, whatever happened.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves when the child has exited; SIGKILLs it when it has not within `ms`. */
export async function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await within(done, ms, `process ${child.pid}`);
  } catch {
    child.kill('SIGKILL');
    await within(done, 5_000, `process ${child.pid} after SIGKILL`).catch(() => undefined);
  }
}

/** Starts `node --import tsx <script>` with an IPC channel; its stdout/stderr go to ours. */
export function spawnTs(script: string, args: string[] = []): ChildProcess {
  return track(
    spawn(process.execPath, ['--import', 'tsx', join(benchDir, script), ...args], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
}

/** The next IPC message from `child` that `accept` takes, within `ms`. */
export function message<T>(
  child: ChildProcess,
  accept: (m: unknown) => m is T,
  ms: number,
  what: string,
): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (!accept(m)) return;
        cleanup();
        resolve(m);
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`${what}: the child exited (${signal ?? `code ${code}`}) first`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    }),
    ms,
    what,
  );
}

let clockTicks: number | null | undefined;

/** CPU seconds (user + system) a process has used so far; null where /proc is not available. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    clockTicks ??=
      Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || null;
    if (clockTicks === null) return null;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Vigil

export interface Vigil {
  url: string;
  pid: number;
  process: ChildProcess;
  /** Lines vigil wrote that are not its own `vigil:` banner lines (pino warnings and errors). */
  logLines(): string[];
  stop(): Promise<void>;
}

/**
 * Starts `node bin/vigil.js serve --port 0` in a fresh temporary directory holding `vigil.yaml`,
 * with its SQLite database in that directory. No tokens.
 */
export async function startVigil(
  yaml: string,
  overrides: Record<string, string> = {},
): Promise<Vigil> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  writeFileSync(join(dir, 'vigil.yaml'), yaml);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}`,
  };
  for (const name of ['VIGIL_TOKEN', 'VIGIL_PORT', 'VIGIL_HOST', 'VIGIL_REDIS_URL', 'VIGIL_URL']) {
    delete env[name];
  }
  Object.assign(env, overrides);
  // For profiling the server: VIGIL_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.VIGIL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = track(
    spawn(process.execPath, [...nodeArgs, vigilBin, 'serve', '--port', '0'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const logs: string[] = [];
  let buffered = '';
  let onLine: ((line: string) => void) | null = null;
  const take = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('vigil: ') && line.trim() !== '') logs.push(line);
      onLine?.(line);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const url = await within(
      new Promise<string>((resolve, reject) => {
        onLine = (line) => {
          const match = /^vigil: listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
          if (match) resolve(match[1]!);
        };
        child.once('exit', (code) =>
          reject(
            new Error(`vigil serve exited with code ${code} before listening:\n${logs.join('\n')}`),
          ),
        );
      }),
      20_000,
      'vigil serve start',
    );
    onLine = null;
    return { url, pid: child.pid!, process: child, logLines: () => [...logs], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Pino lines at warn (40) or above, summarised as "level msg" (at most `max`). */
export function problems(lines: string[], max = 5): { count: number; sample: string[] } {
  const bad = lines.filter((line) => {
    try {
      return ((JSON.parse(line) as { level?: number }).level ?? 0) >= 40;
    } catch {
      return true; // not pino's JSON: unexpected output
    }
  });
  const sample = bad.slice(0, max).map((line) => {
    try {
      const entry = JSON.parse(line) as {
        level?: number;
        msg?: string;
        err?: { message?: string };
      };
      return `level ${entry.level}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`;
    } catch {
      return line.slice(0, 300);
    }
  });
  return { count: bad.length, sample };
}

export interface Answer<T> {
  status: number;
  body: T;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One JSON request (to 127.0.0.1 only, kept-alive connections), with a 30 s timeout. */
export function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer<T>> {
  if (!base.startsWith('http://127.0.0.1:')) throw new Error(`refusing to call ${base}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<Answer<T>>((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 30_000,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (metrics): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `fn` over `items` with at most `concurrency` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** The Execution fields the benchmarks read. */
export interface ExecutionJson {
  id: string;
  status: string;
  attempt: number;
  heartbeatAt: string | null;
  endedAt: string | null;
  deadlineAt: string | null;
  verdict: string | null;
  reason: string | null;
  endedBy: string | null;
}

/** Registers `ids` as running executions of `kind` with the given limits; throws unless all 201. */
export async function register(
  base: string,
  ids: readonly string[],
  limits: Record<string, string | number | null>,
  concurrency = 32,
): Promise<void> {
  await pool(ids, concurrency, async (id) => {
    const answer = await call(base, 'POST', '/v1/executions', {
      id,
      kind: 'bench',
      status: 'running',
      limits,
    });
    if (answer.status !== 201) {
      throw new Error(`registering ${id}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  });
}

/** Every execution with `status`, paging through GET /v1/executions (bounded). */
export async function listAll(base: string, status: string): Promise<ExecutionJson[]> {
  const items: ExecutionJson[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page++) {
    const query: string = `status=${status}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer: Answer<{ items: ExecutionJson[]; nextCursor: string | null }> = await call(
      base,
      'GET',
      `/v1/executions?${query}`,
    );
    if (answer.status !== 200) throw new Error(`listing ${status}: HTTP ${answer.status}`);
    items.push(...answer.body.items);
    cursor = answer.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error(`listing ${status}: more than 1,000 pages`);
}

/** A value of vigil's Prometheus text, summed over label sets that contain `labels`. */
export function metric(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (labels && !line.includes(labels))) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
