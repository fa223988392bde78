/**
 * The mapped-tables example, in one command (npm run example:tables): creates the LLM workflow
 * runner's database afresh on the local PostgreSQL, seeds stuck and healthy rows, shows them, runs
 * one `vigil sweep` with examples/llm-workflow/vigil.yaml, and shows the rows again.
 *
 * PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (override with EXAMPLE_ADMIN_URL, a URL
 * to any database of the server; the example database is always vigil_example_llm).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const DATABASE = 'vigil_example_llm';
const adminUrl = process.env.EXAMPLE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const appUrl = new URL(adminUrl);
appUrl.pathname = `/${DATABASE}`;

const MIN = 60_000;

async function main(): Promise<void> {
  await createDatabase();
  const app = new pg.Client({ connectionString: appUrl.toString() });
  await app.connect();
  try {
    await app.query(readFileSync(join(here, 'schema.sql'), 'utf8'));
    await seed(app, Date.now());
    await show(app, 'Before the sweep');

    const vigilDir = mkdtempSync(join(tmpdir(), 'vigil-example-'));
    try {
      console.log('\n$ vigil sweep --config examples/llm-workflow/vigil.yaml\n');
      const sweep = spawnSync(
        process.execPath,
        [join(root, 'bin', 'vigil.js'), 'sweep', '--config', join(here, 'vigil.yaml')],
        {
          stdio: 'inherit',
          env: { ...process.env, VIGIL_DATABASE_URL: `sqlite:${join(vigilDir, 'vigil.db')}` },
        },
      );
      if (sweep.status !== 0) throw new Error(`vigil sweep exited with ${sweep.status}`);
    } finally {
      rmSync(vigilDir, { recursive: true, force: true });
    }

    await show(app, 'After the sweep');
  } finally {
    await app.end();
  }
}

async function createDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
}

/** Four workflow runs and their interactions, as a crashed cron job and healthy ones leave them. */
async function seed(app: pg.Client, now: number): Promise<void> {
  const ago = (minutes: number) => new Date(now - minutes * MIN);
  const runs: [number, string, string, Date, Date | null][] = [
    [1, 'summarise inbox', 'running', ago(40), null], // its worker was OOM-killed mid-interaction
    [2, 'answer ticket', 'running', ago(10), null], // healthy: an interaction is streaming
    [3, 'nightly digest', 'running', ago(180), null], // every step done, never marked done
    [4, 'translate docs', 'completed', ago(120), ago(60)],
  ];
  for (const run of runs) {
    await app.query(
      'INSERT INTO workflow_runs (workflow_run_id, name, status, started_at, completed_at) VALUES ($1, $2, $3, $4, $5)',
      run,
    );
  }
  const interactions: [number, string, number | null, string, Date, Date | null, object | null][] =
    [
      [101, 'cron-a', 1, 'completed', ago(40), ago(35), { tokens: 812 }],
      [102, 'cron-a', 1, 'running', ago(25), ago(24), { tokens: 90 }], // silent for 24 minutes
      [201, 'cron-b', 2, 'completed', ago(10), ago(8), { tokens: 120 }],
      [202, 'cron-b', 2, 'running', ago(1), ago(0.2), null], // beating 12 s ago
      [301, 'cron-c', 3, 'completed', ago(180), ago(170), { tokens: 40 }],
      [302, 'cron-c', 3, 'completed', ago(170), ago(160), { tokens: 55 }],
      [401, 'cron-d', 4, 'completed', ago(120), ago(61), { tokens: 300 }],
      [501, 'adhoc', null, 'running', ago(30), null, null], // Ctrl+C'd, no workflow run
    ];
  for (const [id, actor, run, status, startedAt, updatedAt, output] of interactions) {
    await app.query(
      `INSERT INTO interactions (interaction_id, conversation_id, actor_id, workflow_run_id, status,
         started_at, updated_at, completed_at, output)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        `conv-${id}`,
        actor,
        run,
        status,
        startedAt,
        updatedAt,
        status === 'running' ? null : updatedAt,
        output && JSON.stringify(output),
      ],
    );
  }
}

async function show(app: pg.Client, title: string): Promise<void> {
  const since = (column: string) =>
    `CASE WHEN ${column} IS NULL THEN '-' ELSE round(extract(epoch from now() - ${column}) / 60) || 'm ago' END`;
  console.log(`\n${title}: workflow_runs`);
  const runs = await app.query(
    `SELECT workflow_run_id AS id, name, status, ${since('started_at')} AS started,
            ${since('completed_at')} AS completed, coalesce(error, '') AS error
       FROM workflow_runs ORDER BY workflow_run_id`,
  );
  console.table(runs.rows);
  console.log(`${title}: interactions`);
  const interactions = await app.query(
    `SELECT interaction_id AS id, workflow_run_id AS run, actor_id AS actor, status,
            ${since('started_at')} AS started, ${since('updated_at')} AS updated,
            ${since('completed_at')} AS completed, coalesce(output::text, '') AS output
       FROM interactions ORDER BY interaction_id`,
  );
  console.table(interactions.rows);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
