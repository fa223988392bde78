import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { VIGIL_BIN } from './process-helpers.js';

describe('vigil demo', () => {
  it('narrates a kill -9, a hang and an overrun, and how each ended', () => {
    const run = spawnSync(process.execPath, [VIGIL_BIN, 'demo'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/embed-7\s+failed\s+heartbeat_lost\s+no heartbeat for/);
    expect(run.stdout).toMatch(/scrape-9\s+failed\s+no_progress\s+no progress for/);
    expect(run.stdout).toMatch(/report-3\s+failed\s+run_timeout\s+ran /);
    expect(run.stdout).toMatch(/invoice-41\s+succeeded/);
    expect(run.stdout).toMatch(/invoice-42\s+succeeded/);
    expect(run.stderr).not.toMatch(/Deprecation|Warning/);
  });
});
