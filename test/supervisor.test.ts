/**
 * The supervisor against real processes: small node scripts that beat through the real
 * HeartbeatWriter, real signals, a real store (SQLite file and PostgreSQL). The clock is fake; the
 * only real waiting is for processes to write their first beat or to exit, polled with `until`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { processInfo, processStartTime } from '../src/shared/proc.js';
import { Supervisor } from '../src/supervisor/supervisor.js';
import type { Harness } from './helpers.js';
import { S, describeEach, harness } from './helpers.js';
import { until } from './process-helpers.js';
import {
  beatIn,
  childOf,
  ensureBuilt,
  isAlive,
  killGroup,
  spawnBystander,
  writeBeater,
} from './supervisor-helpers.js';

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);

await describeEach(['sqlite', 'postgres'] as const, 'supervisor on %s', (kind) => {
  let h: Harness;
  let beater: string;
  const leftovers: (number | null)[] = [];

  beforeEach(async () => {
    h = await harness(kind);
    h.clock.set(Date.now());
    beater = writeBeater(h.dir);
  });
  afterEach(async () => {
    for (const pid of leftovers.splice(0)) killGroup(pid);
    await h.close();
  });
  afterAll(() => undefined);

  /** A supervisor over these `processes:` entries (each gets the beater as its start command). */
  function supervise(processes: Record<string, Record<string, unknown>>) {
    const config = parseConfig({ processes });
    return new Supervisor({
      store: h.store,
      processes: config.processes,
      clock: h.clock,
      events: h.bus,
      leaseWaitMs: 0,
    });
  }
  const file = (name: string) => join(h.dir, `${name}.heartbeat.json`);
  const beaterStart = (env: Record<string, string> = {}) => ({
    command: [process.execPath, beater],
    window: '300ms',
    env,
  });

  it('kills a process that stopped beating, with its children, and restarts it after N checks', async () => {
    const supervisor = supervise({
      web: {
        heartbeatFile: file('web'),
        heartbeat: '5s',
        unhealthyAfter: 2,
        startupGrace: '1s',
        stopGrace: '300ms',
        // It ignores SIGTERM: only the SIGKILL after the grace stops it.
        start: beaterStart({ IGNORE_TERM: '1' }),
      },
    });
    expect((await supervisor.on('web')).ok).toBe(true);
    const [first] = await supervisor.status();
    const oldPid = first!.pid!;
    leftovers.push(oldPid);
    const oldChild = await until(() => beatIn(file('web'), oldPid) && childOf(file('web')), {
      what: 'the first beat',
    });
    expect(processInfo(oldChild)?.pgrp).toBe(oldPid);

    h.clock.set(Date.now());
    expect(await supervisor.checkAll()).toMatchObject([{ verdict: 'healthy', action: 'none' }]);

    h.clock.advance(10 * S); // silence: the process is alive but no longer beats
    const [one] = await supervisor.checkAll();
    expect(one).toMatchObject({
      verdict: 'timed_out',
      action: 'none',
      why: 'unhealthy 1 of 2 checks',
    });
    expect(isAlive(oldPid)).toBe(true);

    h.clock.advance(S);
    const [two] = await supervisor.checkAll();
    expect(two).toMatchObject({ verdict: 'timed_out', action: 'recovered' });
    expect(two!.recovery!.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['kill', 'ok'],
      ['start', 'ok'],
    ]);
    expect(two!.recovery!.steps[0]!.evidence).toMatchObject({
      signals: { [`process group ${oldPid}`]: ['SIGTERM', 'SIGKILL'] },
    });
    expect(isAlive(oldPid)).toBe(false);
    expect(isAlive(oldChild)).toBe(false);
    expect(h.events.map((e) => e.type)).toEqual(['process:unhealthy']);

    const [after] = await supervisor.status();
    expect(after).toMatchObject({ restarts: 1, consecutiveUnhealthy: 0, enabled: true });
    const newPid = after!.pid!;
    leftovers.push(newPid);
    expect(newPid).not.toBe(oldPid);
    expect(isAlive(newPid)).toBe(true);
    expect(after!.nextRestartAt).toBe(h.clock.now() + S);

    // The new process beats; once the clock is back at its time, it is healthy again.
    await until(() => beatIn(file('web'), newPid), { what: 'the restarted process to beat' });
    h.clock.set(Date.now());
    expect(await supervisor.checkAll()).toMatchObject([{ verdict: 'healthy' }]);
    expect(h.events.map((e) => e.type)).toEqual(['process:unhealthy', 'process:recovered']);
    expect(h.events[1]).toMatchObject({ name: 'web', verdict: 'healthy' });

    const audit = await h.store.processes().listRecoveries({ name: 'web', limit: 10 });
    expect(audit.map((r) => [r.trigger, r.outcome])).toEqual([
      ['timed_out', 'ok'],
      ['operator:on', 'ok'],
    ]);
    expect((await supervisor.off('web')).ok).toBe(true);
    expect(isAlive(newPid)).toBe(false);
  });

  it('never signals an unrelated process that now has the heartbeat pid', async () => {
    const bystander = spawnBystander(h.dir);
    leftovers.push(bystander.pid);
    await until(() => existsSync(`${bystander.signalFile}.ready`), { what: 'the bystander' });
    const realStart = processStartTime(bystander.pid)!;
    // Its pid, but another start time: the process that wrote this beat is long gone.
    writeFileSync(
      file('ghost'),
      JSON.stringify({
        name: 'ghost',
        pid: bystander.pid,
        startedAt: new Date(realStart - 3_600 * S).toISOString(),
        at: new Date(h.clock.now()).toISOString(),
        status: 'ok',
        seq: 7,
      }),
    );
    const supervisor = supervise({
      ghost: { heartbeatFile: file('ghost'), start: beaterStart() },
    });

    const [one] = await supervisor.checkAll();
    expect(one).toMatchObject({ verdict: 'stale_pid', action: 'none' });
    expect(one!.reason).toContain(`pid ${bystander.pid} now belongs to another process`);
    const [two] = await supervisor.checkAll();
    leftovers.push((await supervisor.status())[0]!.pid); // killed after the test, should it fail
    expect(two).toMatchObject({ verdict: 'stale_pid', action: 'recovered' });
    const [kill, start] = two!.recovery!.steps;
    expect(kill).toMatchObject({ step: 'kill', outcome: 'skipped' });
    expect(kill!.detail).toContain('now belongs to another process');
    expect(start).toMatchObject({ step: 'start', outcome: 'ok' });

    expect(isAlive(bystander.pid)).toBe(true);
    expect(existsSync(bystander.signalFile)).toBe(false);
    expect(processStartTime(bystander.pid)).toBe(realStart);

    // Stopping "ghost" stops what Vigil started, and still leaves the bystander alone.
    expect((await supervisor.off('ghost')).ok).toBe(true);
    expect(isAlive(bystander.pid)).toBe(true);
    expect(existsSync(bystander.signalFile)).toBe(false);
  });

  it('a heartbeat without a start time: a pid that started after the beat is never signalled', async () => {
    const bystander = spawnBystander(h.dir);
    leftovers.push(bystander.pid);
    await until(() => existsSync(`${bystander.signalFile}.ready`), { what: 'the bystander' });
    const realStart = processStartTime(bystander.pid)!;
    // A Python writer's beat, a minute older than the process that has its pid now.
    writeFileSync(
      file('py'),
      JSON.stringify({
        process_key: 'py',
        pid: bystander.pid,
        timestamp: (realStart - 60 * S) / 1_000,
        status: 'running',
        iteration: 3,
      }),
    );
    const supervisor = supervise({
      py: {
        heartbeatFile: file('py'),
        heartbeatFormat: {
          name: 'process_key',
          at: 'timestamp',
          startedAt: false,
          seq: 'iteration',
          time: 'epoch-seconds',
        },
        start: beaterStart(),
      },
    });

    const [one] = await supervisor.checkAll();
    expect(one).toMatchObject({ verdict: 'stale_pid', action: 'none' });
    expect(one!.reason).toContain(`pid ${bystander.pid} now belongs to another process`);
    const [two] = await supervisor.checkAll();
    leftovers.push((await supervisor.status())[0]!.pid);
    expect(two).toMatchObject({ verdict: 'stale_pid', action: 'recovered' });
    expect(two!.recovery!.steps.map((step) => step.step)).toEqual(['kill', 'start']);
    expect(two!.recovery!.steps[0]!.outcome).not.toBe('failed');

    expect(isAlive(bystander.pid)).toBe(true);
    expect(existsSync(bystander.signalFile)).toBe(false);
    expect((await supervisor.off('py')).ok).toBe(true);
    expect(existsSync(bystander.signalFile)).toBe(false);
  });

  it('a start command that exits at once is a failed recovery; restarts back off, then give up', async () => {
    const supervisor = supervise({
      bad: {
        heartbeatFile: file('bad'),
        start: { command: 'echo "cannot bind port" >&2; exit 3', window: '5s' },
        backoff: { initial: '1s', max: '1m' },
        giveUpAfter: 2,
      },
    });
    expect(await supervisor.checkAll()).toMatchObject([
      { verdict: 'no_heartbeat', action: 'none' },
    ]);
    const [first] = await supervisor.checkAll();
    expect(first).toMatchObject({ action: 'recovery_failed' });
    const start = first!.recovery!.steps.find((s) => s.step === 'start')!;
    expect(start.outcome).toBe('failed');
    expect(start.detail).toContain('exit code 3');
    expect(start.evidence.logTail).toContain('cannot bind port');
    expect((await supervisor.status())[0]).toMatchObject({
      restarts: 0,
      nextRestartAt: h.clock.now() + S,
      gaveUp: false,
    });

    // Within the backoff: no new attempt, however often it is checked.
    const [waiting] = await supervisor.checkAll();
    expect(waiting).toMatchObject({ action: 'none', recovery: null });
    expect(waiting!.why).toMatch(/^backing off: next restart in/);

    h.clock.advance(S);
    const [second] = await supervisor.checkAll();
    expect(second).toMatchObject({ action: 'gave_up' });
    expect(second!.recovery!.outcome).toBe('failed');
    expect(h.events.map((e) => e.type)).toEqual(['process:unhealthy', 'process:gave-up']);

    h.clock.advance(3_600 * S);
    const [later] = await supervisor.checkAll();
    expect(later).toMatchObject({ action: 'none', recovery: null });
    expect(later!.why).toContain('gave up');
    expect((await supervisor.status())[0]).toMatchObject({ gaveUp: true });
    expect(await h.store.processes().listRecoveries({ name: 'bad', limit: 10 })).toHaveLength(2);
  });

  it('"off" survives further checks and a restart of Vigil, until "on"', async () => {
    const processes = {
      api: { heartbeatFile: file('api'), startupGrace: '1s', start: beaterStart() },
    };
    const supervisor = supervise(processes);
    await supervisor.on('api');
    const pid = (await supervisor.status())[0]!.pid!;
    leftovers.push(pid);
    await until(() => beatIn(file('api'), pid), { what: 'the first beat' });

    expect((await supervisor.off('api')).ok).toBe(true);
    expect(isAlive(pid)).toBe(false);
    for (let i = 0; i < 4; i++) {
      h.clock.advance(60 * S);
      expect(await supervisor.checkAll()).toMatchObject([
        { action: 'none', why: 'off: not supervised until turned on' },
      ]);
    }
    // A new Vigil (another process, same store) sees it off too.
    const another = h.openAnother();
    try {
      const restarted = new Supervisor({
        store: another,
        processes: parseConfig({ processes }).processes,
        clock: h.clock,
        events: h.bus,
      });
      h.clock.advance(60 * S);
      expect(await restarted.checkAll()).toMatchObject([{ action: 'none' }]);
      expect((await restarted.status())[0]).toMatchObject({
        enabled: false,
        pid: null,
        restarts: 0,
      });
    } finally {
      await another.close();
    }
    expect(await h.store.processes().listRecoveries({ name: 'api', limit: 10 })).toHaveLength(2);

    expect((await supervisor.on('api')).ok).toBe(true);
    const back = (await supervisor.status())[0]!;
    leftovers.push(back.pid);
    expect(back.enabled).toBe(true);
    expect(isAlive(back.pid)).toBe(true);
    await supervisor.off('api');
  });

  it('a corrupt heartbeat file for one process does not stop checks of the others', async () => {
    writeFileSync(file('corrupt'), '{"name": "corrupt", "pid": 12');
    mkdirSync(file('directory'));
    const supervisor = supervise({
      corrupt: { heartbeatFile: file('corrupt'), unhealthyAfter: 5 },
      directory: { heartbeatFile: file('directory'), unhealthyAfter: 5 },
      fine: { heartbeatFile: file('fine'), startupGrace: '1s', start: beaterStart() },
    });
    await supervisor.on('fine');
    const pid = (await supervisor.status()).find((s) => s.name === 'fine')!.pid!;
    leftovers.push(pid);
    await until(() => beatIn(file('fine'), pid), { what: 'the first beat' });
    h.clock.set(Date.now());

    const results = await supervisor.checkAll();
    expect(results.map((r) => [r.name, r.verdict])).toEqual([
      ['corrupt', 'no_heartbeat'],
      ['directory', 'no_heartbeat'],
      ['fine', 'healthy'],
    ]);
    expect(results[0]!.reason).toContain('not valid JSON (partial or corrupt)');
    expect(results[1]!.reason).toContain('EISDIR');
    const status = await supervisor.status();
    expect(status.map((s) => s.lastCheckAt)).toEqual([h.clock.now(), h.clock.now(), h.clock.now()]);
    await supervisor.off('fine');
  });

  it('a second checker does not act on a process while the first holds its lease', async () => {
    const supervisor = supervise({ held: { heartbeatFile: file('held'), unhealthyAfter: 1 } });
    expect(
      await h.store.acquireLease('process:held', 'cron-elsewhere', h.clock.now(), 60 * S),
    ).toBe(true);
    expect(await supervisor.checkAll()).toMatchObject([{ action: 'skipped', verdict: null }]);
    expect(await supervisor.off('held')).toMatchObject({ ok: false });
    expect((await supervisor.status())[0]).toMatchObject({ lastCheckAt: null, enabled: true });

    await h.store.releaseLease('process:held', 'cron-elsewhere');
    expect(await supervisor.checkAll()).toMatchObject([{ verdict: 'no_heartbeat' }]);
  });
});
