/**
 * The documentation stays inside the repository and matches the app: every link in README.md,
 * CHANGELOG.md, docs/*.md and the OpenAPI document resolves to a file of this repository, and every
 * route the HTTP app registers is in docs/api.md and in /openapi.json (and nothing more).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as FastifyModule from 'fastify';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/** Every route as the app registers it, seen through fastify's own onRoute hook. */
const registered = vi.hoisted(() => [] as { method: string; url: string }[]);

// The real fastify, with an onRoute hook added the moment an instance is created (before buildApp
// registers anything), so the list below is what the app serves, not a copy of it.
vi.mock('fastify', async (importOriginal) => {
  const real = await importOriginal<typeof FastifyModule>();
  const create = ((options?: object) => {
    const app = real.default(options);
    app.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) registered.push({ method, url: route.url });
    });
    return app;
  }) as unknown as typeof real.default;
  return { ...real, default: create };
});

const { parseConfig } = await import('../src/config.js');
const { buildApp } = await import('../src/http/app.js');
const { openApiDocument } = await import('../src/http/openapi.js');
const { FakeClock } = await import('../src/runtime/clock.js');
const { Vigil } = await import('../src/app/vigil.js');
const { openSqliteStore } = await import('../src/stores/sqlite.js');
const { T0, tempDir } = await import('./helpers.js');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function documents(): { name: string; text: string }[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'CHANGELOG.md', ...docs].map((name) => ({
    name,
    text: readFileSync(join(ROOT, name), 'utf8'),
  }));
}

/** `[text](target)`, `![alt](target)` and `[label]: target`, without a `#fragment` or a title. */
function markdownLinks(text: string): string[] {
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)];
  const reference = [...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)];
  return [...inline, ...reference].map((m) => m[1]!);
}

/** Paths named in plain text that look like files: `../x`, `foo/bar.md`, `DESIGN.md`. */
function mentionedPaths(text: string): string[] {
  const parent = [...text.matchAll(/(?<![\w./-])(\.\.\/[^\s)`'"]*)/g)].map((m) => m[1]!);
  const markdown = [...text.matchAll(/(?<![\w./-])((?:[\w.-]+\/)*[\w.-]+\.md)\b/g)].map(
    (m) => m[1]!,
  );
  return [...parent, ...markdown].map((path) => path.replace(/[.,;:]+$/, ''));
}

const isExternal = (target: string) => /^(https?:|mailto:|#)/.test(target);

/** Why this target, named in `from`, is not a file of the repository; null when it is one. */
function problem(from: string, target: string, { plainText }: { plainText: boolean }) {
  const path = decodeURIComponent(target.split('#')[0]!);
  if (path === '') return null;
  const candidates = [resolve(ROOT, dirname(from), path)];
  // A path in prose may be written from the repository root ("docs/sdk.md").
  if (plainText) candidates.push(resolve(ROOT, path));
  const outside = candidates.every((c) => relative(ROOT, c).startsWith('..'));
  if (outside) return `${from}: ${target} is outside the repository`;
  if (!candidates.some((c) => existsSync(c))) return `${from}: ${target} does not exist`;
  return null;
}

/** Every string in the OpenAPI document, joined: its descriptions and summaries. */
function openApiText(): string {
  const strings: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') strings.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(openApiDocument());
  return strings.join('\n');
}

describe('links in the documentation', () => {
  it('every markdown link resolves to a file inside the repository', () => {
    const problems = documents().flatMap(({ name, text }) =>
      markdownLinks(text)
        .filter((target) => !isExternal(target))
        .map((target) => problem(name, target, { plainText: false })),
    );
    expect(problems.filter(Boolean)).toEqual([]);
  });

  it('no file path named in prose points outside the repository or at a missing file', () => {
    const problems = documents().flatMap(({ name, text }) =>
      mentionedPaths(text).map((target) => problem(name, target, { plainText: true })),
    );
    expect(problems.filter(Boolean)).toEqual([]);
  });

  it('the OpenAPI document names no file outside the repository', () => {
    const text = openApiText();
    const problems = [
      ...markdownLinks(text).filter((target) => !isExternal(target)),
      ...mentionedPaths(text),
    ].map((target) => problem('src/http/openapi.ts', target, { plainText: true }));
    expect(problems.filter(Boolean)).toEqual([]);
  });
});

/** `/v1/executions/:id`, `/v1/executions/{id}` and `/assets/*` compare as one shape. */
const shape = (path: string) =>
  path
    .replace(/\{[^}]+\}/g, '{}')
    .replace(/:[A-Za-z_]\w*/g, '{}')
    .replace(/\*$/, '{}');

describe('routes in the documentation', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const dir = tempDir();
    const store = openSqliteStore(`${dir.dir}/vigil.db`);
    await store.migrate();
    const clock = new FakeClock(T0);
    const config = parseConfig({});
    const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
    app = await buildApp({ vigil, store, config, clock });
    await app.ready();
    close = async () => {
      await app.close();
      await store.close();
      dir.cleanup();
    };
  });
  afterAll(() => close());

  /** `GET /v1/executions/{}`, …: fastify's automatic HEAD routes aside. */
  const routes = () => [
    ...new Set(
      registered.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${shape(r.url)}`),
    ),
  ];

  it('the app registers the routes this test looks at', () => {
    expect(routes()).toContain('POST /v1/executions');
    expect(routes().length).toBeGreaterThan(20);
  });

  it('every route is in the OpenAPI document, and the document has no other', () => {
    const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
    const documented = Object.entries(paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${shape(path)}`),
    );
    expect([...documented].sort()).toEqual([...routes()].sort());
  });

  it('every route has a section in docs/api.md, and docs/api.md has no other', () => {
    const api = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    // Each route is a heading: ### `GET /v1/executions/:id`
    const headings = [...api.matchAll(/^#{2,4} `([A-Z]+) (\/[^`\s]*)`/gm)].map(
      (m) => `${m[1]} ${shape(m[2]!)}`,
    );
    expect([...new Set(headings)].sort()).toEqual([...routes()].sort());
  });
});
