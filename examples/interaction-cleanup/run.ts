/**
 * The interaction-cleanup example in one command (npm run example:interaction-cleanup): the app's
 * PostgreSQL tables, its Python runner killed with kill -9 mid-interaction, and `vigil sweep` from
 * cron doing what scripts/watchdog_cleanup.py did, by configuration (vigil.yaml). Checks every
 * step, prints what happened, drops its database, and exits 0 only when every check held.
 *
 * PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (EXAMPLE_ADMIN_URL: a URL to any database
 * of the server). Each run uses a database of its own, vigil_example_interactions_<pid>.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const DATABASE = `vigil_example_interactions_${process.pid}`;
const adminUrl = process.env.EXAMPLE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const appUrl = new URL(adminUrl);
appUrl.pathname = `/${DATABASE}`;

const failures: string[] = [];
function check(what: string, ok: boolean, got?: unknown): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok ? '' : `: got ${JSON.stringify(got)}`}`);
  if (!ok) failures.push(what);
}

const work = mkdtempSync(join(tmpdir(), 'vigil-example-'));
const config = join(work, 'vigil.yaml');
const env = {
  ...process.env,
  VIGIL_DATABASE_URL: `sqlite:${join(work, 'vigil.db')}`,
  WATCHDOG_HOOK_SECRET: 'example-secret-0123456789',
};

/** The alerts Vigil posted to the webhook receiver (the ops team's endpoint). */
const alerts: { type: string; executionId?: string; action?: string }[] = [];
const receiver = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    alerts.push(...(JSON.parse(body) as { events: typeof alerts }).events);
    response.writeHead(204).end();
  });
});

/**
 * Runs a vigil command like cron would; prints its output unless `quiet`. Asynchronous: the
 * webhook receiver in this process must answer while `vigil sweep` delivers its alerts.
 */
