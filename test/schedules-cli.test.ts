import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { tempDir } from './helpers.js';
import type { EventStream, VigilProcess } from './process-helpers.js';
import { api, runVigil, startVigil, subscribe, until } from './process-helpers.js';

const HOUR = 3_600_000;

let dir: string;
let cleanup: () => void;
let vigil: VigilProcess | undefined;
let stream: EventStream | undefined;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  stream?.close();
  stream = undefined;
  await vigil?.stop();
  vigil = undefined;
  cleanup();
});

function writeConfig(schedules: object) {
  writeFileSync(
    join(dir, 'vigil.json'),
    JSON.stringify({ database: 'sqlite:vigil.db', sweep: { interval: '200ms' }, schedules }),
  );
}

/** Vigil judged this schedule last three hours ago, then was down. */
async function judgedHoursAgo(name: string, hours: number) {
  const store = openSqliteStore(join(dir, 'vigil.db'));
  try {
    await store.migrate();
    const lastHour = Math.floor(Date.now() / HOUR) * HOUR;
    await store.schedules().ensureSchedule(name, lastHour - hours * HOUR, Date.now());
  } finally {
    await store.close();
  }
}

describe('schedules through the real binary', () => {
  it('judges the due times it missed while down, then a vigil exec --schedule run is late; pings and vigil schedules', async () => {
    writeConfig({ nightly: { cron: '0 * * * *', tz: 'UTC', grace: '0s' } });
    await judgedHoursAgo('nightly', 3);
    vigil = await startVigil(dir);
    stream = await subscribe(vigil.url);
    const recent = async () =>
      (await api(vigil!.url, 'GET', '/v1/schedules')).json.items[0].recent as {
        dueAt: string;
        verdict: string;
        count: number;
      }[];
    // Three hourly due times fell while it was down (four when the hour turns meanwhile), each
    // judged missed on its own; the first pass may run before the event stream is connected.
    await until(async () => (await recent()).length >= 3, { what: 'the missed due times' });
    const judged = await recent();
    expect(judged.every((v) => v.verdict === 'missed' && v.count === 1)).toBe(true);
    expect(new Set(judged.map((v) => v.dueAt)).size).toBe(judged.length);
    const missed = () => stream!.events.filter((e) => e.type === 'schedule:missed');

    const env = { VIGIL_URL: vigil.url };
    const exec = await runVigil(['exec', '--schedule', 'nightly', '--', 'sh', '-c', 'exit 0'], {
      cwd: dir,
      env,
    });
    expect(exec.code).toBe(0);
    await until(() => stream!.events.find((e) => e.type === 'schedule:late'), {
      what: 'schedule:late',
    });
    await until(async () => {
      const { json } = await api(vigil!.url, 'GET', '/v1/schedules');
      return json.items[0]?.state === 'late' ? json : undefined;
    });
    // Not missed twice: the late run turned the last miss late.
    expect((await recent())[0]?.verdict).toBe('late');
    const misses = missed().length;

    const failed = await runVigil(['exec', '--schedule', 'nightly', '--', 'sh', '-c', 'exit 4'], {
      cwd: dir,
      env,
    });
    expect(failed.code).toBe(4);
    await until(() => stream!.events.find((e) => e.type === 'schedule:failed'), {
      what: 'schedule:failed',
    });
    expect(stream.events.find((e) => e.type === 'schedule:failed')?.data).toMatchObject({
      schedule: 'nightly',
      reason: 'exit code 4',
    });

    const unknown = await runVigil(['exec', '--schedule', 'nope', '--', 'true'], { cwd: dir, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'no schedule named "nope" in "schedules:" or defined through the API',
    );
    expect(await api(vigil.url, 'POST', '/v1/schedules/nope/ping')).toMatchObject({
      status: 404,
    });
    expect(
      await api(vigil.url, 'POST', '/v1/schedules/nightly/ping', { message: 'ok' }),
    ).toMatchObject({
      status: 200,
      json: { schedule: 'nightly', ping: 'success' },
    });
    expect(await api(vigil.url, 'POST', '/v1/schedules/nightly/start', { extra: 1 })).toMatchObject(
      { status: 400 },
    );

    const listed = await runVigil(['schedules'], { cwd: dir });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^NAME\s+SOURCE\s+WHEN\s+GRACE\s+STATE\s+NEXT DUE\s+LAST START$/m,
    );
    expect(listed.stdout).toMatch(
      /^nightly\s+config\s+0 \* \* \* \* \(UTC\)\s+0ms\s+late\s+in \S+/m,
    );
    const json = await runVigil(['schedules', '--json'], { cwd: dir });
    const [item] = (JSON.parse(json.stdout) as { items: Record<string, unknown>[] }).items;
    expect(item).toMatchObject({ name: 'nightly', cron: '0 * * * *', state: 'late' });
    expect(Date.parse(item?.nextDueAt as string)).toBeGreaterThan(Date.now());
    expect(missed().length).toBe(misses);
  });

  it('vigil sweep (cron mode) judges the due times too', async () => {
    writeConfig({ nightly: { cron: '0 * * * *', grace: '0s' } });
    await judgedHoursAgo('nightly', 2);
    const dry = await runVigil(['sweep', '--dry-run'], { cwd: dir });
    expect(dry.code).toBe(0);
    const before = await runVigil(['schedules', '--json'], { cwd: dir });
    expect(JSON.parse(before.stdout).items[0]).toMatchObject({ state: 'waiting', recent: [] });
    const sweep = await runVigil(['sweep'], { cwd: dir });
    expect(sweep.code).toBe(0);
    const after = await runVigil(['schedules', '--json'], { cwd: dir });
    const [item] = JSON.parse(after.stdout).items as { state: string; recent: unknown[] }[];
    expect(item?.state).toBe('missed');
    expect(item?.recent.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses an invalid cron expression or time zone at start, naming the key', async () => {
    writeConfig({
      bad: { cron: '61 * * * *', grace: '1m' },
      zone: { cron: '0 * * * *', tz: 'Mars/Olympus' },
    });
    const run = await runVigil(['serve', '--port', '0'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'schedules.bad.cron: expected a cron expression like "*/5 * * * *", got "61 * * * *"',
    );
    expect(run.stderr).toContain(
      'schedules.zone.tz: expected an IANA time zone like "Europe/Berlin" or "UTC", got "Mars/Olympus"',
    );
    writeConfig({ both: { cron: '0 * * * *', every: '1h' } });
    const both = await runVigil(['serve', '--port', '0'], { cwd: dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      'schedules.both: expected exactly one of "cron" or "every", got both',
    );
  });

  it('vigil schedules set and rm define schedules in the database; a running vigil serve judges them', async () => {
    writeConfig({ nightly: { cron: '0 3 * * *' } });
    vigil = await startVigil(dir);
    const set = await runVigil(['schedules', 'set', 'often', '--every', '2s', '--grace', '0s'], {
      cwd: dir,
    });
    expect(set).toMatchObject({ code: 0, stdout: 'created schedule often\n' });
    const item = async () =>
      (
        (await api(vigil!.url, 'GET', '/v1/schedules')).json.items as Record<string, unknown>[]
      ).find((s) => s.name === 'often');
    // The service reads the definition from the database and judges it: nothing runs, so missed.
    await until(async () => (await item())?.state === 'missed', {
      what: 'the API schedule missed',
    });
    expect(await item()).toMatchObject({ source: 'api', everyMs: 2_000, graceMs: 0 });
    const ping = await api(vigil.url, 'POST', '/v1/schedules/often/ping');
    expect(ping.status).toBe(200);

    const json = await runVigil(
      ['schedules', 'set', 'often', '--cron', '*/5 * * * *', '--tz', 'Europe/Berlin', '--json'],
      { cwd: dir },
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      name: 'often',
      source: 'api',
      cron: '*/5 * * * *',
      tz: 'Europe/Berlin',
      state: 'waiting',
    });
    const listed = await runVigil(['schedules'], { cwd: dir });
    expect(listed.stdout).toMatch(/often\s+api\s+\*\/5 \* \* \* \* \(Europe\/Berlin\)/);
    expect(listed.stdout).toMatch(/nightly\s+config\s+0 3 \* \* \* \(UTC\)/);

    const bad = await runVigil(['schedules', 'set', 'often', '--every', '10', '--table', 'x'], {
      cwd: dir,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--every: give a unit: "10s", "10m" (a number without quotes is milliseconds), got "10"',
    );
    const configured = await runVigil(['schedules', 'rm', 'nightly'], { cwd: dir });
    expect(configured.code).toBe(1);
    expect(configured.stderr).toContain(
      'schedule "nightly" is defined in ' +
        join(dir, 'vigil.json') +
        ' (schedules.nightly) and cannot be deleted',
    );

    const rm = await runVigil(['schedules', 'rm', 'often', '--json'], { cwd: dir });
    expect(rm).toMatchObject({ code: 0 });
    expect(JSON.parse(rm.stdout)).toEqual({ name: 'often', deleted: true });
    expect(await item()).toBeUndefined();
    const again = await runVigil(['schedules', 'rm', 'often'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no schedule named "often" defined through the API');
  });
});
