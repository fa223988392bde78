import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VIGIL_BIN } from './process-helpers.js';

// A Node older than 22.12, where this machine has one (Debian's own, on the CI machine): the
// SQLite driver would crash it, so `vigil` must refuse first, with a message.
const old = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
  if (!existsSync(path)) return false;
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major < 22 || (major === 22 && minor < 12);
});

describe.runIf(old)('vigil on a Node.js older than 22.12', () => {
  it('exits 2 naming the Node it needs and the one it found, before loading anything', () => {
    const run = spawnSync(old!, [VIGIL_BIN, 'demo'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/needs Node\.js 22\.12 or later .*this is v\d+/);
    expect(run.stdout).toBe('');
  });
});