async function vigil(args: string[], quiet = false): Promise<string> {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'vigil.js'), ...args, '--config', config],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await exited(child);
  if (!quiet) {
    console.log(`\n$ vigil ${args.join(' ')}`);
    process.stdout.write(stdout + stderr);
  }
  if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited with ${code}`);
  return stdout;
}

/** Starts the Python runner; resolves once it has claimed an interaction (or exited). */
function runner(id: string, hang: boolean): { child: ChildProcess; claimed: Promise<string> } {
  const args = [join(here, 'runner.py'), appUrl.toString(), id, ...(hang ? ['--hang'] : [])];
  const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const claimed = new Promise<string>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      const match = /claimed interaction (\d+)/.exec(chunk.toString());
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', () => resolve(''));
  });
  return { child, claimed };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });

/** Waits until the interaction has been running longer than `limit` (by the database's clock). */
async function untilOverdue(db: pg.Client, id: number, limit: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await db.query<{ overdue: boolean }>(
      `SELECT now() > started_at + $2::interval + interval '200 milliseconds' AS overdue
         FROM interactions WHERE interaction_id = $1`,
      [id, limit],
    );
    if (rows[0]?.overdue === true) return;
    if (Date.now() > deadline) throw new Error(`interaction ${id} never passed its ${limit} limit`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main(db: pg.Client): Promise<void> {
  const one = async (sql: string, params: unknown[] = []) =>
    (await db.query(sql, params)).rows[0] as Record<string, unknown>;
  await db.query(readFileSync(join(here, 'schema.sql'), 'utf8'));
  // Workflow run 1 is under way; 3 is left over from a crash hours ago, every interaction done.
  await db.query(`INSERT INTO workflow_runs VALUES
      (1, 4807, 'running', now(), NULL, NULL),
      (3, 4805, 'running', now() - interval '3 hours', NULL, NULL)`);
  await db.query(`INSERT INTO interactions (interaction_id, conversation_id, actor_id, actor_type,
        workflow_run_id, status, started_at, completed_at, input, output) VALUES
      (301, 3330, 12, 'script', 3, 'completed', now() - interval '3 hours', now() - interval '3 hours', '{}', '{"answer": "ok"}'),
      (11, 3335, 12, 'script', 1, 'completed', now(), now(), '{}', '{"answer": "ok"}'),
      (12, 3335, 7, 'ai_model', 1, 'pending', NULL, NULL, '{"prompt": "summarise"}', NULL)`);

  console.log(
    '\n1. The runner claims interaction 12 (ai_model) and is killed with kill -9 in the model call.',
  );
  const first = runner('runner-a', true);
  check('the runner claimed interaction 12', (await first.claimed) === '12');
  first.child.kill('SIGKILL');
  await exited(first.child);
  check(
    'interaction 12 is left running',
    (await one('SELECT status FROM interactions WHERE interaction_id = 12')).status === 'running',
  );

  console.log('\n2. Past its 4s limit for ai_model, a dry run says what a sweep would do.');
  await untilOverdue(db, 12, '4 seconds');
  const dry = await vigil(['sweep', '--dry-run']);
  check(
    'the dry run would re-queue interaction 12',
    /interactions:12\s+run_timeout\s+retry\s+dry_run/.test(dry),
  );
  const untouched = await one(
    'SELECT status, attempts FROM interactions WHERE interaction_id = 12',
  );
  check('the dry run wrote nothing', untouched.status === 'running' && untouched.attempts === 0);

  console.log('\n3. The cron sweep re-queues it and closes the stale workflow run 3.');
  await vigil(['sweep']);
  const requeued = await one(
    `SELECT status, attempts, runner_id, not_before > now() - interval '1 minute' AS soon, output->>'error' AS error
       FROM interactions WHERE interaction_id = 12`,
  );
  check(
    'interaction 12 is pending again, attempt counted, claim cleared, not before its backoff',
    requeued.status === 'pending' &&
      requeued.attempts === 1 &&
      requeued.runner_id === null &&
      requeued.soon === true,
    requeued,
  );
  check(
    'its output says why',
    /^watchdog: re-queued after run_timeout \(.+, limit 4s for ai_model\)$/.test(
      String(requeued.error),
    ),
    requeued.error,
  );
  const run3 = await one(
    'SELECT status, completed_at FROM workflow_runs WHERE workflow_run_id = 3',
  );
  check(
    'workflow run 3 (3h, all interactions done) is completed',
    run3.status === 'completed' && run3.completed_at !== null,
    run3,
  );

  console.log(
    '\n4. A runner picks interaction 12 up again once its backoff has passed, and completes it.',
  );
  const second = runner('runner-b', false);
  check('the runner claimed interaction 12 again', (await second.claimed) === '12');
  await exited(second.child);
  const done = await one(
    'SELECT status, runner_id, attempts FROM interactions WHERE interaction_id = 12',
  );
  check(
    'interaction 12 completed on its second attempt',
    done.status === 'completed' && done.runner_id === 'runner-b' && done.attempts === 1,
    done,
  );

  console.log(
    '\n5. Interaction 21 (script), already re-queued once, hangs again: the runner is killed.',
  );
  await db.query(`INSERT INTO workflow_runs VALUES (2, 4808, 'running', now(), NULL, NULL)`);
  await db.query(`INSERT INTO interactions (interaction_id, conversation_id, actor_id, actor_type,
        workflow_run_id, status, attempts, input) VALUES (21, 3336, 9, 'script', 2, 'pending', 1, '{}')`);
  const third = runner('runner-c', true);
  check('the runner claimed interaction 21', (await third.claimed) === '21');
  third.child.kill('SIGKILL');
  await exited(third.child);
  await untilOverdue(db, 21, '2 seconds');
  await vigil(['sweep']);
  const failed = await one(
    `SELECT status, completed_at IS NOT NULL AS completed, output->>'error' AS error FROM interactions WHERE interaction_id = 21`,
  );
  check(
    'interaction 21 is failed with the watchdog text',
    failed.status === 'failed' &&
      failed.completed === true &&
      /^watchdog: run_timeout after .+ \(limit 2s for script\), gave up after attempt 2$/.test(
        String(failed.error),
      ),
    failed,
  );
  const run2 = await one('SELECT status, error FROM workflow_runs WHERE workflow_run_id = 2');
  check(
    'its workflow run 2 is failed from it',
    run2.status === 'failed' && String(run2.error).startsWith('watchdog: '),
    run2,
  );

  console.log("\n6. The app's monitoring query finds what the watchdog cleaned:");
  const monitoring = await db.query<{
    interaction_id: string;
    error_message: string;
  }>(`SELECT interaction_id, output->>'error' AS error_message
      FROM interactions WHERE status = 'failed' AND output->>'error' LIKE '%watchdog%'`);
  console.table(monitoring.rows);
  check(
    'it lists interaction 21',
    monitoring.rows.map((r) => String(r.interaction_id)).join() === '21',
    monitoring.rows,
  );

  console.log('\n7. The audit trail:');
  const history = await vigil(['history']);
  const audited = (id: string, action: string) =>
    new RegExp(`${id}#\\d+\\s+run_timeout\\s+${action}\\s+remediated`).test(history);
  check('interaction 12 audited as re-queued', audited('interactions:12', 'retry'));
  check('interaction 21 audited as dead-lettered', audited('interactions:21', 'dead_letter'));
  check('workflow run 3 audited as completed', audited('workflow_runs:3', 'succeed'));
  check('workflow run 2 audited as failed', audited('workflow_runs:2', 'fail'));

  console.log('\n8. The alerts the ops webhook received:');
  for (const alert of alerts)
    console.log(`  ${alert.type} ${alert.executionId} ${alert.action ?? ''}`);
  const alerted = (type: string, id: string) =>
    alerts.some((a) => a.type === type && a.executionId === id);
  check(
    'an alert that interaction 12 was re-queued',
    alerted('execution:remediated', 'interactions:12'),
  );
  check(
    'an alert that interaction 21 was dead-lettered',
    alerted('execution:dead', 'interactions:21'),
  );

  console.log('\n9. Which actors get stuck most often (the report its monitoring queries gave):');
  await vigil(['stats', '--since', '1h', '--by', 'source,label:actor_type,label:actor_id']);
  const stats = JSON.parse(
    await vigil(['stats', '--since', '1h', '--by', 'source,label:actor_id', '--json'], true),
  ) as {
    groups: {
      key: Record<string, string | null>;
      stuck: number;
      retried: number;
      deadLettered: number;
    }[];
  };
  const actor = (id: string) =>
    stats.groups.find((g) => g.key.source === 'interactions' && g.key['label:actor_id'] === id);
  check(
    'actor 7 (ai_model): stuck once, re-queued',
    actor('7')?.stuck === 1 && actor('7')?.retried === 1,
    stats.groups,
  );
  check(
    'actor 9 (script): stuck once, dead-lettered',
    actor('9')?.stuck === 1 && actor('9')?.deadLettered === 1,
    stats.groups,
  );
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function run(): Promise<void> {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  writeFileSync(
    config,
    readFileSync(join(here, 'vigil.yaml'), 'utf8')
      .replaceAll('/vigil_example_interactions', `/${DATABASE}`)
      .replace('127.0.0.1:8025', `127.0.0.1:${port}`),
  );
  await admin(`CREATE DATABASE ${DATABASE}`);
  const db = new pg.Client({ connectionString: appUrl.toString() });
  await db.connect();
  try {
    await main(db);
  } finally {
    await db.end();
    await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    rmSync(work, { recursive: true, force: true });
    receiver.close();
  }
  console.log(
    failures.length === 0 ? '\nEvery check held.' : `\n${failures.length} checks failed.`,
  );
  if (failures.length > 0) process.exitCode = 1;
}

run().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
