/**
 * The services a benchmark needs (PostgreSQL, Redis, Python 3.9+), checked before it starts, by
 * the suite's rule for required services (test/helpers.ts): in CI (CI set) a missing one fails
 * the run; elsewhere the benchmark is skipped with a loud notice and its result file is left as
 * it was. The notice starts with SKIPPED_NOTICE, which test/bench-tiny.test.ts reports as a skip.
 */
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import pg from 'pg';

export type Service = 'postgres' | 'redis' | 'python';

export const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS = { host: '127.0.0.1', port: 6379 } as const;
export const PYTHON = process.env.PYTHON ?? 'python3';

/** The first words of the line a benchmark prints when it is skipped for a missing service. */
export const SKIPPED_NOTICE = 'vigil-bench: SKIPPED';

/** PING over a raw socket (a Redis client would retry forever): null, or why Redis is missing. */
function redisMissing(): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection(REDIS);
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    const where = `${REDIS.host}:${REDIS.port}`;
    socket.setTimeout(2_000, () => done(`Redis did not answer at ${where} within 2 s`));
    socket.on('error', (error) => done(`Redis did not answer at ${where}: ${error.message}`));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) =>
      done(data.toString().startsWith('+PONG') ? null : `Redis at ${where} did not answer PING`),
    );
  });
}

async function postgresMissing(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return null;
  } catch (error) {
    return `PostgreSQL did not answer at ${POSTGRES_URL}: ${String(error)}`;
  }
}

function pythonMissing(): string | null {
  const answer = spawnSync(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const [major, minor] = (answer.stdout ?? '').trim().split('.').map(Number);
  if (answer.status !== 0 || major === undefined || minor === undefined)
    return `${PYTHON} did not run${answer.error ? `: ${answer.error.message}` : ''}`;
  if (major < 3 || (major === 3 && minor < 9))
    return `${PYTHON} is ${major}.${minor}; Python 3.9+ is needed`;
  return null;
}

/**
 * Returns when every service answers. Otherwise, in CI it throws; elsewhere it prints the loud
 * notice and ends the process (exit code 0) without writing bench/results/`name`.md.
 */
export async function requireServices(name: string, services: readonly Service[]): Promise<void> {
  const missing = (
    await Promise.all(
      services.map((service) =>
        service === 'postgres'
          ? postgresMissing()
          : service === 'redis'
            ? redisMissing()
            : Promise.resolve(pythonMissing()),
      ),
    )
  ).filter((why): why is string => why !== null);
  if (missing.length === 0) return;
  if (process.env.CI)
    throw new Error(`bench/${name}.ts: required in CI and missing: ${missing.join('; ')}`);
  console.log(
    `\n!!! ${SKIPPED_NOTICE} bench/${name}.ts (${missing.join('; ')}); bench/results/${name}.md left as it was\n`,
  );
  process.exit(0);
}
