import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VigilClient } from '../src/sdk/index.js';
import {
  dropSchemas,
  postgresAvailable,
  postgresQuery,
  schemaName,
  schemaUrl,
  tempDir,
} from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { startVigil, until } from './process-helpers.js';

const available = await postgresAvailable();

/**
 * Deadline wake-ups across replicas, with the safety-net sweep pushed out to an hour so that only
 * the deadline scheduler can end anything: an execution registered on one replica and kept alive
 * through the other is still ended when its heartbeats stop, whichever replica took what.
 */
describe.runIf(available)('deadline wake-ups across two replicas', () => {
  const schema = schemaName();
  const { dir, cleanup } = tempDir();
  const replicas: VigilProcess[] = [];

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await dropSchemas(schema);
    cleanup();
  });

  it('registered on A and beaten through B (and the reverse): ended once the beats stop', async () => {
    await postgresQuery(`CREATE SCHEMA ${schema}`);
    writeFileSync(join(dir, 'vigil.yaml'), 'sweep:\n  interval: 1h\n');
    const url = schemaUrl(schema);
    for (let i = 0; i < 2; i++) replicas.push(await startVigil(dir, { VIGIL_DATABASE_URL: url }));
    const [a, b] = replicas.map((r) => new VigilClient({ url: r.url })) as [
      VigilClient,
      VigilClient,
    ];

    const x = await a.register({ kind: 'k', limits: { heartbeat: '1s' } });
    const y = await b.register({ kind: 'k', limits: { heartbeat: '1s' } });
    // Each is kept alive through the other replica until its deadline has moved a second past the
    // one the registering replica first armed for.
    const armed = [Date.parse(x.deadlineAt!), Date.parse(y.deadlineAt!)];
    await until(
      async () => {
        const answers = await Promise.all([
          b.heartbeat(x.id, { attempt: 1 }),
          a.heartbeat(y.id, { attempt: 1 }),
        ]);
        return answers.every((answer, i) => Date.parse(answer.deadlineAt!) > armed[i]! + 900);
      },
      { what: 'both deadlines to move through the other replica' },
    );

    const ended = await until(
      async () => {
        const [ex, ey] = await Promise.all([a.get(x.id), a.get(y.id)]);
        return ex.status === 'failed' && ey.status === 'failed' ? [ex, ey] : null;
      },
      { what: 'both executions to be ended by the deadline scheduler', timeoutMs: 60_000 },
    );
    for (const execution of ended) {
      expect(execution).toMatchObject({ verdict: 'heartbeat_lost', endedBy: 'watchdog' });
      const due = Date.parse(execution.heartbeatAt!) + 1_000;
      // Reported, not asserted: how long after its due time each was ended.
      console.info(`${execution.id}: ended ${Date.parse(execution.endedAt!) - due} ms past due`);
    }
  });
});
