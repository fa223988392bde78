/** The SDK's HeartbeatWriter, and reading heartbeat files in every state a real file can be in. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { HeartbeatWriter } from '../src/sdk/index.js';
import { processStartTime } from '../src/shared/proc.js';
import { observeProcess } from '../src/supervisor/supervisor.js';
import { S, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const configFor = (file: string) =>
  parseConfig({ processes: { web: { heartbeatFile: file, heartbeat: '30s' } } }).processes[0]!;

describe('HeartbeatWriter', () => {
  it('writes {name, pid, startedAt, at, status, seq} atomically and removes the file on stop', () => {
    const file = join(dir, 'run', 'web.json');
    const writer = new HeartbeatWriter({ file, name: 'web' });
    writer.beat();
    writer.beat('busy');
    const beat = JSON.parse(readFileSync(file, 'utf8'));
    expect(beat).toEqual({
      name: 'web',
      pid: process.pid,
      startedAt: new Date(processStartTime(process.pid)!).toISOString(),
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      status: 'busy',
      seq: 2,
    });
    // Written through a temporary file and a rename: nothing else is left beside it.
    expect(readdirSync(join(dir, 'run'))).toEqual(['web.json']);
    expect(observeProcess(configFor(file), null, Date.parse(beat.at) + S)).toMatchObject({
      verdict: 'healthy',
      isIdentityVerified: true,
    });

    writer.stop();
    expect(existsSync(file)).toBe(false);
    writer.beat(); // a stopped writer writes nothing
    expect(existsSync(file)).toBe(false);
  });

  it('takes its file and name from VIGIL_HEARTBEAT_FILE and VIGIL_PROCESS_NAME', () => {
    const file = join(dir, 'env.json');
    process.env.VIGIL_HEARTBEAT_FILE = file;
    process.env.VIGIL_PROCESS_NAME = 'from-env';
    try {
      const writer = new HeartbeatWriter();
      writer.beat();
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ name: 'from-env', seq: 1 });
    } finally {
      delete process.env.VIGIL_HEARTBEAT_FILE;
      delete process.env.VIGIL_PROCESS_NAME;
    }
    expect(() => new HeartbeatWriter()).toThrow(/VIGIL_HEARTBEAT_FILE/);
  });
});

describe('reading a heartbeat file never crashes: a verdict with evidence', () => {
  const now = Date.now();
  const startedAt = new Date(processStartTime(process.pid)!).toISOString();
  const beat = (fields: Record<string, unknown> = {}) =>
    JSON.stringify({
      name: 'web',
      pid: process.pid,
      startedAt,
      at: new Date(now).toISOString(),
      status: 'ok',
      seq: 1,
      ...fields,
    });

  it.each([
    ['a missing file', null, 'no_heartbeat', 'no heartbeat file'],
    [
      'an empty file (a writer without rename, caught mid-write)',
      '',
      'no_heartbeat',
      'the file is empty',
    ],
    ['a partial file', beat().slice(0, 30), 'no_heartbeat', 'not valid JSON (partial or corrupt)'],
    ['binary garbage', '\u0000\u0001\u0002', 'no_heartbeat', 'not valid JSON'],
    ['a JSON array', '[1, 2]', 'no_heartbeat', 'expected a JSON object'],
    [
      'a time without a timezone',
      beat({ at: '2026-01-01T12:00:00' }),
      'no_heartbeat',
      'at: expected an ISO-8601 time with a timezone (Z or +hh:mm), got "2026-01-01T12:00:00"',
    ],
    [
      'a pid that is not a number',
      beat({ pid: 'x' }),
      'no_heartbeat',
      'pid: expected a positive integer',
    ],
    [
      'a beat from the future',
      beat({ at: new Date(now + 3_600 * S).toISOString() }),
      'no_heartbeat',
      'heartbeat dated 1h in the future: not proof of life',
    ],
    ["another process's file", beat({ name: 'api' }), 'no_heartbeat', 'names process "api"'],
    [
      'an old beat',
      beat({ at: new Date(now - 31 * S).toISOString() }),
      'timed_out',
      'no heartbeat for 31s, limit 30s',
    ],
    [
      'a beat exactly at the limit',
      beat({ at: new Date(now - 30 * S).toISOString() }),
      'healthy',
      'beat 30s ago',
    ],
    [
      'a beat with an offset timezone',
      beat({ at: '2026-01-01T13:00:00+01:00' }),
      'timed_out',
      'no heartbeat for',
    ],
    [
      'an error status',
      beat({ status: 'error: disk full' }),
      'error_status',
      'reports status "error: disk full"',
    ],
    [
      'a pid whose start time differs',
      beat({ startedAt: '2020-01-01T00:00:00Z' }),
      'stale_pid',
      'now belongs to another process',
    ],
    ['a pid that is not running', beat({ pid: 2 ** 22 + 1 }), 'stale_pid', 'is not running'],
  ])('%s', (_what, content, verdict, reason) => {
    const file = join(dir, 'web.json');
    if (content !== null) writeFileSync(file, content);
    const judgement = observeProcess(configFor(file), null, now);
    expect(judgement.verdict).toBe(verdict);
    expect(judgement.reason).toContain(reason);
    expect(judgement.evidence).toBeTypeOf('object');
  });
});
