import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { openPostgresStore } from '../src/stores/postgres.js';
import { POSTGRES_URL, postgresAvailable, tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { startVigil, until } from './process-helpers.js';

const available = await postgresAvailable();
const OVERDUE = 3_000;

describe.runIf(available)('three vigil serve replicas on one PostgreSQL', () => {
  const schema = `vigil_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const { dir, cleanup } = tempDir();
  const replicas: VigilProcess[] = [];
  const db = new pg.Client({ connectionString: POSTGRES_URL });
  const count = async (text: string) =>
    Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${text}`)).rows[0]!.n,
    );

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.end();
    cleanup();
  });

  it('remediate executions made overdue at once exactly once each, even when the sweeping replica is killed -9', async () => {
    await db.connect();
    const store = openPostgresStore(POSTGRES_URL, { schema });
    await store.migrate();
    const past = Date.now() - 20 * 60_000;
    for (let i = 0; i < OVERDUE; i++) {
      await store.create(
        {
          id: `job-${i}`,
          kind: 'k',
          owner: null,
          parentId: null,
          status: 'running',
          limits: { ...DEFAULT_LIMITS },
          metadata: {},
        },
        past,
      );
    }
    await store.close();

    // A short lease, so that a replica killed mid-sweep blocks the others for at most 2 s.
    writeFileSync(
      join(dir, 'vigil.yaml'),
      'sweep:\n  interval: 1s\n  lease: 2s\n  batchSize: 200\n',
    );
    const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    for (let i = 0; i < 3; i++) replicas.push(await startVigil(dir, { VIGIL_DATABASE_URL: url }));

    // Kill -9 whichever replica is sweeping, in the middle of its sweep.
    await until(async () => (await count("executions WHERE status = 'failed'")) > 0, {
      what: 'a first remediation',
    });
    const holder = (
      await db.query<{ holder: string }>(`SELECT holder FROM ${schema}.leases WHERE name = 'sweep'`)
    ).rows[0]?.holder;
    const victim = replicas.find((r) => holder?.includes(`:${r.child.pid}:`));
    const endedBeforeKill = await count("executions WHERE status = 'failed'");
    expect(victim, `the lease holder ${holder ?? '(none)'} is one of the replicas`).toBeDefined();
    expect(endedBeforeKill).toBeLessThan(OVERDUE);
    victim!.child.kill('SIGKILL');

    await until(async () => (await count("executions WHERE status = 'failed'")) === OVERDUE, {
      what: `all ${OVERDUE} executions to be remediated`,
      timeoutMs: 60_000,
    });

    expect(await count('remediations WHERE dry_run = 0')).toBe(OVERDUE);
    const distinct = await db.query<{ n: string }>(
      `SELECT count(DISTINCT execution_id) AS n FROM ${schema}.remediations`,
    );
    expect(Number(distinct.rows[0]!.n)).toBe(OVERDUE);
    // Nothing half-remediated: every ended execution has its attempt record, and no more.
    expect(await count('attempts')).toBe(OVERDUE);
    expect(await count("executions WHERE status <> 'failed'")).toBe(0);
    for (const replica of replicas.filter((r) => r !== victim)) {
      expect(replica.output()).not.toMatch(/"level":50|deadlock|unexpected error/i);
    }
  });
});
