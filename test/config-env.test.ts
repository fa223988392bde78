import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** Loads this vigil.yaml text with this environment. */
function load(yaml: string, env: Record<string, string | undefined>) {
  writeFileSync(join(dir, 'vigil.yaml'), yaml);
  return loadConfig({ cwd: dir, env });
}

function refused(yaml: string, env: Record<string, string | undefined>): string[] {
  try {
    load(yaml, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

const PROBE = `
probes:
  bot:
    url: \${BOT_URL:-http://127.0.0.1:8000}/health
    interval: \${CHECK_INTERVAL:-30s}
    failures: \${MAX_FAILURES:-3}
    expect:
      status:
        - \${OK_STATUS:-200}
        - 204
`;

describe('${VAR} in vigil.yaml', () => {
  it('takes defaults when the variables are unset or empty', () => {
    const config = load(PROBE, { CHECK_INTERVAL: '' });
    expect(config.probes.bot).toMatchObject({
      url: 'http://127.0.0.1:8000/health',
      intervalMs: 30_000,
      failures: 3,
      expect: { status: { codes: [200, 204] } },
    });
  });

  it('takes the environment over defaults, anywhere: nested maps, lists, numbers, durations', () => {
    const config = load(PROBE, {
      BOT_URL: 'http://10.0.0.5:9000',
      CHECK_INTERVAL: '5s',
      MAX_FAILURES: '7',
      OK_STATUS: '202',
    });
    expect(config.probes.bot).toMatchObject({
      url: 'http://10.0.0.5:9000/health',
      intervalMs: 5_000,
      failures: 7,
      expect: { status: { codes: [202, 204] } },
    });
  });

  it('validates what the variables hold as if it had been written in the file', () => {
    const problems = refused(PROBE, { CHECK_INTERVAL: '5', MAX_FAILURES: 'many' });
    expect(problems.join('\n')).toMatch(/probes\.bot\.interval: expected a duration.*, got 5$/m);
    expect(problems.join('\n')).toMatch(/probes\.bot\.failures: .*many/);
  });

  it('refuses a variable that is not set and has no default, naming the key and the variable', () => {
    const problems = refused(
      'probes:\n  bot:\n    url: http://127.0.0.1:8000/health\n    headers:\n      authorization: Bearer ${BOT_TOKEN}\n',
      {},
    );
    expect(problems).toContain(
      'probes.bot.headers.authorization: environment variable BOT_TOKEN is not set (referenced as ${BOT_TOKEN}; give it a value or write ${BOT_TOKEN:-default})',
    );
  });

  it('keeps an empty value when the variable is set but empty and has no default', () => {
    const config = parseConfig({ database: 'sqlite:${DIR}vigil.db' }, { DIR: '' });
    expect(config.databaseUrl).toBe('sqlite:vigil.db');
  });

  it('reads $$ as a literal $ and leaves other $ (JSON paths) alone', () => {
    const config = parseConfig(
      {
        operations: {
          ops: {
            url: 'http://127.0.0.1:8000/ops?price=$$5',
            items: '$.data.operations',
            limit: '${LIMIT:-10m}',
          },
        },
      },
      {},
    );
    expect(config.operations.ops).toMatchObject({
      url: 'http://127.0.0.1:8000/ops?price=$5',
      items: { text: '$.data.operations' },
      limitMs: 600_000,
    });
  });

  it('refuses a malformed reference, naming the key', () => {
    const problems = refused('database: sqlite:${DB PATH}\n', {});
    expect(problems[0]).toMatch(/^database: expected \$\{NAME\} or \$\{NAME:-default\}/);
    expect(refused('database: sqlite:${UNCLOSED\n', {})[0]).toMatch(/^database: expected/);
  });

  it('leaves secrets named by *Env keys to be read from the environment as before', () => {
    const config = load(
      `notify:\n  channels:\n    hook:\n      type: webhook\n      url: \${HOOK_URL}\n      secretEnv: HOOK_SECRET\n`,
      { HOOK_URL: 'http://127.0.0.1:9/hook', HOOK_SECRET: 'a-secret-of-enough-length' },
    );
    const hook = config.notify?.channels.hook;
    expect(hook?.type === 'webhook' && hook.secret.reveal()).toBe('a-secret-of-enough-length');
    expect(hook?.type === 'webhook' && hook.url.reveal()).toBe('http://127.0.0.1:9/hook');
  });
});

describe('quoted values stay text', () => {
  it('a quoted reference keeps its digits as text; an unquoted one is read as a number', () => {
    const config = load(
      `
probes:
  bot:
    url: http://127.0.0.1:8000/health
    failures: \${MAX_FAILURES}
    expect:
      body: "\${BODY}"
      status: ['\${OK_STATUS}']
notify:
  channels:
    hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: "\${HOOK_SECRET}" }
  routes:
    - { channel: hook, events: [execution:remediated] }
`,
      { MAX_FAILURES: '4', BODY: '42', OK_STATUS: '200', HOOK_SECRET: '12345678901234567890' },
    );
    const bot = config.probes.bot;
    expect(bot?.failures).toBe(4);
    expect(bot?.expect.body).toEqual({ kind: 'substring', text: '42' });
    const hook = config.notify?.channels.hook as { secret?: { reveal(): string } } | undefined;
    expect(hook?.secret?.reveal()).toBe('12345678901234567890');
  });
});
