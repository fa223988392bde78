/**
 * The agent platform example, in one command (npm run example:agent-platform): the platform's
 * tables on the local PostgreSQL, its capacity slots in the local Redis, two Python agents, and
 * `vigil serve` with examples/agent-platform/vigil.yaml in place of the platform's watchdog.
 *
 * agent-a is killed with kill -9 while it runs an execution, then restarted (as its container
 * would be) knowing nothing of it; agent-b runs a hung execution past its limit, and has one just
 * dispatched that it does not list yet. Vigil must end the lost one and the hung one (stopping it
 * through agent-b first), release their slots, leave the fresh one alone, alert on the way, and
 * keep the audit. Exits 0 only when every check held.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust; EXAMPLE_ADMIN_URL overrides), Redis at
 * 127.0.0.1:6379, python3, and ports 18461-18462 free.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const DATABASE = 'vigil_example_agents';
const adminUrl = process.env.EXAMPLE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const appUrl = new URL(adminUrl);
appUrl.pathname = `/${DATABASE}`;
const PORTS = { 'agent-a': 18461, 'agent-b': 18462 } as const;
type Agent = keyof typeof PORTS;
const KEYS = 'agentplatform:';
const MIN = 60_000;

const newRedis = () => createClient({ url: 'redis://127.0.0.1:6379' });
type Redis = ReturnType<typeof newRedis>;

const checks: [string, boolean][] = [];
function check(what: string, held: boolean): void {
  checks.push([what, held]);
  console.log(`${held ? '✓' : '✗'} ${what}`);
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<number> {
  const children: ChildProcess[] = [];
  const vigilDir = mkdtempSync(join(tmpdir(), 'vigil-agents-'));
  const redis = newRedis();
  await redis.connect();
  const hook = await webhookReceiver();
  await createDatabase();
  const db = new pg.Client({ connectionString: appUrl.toString() });
  await db.connect();
  try {
    await db.query(readFileSync(join(here, 'schema.sql'), 'utf8'));
    await clearKeys(redis);
    const agents = {
      'agent-a': await startAgent('agent-a', children),
      'agent-b': await startAgent('agent-b', children),
    };

    // The platform's backend dispatches three executions (its own tables, its own slots).
    const now = Date.now();
    await db.query(`INSERT INTO agents VALUES ('agent-a', 'http://127.0.0.1:${PORTS['agent-a']}', NULL),
                                              ('agent-b', 'http://127.0.0.1:${PORTS['agent-b']}', 1800)`);
    await db.query(`INSERT INTO schedules VALUES (1, 'agent-a', 'daily report', NULL),
                                                 (2, 'agent-b', 'crm sync', 600), (3, 'agent-b', 'inbox triage', NULL)`);
    await dispatch(db, redis, 'exec-a1', 1, 'agent-a', now - 10 * MIN, 600); // runs on agent-a
    await dispatch(db, redis, 'exec-b1', 2, 'agent-b', now - 16 * MIN, 100_000); // hung on agent-b
    await dispatch(db, redis, 'exec-b2', 3, 'agent-b', now - 2_000, null); // dispatch in flight
    await show(db, redis, 'Before');

    console.log(`\n$ kill -9 ${agents['agent-a'].pid}   # agent-a dies with exec-a1 on it`);
    agents['agent-a'].kill('SIGKILL');
    await until('agent-a to go', async () => !(await answers('agent-a')));

    console.log('$ vigil serve --config examples/agent-platform/vigil.yaml\n');
    const vigil = spawn(
      process.execPath,
      [join(root, 'bin', 'vigil.js'), 'serve', '--config', join(here, 'vigil.yaml')],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          VIGIL_DATABASE_URL: `sqlite:${join(vigilDir, 'vigil.db')}`,
          VIGIL_PORT: '0',
          EXAMPLE_HOOK_URL: hook.url,
          EXAMPLE_HOOK_SECRET: 'example-secret-0123456789',
        },
      },
    );
    children.push(vigil);

    // agent-b's hung execution: stopped through agent-b, then ended, its slots released.
    await until('exec-b1 to be ended', async () => (await row(db, 'exec-b1')).status === 'failed');
    // agent-a cannot be asked: unknown, never dead; owner:unreachable after 2 sweeps.
    await until('owner:unreachable', async () => hook.has('owner:unreachable'));
    check('agent-a unreachable: owner:unreachable alerted', true);
    check(
      'exec-a1 left running while agent-a cannot be asked',
      (await row(db, 'exec-a1')).status === 'running',
    );

    console.log('\n$ python3 agent.py --name agent-a   # restarted: it knows nothing of exec-a1');
    agents['agent-a'] = await startAgent('agent-a', children);
    await until('exec-a1 to be ended', async () => (await row(db, 'exec-a1')).status === 'failed');
    await until('both ends alerted', async () => hook.count('execution:remediated') >= 2);
    vigil.kill('SIGTERM');
    await new Promise((resolve) => vigil.once('exit', resolve));
    await show(db, redis, 'After');

    const a1 = await row(db, 'exec-a1');
    const b1 = await row(db, 'exec-b1');
    const b2 = await row(db, 'exec-b2');
    check(
      'exec-a1 ended as orphaned',
      /^vigil: orphaned: not running on owner agent-a/.test(a1.error ?? ''),
    );
    check(
      'exec-b1 ended once agent-b confirmed the stop',
      /run_timeout: .*limit 10m; terminated by its owner/.test(b1.error ?? ''),
    );
    check('exec-b1 no longer runs on agent-b', !(await registry('agent-b')).includes('exec-b1'));
    check('exec-b2 (within the dispatch grace) left running', b2.status === 'running');
    check(
      'completed_at written for both ends',
      a1.completed_at !== null && b1.completed_at !== null,
    );
    const slots = await slotsOf(redis);
    check(
      'agent-a capacity slot and queue slot released',
      slots['agent-a'].slots.length === 0 && slots['agent-a'].running === null,
    );
    check(
      'agent-b: exec-b1 slot released, exec-b2 still holds its own',
      JSON.stringify(slots['agent-b'].slots) === '["exec-b2"]',
    );
    check(
      'agent-b queue slot (held by exec-b2) not released',
      slots['agent-b'].running === 'exec-b2',
    );

    const history = spawnSync(
      process.execPath,
      [join(root, 'bin', 'vigil.js'), 'history', '--json'],
      {
        env: { ...process.env, VIGIL_DATABASE_URL: `sqlite:${join(vigilDir, 'vigil.db')}` },
        encoding: 'utf8',
      },
    );
    const audit = (
      JSON.parse(history.stdout || '{"items": []}') as {
        items: {
          executionId: string;
          verdict: string;
          outcome: string;
          steps: { step: string; outcome: string; detail?: string }[];
        }[];
      }
    ).items.reverse();
    console.log('\n$ vigil history');
    for (const entry of audit) {
      console.log(`  ${entry.executionId}  ${entry.verdict}  ${entry.outcome}`);
      for (const step of entry.steps)
        console.log(`      ${step.step} ${step.outcome}${step.detail ? `: ${step.detail}` : ''}`);
    }
    const ended = (id: string) =>
      audit.find(
        (a) => a.executionId === `schedule_executions:${id}` && a.outcome === 'remediated',
      );
    check(
      'audit: exec-a1 orphaned, slots released',
      ended('exec-a1')?.steps.filter((s) => s.step === 'release' && s.outcome === 'ok').length ===
        2,
    );
    check(
      'audit: exec-b1 terminate then end',
      ended('exec-b1')
        ?.steps.map((s) => s.step)
        .slice(0, 2)
        .join() === 'terminate,end',
    );
    check(
      'audit: exec-a1 unknown while agent-a was down',
      audit.some((a) => a.executionId === 'schedule_executions:exec-a1' && a.verdict === 'unknown'),
    );
    check('webhook: both ends alerted', hook.count('execution:remediated') >= 2);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db.end();
    await dropDatabase();
    await clearKeys(redis);
    await redis.close();
    hook.close();
    rmSync(vigilDir, { recursive: true, force: true });
  }
  const failed = checks.filter(([, held]) => !held);
  console.log(`\n${checks.length - failed.length} of ${checks.length} checks held`);
  return failed.length === 0 ? 0 : 1;
}

/** What the platform's backend does to dispatch: the row, the capacity slot, the queue slot, the agent. */
async function dispatch(
  db: pg.Client,
  redis: Redis,
  id: string,
  schedule: number,
  agent: Agent,
  startedAt: number,
  seconds: number | null,
): Promise<void> {
  await db.query(
    `INSERT INTO schedule_executions (id, schedule_id, agent_name, status, started_at) VALUES ($1, $2, $3, 'running', $4)`,
    [id, schedule, agent, new Date(startedAt)],
  );
  await redis.zAdd(`${KEYS}agent:${agent}:slots`, { score: startedAt, value: id });
  await redis.set(`${KEYS}queue:${agent}:running`, id);
  if (seconds === null) return; // the request to the agent is still in flight
  const answer = await fetch(`http://127.0.0.1:${PORTS[agent]}/api/executions`, {
    method: 'POST',
    body: JSON.stringify({ id, seconds }),
  });
  if (answer.status !== 201) throw new Error(`${agent} refused ${id}: HTTP ${answer.status}`);
}

