/**
 * The package as a user gets it from the registry: `npm pack`, then `npm install ./vigil-*.tgz` in
 * an empty directory, then the CLI through `npx`, the SDK through `import` and `require`, and its
 * types through the TypeScript compiler. Slow (an npm install), so it runs once per CI run, on the
 * main Node line (VIGIL_TEST_PACKAGE=0 skips it, as .ci/run does on the other lines).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startVigil } from './process-helpers.js';

interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

const enabled = process.env.VIGIL_TEST_PACKAGE !== '0';
// The Node that runs these tests runs npm, npx and the package too.
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  npm_config_update_notifier: 'false',
};

function run(command: string, args: string[], cwd: string, timeout = 240_000) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout });
  return { ...result, all: `${result.stdout}\n${result.stderr}` };
}

describe.runIf(enabled)('the published package, installed in an empty directory', () => {
  let work: string;
  let app: string;
  let pack: PackReport;
  let install: ReturnType<typeof run>;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vigil-package-'));
    app = join(work, 'app');
    // dist/ is built by `npm test`'s pretest; --ignore-scripts packs it as it is.
    const packed = run(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      ROOT,
    );
    expect(packed.status, packed.all).toBe(0);
    pack = (JSON.parse(packed.stdout) as PackReport[])[0]!;
    run('mkdir', ['-p', app], work);
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    install = run(
      'npm',
      ['install', join(work, pack.filename), '--no-audit', '--no-fund', '--prefer-offline'],
      app,
    );
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('holds what a user needs and nothing else', () => {
    const paths = pack.files.map((f) => f.path);
    expect(paths).toContain('bin/vigil.js');
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('dist/sdk/index.js');
    expect(paths).toContain('dist/sdk/index.d.ts');
    expect(paths).toContain('dist/web/index.html');
    expect(paths).toContain('README.md');
    expect(paths).toContain('docs/sdk.md'); // the README's links resolve inside the package
    const stray = paths.filter(
      (p) =>
        /^(src|test|bench|examples|scripts|web|\.ci|docs\/screenshots)\//.test(p) ||
        p.endsWith('.map'),
    );
    expect(stray).toEqual([]);
    // Measured, not asserted tightly: about 780 kB today, some 300 kB of it the bundled command
    // line (dist/cli-bundle/, the packages a cron command loads bundled in); a jump means
    // something leaked in.
    console.log(
      `package: ${pack.filename}, ${pack.files.length} files, ${(pack.size / 1024).toFixed(0)} kB packed, ${(pack.unpackedSize / 1024).toFixed(0)} kB unpacked`,
    );
    expect(pack.size).toBeLessThan(1024 * 1024);
  });

  it('installs with no engine warning', () => {
    expect(install.status, install.all).toBe(0);
    expect(install.all).not.toMatch(/EBADENGINE/);
  });

  it('npx vigil demo runs', () => {
    const demo = run('npx', ['--no-install', 'vigil', 'demo'], app);
    expect(demo.status, demo.all).toBe(0);
    expect(demo.stdout).toMatch(/embed-7\s+failed\s+heartbeat_lost/);
  });

  it('npx vigil serve answers /healthz and the dashboard, and stops on SIGTERM', async () => {
    const vigil = await startVigil(app, {}, [], {
      command: 'npx',
      args: ['--no-install', 'vigil'],
      env,
      group: true,
    });
    try {
      const health = await fetch(`${vigil.url}/healthz`);
      expect(health.status).toBe(200);
      const page = await fetch(`${vigil.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
    } finally {
      // npx does not pass SIGTERM on to vigil: the whole group gets it, as from a terminal.
      await vigil.stop();
    }
    await expect(fetch(`${vigil.url}/healthz`)).rejects.toThrow();
  });

  it('the SDK loads through import (ESM) and require (CommonJS)', () => {
    const esm = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { VigilClient } from 'vigil/sdk'; console.log(typeof VigilClient)",
      ],
      app,
    );
    expect(esm.all.trim()).toBe('function');
    const cjs = run(
      process.execPath,
      ['-e', "const { VigilClient } = require('vigil/sdk'); console.log(typeof VigilClient)"],
      app,
    );
    expect(cjs.status, cjs.all).toBe(0);
    expect(cjs.stdout.trim()).toBe('function');
    expect(cjs.stderr).not.toMatch(/ExperimentalWarning/);
  });

  it('the SDK has types an editor sees: right code compiles, wrong code does not', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const compile = (code: string) => {
      writeFileSync(join(app, 'check.ts'), code);
      return run(
        process.execPath,
        [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--skipLibCheck', 'check.ts'],
        app,
      );
    };
    const good = compile(
      "import { VigilClient } from 'vigil/sdk';\n" +
        "const client = new VigilClient({ url: 'http://127.0.0.1:7070' });\n" +
        "export const run = client.run({ kind: 'embed' }, async (ctx) => ctx.attempt);\n",
    );
    expect(good.status, good.all).toBe(0);
    const bad = compile(
      "import { VigilClient } from 'vigil/sdk';\n" +
        'export const client = new VigilClient({ url: 42 });\n',
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/check\.ts.*number.*string/s);
  });
});
