import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { defaultWebRoot } from '../src/http/dashboard.js';
import { FakeClock } from '../src/runtime/clock.js';
import { Vigil } from '../src/app/vigil.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { T0, tempDir } from './helpers.js';

let app: FastifyInstance | undefined;
let store: SqlStore | undefined;
let cleanup = () => undefined as void;

afterEach(async () => {
  await app?.close();
  await store?.close();
  app = undefined;
  store = undefined;
  cleanup();
});

const TOKEN = 'admin-token-0123456789';

/** A real app on a SQLite file, serving the dashboard from `webRoot`. */
async function setup(webRoot: string | undefined, env: Record<string, string> = {}) {
  const dir = tempDir();
  cleanup = dir.cleanup;
  store = openSqliteStore(join(dir.dir, 'vigil.db'));
  await store.migrate();
  const clock = new FakeClock(T0);
  const config = parseConfig({}, env);
  const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
  app = await buildApp({ vigil, store, config, clock, webRoot });
  return dir.dir;
}

/** A small built site beside a file that must never be served. */
function site(dir: string): string {
  const root = join(dir, 'web');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Vigil</title>');
  writeFileSync(join(root, 'assets', 'index-AbC123.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets', 'index-AbC123.css'), 'body{}');
  writeFileSync(join(root, 'assets', 'logo-Zz9.svg'), '<svg/>');
  writeFileSync(join(root, 'assets', 'notes.exe'), 'MZ');
  writeFileSync(join(dir, 'secret.txt'), 'the database password');
  return root;
}

const get = (url: string, headers: Record<string, string> = {}) =>
  app!.inject({ method: 'GET', url, headers });

describe('the dashboard files', () => {
  it('serves the page (revalidated) and hashed assets (cached for good) with their types', async () => {
    const dir = tempDir();
    const root = site(dir.dir);
    await setup(root);
    try {
      for (const url of ['/', '/index.html']) {
        const page = await get(url);
        expect(page.statusCode).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.headers['cache-control']).toBe('no-cache');
        expect(page.headers['content-security-policy']).toContain("default-src 'self'");
        expect(page.headers['x-content-type-options']).toBe('nosniff');
        expect(page.body).toContain('<title>Vigil</title>');
      }
      const cases: [string, string][] = [
        ['/assets/index-AbC123.js', 'text/javascript; charset=utf-8'],
        ['/assets/index-AbC123.css', 'text/css; charset=utf-8'],
        ['/assets/logo-Zz9.svg', 'image/svg+xml'],
      ];
      for (const [url, type] of cases) {
        const asset = await get(url);
        expect(asset.statusCode, url).toBe(200);
        expect(asset.headers['content-type']).toBe(type);
        expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      }
      expect((await get('/assets/index-AbC123.js?v=2')).statusCode).toBe(200);
    } finally {
      dir.cleanup();
    }
  });

  it.each([
    '/assets/../secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/assets/..\\..\\secret.txt',
    '/assets//etc/passwd',
    '/assets/notes.exe',
    '/assets/missing-123.js',
    '/assets/',
  ])('never serves %s', async (url) => {
    const dir = tempDir();
    const root = site(dir.dir);
    await setup(root);
    try {
      const answer = await get(url);
      expect([400, 404]).toContain(answer.statusCode);
      expect(answer.body).not.toContain('password');
      expect(answer.body).not.toContain('root:');
      expect(answer.json().error.code).toMatch(/not_found|bad_input/);
    } finally {
      dir.cleanup();
    }
  });

  it('serves the page without a token while every API route still needs one', async () => {
    const dir = tempDir();
    const root = site(dir.dir);
    await setup(root, { VIGIL_TOKEN: TOKEN });
    try {
      expect((await get('/')).statusCode).toBe(200);
      expect((await get('/assets/index-AbC123.js')).statusCode).toBe(200);
      for (const url of ['/v1/summary', '/v1/executions', '/v1/remediations', '/v1/events']) {
        expect((await get(url)).statusCode, url).toBe(401);
      }
      expect((await get('/v1/summary', { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(200);
    } finally {
      dir.cleanup();
    }
  });

  it('says how to build it when it is not built, instead of failing', async () => {
    const dir = await setup(join('/nonexistent', 'web'));
    expect(dir).toBeTruthy();
    const page = await get('/');
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('npm run build');
    expect((await get('/assets/index.js')).statusCode).toBe(404);
  });

  it('the real build (npm run build) is found and every file the page names is served', async () => {
    const root = defaultWebRoot();
    expect(existsSync(join(root, 'index.html')), `${root}index.html: run npm run build`).toBe(true);
    await setup(undefined);
    const page = await get('/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toBe(readFileSync(join(root, 'index.html'), 'utf8'));
    const referenced = [...page.body.matchAll(/(?:src|href)="\.?(\/assets\/[^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(referenced.some((url) => url.endsWith('.js'))).toBe(true);
    expect(referenced.some((url) => url.endsWith('.css'))).toBe(true);
    for (const url of referenced) {
      const asset = await get(url);
      expect(asset.statusCode, url).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
    }
  });
});
