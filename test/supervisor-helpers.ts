/** Helpers for the supervisor's tests: small node scripts that beat with the real HeartbeatWriter. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHeartbeat } from '../src/core/process-health.js';
import type { ProcessHeartbeat } from '../src/core/process-health.js';
import { processStartTime } from '../src/shared/proc.js';
import { ROOT } from './runner-helpers.js';

export { ensureBuilt } from './runner-helpers.js';

/**
 * Writes `beater.mjs` into `dir`: it beats once through the SDK's HeartbeatWriter (from dist/, as
 * a user's process would import it), starts a child process in its own process group and writes
 * the child's pid beside the heartbeat, then stays alive without beating again: a hung process.
 * With IGNORE_TERM=1 it ignores SIGTERM, so only SIGKILL stops it.
 */
export function writeBeater(dir: string): string {
  const script = join(dir, 'beater.mjs');
  writeFileSync(
    script,
    `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { HeartbeatWriter } from ${JSON.stringify(join(ROOT, 'dist/sdk/index.js'))};
if (process.env.IGNORE_TERM === '1') process.on('SIGTERM', () => {});
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
const writer = new HeartbeatWriter();
writeFileSync(writer.file + '.child', String(child.pid));
writer.beat(process.env.BEAT_STATUS ?? 'ok');
setInterval(() => {}, 1e9);
`,
  );
  return script;
}

/** The heartbeat in `file` once it parses (and, if given, names `pid`). */
export function beatIn(file: string, pid?: number): ProcessHeartbeat | null {
  if (!existsSync(file)) return null;
  const parsed = parseHeartbeat(readFileSync(file, 'utf8'));
  if (!parsed.ok) return null;
  return pid === undefined || parsed.beat.pid === pid ? parsed.beat : null;
}

/** The pid of the child the beater started, once it wrote it. */
export function childOf(heartbeatFile: string): number | null {
  try {
    return Number(readFileSync(`${heartbeatFile}.child`, 'utf8')) || null;
  } catch {
    return null;
  }
}

export const isAlive = (pid: number | null): boolean =>
  pid !== null && processStartTime(pid) !== null;

/**
 * A process that has nothing to do with Vigil: in its own group, it records any SIGTERM it gets
 * in `signalFile` and lives on. Resolves once its handler is installed.
 */
export function spawnBystander(dir: string): { pid: number; signalFile: string; kill: () => void } {
  const signalFile = join(dir, 'bystander.signals');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs');
       process.on('SIGTERM', () => fs.appendFileSync(${JSON.stringify(signalFile)}, 'SIGTERM\\n'));
       process.on('SIGINT', () => fs.appendFileSync(${JSON.stringify(signalFile)}, 'SIGINT\\n'));
       fs.writeFileSync(${JSON.stringify(`${signalFile}.ready`)}, 'ready');
       setInterval(() => {}, 1e9);`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  return {
    pid: child.pid!,
    signalFile,
    kill: () => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    },
  };
}

/** Kills a process group left behind by a failed test. */
export function killGroup(pgid: number | null): void {
  if (pgid === null) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone
  }
}