async function startAgent(name: Agent, children: ChildProcess[]): Promise<ChildProcess> {
  const child = spawn(
    'python3',
    [join(here, 'agent.py'), '--name', name, '--port', String(PORTS[name])],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  children.push(child);
  await until(`${name} to answer`, () => answers(name), 10_000);
  return child;
}

async function answers(agent: Agent): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${PORTS[agent]}/api/executions/running`)).ok;
  } catch {
    return false;
  }
}

async function registry(agent: Agent): Promise<string[]> {
  const answer = (await (
    await fetch(`http://127.0.0.1:${PORTS[agent]}/api/executions/running`)
  ).json()) as {
    executions: { id: string }[];
  };
  return answer.executions.map((e) => e.id);
}

async function row(db: pg.Client, id: string) {
  const result = await db.query(
    'SELECT status, error, completed_at FROM schedule_executions WHERE id = $1',
    [id],
  );
  return result.rows[0] as { status: string; error: string | null; completed_at: Date | null };
}

async function slotsOf(redis: Redis) {
  const of = async (agent: Agent) => ({
    slots: await redis.zRange(`${KEYS}agent:${agent}:slots`, 0, -1),
    running: await redis.get(`${KEYS}queue:${agent}:running`),
  });
  return { 'agent-a': await of('agent-a'), 'agent-b': await of('agent-b') };
}

async function show(db: pg.Client, redis: Redis, title: string) {
  console.log(`\n${title}: schedule_executions`);
  const rows = await db.query(
    `SELECT id, agent_name AS agent, status, round(extract(epoch from now() - started_at) / 60) || 'm ago' AS started,
            coalesce(error, '') AS error FROM schedule_executions ORDER BY id`,
  );
  console.table(rows.rows);
  console.log(`${title}: the platform's Redis slots`);
  console.table(await slotsOf(redis));
}

/** A loopback webhook receiver standing in for the platform's alert channel. */
async function webhookReceiver() {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const types = () =>
    bodies.flatMap((body) => [...body.matchAll(/"type":"([a-z:-]+)"/g)].map((m) => m[1]));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    has: async (type: string) => types().includes(type),
    count: (type: string) => types().filter((t) => t === type).length,
    close: () => server.close(),
  };
}

async function createDatabase(): Promise<void> {
  await dropDatabase();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
}

async function dropDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function clearKeys(redis: Redis): Promise<void> {
  const keys = await redis.keys(`${KEYS}*`);
  if (keys.length > 0) await redis.del(keys);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
