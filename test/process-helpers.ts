import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const VIGIL_BIN = `${ROOT}bin/vigil.js`;

/**
 * Polls `check` every 20 ms until it returns a truthy value (which is returned), or fails after
 * `timeoutMs`. For waiting on a condition in another process; never a fixed sleep.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 60_000, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port nobody listens on now: connecting to it is a real refused connection. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface VigilProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Sends a signal and waits for the process to exit; resolves its exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** How to launch `vigil`: this repository's binary with this Node, unless told otherwise. */
export interface Launcher {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Run in a process group of its own, and signal the whole group (for wrappers such as npx). */
  group?: boolean;
}

/** Starts the real `vigil serve` binary and waits until it says where it listens. */
export async function startVigil(
  cwd: string,
  env: Record<string, string> = {},
  args: string[] = [],
  launcher: Launcher = { command: process.execPath, args: [VIGIL_BIN] },
): Promise<VigilProcess> {
  const child = spawn(
    launcher.command,
    [...launcher.args, 'serve', '--port', env.VIGIL_PORT ?? '0', ...args],
    {
      cwd,
      env: { ...(launcher.env ?? process.env), VIGIL_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: launcher.group === true,
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await until(() => /listening on (http:\/\/\S+)/.exec(output)?.[1], {
    what: `vigil serve to listen (output so far: ${output})`,
  });
  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        if (launcher.group && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      }
      return exited;
    },
  };
}

export interface EventStream {
  events: { type: string; data: Record<string, unknown> }[];
  close: () => void;
}

/** Subscribes to the SSE stream and collects every event. */
export async function subscribe(
  url: string,
  headers: Record<string, string> = {},
): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/events`, { headers, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`SSE answered ${response.status}`);
  const events: EventStream['events'] = [];
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (type && data)
            events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, close: () => controller.abort() };
}

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

export interface VigilRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `vigil ARGS` binary to its end in `cwd` and resolves how it exited and what it
 * printed: for the defects only a real process shows (an emptied event loop, a timer that keeps it
 * alive, an exit code). `env` adds to (or, with undefined, removes from) the test's environment.
 */
export function runVigil(
  args: string[],
  { cwd, env = {} }: { cwd: string; env?: Record<string, string | undefined> },
): Promise<VigilRun> {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    VIGIL_LOG_LEVEL: 'warn',
    ...env,
  };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, [VIGIL_BIN, ...args], {
    cwd,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
