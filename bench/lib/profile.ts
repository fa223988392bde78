/**
 * A short summary of a V8 CPU profile (`node --cpu-prof`): where the time went, by frame (self
 * time) and by area (Vigil's own code, each dependency, Node's internals, the garbage collector).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Vigil } from './common.js';
import { benchSize, fmt, root, startVigil } from './common.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: `src/…`, a package of node_modules, `node:…`, or V8's own. */
function area(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith('node:')) return 'node: internals';
  if (path.startsWith(root)) {
    const top = path.slice(root.length + 1).split('/')[0];
    return top === 'dist' ? 'vigil (dist/)' : top === 'bench' ? 'the benchmark (bench/)' : 'vigil';
  }
  return path;
}

function where(url: string, line: number): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  const short =
    modules >= 0
      ? path.slice(modules + '/node_modules/'.length)
      : path.startsWith(root)
        ? path.slice(root.length + 1)
        : path;
  // TypeScript run through tsx: V8's line is of the transformed code, not of the file.
  if (short.endsWith('.ts')) return short;
  return short === '' ? '' : `${short}:${line + 1}`;
}

/** Markdown lines: the top `top` frames by self time and the areas, as shares of busy time. */
export function summarizeProfile(file: string, title: string, top = 12): string[] {
  return summarizeCpuProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, title, top);
}

/** `summarizeProfile` of a profile already read. */
export function summarizeCpuProfile(
  profile: CpuProfile,
  title: string,
  top = 12,
  leaveOut?: (url: string) => boolean,
): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Frames left out, with everything they called (a profiler's own work, in its own process).
  const out = new Set<number>();
  const leave = (id: number) => {
    out.add(id);
    for (const child of byId.get(id)?.children ?? []) leave(child);
  };
  if (leaveOut)
    for (const n of profile.nodes) if (!out.has(n.id) && leaveOut(n.callFrame.url)) leave(n.id);
  const self = new Map<number, number>();
  let leftOut = 0;
  profile.samples.forEach((id, i) => {
    if (out.has(id)) leftOut += profile.timeDeltas[i] ?? 0;
    else self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const frame = `\`${functionName || '(anonymous)'}\` ${where(url, lineNumber)}`.trim();
    frames.set(frame, (frames.get(frame) ?? 0) + us);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const wall = (profile.endTime - profile.startTime) / 1e6;
  const share = (us: number) => `${fmt((us / busy) * 100, 1)} %`;
  const sorted = (m: Map<string, number>, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  return [
    `#### ${title}`,
    '',
    leftOut > 0
      ? `Busy ${fmt(busy / 1e6, 1)} s of ${fmt(wall, 1)} s profiled (the profiler's own ${fmt(leftOut / 1e6, 1)} s left out; the rest idle).`
      : `Busy ${fmt(busy / 1e6, 1)} s of ${fmt(wall, 1)} s profiled (the rest idle).`,
    '',
    '| Area | Self time |',
    '| --- | ---: |',
    ...sorted(areas, 8).map(([a, us]) => `| ${a} | ${share(us)} |`),
    '',
    '| Top frames (self time) | Share |',
    '| --- | ---: |',
    ...sorted(frames, top).map(([f, us]) => `| ${f.replaceAll('|', '\\|')} | ${share(us)} |`),
    '',
  ];
}

/** Whether a benchmark profiles: at full size, unless VIGIL_BENCH_PROFILE=0. */
export function profiling(): boolean {
  return benchSize() === 'full' && process.env.VIGIL_BENCH_PROFILE !== '0';
}

/**
 * Starts `vigil serve` as `startVigil` does, under `node --cpu-prof`; `summary` (after
 * `vigil.stop()`, which lets the server write its profile on exit) summarises the profile.
 */
export async function startProfiledVigil(
  yaml: string,
  overrides: Record<string, string> = {},
): Promise<{ vigil: Vigil; summary: (title: string) => string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prof-'));
  const previous = process.env.VIGIL_BENCH_NODE_ARGS;
  process.env.VIGIL_BENCH_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${dir}`;
  let vigil: Vigil;
  try {
    vigil = await startVigil(yaml, overrides);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    if (previous === undefined) delete process.env.VIGIL_BENCH_NODE_ARGS;
    else process.env.VIGIL_BENCH_NODE_ARGS = previous;
  }
  const summary = (title: string) => {
    try {
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      return file
        ? summarizeProfile(join(dir, file), title)
        : [`#### ${title}`, '', 'No profile was written.', ''];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { vigil, summary };
}

/**
 * Profiles this process (node:inspector) while `fn` runs; `summary` is its summary, without the
 * profiler's own frames (node:inspector, and what it calls). Native calls without a frame of
 * their own (better-sqlite3's into SQLite, for one) are `(anonymous)`, in the area `(native)`.
 */
export async function profileThisProcess<T>(
  title: string,
  fn: () => Promise<T>,
): Promise<{ result: T; summary: string[] }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      await session.post('Profiler.stop'); // no profiler left running after a failed run
      throw error;
    }
    const { profile } = await session.post('Profiler.stop');
    const inspector = (url: string) =>
      url === 'node:inspector' || url === 'node:inspector/promises';
    return {
      result,
      summary: summarizeCpuProfile(profile as CpuProfile, title, 12, inspector),
    };
  } finally {
    session.disconnect();
  }
}
