import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { openPostgresStore } from '../src/stores/postgres.js';
import {
  POSTGRES_URL,
  REDIS_URL,
  dropSchemas,
  postgresAvailable,
  redisAvailable,
  schemaName,
  schemaUrl,
  tempDir,
} from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { startVigil, until } from './process-helpers.js';

const available = await postgresAvailable();
const OVERDUE = 10_000;
const redis = await redisAvailable();

describe.runIf(available && redis)(
  'three vigil serve replicas on one PostgreSQL, slots in Redis',
  () => {
    const schema = schemaName();
    const { dir, cleanup } = tempDir();
    const replicas: VigilProcess[] = [];
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    const slots = createClient({ url: REDIS_URL });
    const prefix = `vigil-replicas:${schema}:`;
    const count = async (text: string) =>
      Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${text}`)).rows[0]!.n,
      );

    afterAll(async () => {
      await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
      await dropSchemas(schema).catch(() => undefined);
      await db.end();
      for (const key of await slots.keys(`${prefix}*`)) await slots.del(key);
      await slots.close();
      cleanup();
    });

    it('remediate executions made overdue at once exactly once each, releasing each one’s slot, even when the sweeping replica is killed -9', async () => {
      await db.connect();
      await slots.connect();
      const store = openPostgresStore(POSTGRES_URL, { schema });
      await store.migrate();
      await store.close();
      // 10,000 executions that started 20 minutes ago under a 15-minute run limit, each holding
      // one capacity slot in Redis (written in bulk: the registration path is not under test).
      const past = Date.now() - 20 * 60_000;
      await db.query(
        `INSERT INTO ${schema}.executions (id, kind, status, attempt, queued_at, started_at,
         deadline_at, limit_run, metadata, termination_failures, created_at)
       SELECT 'job-' || i, 'k', 'running', 1, $1::bigint, $1::bigint, $1::bigint + 900000, 900000,
         '{}', 0, $1::bigint
       FROM generate_series(0, ${OVERDUE - 1}) AS i`,
        [past],
      );
      await db.query(
        `INSERT INTO ${schema}.slot_holds (execution_id, attempt, slot, acquired_at)
       SELECT 'job-' || i, 1, 'agent:' || (i % 100) || ':slot:' || i, $1::bigint
       FROM generate_series(0, ${OVERDUE - 1}) AS i`,
        [past],
      );
      await Promise.all(
        Array.from({ length: OVERDUE }, (_, i) =>
          slots.set(`${prefix}agent:${i % 100}:slot:${i}`, `1:job-${i}`),
        ),
      );

      // A short lease, so that a replica killed mid-sweep blocks the others for at most 5 s.
      writeFileSync(
        join(dir, 'vigil.yaml'),
        `sweep:\n  interval: 1s\n  lease: 5s\n  batchSize: 200\nredis:\n  keyPrefix: "${prefix}"\n`,
      );
      const url = schemaUrl(schema);
      for (let i = 0; i < 3; i++)
        replicas.push(
          await startVigil(dir, { VIGIL_DATABASE_URL: url, VIGIL_REDIS_URL: REDIS_URL }),
        );

      // Kill -9 whichever replica is sweeping, in the middle of its sweep.
      await until(async () => (await count("executions WHERE status = 'failed'")) > 0, {
        what: 'a first remediation',
      });
      const holder = (
        await db.query<{ holder: string }>(
          `SELECT holder FROM ${schema}.leases WHERE name = 'sweep'`,
        )
      ).rows[0]?.holder;
      const victim = replicas.find((r) => holder?.includes(`:${r.child.pid}:`));
      const endedBeforeKill = await count("executions WHERE status = 'failed'");
      expect(victim, `the lease holder ${holder ?? '(none)'} is one of the replicas`).toBeDefined();
      expect(endedBeforeKill).toBeLessThan(OVERDUE);
      victim!.child.kill('SIGKILL');
      // Never the reverse of half-remediated: no slot was released for an execution still running.
      expect(
        await count(
          `slot_holds h JOIN ${schema}.executions e ON e.id = h.execution_id
         WHERE h.released_at IS NOT NULL AND e.status = 'running'`,
        ),
      ).toBe(0);

      await until(async () => (await count("executions WHERE status = 'failed'")) === OVERDUE, {
        what: `all ${OVERDUE} executions to be remediated`,
        timeoutMs: 200_000,
      });
      // Nor ended with its slot still held: every slot is released, in the audit and in Redis.
      await until(async () => (await count('slot_holds WHERE released_at IS NULL')) === 0, {
        what: 'every slot to be released',
        // A release cut short is retried once it has been due for 10 s (STALE_RELEASE_MS).
        timeoutMs: 60_000,
      });
      expect(await slots.keys(`${prefix}*`)).toEqual([]);
      // A release the victim sent to Redis but did not live to record is finished by another
      // replica, which finds the slot already free and says so (`already_free`) rather than claim
      // it; that can only be the last page the victim was releasing. None was taken by another.
      const released = await count("slot_holds WHERE release_outcome = 'released'");
      const alreadyFree = await count("slot_holds WHERE release_outcome = 'already_free'");
      expect(released + alreadyFree).toBe(OVERDUE);
      expect(alreadyFree).toBeLessThanOrEqual(200);

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
    }, 240_000);
  },
);
